"""mlpvm: a looped 23-layer ReLU MLP that executes SUBLEQ, one instruction per pass.

Data flows one way: source -> image -> encoded state -> network passes -> decoded state -> views.
"""

__version__ = "0.1.0"


def load_dump(path):
    """A dump (``dump`` in the debugger, ``mlpvm trace --layers``) with every field by name:
    ``load_dump(path)["pass40"]["read.0"]["read_a"]`` (see ``mlpvm.debug.dump``)."""
    from mlpvm.debug.dump import load_dump as load

    return load(path)


def __getattr__(name: str):
    """``mlpvm.Debugger`` (``mlpvm.debug.api``): imported when first used, so that the CLI starts fast."""
    if name == "Debugger":
        from mlpvm.debug.api import Debugger

        return Debugger
    raise AttributeError(f"module 'mlpvm' has no attribute {name!r}")
