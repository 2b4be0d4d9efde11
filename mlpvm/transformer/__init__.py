"""The looped transformer of Giannou et al. ("Looped Transformers as Programmable Computers", ICML 2023,
arXiv 2301.13196) for the ``subleq`` machine, beside the MLP: a punchcard of columns (one scratchpad, one
per memory cell), attention heads that read and write columns by matching binary positional encodings, ReLU
feed-forward blocks that compute and correct errors, residual connections, and the loop (one pass executes one
instruction). Softmax is real softmax in floating point, so exactness is proved (``exactness``) and
measured, not assumed.

Modules, one per concept: ``layout`` (the rows of a column), ``encodings`` (binary and +-1 codes),
``attention`` (heads), ``ffn`` (feed-forward blocks and their builder), ``subleq`` (the construction of one
loop iteration), ``state`` (encode and decode), ``network`` (the looped stack), ``faults`` (where a pass
leaves exactness), ``exactness`` (the proved bound), ``engine`` (the network as an engine of the machine's
state vector, for the debugger and ``trace``), ``views`` (what they show of a pass) and ``weightfile``
(``mlpvm-transformer/1``). The host loop is ``mlpvm.host.transformer``; lockstep checking and the exactness
measurement are ``mlpvm.check.transformer``: this package depends on neither.
"""

from mlpvm.transformer.network import DEFAULT_LAMBDA, Transformer, build

__all__ = ["DEFAULT_LAMBDA", "Transformer", "build"]
