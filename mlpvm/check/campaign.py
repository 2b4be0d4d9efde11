"""Campaigns: ``mlpvm verify`` (programs in lockstep) and ``verify --mutants`` (the mutation battery) cut into
shards that any process can run.

A campaign is a frozen, JSON-able description (what to check and how); a shard is a number. The work of
shard ``i`` depends on the campaign and ``i`` alone (a range of program indices, or of one configuration's
mutants), so the same campaign gives the same summary on one process, on a local cluster or on many machines,
and an interrupted campaign can skip the shards its store already holds. A shard's result is a plain dict (it
travels between processes and is stored as JSON); ``verify_summary`` and ``mutant_results`` turn the results,
in shard order, back into what the single-process run always reported.

Each process keeps what is slow to make (the engines with their compiled code, weight files, the named
programs, the mutation battery) for every shard it runs after the first.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import cache, lru_cache
from pathlib import Path

import numpy as np

from mlpvm.check import mutate
from mlpvm.check import verify as verifying
from mlpvm.check.lockstep import Divergence
from mlpvm.engines import Engine, make
from mlpvm.errors import ConfigError
from mlpvm.machines.config import Config
from mlpvm.network import build
from mlpvm.network import weights as weightfile
from mlpvm.program.inputs import EOF_READS

ENGINES_KEPT = 2  # per process: a campaign's configuration stays warm; --named's large ones do not pile up
DTYPES = {"float16": np.float16, "float32": np.float32, "float64": np.float64}
Meta = tuple[tuple[str, int | str], ...]  # a Config as sorted (key, value) pairs: hashable, JSON-able


def meta(config: Config) -> Meta:
    return tuple(sorted(config.to_meta().items()))


def config_of(m: Meta | list) -> Config:
    return Config(**dict(m))  # type: ignore[arg-type]


@dataclass(frozen=True)
class VerifyCampaign:
    """``mlpvm verify``: the images, then the named programs, then ``count`` random programs from ``seed``;
    shard i checks programs ``i * shard_size`` up to the next shard's first."""

    images: tuple[tuple[str, int | None, int | None, int | None, str], ...]  # path, bits, cells, slots, input
    directory: str  # where the images' paths start (every worker reads them there)
    named: bool
    random: Meta | None  # the configuration of the random programs
    count: int
    seed: int
    max_steps: int | None
    engine_name: str
    dtype: str
    batch: int
    weights: str | None  # a weight file's absolute path
    shard_size: int
    eof_reads: int | None = EOF_READS  # the end-of-input rule of the images (None: no limit)
    kind: str = "verify"

    def cases(self) -> _Cases:
        return _cases(self)

    def engine(self, config: Config) -> Engine:
        """The engine of ``config``, made once in each process: its compiled code stays warm for the next
        shard."""
        return _engine(self.engine_name, config, self.weights, self.dtype)

    @property
    def shards(self) -> int:
        return -(-len(self.cases()) // self.shard_size)

    def span(self, shard: int) -> range:
        """The indices of the programs of ``shard``."""
        return range(shard * self.shard_size, min((shard + 1) * self.shard_size, len(self.cases())))


@dataclass(frozen=True)
class MutantCampaign:
    """``mlpvm verify --mutants``: every configuration's mutants (``mutate.choose``) through its battery;
    shard i is ``shard_size`` mutants of one configuration."""

    configs: tuple[Meta, ...]
    seed: int
    shard_size: int
    kind: str = "mutants"

    def mutants(self, k: int) -> list[mutate.Mutant]:
        return _mutants(self.configs[k], self.seed)

    def parts(self) -> list[tuple[int, int, int]]:
        """Each shard as (configuration, first mutant, end)."""
        return [
            (k, a, min(a + self.shard_size, n))
            for k in range(len(self.configs))
            for n in [len(self.mutants(k))]
            for a in range(0, n, self.shard_size)
        ]

    @property
    def shards(self) -> int:
        return len(self.parts())


Campaign = VerifyCampaign | MutantCampaign


def to_json(campaign: Campaign) -> str:
    """The campaign as the store keeps it: two campaigns are the same when these strings are."""
    return json.dumps(asdict(campaign), sort_keys=True)


# The command line's name of each field of a campaign, for the line that refuses a store of another campaign.
OPTIONS = {
    "images": "IMAGES", "directory": "the directory of IMAGES", "named": "--named",
    "random": "--machine/--bits/--cells/--slots", "configs": "--machine/--bits/--cells/--slots",
    "count": "--random", "seed": "--seed", "max_steps": "--max-steps", "engine_name": "--engine",
    "dtype": "--dtype", "batch": "--batch-size", "weights": "--weights", "shard_size": "--shard-size",
    "eof_reads": "--eof-reads",
}  # fmt: skip


def differs(stored: str, campaign: Campaign) -> str | None:
    """The first option in which ``campaign`` differs from the ``stored`` one, said in a few words."""
    old, new = json.loads(stored), json.loads(to_json(campaign))
    for key in sorted(old.keys() | new.keys(), key=lambda k: (k != "kind", k)):
        if key == "kind" and old[key] != new[key]:
            return f"a {old[key]} campaign there, a {new[key]} campaign here"
        if old.get(key) != new.get(key):
            return f"{OPTIONS.get(key, key)} {_short(old.get(key))} there, {_short(new.get(key))} here"
    return None


def _short(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def run_shard(campaign: Campaign, shard: int, progress: Callable[[verifying.Report], None] | None = None) -> dict:
    """Shard ``shard`` of ``campaign``: the one function every way of running a campaign calls."""
    if isinstance(campaign, MutantCampaign):
        return _mutant_shard(campaign, shard)
    return _verify_shard(campaign, shard, progress)


# ---- verify -----------------------------------------------------------------------------------------------


class _Cases(Sequence):
    """The given cases, then the random ones (drawn when reached)."""

    def __init__(self, given: list[verifying.Case], randoms: Sequence[verifying.Case]):
        self.given, self.randoms = given, randoms

    def __len__(self) -> int:
        return len(self.given) + len(self.randoms)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return self.given[i] if i < len(self.given) else self.randoms[i - len(self.given)]


@cache
def _cases(c: VerifyCampaign) -> _Cases:
    given = []
    for path, bits, cells, slots, data in c.images:
        case = verifying.image_case(Path(c.directory, path), bits, cells, slots, data.encode("latin-1"), c.eof_reads)
        case.name = case.path = path  # as the user gave it
        given.append(case)
    if c.named:
        given += verifying.named_cases()
    randoms = verifying.random_cases(config_of(c.random), c.count, c.seed) if c.random and c.count else []
    return _Cases(given, randoms)


@cache
def _weights(path: str) -> weightfile.Weights:
    return weightfile.load(path)


@lru_cache(maxsize=ENGINES_KEPT)
def _engine(name: str, config: Config, weights: str | None, dtype: str) -> Engine:
    try:
        return make(name, config, _weights(weights) if weights else None, DTYPES[dtype])
    except ValueError as e:  # an engine that cannot run this configuration
        raise ConfigError(str(e)) from None


def _verify_shard(c: VerifyCampaign, shard: int, progress) -> dict:
    span = c.span(shard)
    cases = c.cases()[span.start : span.stop]
    weights = _weights(c.weights) if c.weights else None
    report = verifying.verify(
        cases, c.engine_name, DTYPES[c.dtype], weights, c.max_steps, c.batch, progress, make_engine=c.engine
    )
    failure = None
    if report.failure is not None:
        case, div = report.failure
        d = asdict(div)
        d["network"], d["reference"] = _plain(div.network), _plain(div.reference)
        index = next(i for i, x in enumerate(cases) if x is case)
        failure = {"index": span.start + index, "divergence": d}
    return {
        "shard": shard,
        "checked": report.checked,
        "steps": report.steps,
        "passes": report.passes,
        "stops": dict(report.stops),
        "configs": [meta(config) for config in report.configs],
        "failure": failure,
        "interrupted": report.interrupted,
        "seconds": report.seconds,
        "engines": report.engines,
    }


def _plain(value):
    """A divergence's value as JSON keeps it (output and input are bytes; numpy scalars are plain numbers)."""
    if isinstance(value, (bytes, bytearray)):
        return {"bytes": bytes(value).decode("latin-1")}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    return value


def _unplain(value):
    if isinstance(value, dict) and "bytes" in value:
        return value["bytes"].encode("latin-1")
    return value


def ends(result: dict) -> bool:
    """A shard after which the campaign stops: it diverged, or it was interrupted (and is not kept)."""
    return result.get("failure") is not None or bool(result.get("interrupted"))


def verify_summary(c: VerifyCampaign, results: dict[int, dict], seconds: float) -> verifying.Report:
    """The single-process report, from the results of the shards in order up to the first divergence (shards
    after it do not count, whichever finished first elsewhere); a shard missing or cut short makes the report
    an interrupted one."""
    cases = c.cases()
    report = verifying.Report(len(cases), seconds=seconds)
    for shard in range(c.shards):
        r = results.get(shard)
        if r is None:
            report.interrupted = True
            continue
        report.checked += r["checked"]
        report.steps += r["steps"]
        report.passes += r["passes"]
        report.stops.update(r["stops"])
        report.interrupted |= r["interrupted"]
        report.engines += [e for e in r.get("engines", []) if e not in report.engines]  # older stores lack it
        for m in r["configs"]:
            config = config_of(m)
            report.configs += [config] if config not in report.configs else []
        if r["failure"] is not None:
            d = dict(r["failure"]["divergence"])
            d["network"], d["reference"] = _unplain(d["network"]), _unplain(d["reference"])
            report.failure = (cases[r["failure"]["index"]], Divergence(**d))
            report.shard, report.shard_span = shard, c.span(shard)
            break
    return report


# ---- mutants ----------------------------------------------------------------------------------------------


@cache
def network(m: Meta) -> weightfile.Weights:
    """The stored matrices of a small configuration, as the mutants are planted in them."""
    return weightfile.compile_network(build(config_of(m)))


@cache
def battery(m: Meta, seed: int) -> mutate.Battery:
    return mutate.battery(network(m), seed)


@cache
def _mutants(m: Meta, seed: int) -> list[mutate.Mutant]:
    return mutate.choose(network(m), seed)


def _mutant_shard(c: MutantCampaign, shard: int) -> dict:
    k, a, b = c.parts()[shard]
    start = time.perf_counter()
    results = list(mutate.run(battery(c.configs[k], c.seed), c.mutants(k)[a:b]))
    done = [{"check": r.check, "catch": None if r.catch is None else asdict(r.catch)} for r in results]
    return {"shard": shard, "results": done, "seconds": time.perf_counter() - start, "interrupted": False}


def mutant_results(c: MutantCampaign, results: dict[int, dict]) -> list[list[mutate.Result]]:
    """Each configuration's results, in the order of its mutants (shards not run are missing)."""
    out: list[list[mutate.Result]] = [[] for _ in c.configs]
    for shard, (k, a, _) in enumerate(c.parts()):
        weights, mutants = network(c.configs[k]), c.mutants(k)
        for j, r in enumerate(results.get(shard, {}).get("results", [])):
            mutant = mutants[a + j]
            catch = None if r["catch"] is None else mutate.Catch(**r["catch"])
            out[k].append(mutate.Result(mutant, weights.layers[mutant.layer].name, r["check"], catch))
    return out


def absolute(path: str) -> str:
    """A file as every worker names it (workers on other machines need the same path)."""
    return str(Path(path).resolve())
