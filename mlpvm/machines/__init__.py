"""The machines: what one step of each does (its reference interpreter), the fields of its state, and the
23 layers that compute that step (its ``layers`` module, built with ``mlpvm.craft``), each described by one
``Machine`` (``mlpvm.machines.base``) in its own package and registered here.

Shared by all: ``config`` (configurations and word arithmetic), ``state`` (encoding and decoding the state
vector), ``reference`` (what the interpreters share, and ``load``/``run``).
"""

from mlpvm.machines.base import DEFAULT_MACHINE, MACHINES, Machine, for_path, get, names, register
from mlpvm.machines.paper import PAPER
from mlpvm.machines.subleq import SUBLEQ

__all__ = ["DEFAULT_MACHINE", "MACHINES", "Machine", "for_path", "get", "names", "register"]

register(SUBLEQ)
register(PAPER)
