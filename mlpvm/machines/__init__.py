"""The machines: what one step of each does (its reference interpreter), the fields of its state, and the
23 layers that compute that step (its ``layers`` module, built with ``mlpvm.craft``)."""
