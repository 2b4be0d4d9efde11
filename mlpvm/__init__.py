"""mlpvm: a looped 23-layer ReLU MLP that executes SUBLEQ, one instruction per pass.

Data flows one way: source -> image -> encoded state -> network passes -> decoded state -> views.
"""

__version__ = "0.1.0"
