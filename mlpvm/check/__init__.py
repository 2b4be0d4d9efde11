"""Checking the network against the reference: side by side on the whole state (``lockstep``), random
programs (``generate``), what ``mlpvm verify`` runs (``verify``), and planted faults (``mutate``)."""
