"""``mlpvm dap``: the debugger for editors, as a Debug Adapter Protocol server (``mlpvm.debug.dap``)."""

from __future__ import annotations

import contextlib
import socket
import sys

import click

from mlpvm.cli.options import bounded


@click.command()
@click.option("--port", type=bounded(1, 65535), help="Serve one client on 127.0.0.1:PORT (default: stdio).")
def dap(port: int | None) -> None:
    """Debug Adapter Protocol server: an editor launches a program (.asq, .pasq or an image) on the network
    and debugs it as with `mlpvm debug` (breakpoints, data breakpoints, steps back, the layers).

    The launch request takes: program, input, machine, bits, cells, slots, engine, weights, noCheck,
    stopOnEntry. Messages are framed with Content-Length headers on stdin/stdout, or on one TCP connection
    with --port."""
    from mlpvm.debug.dap import serve

    if port is None:
        serve(sys.stdin.buffer, sys.stdout.buffer)
        return
    with socket.create_server(("127.0.0.1", port)) as server:
        click.echo(f"mlpvm dap: listening on 127.0.0.1:{port}", err=True)
        conn, _ = server.accept()
        with contextlib.suppress(ConnectionError), conn:  # a client gone ends the session, not an error
            serve(conn.makefile("rb"), conn.makefile("wb"))
