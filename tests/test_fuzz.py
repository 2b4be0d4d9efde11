"""Fuzzing the loaders with hypothesis: any file gives an image or one clean error (an ``MlpvmError``), never a
crash; and so does any configuration asked of it."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlpvm.errors import MlpvmError
from mlpvm.program import image as images
from mlpvm.program.load import load_image
from tests.conftest import examples

SUFFIXES = st.sampled_from([".dec", ".sq", ".txt", ".json", ""])

# Text that looks like an image: numbers of every size and sign, separators, comments, junk.
TOKENS = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.sampled_from([" ", ",", "\n", "\t", "#", "-", "+", "--1", "1_0", "0x10", "1e3", "\r\n", "١٢", "\ufeff"]),
    st.text(max_size=4),
)
IMAGE_TEXT = st.lists(TOKENS, max_size=40).map("".join)

# JSON documents shaped like paper programs, and not.
JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(allow_nan=False), st.text(max_size=5)),
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=20,
)
PAPER_LIKE = st.fixed_dictionaries(
    {"slots": st.lists(st.lists(st.integers(-5, 300), min_size=2, max_size=4), max_size=6)},
    optional={
        "data": st.lists(st.integers(-(2**40), 2**40), max_size=6) | JSON_VALUES,
        "bits": st.integers(-2, 70),
        "cells": st.integers(-2, 2**40),
        "slots_count": st.integers(-2, 2**20),
        "machine": st.text(max_size=6),
    },
)
CONFIG = st.tuples(
    st.none() | st.integers(-1, 70), st.none() | st.integers(0, 2**40), st.none() | st.integers(0, 2**20)
)


def load_and_fit(path, config) -> None:
    """Loads ``path`` and fits it to a configuration, as ``mlpvm run`` does; only clean errors may escape."""
    try:
        image = load_image(path)
        cfg = images.config_for(image, *config)
        images.check_fits(image, cfg)
    except MlpvmError as e:
        lines = e.report().split("\n")
        assert lines[0].startswith((f"{path}: error: ", f"{path}:", "mlpvm: error: ")), lines
        # One line, or one line followed by the offending source line (printable) and a caret under it; a
        # no-break space is shown as it is (it moves no cursor), like the views' own
        printable = all(c in "\t\xa0" or c.isprintable() for c in "".join(lines))
        assert printable and (len(lines) == 1 or (len(lines) == 3 and lines[2].strip() == "^")), lines


@given(data=st.binary(max_size=200), suffix=SUFFIXES, config=CONFIG)
def test_any_bytes(tmp_path_factory, data, suffix, config):
    path = tmp_path_factory.mktemp("f") / f"image{suffix}"
    path.write_bytes(data)
    load_and_fit(path, config)


@given(text=IMAGE_TEXT, suffix=SUFFIXES, config=CONFIG)
def test_any_text(tmp_path_factory, text, suffix, config):
    path = tmp_path_factory.mktemp("f") / f"image{suffix}"
    path.write_text(text, encoding="utf-8")
    load_and_fit(path, config)


@given(doc=PAPER_LIKE | JSON_VALUES, config=CONFIG)
def test_any_json(tmp_path_factory, doc, config):
    path = tmp_path_factory.mktemp("f") / "program.json"
    path.write_text(json.dumps(doc))
    load_and_fit(path, config)


@examples(200)
@given(text=st.text(max_size=300) | IMAGE_TEXT)
def test_the_assembler_never_crashes(tmp_path_factory, text):
    """Enabled once the assembler (``mlpvm.program.asm``) has landed: ``.asq`` sources load through ``image.load``."""
    pytest.importorskip("mlpvm.program.asm")
    path = tmp_path_factory.mktemp("f") / "program.asq"
    path.write_text(text, encoding="utf-8")
    load_and_fit(path, (None, None, None))
