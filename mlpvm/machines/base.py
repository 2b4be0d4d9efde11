"""The machine descriptor: everything in which one machine differs from another, in one frozen record, and the
registry of the machines there are.

Code outside a machine's own package asks the descriptor (``config.spec``) instead of comparing the machine's
name. A new machine is a package under ``mlpvm/machines/`` that defines a ``Machine`` and one ``register``
line in ``mlpvm/machines/__init__.py``.

Two of its parts build on packages that themselves ask this registry: how programs are listed (on the
disassembler in ``mlpvm.program.asm``, which asks for a machine's suffix and instruction layout) and how random
programs are drawn (on ``mlpvm.check``). The descriptor names their modules, and ``listing`` and ``generator``
import them when first asked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from mlpvm.errors import ConfigError

if TYPE_CHECKING:
    from mlpvm.craft.blocks import Layer
    from mlpvm.machines.config import Config
    from mlpvm.machines.reference import Reference
    from mlpvm.program.image import Image

Shape = tuple[int, ...]


@dataclass(frozen=True, eq=False)
class Machine:
    """One machine: its program files, its instruction format, its state, its 23 layers and its reference.

    ``listing_module`` provides, for ``mlpvm asm``, ``mlpvm disasm`` and the debugger (``image`` an
    ``Image``, ``config`` a ``Config``, ``smap`` a ``SourceMap`` or None; ``live`` is what a debugging session
    offers: ``config``, ``source_map``, ``pc``, ``memory()`` and ``slot(i)``):

    - ``image_text(image, smap, bits) -> str``: the image file ``mlpvm asm`` writes, and ``size(image) -> str``;
    - ``sections(image, config, smap) -> [(heading or None, rows)]``: ``mlpvm disasm``'s listing, and
      ``doc(image, config, smap) -> dict``, the same as JSON;
    - ``source(image, config, smap, title) -> str``: assembly source that reassembles to the same image;
    - ``instruction(live, address) -> Instruction`` and ``rows(live) -> [Instruction]``: live memory, as the
      debugger shows it.

    ``generator_module`` provides, for ``mlpvm.check.generate`` (``rng`` a numpy Generator; each returns
    lockstep ``Program``s): ``program(config, rng, max_instructions)``, a whole random program, and
    ``edges(config, rng, max_instructions)``, one at the machine's edges (the top of memory, the operands
    just inside and outside it);
    ``sweep(config, rng)``, single steps that exercise every row of every address-matched block; ``case(config,
    rng)``, a random state about to take one step; ``stopped(config, rng)``, a machine already stopped.
    """

    name: str
    summary: str  # a few words for --machine's help: "von Neumann"
    source_suffix: str  # its assembly source (and library) files: ".asq"
    image_suffix: str | None  # its image files; None: text words (.dec, .sq, ...), which the default machine reads
    harvard: bool  # instructions live in slots of their own (--slots), PC indexes them; else they are words in
    # memory, so words must address every cell (cells <= 2**bits)
    stride: int  # what PC advances by: words per instruction in memory, or 1 slot
    signed_addresses: bool  # A, B, C and PC are signed words (else unsigned indices)
    state_fields: Callable[[Config], list[tuple[str, Shape]]]  # the state vector between passes
    io_fields: Mapping[str, str]  # the host protocol fields it has, each with what it carries
    build: Callable[[Config], list[Layer]]  # the 23 layers
    reference: type[Reference]  # the reference interpreter: .load(config, words, slots)
    checkpoints: tuple[tuple[str, str], ...]  # (layer, register): where each micro-operation first appears
    produced: Mapping[str, str]  # state field -> the layer that writes its new value: layers before it hold
    # the value before the step, layers from it on the value after
    config_for: Callable[[Image, int, int | None, int | None], Config]  # what an image runs on by default
    estimate: Callable[[Config], int]  # nonzero weights of what grows with memory and slots (mlpvm.resources)
    listing_module: str
    generator_module: str
    proof_module: str = ""  # the step as bit-vector formulas, for ``mlpvm prove``: invariant(config, s), step(...)
    meanings: Callable[[Config], Mapping[str, str]] = dict  # every layer field -> one line on what it holds
    fast_module: str = ""  # a fast reference of the plain passes for the debugger (``Fast``); "": none

    @property
    def listing(self) -> ModuleType:
        return import_module(self.listing_module)

    @property
    def generator(self) -> ModuleType:
        return import_module(self.generator_module)

    @property
    def proof(self) -> ModuleType:
        return import_module(self.proof_module)

    @property
    def fast(self) -> ModuleType | None:
        """The fast reference's module, or None: the debugger then checks every pass on the plain one."""
        return import_module(self.fast_module) if self.fast_module else None

    @property
    def adder(self) -> str:
        """The name of the adder that makes the fall-through PC (the ``next_pc`` register): ``PC+3``, ``PC+1``."""
        return f"PC+{self.stride}"

    def pcs(self, config: Config) -> range:
        """The PCs that hold a whole instruction."""
        return range(config.slots) if self.harvard else range(config.cells - self.stride + 1)

    def fetched(self, pc: int) -> tuple[int, ...]:
        """The memory cells an instruction fetch at ``pc`` reads."""
        return () if self.harvard else tuple(range(pc, pc + self.stride))

    def pc(self, config: Config, value: int) -> int:
        """``value`` as this machine's PC holds it: a signed word, or an unsigned index."""
        return config.wrap(value) if self.signed_addresses else value


MACHINES: dict[str, Machine] = {}  # filled by mlpvm/machines/__init__.py
DEFAULT_MACHINE = "subleq"  # what a configuration or a text image names when it names none


def register(machine: Machine) -> Machine:
    MACHINES[machine.name] = machine
    return machine


def get(name: str) -> Machine:
    try:
        return MACHINES[name]
    except KeyError:
        raise ConfigError(f"unknown machine {name!r} (choose from {', '.join(MACHINES)})") from None


def names() -> list[str]:
    return list(MACHINES)


def harvard_names() -> list[str]:
    return [m.name for m in MACHINES.values() if m.harvard]


def for_path(path: str | Path) -> Machine:
    """The machine a program file is for: the one whose source or image suffix it has, else the default
    machine (whose images are text words)."""
    name = str(path)
    for machine in MACHINES.values():
        if name.endswith(machine.source_suffix) or (machine.image_suffix and name.endswith(machine.image_suffix)):
            return machine
    return get(DEFAULT_MACHINE)
