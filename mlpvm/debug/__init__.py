"""The debugger: a session model with no UI (``session``), expressions (``expr``), gdb-named commands
(``commands``), Rich views (``views``), the prompt_toolkit REPL (``repl``), and per-layer dumps and traces
(``dump``, ``trace``)."""
