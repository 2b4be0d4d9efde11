"""The von Neumann ``subleq`` machine (docs/machines.md section 1): instructions are three consecutive words
``A B C`` at PC, programs may rewrite themselves, and I/O goes through ``A = -1`` (input) and ``B = -1``
(output)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlpvm.machines.base import Machine
from mlpvm.machines.config import DEFAULT_CELLS, Config, next_pow2
from mlpvm.machines.subleq import layers
from mlpvm.machines.subleq.reference import Subleq

if TYPE_CHECKING:
    from mlpvm.program.image import Image


def config_for(image: Image, bits: int, cells: int | None, slots: int | None) -> Config:
    """256 cells, or the next power of two that holds the image, capped at what N bits address (a larger image
    is then refused by ``check_fits``, by name)."""
    if cells is None:
        cells = min(max(DEFAULT_CELLS, next_pow2(len(image.words))), 1 << bits)
    return Config(image.machine, bits, cells)


def estimate(cfg: Config) -> int:
    """Every cell's N bits pass through address-matched blocks of L inputs (fetch, read, write) and are carried
    through all 23 layers: about M * N * (7 L + 40) weights, measured."""
    n, m, la = cfg.bits, cfg.cells, cfg.addr_bits
    return m * n * (7 * la + 40) + 8 * m


SUBLEQ = Machine(
    name="subleq",
    summary="von Neumann",
    source_suffix=".asq",
    image_suffix=None,
    harvard=False,
    stride=3,
    signed_addresses=True,
    state_fields=layers.state_fields,
    io_fields=layers.IO_FIELDS,
    build=layers.build,
    reference=Subleq,
    checkpoints=(
        ("fetch.1", "a"),
        ("fetch.1", "b"),
        ("fetch.1", "c"),
        ("read.1", "mem_a"),
        ("read.1", "mem_b"),
        ("write.0", "result"),
        ("next_pc.5", "next_pc"),
        ("branch.1", "branch"),
    ),
    produced={"mem": "write.1", "pc": "branch.3", "halted": "subtract.1", "fault": "subtract.1"},
    config_for=config_for,
    estimate=estimate,
    listing_module="mlpvm.machines.subleq.listing",
    generator_module="mlpvm.machines.subleq.generate",
    proof_module="mlpvm.machines.subleq.spec",
    meanings=layers.meanings,
    fast_module="mlpvm.machines.subleq.fast",
)
