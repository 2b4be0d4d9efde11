"""The craft of layers: named fields of an activation vector (``layout``), blocks of ReLU units (``blocks``),
writing layers one field at a time (``builder``), and the pieces both machines use (``adder``, ``stages``)."""
