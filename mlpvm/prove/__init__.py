"""Machine-checked proofs, with an SMT solver (z3, the optional extra ``mlpvm[prove]``), that the stored
weights compute one step of the machine for every state: ``spec`` (the machines' next state as bit-vector
formulas, from docs/machines.md), ``encode`` (the stored layers as solver formulas), ``compose`` (the proofs,
whole or stage by stage) and ``report`` (the table and the counterexamples)."""

from __future__ import annotations

from mlpvm.errors import MlpvmError


def require_z3():
    """The z3 module, or one line naming the extra that provides it."""
    try:
        import z3
    except ImportError:
        raise MlpvmError("mlpvm prove needs z3: pip install 'mlpvm[prove]'") from None
    return z3
