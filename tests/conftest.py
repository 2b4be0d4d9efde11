from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from mlpvm.engines import have_numba

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent
EXTERNAL = ROOT / "programs" / "external"  # the public programs, with their licences

# One setting per profile: how many examples a property gets. A property whose examples are costly asks for a
# share of it with ``examples(n)`` (n of the default 60), so the thorough profile raises every property alike.
PROFILES = {"default": 60, "thorough": 1000}
for _name, _count in PROFILES.items():
    settings.register_profile(_name, deadline=None, max_examples=_count, suppress_health_check=[HealthCheck.too_slow])
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "default")
settings.load_profile(PROFILE)


def examples(n: int) -> settings:
    """``settings`` for a property that runs ``n`` examples in the default profile, scaled with the profile."""
    return settings(max_examples=max(1, round(n * PROFILES[PROFILE] / PROFILES["default"])))


def words_of(path: Path) -> list[int]:
    from mlpvm.program.image import parse_words

    return parse_words(path.read_text(), str(path))[0]


# The compiled engine needs the optional numba; without it its tests are skipped (the numpy engines remain),
# except in CI, where a missing numba must fail the run instead of quietly testing less.
needs_numba = pytest.mark.skipif(
    not have_numba() and not os.environ.get("CI"), reason="the compiled engine needs numba (the fast extra)"
)
COMPILED = pytest.param("compiled", marks=needs_numba)
