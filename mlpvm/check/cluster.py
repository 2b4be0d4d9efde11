"""Running a campaign's shards: in this process, one after another, or on a Dask cluster (``distributed``, the
optional ``cluster`` extra): a local one this process starts (``--workers N``) or one already running
(``--address HOST:PORT``). Either way every shard is ``campaign.run_shard``; results come back to this
process, which stores each as it arrives.

A divergence ends a campaign, and the campaign's verdict is the first divergence in shard order: shards after
a diverging one are not started (and those running are cancelled), while those before it still run, since
one of them may diverge first. So one process and a cluster report the same program.
"""

from __future__ import annotations

import gc
import logging
import signal
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from mlpvm.check.campaign import Campaign, ends, run_shard
from mlpvm.errors import ConfigError
from mlpvm.host.computer import deferred_interrupt

EXTRA = "pip install 'mlpvm[cluster]'"
POLL = 0.05  # seconds between looks at the cluster's finished shards and at Ctrl-C
CONNECT = 10  # seconds to wait for the scheduler at --address
TELL = 0.5  # seconds between a worker's reports of a running shard
WINDOW = 2  # shards queued per worker thread: enough to keep each busy, few to cancel at a divergence

Done = Callable[[int, dict], None]


def distributed(option: str):
    """The ``distributed`` package, or one line naming the extra that installs it."""
    try:
        import distributed as dask_distributed
    except ImportError:
        raise ConfigError(f"{option} needs the cluster extra: {EXTRA}") from None
    return dask_distributed


def run(
    campaign: Campaign,
    todo: Iterable[int],
    done: Done,
    progress: Callable | None = None,
    workers: int | None = None,
    address: str | None = None,
) -> bool:
    """Runs the shards ``todo`` (in order), calling ``done(shard, result)`` here as each finishes; returns
    True if Ctrl-C stopped it. ``progress`` sees the partial report of a shard running in this process."""
    with pool(workers, address) as runner:
        return runner.run(campaign, sorted(todo), done, progress)


@contextmanager
def pool(workers: int | None = None, address: str | None = None) -> Iterator[Serial | Cluster]:
    """Where shards run: this process, or a cluster (started here, and stopped when the block ends)."""
    if workers is None and address is None:
        yield Serial()
        return
    dd = distributed("--workers" if workers else "--address")
    with _client(dd, workers, address) as client:
        yield Cluster(dd, client)


class Serial:
    """Shards one after another in this process: Ctrl-C cuts the running shard short (its partial result
    is shown, not stored)."""

    workers = 1

    def run(self, campaign: Campaign, todo: list[int], done: Done, progress=None) -> bool:
        with deferred_interrupt() as interrupted:
            for shard in todo:
                result = run_shard(campaign, shard, progress)
                done(shard, result)
                if result["interrupted"]:
                    return True
                if ends(result):
                    return False
                if interrupted():
                    return True
        return False


class Cluster:
    """Shards on a Dask cluster, a few queued per worker thread."""

    def __init__(self, dd, client):
        self.dd, self.client = dd, client
        self.workers = max(1, sum(client.nthreads().values()))

    def run(self, campaign: Campaign, todo: list[int], done: Done, progress=None) -> bool:
        client = self.client
        queue, running = iter(todo), {}
        limit = float("inf")  # the first shard that diverged
        finished = self.dd.as_completed()
        topic, partial = f"mlpvm-progress-{uuid.uuid4().hex}", {}  # this run's running shards, as they report
        active: set[int] = set()  # the shards running (a set: the client's thread tests it while this one changes it)

        def heard(event: tuple) -> None:  # in the client's thread
            if event[1]["shard"] in active:
                partial[event[1]["shard"]] = event[1]

        def submit() -> None:
            while len(running) < WINDOW * self.workers and (shard := next(queue, None)) is not None and shard < limit:
                future = client.submit(_remote_shard, campaign, shard, topic, pure=False)
                running[future] = shard
                active.add(shard)
                finished.add(future)

        client.subscribe_topic(topic, heard)
        with deferred_interrupt() as interrupted:
            submit()
            while running:
                if interrupted():
                    client.cancel(list(running))
                    return True
                if progress is not None:
                    now = list(partial.values())
                    progress(Partial(sum(p["checked"] for p in now), sum(p["steps"] for p in now)))
                for future in finished.next_batch(block=False) if finished.has_ready() else []:
                    shard = running.pop(future, None)
                    active.discard(shard)
                    partial.pop(shard, None)
                    if shard is None or shard > limit:  # cancelled, or after the divergence
                        continue
                    result = future.result()
                    done(shard, result)
                    if ends(result):
                        limit = shard
                        later = [f for f, s in running.items() if s > shard]
                        client.cancel(later)
                        for f in later:
                            active.discard(running.pop(f))
                submit()
                time.sleep(POLL)
        return False


@dataclass
class Partial:
    """What the running shards have checked so far (the progress bar adds it to the finished ones)."""

    checked: int
    steps: int


def _remote_shard(campaign: Campaign, shard: int, topic: str) -> dict:
    """``run_shard`` on a worker, telling the client under ``topic`` what it has checked, twice a second."""
    from distributed import get_worker

    worker, last = get_worker(), [0.0]

    def progress(report) -> None:
        if time.monotonic() - last[0] >= TELL:
            last[0] = time.monotonic()
            worker.log_event(topic, {"shard": shard, "checked": report.checked, "steps": report.steps})

    return run_shard(campaign, shard, progress)


def _client(dd, workers: int | None, address: str | None):
    """A client of a local cluster of ``workers`` processes (one thread each: the engines are numpy and
    compiled code that hold the GIL, so processes, not threads, run shards side by side), or of the
    scheduler at ``address``. Leaving it stops the local cluster and its processes."""
    if workers is not None:
        with _sigint_ignored():
            cluster = dd.LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                dashboard_address=None, scheduler_port=0, silence_logs=logging.CRITICAL,
            )  # fmt: skip
            return _Both(cluster, dd.Client(cluster))
    assert address is not None
    target = address if "://" in address else f"tcp://{address}"
    try:
        return dd.Client(target, timeout=CONNECT)
    except ValueError as e:  # no port, an unknown scheme, ...
        error = ConfigError(f"--address {address}: {e}; give HOST:PORT of a Dask scheduler")
    except (OSError, TimeoutError) as e:
        error = ConfigError(f"--address {address}: no Dask scheduler answers there ({e})")
    # The client that failed to start is left in a reference cycle. Collected later, its __del__ could run
    # inside the next client's start, which holds the loop lock that __del__ takes: a deadlock (seen in the
    # tests). Collected here, it closes now, with no lock held.
    gc.collect()
    raise error


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """SIGINT ignored while the cluster starts: the worker processes it spawns inherit that, so Ctrl-C at a
    terminal (sent to the whole process group) reaches this process alone, which stops the campaign and then
    the cluster in order, instead of killing workers mid-shard with their tracebacks. (A Ctrl-C in the few
    seconds of the start is lost: only an ignored signal survives into a new process.)"""
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


class _Both:
    """A local cluster and its client, closed together (the client first)."""

    def __init__(self, cluster, client):
        self.cluster, self.client = cluster, client

    def __enter__(self):
        return self.client

    def __exit__(self, *exc) -> None:
        self.client.close()
        self.cluster.close()
