"""Programs as people write them, and as the machine loads them: source (the assembler, ``asm``), images
(``image``), where each word came from (``sourcemap``), and the bytes a program reads (``inputs``)."""
