"""``--network transformer`` for ``run`` and ``verify``: the looped transformer (mlpvm.transformer) in place
of the MLP, refused before running outside its proved exact region."""

from __future__ import annotations

import json
import sys
import time

import click

from mlpvm.check import transformer as checks
from mlpvm.check.generate import random_program
from mlpvm.check.lockstep import Program
from mlpvm.cli import console
from mlpvm.cli.options import resolve_config
from mlpvm.errors import ConfigError
from mlpvm.host import transformer as host
from mlpvm.host.computer import EXIT_CODES, Outcome
from mlpvm.machines.config import Config
from mlpvm.program.image import Image
from mlpvm.program.inputs import Input
from mlpvm.program.load import load_image
from mlpvm.transformer import DEFAULT_LAMBDA, Transformer, build, exactness
from mlpvm.transformer.faults import NotExact


def network(config: Config, lam: float | None, dtype: str = "float32") -> Transformer:
    """The transformer for ``config``, refused (one line, exit 2) outside the proved exact region."""
    net = build(config, DEFAULT_LAMBDA if lam is None else lam, dtype)
    exactness.check(net)
    return net


def run_program(program: Image, config: Config, lam: float | None, inp: Input, limit: int | None, stream) -> Outcome:
    if program.slots is not None:
        raise ConfigError(f"{program.path}: --network transformer runs subleq programs only")
    net = network(config, lam)
    try:
        return host.run(net, list(program.words), inp, limit, stream)
    except NotExact as e:  # outside what the bound covers: a network fault, as for the MLP
        raise ConfigError(f"network fault: {e}") from None
    except KeyboardInterrupt:
        click.echo("\nmlpvm: interrupted", err=True)
        sys.exit(EXIT_CODES["interrupted"])


NAMED_MAX_CELLS = 1024  # --named: larger memories cost (M + 1)^2 scores a head a pass, minutes a program


def skip_reason(config: Config, lam: float | None, dtype: str) -> str | None:
    """Why ``--named`` leaves out a program of ``config`` (one line), or None if the transformer runs it."""
    if config.spec.harvard:
        return f"a {config.machine} program; the transformer runs subleq (docs/machines.md 5.1)"
    if config.cells > NAMED_MAX_CELLS:
        return f"{config.cells:,} cells, beyond --named's {NAMED_MAX_CELLS:,} ((M + 1)^2 scores a head a pass)"
    return exactness.refusal(build(config, DEFAULT_LAMBDA if lam is None else lam, dtype))


def verify_programs(images, named: bool, count: int, seed: int, max_steps: int, options: dict, data: bytes,
                    dtype: str, lam: float | None, as_json: bool) -> None:  # fmt: skip
    """Lockstep verification of IMAGES, the named programs the transformer's machine can express and random
    programs on the transformer; exits 0, or 1 at the first divergence (an inexact pass is one)."""
    if dtype not in ("float32", "float64"):
        raise ConfigError(f"--network transformer computes in float32 or float64, not {dtype}")
    if not images and not named and not count:
        raise click.UsageError("nothing to verify: give IMAGES, --named or --random N")
    cases: list[tuple[str, str, Config, Program]] = []
    skipped: list[tuple[str, str]] = []
    if named:
        from mlpvm.check.verify import named_cases

        for case in named_cases():
            why = skip_reason(case.config, lam, dtype)
            if why:
                skipped.append((case.name, why))
                continue
            again = case.command(["--network", "transformer"] + (["--dtype", dtype] if dtype != "float32" else []))
            cases.append((case.name, again, case.config, case.program))
        for name, why in skipped:
            if not as_json:
                click.echo(f"skipped {name}:\n  {why}")
    for path in images:
        image = load_image(path)
        config = resolve_config(image, None, *options.values())
        program = Program(list(image.words), None, data)
        cases.append((path, f"mlpvm verify --network transformer {path}", config, program))
    if count:
        config = resolve_config(None, None, *options.values())
        for i in range(count):
            again = (f"mlpvm verify --network transformer --random 1 --seed {seed + i} --bits {config.bits} "
                     f"--cells {config.cells} --dtype {dtype}")  # fmt: skip
            cases.append((f"random program, seed {seed + i}", again, config, random_program(config, seed + i)))
    nets: dict[Config, Transformer] = {}
    steps, stops, start = 0, {}, time.monotonic()
    with console.progress("verifying", quiet=as_json) as bar:  # on a terminal's stderr: --named takes minutes
        task = bar.add_task("verifying", total=len(cases))
        for what, again, config, program in cases:
            net = nets.get(config) or nets.setdefault(config, network(config, lam, dtype))
            try:
                divergence, n, how = checks.lockstep(net, program, max_steps or 2**62)
            except KeyboardInterrupt:
                bar.stop()
                click.echo(f"\nmlpvm: interrupted after {steps:,} steps checked", err=True)
                sys.exit(EXIT_CODES["interrupted"])
            steps += n
            if divergence is not None:
                bar.stop()
                _diverged(what, again, net, divergence, steps, as_json)
            stops[how] = stops.get(how, 0) + 1
            bar.update(task, advance=1)
    took = time.monotonic() - start
    lam_shown = next(iter(nets.values())).lam if nets else lam
    if as_json:
        click.echo(json.dumps({"ok": True, "network": "transformer", "programs": len(cases), "steps": steps,
                               "seconds": took, "dtype": dtype, "lambda": lam_shown, "stops": stops,
                               "skipped": [{"program": n, "reason": w} for n, w in skipped]}))  # fmt: skip
        return
    configs = _configs({c for _, _, c, _ in cases})
    click.echo(f"OK: {console.plural(len(cases), 'program')} ({configs}) verified on the transformer, no divergence")
    click.echo(f"  {steps:,} steps checked in {took:.1f} s ({steps / max(took, 1e-9):,.0f} steps/s), {dtype}, "
               f"lambda {lam_shown:g}")  # fmt: skip
    click.echo("  memory, PC, halt and fault flags, I/O handshake and output matched after every pass")
    click.echo("  stops: " + ", ".join(f"{v} {k}" for k, v in sorted(stops.items())))
    if skipped:
        click.echo(f"  skipped: {console.plural(len(skipped), 'named program')} (see above)")


def _configs(configs: set[Config]) -> str:
    """The configurations checked, in a few words: one word width's memories together (subleq, 16-bit words,
    64/256/512 cells)."""
    by_bits: dict[int, list[int]] = {}
    for c in configs:
        by_bits.setdefault(c.bits, []).append(c.cells)
    return "; ".join(f"subleq, {bits}-bit words, {'/'.join(map(str, sorted(cells)))} cells"
                     for bits, cells in sorted(by_bits.items()))  # fmt: skip


def _diverged(what: str, again: str, net: Transformer, d: checks.Divergence, steps: int, as_json: bool) -> None:
    if as_json:
        click.echo(
            json.dumps(
                {
                    "ok": False,
                    "network": "transformer",
                    "program": what,
                    "step": d.step,
                    "field": d.field,
                    "network_value": str(d.network),
                    "reference": str(d.reference),
                }
            )
        )
    else:
        click.echo(f"DIVERGED in {what} ({net.config.describe()}) at step {d.step}:")
        click.echo(f"  {d.describe()}")
        if d.layer:
            click.echo(f"  first layer that departs from hard-max attention: {d.layer}")
        click.echo(f"  check it alone: {again} --lambda {net.lam:g}")
        click.echo(f"  before it: {steps:,} steps checked")
    sys.exit(1)


def show_info(config: Config, lam: float | None, as_json: bool) -> None:
    """``info --network transformer``: each layer's kind, heads, hidden units and nonzero weights, and the
    totals, with whether the configuration is inside the proved exact region."""
    from mlpvm.transformer.attention import Attention

    net = build(config, DEFAULT_LAMBDA if lam is None else lam)
    rows = []
    for k, layer in enumerate(net.layers):
        attention = isinstance(layer, Attention)
        params, nonzeros = layer.params()
        rows.append({"k": k, "name": layer.name, "kind": "attention" if attention else "ffn",
                     "heads": len(layer.heads) if attention else 0, "hidden": 0 if attention else len(layer.b1),
                     "parameters": params, "nonzero": nonzeros})  # fmt: skip
    totals = net.counts() | {"lambda": net.lam, "min_lambda": exactness.min_lambda(config.cells),
                             "largest_sum": exactness.largest_sum(net), "refused": exactness.refusal(net)}  # fmt: skip
    if as_json:
        click.echo(json.dumps({"config": config.to_meta(), "layers": rows, "totals": totals}))
        return
    click.echo(f"{'#':>2}  {'layer':14} {'kind':9} {'heads':>5} {'hidden':>6} {'parameters':>11} {'nonzero':>8}")
    for r in rows:
        click.echo(f"{r['k']:>2}  {r['name']:14} {r['kind']:9} {r['heads']:>5} {r['hidden']:>6} "
                   f"{r['parameters']:>11,} {r['nonzero']:>8,}")  # fmt: skip
    t = totals
    click.echo(
        f"{t['layers']} layers ({t['attention_layers']} attention, {t['ffn_layers']} feed-forward), "
        f"{t['heads']} heads; width {t['width']} x {t['columns']} columns = state size {t['state_size']:,}"
    )
    click.echo(f"parameters {t['parameters']:,}; nonzero weights {t['nonzeros']:,}")
    verdict = t["refused"] or "inside the proved exact region (float32)"
    click.echo(f"lambda {t['lambda']:g} (proved exact from {t['min_lambda']:.2f}); {verdict}")


def write_weights(config: Config, lam: float | None, output: str) -> None:
    """``build --network transformer -o FILE``: its weight file, refused outside the proved exact region."""
    from mlpvm.errors import shown
    from mlpvm.files import is_stdout, writable
    from mlpvm.transformer import weightfile

    writable(output)
    net = network(config, lam)
    weightfile.save(net, output)
    c = net.counts()
    click.echo(f"wrote {shown(output)}: {config.describe()}, transformer, {c['layers']} layers, {c['heads']} heads, "
               f"{c['nonzeros']:,} nonzero weights, state {c['width']} x {c['columns']}, lambda {net.lam:g}",
               err=is_stdout(output))  # fmt: skip


def mutation_table(config: Config | None, lam: float | None, seed: int, as_json: bool, quiet: bool) -> None:
    """``verify --network transformer --mutants``: faults planted in the transformer's stored weights (every
    feed-forward field, every head; mlpvm.check.mutate_transformer), the check that caught each, a row per
    layer; exits 1 if any survived, 130 if interrupted."""
    from rich.table import Table

    from mlpvm.check import mutate_transformer as mutate

    net = network(config or mutate.CONFIG, lam)
    checks = mutate.battery(net, seed)
    mutants = mutate.choose(net, seed)
    results: list[mutate.Result] = []
    try:
        with console.progress("mutants", quiet=quiet or as_json) as bar:
            task = bar.add_task("mutants", total=len(mutants))
            for result in mutate.run(net, checks, mutants):
                results.append(result)
                bar.update(task, advance=1)
    except KeyboardInterrupt:
        click.echo(f"\nmlpvm: interrupted after {len(results):,} of {len(mutants):,} mutants", err=True)
    rows = mutate.summary(net, results, checks)
    lost = [r.mutant.describe(net) for r in results if not r.caught]
    doc = {"network": "transformer", "config": net.config.to_meta(), "lambda": net.lam, "seed": seed,
           "mutants": len(results), "caught": len(results) - len(lost),
           "checks": {c.name: c.description for c in checks}, "layers": rows, "survivors": lost}  # fmt: skip
    if as_json:
        click.echo(json.dumps(doc))
    else:
        table = Table(title=f"mutation table: transformer, {net.config.describe()}", title_justify="left")
        names = [c.name for c in checks]
        for col in ("layer", "kind", "mutants", *names, "survived", "guard"):
            table.add_column(col, justify="left" if col in ("layer", "kind") else "right")
        for r in rows:
            table.add_row(r["layer"], r["kind"], str(r["mutants"]), *(str(r["caught_by"][n]) for n in names),
                          str(r["survived"]), str(r["guard"]))  # fmt: skip
        out = console.stdout()
        out.print(table)
        for c in checks:
            out.print(f"  {c.name}: {c.description}")
        out.print("  guard: of those, stopped by the guard (after a layer, a row off {0,1} or a scratchpad row")
        out.print("  nonzero in a memory column: a network fault)")
        verdict = "[bold green]all caught[/]" if not lost else "[bold red]SURVIVORS[/]"
        out.print(f"{verdict}: {doc['caught']:,} of {len(results):,} mutants caught, seed {seed}")
        for line in lost:
            out.print(f"  survived: {line}")
    if len(results) < len(mutants):
        sys.exit(EXIT_CODES["interrupted"])
    sys.exit(1 if lost else 0)
