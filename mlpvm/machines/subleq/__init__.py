"""The von Neumann ``subleq`` machine (docs/machines.md section 1)."""
