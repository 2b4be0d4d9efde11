"""The host-network protocol: placing input and reading output go through one module, on real states."""

from __future__ import annotations

import numpy as np

from mlpvm import protocol
from mlpvm.machines.config import Config
from mlpvm.network import build
from mlpvm.program.inputs import EOF, Input

STATE = build(Config("subleq", 8, 16)).state


def test_placed_input_is_a_byte_eof_or_nothing():
    x = np.zeros(STATE.size)
    protocol.place_input(STATE, x, 0x41)
    assert list(STATE.view(x, protocol.IN_BYTE)) == [1, 0, 0, 0, 0, 0, 1, 0]
    assert STATE.view(x, protocol.IN_READY) == 1 and STATE.view(x, protocol.IN_EOF) == 0
    protocol.place_input(STATE, x, EOF)
    assert STATE.view(x, protocol.IN_BYTE).sum() == 0 and STATE.view(x, protocol.IN_EOF) == 1
    protocol.place_input(STATE, x, None)
    assert STATE.view(x, protocol.IN_READY) == 0 and STATE.view(x, protocol.IN_EOF) == 0


def test_serve_takes_the_output_byte_and_places_the_next_input():
    x = np.zeros(STATE.size)
    STATE.view(x, protocol.OUT_VALID)[...] = 1
    STATE.view(x, protocol.OUT_BYTE)[...] = [0, 1, 0, 0, 0, 1, 1, 0]  # 'b'
    STATE.view(x, protocol.IN_ACK)[...] = 1
    inp, out = Input(b"xy"), bytearray()
    assert protocol.serve(STATE, x, inp, out) == ord("b") and out == b"b"
    assert inp.peek() == ord("y") and protocol.output_byte(STATE, x) == ord("b")
    assert list(STATE.view(x, protocol.IN_BYTE)) == [(ord("y") >> t) & 1 for t in range(8)]


def test_stopped_says_halt_or_fault_from_the_flags():
    x = np.zeros(STATE.size)
    assert protocol.stopped(STATE, x) is None
    STATE.view(x, protocol.HALTED)[...] = 1
    assert protocol.stopped(STATE, x) == "halt"
    STATE.view(x, protocol.FAULT)[...] = 1
    assert protocol.stopped(STATE, x) == "fault"


def test_every_io_field_of_every_machine_is_a_protocol_field():
    for cfg in (Config("subleq", 8, 16), Config("paper", 8, 16, 8)):
        assert set(cfg.spec.io_fields) <= set(protocol.MEANINGS)
