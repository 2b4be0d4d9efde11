from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from mlpvm.engines import have_numba

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent
EXTERNAL = ROOT / "programs" / "external"  # the public programs, with their licences

settings.register_profile("default", deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", deadline=None, max_examples=1000, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def words_of(path: Path) -> list[int]:
    from mlpvm.program.image import parse_words

    return parse_words(path.read_text(), str(path))[0]


# The compiled engine needs the optional numba; without it its tests are skipped (the numpy engines remain).
needs_numba = pytest.mark.skipif(not have_numba(), reason="the compiled engine needs numba (the fast extra)")
COMPILED = pytest.param("compiled", marks=needs_numba)
