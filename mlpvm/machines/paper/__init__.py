"""The paper's Harvard machine (docs/machines.md section 2): ``slots`` instruction slots hold ``(a, b, c)`` as
addresses, apart from the data; PC is a slot index and advances by one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlpvm.machines.base import Machine
from mlpvm.machines.config import Config, next_pow2
from mlpvm.machines.paper import layers
from mlpvm.machines.paper.reference import Paper

if TYPE_CHECKING:
    from mlpvm.program.image import Image

MIN_SIZE = 16  # cells and slots a program gets at least, unless it asks for fewer


def config_for(image: Image, bits: int, cells: int | None, slots: int | None) -> Config:
    """What the image asks for (``cells``, ``slots_count``), else the next powers of two that hold its data
    and its instructions, at least 16 each."""
    cells = cells or image.hints.get("cells") or max(next_pow2(len(image.words)), MIN_SIZE)
    slots = slots or image.hints.get("slots") or max(next_pow2(len(image.slots or [])), MIN_SIZE)
    return Config(image.machine, bits, cells, slots)


def estimate(cfg: Config) -> int:
    """Memory through the read and write blocks, and every slot's three operands through fetch, measured."""
    n, m, la = cfg.bits, cfg.cells, cfg.addr_bits
    k, lc, w = cfg.slots, cfg.slot_bits, cfg.ins_bits
    return m * n * (4 * la + 33) + k * (3 * w * 24 + (2 * la + lc) * (lc + 1))


PAPER = Machine(
    name="paper",
    summary="Harvard",
    source_suffix=".pasq",
    image_suffix=".json",
    harvard=True,
    stride=1,
    signed_addresses=False,
    state_fields=layers.state_fields,
    io_fields=layers.IO_FIELDS,
    build=layers.build,
    reference=Paper,
    checkpoints=(
        ("fetch.1", "a"),
        ("fetch.1", "b"),
        ("fetch.1", "c"),
        ("read.1", "mem_a"),
        ("read.1", "mem_b"),
        ("subtract.6", "result"),
        ("next_pc.5", "next_pc"),
        ("branch.1", "branch"),
    ),
    produced={"mem": "write.1", "pc": "branch.3", "halted": "branch.3"},
    config_for=config_for,
    estimate=estimate,
    listing_module="mlpvm.machines.paper.listing",
    generator_module="mlpvm.machines.paper.generate",
    fast_module="mlpvm.machines.paper.fast",
    proof_module="mlpvm.machines.paper.spec",
    meanings=layers.meanings,
)
