"""``mlpvm export``: the network as an ONNX model, for ONNX Runtime and anything else that reads ONNX."""

from __future__ import annotations

import click

from mlpvm import resources
from mlpvm.cli import console as views
from mlpvm.cli.options import load_weights, machine_options, quiet_option, resolve_config
from mlpvm.errors import shown
from mlpvm.files import is_stdout, writable
from mlpvm.network import build as build_network
from mlpvm.network import onnx as onnx_export
from mlpvm.network import weights as weightfile


@click.command()
@machine_options(program=False)
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False), help="The .onnx file to write.")
@click.option("--onnx", "onnx_output", type=click.Path(dir_okay=False), help="The same as -o FILE (its first name).")
@click.option("--weights", type=click.Path(dir_okay=False), help="Export this weight file instead of building one.")
@click.option("--loop", is_flag=True, help="A K-pass model (ONNX Loop): inputs state and passes, per-pass I/O outputs.")
@click.option("--layer-outputs", is_flag=True, help="Also output every layer's activations, named by layer.")
@quiet_option
def export(machine, bits, cells, slots, output, onnx_output, weights, loop, layer_outputs, quiet) -> None:
    """Export the network of a configuration (or of --weights FILE) as an ONNX model.

    \b
    One pass (default): input state, float32 [batch, state_size]; output
    next_state; the 23 layers are nodes named as in `mlpvm info`.
    --loop: inputs state and passes (int64); outputs final_state and, per
    pass, out_valid [passes, batch], out_byte [passes, batch, 8] and
    executed [passes, batch]. It stops early after a pass in which a
    machine took input, or when every machine is stopped or waiting.

    The weight file's meta (fields, I/O fields, layers, configuration) is in
    the model's metadata under "mlpvm". Standard operators only (opset 17).
    """
    if output and onnx_output:
        raise click.UsageError("give -o FILE or --onnx FILE, not both")
    output = output or onnx_output
    if not output:
        raise click.UsageError("give the file to write: -o FILE.onnx")
    if loop and layer_outputs:
        raise click.UsageError("--layer-outputs is for the one-pass model, not --loop")
    loaded = load_weights(weights, machine, bits, cells, slots) if weights else None
    writable(output)  # refused (an input, a directory) before the export, not after it
    config = resolve_config(None, loaded, machine, bits, cells, slots)
    with views.progress("{task.description}", counts=False, bar=False, quiet=quiet) as bar:
        task = bar.add_task(f"building {config.describe()}", total=None)
        if loaded is None:
            onnx_export.check_size(config, resources.check(config, "build").nonzeros)
            loaded = weightfile.compile_network(build_network(config))
        bar.update(task, description="making the ONNX model")
        model = onnx_export.export(loaded, loop=loop, layer_outputs=layer_outputs)
        bar.update(task, description=f"writing {shown(output)}")
        onnx_export.save(model, output)
    what = "a loop of passes" if loop else "one pass" + (", every layer's outputs" if layer_outputs else "")
    size = model.ByteSize() / 1e6
    click.echo(f"wrote {shown(output)}: {config.describe()}, {what}, {size:,.1f} MB", err=is_stdout(output))
