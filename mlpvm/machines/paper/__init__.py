"""The paper's Harvard machine (docs/machines.md section 2)."""
