"""`promowatch send --loop --workers N`: N sender processes on this host, each running `alerts.deliver.send_loop`.

Why processes: a send costs about 2 ms of CPU in Apprise and the HTTP client, so one interpreter (one GIL) tops
out at a few hundred messages a second whatever its thread count; N processes use N cores. They share nothing
but the database: rows are claimed with `FOR UPDATE SKIP LOCKED` on PostgreSQL (a re-checked claim on SQLite),
so the same command on several hosts against one PostgreSQL database adds senders the same way.

Stopping: SIGTERM or Ctrl-C (to this process or to any worker) sets one shared event; every worker stops
claiming, puts the rows it claimed but did not start back in the outbox, finishes the sends under way (bounded
by the channel timeouts) and records them. A worker that does not exit within that bound is killed; its
claimed rows come back after the lease. A killed worker (SIGKILL) loses nothing either: the lease.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from datetime import timedelta
from typing import Any

log = logging.getLogger("promowatch.senders")

COUNTS = ("claimed", "reclaimed", "sent", "failed", "ambiguous", "dead", "skipped", "deferred")


class _Either:
    """Stop when the parent's shared event or this process's own SIGTERM says so. A signal handler only sets a
    `threading.Event` (re-entrant lock): setting a multiprocessing Event there can deadlock with the main
    thread inside its wait."""

    def __init__(self, shared, own: threading.Event):
        self.shared, self.own = shared, own

    def is_set(self) -> bool:
        return self.own.is_set() or self.shared.is_set()

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.is_set() and time.monotonic() < deadline:
            self.own.wait(min(0.05, max(0.0, deadline - time.monotonic())))
        return self.is_set()


def _worker(number: int, kwargs: dict, stop, results) -> None:
    """One sender process (spawned): its own engine, thread pool and channels."""
    from promowatch.serve import setup_logging

    own = threading.Event()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent decides
    signal.signal(signal.SIGTERM, lambda *_: own.set())  # this worker stops cleanly (a service stop: all of them)
    setup_logging("WARNING")
    from alerts.deliver import send_loop

    report = send_loop(stop=_Either(stop, own), **kwargs)
    results.put({"worker": number, "pid": os.getpid(), **{k: getattr(report, k) for k in COUNTS}})


def run_senders(
    workers: int,
    *,
    policy,
    concurrency: int,
    batch: int | None = None,
    lease: timedelta,
    until_empty: bool = False,
    idle_poll: float = 0.5,
    max_seconds: float | None = None,
    database_url: str | None = None,
) -> dict:
    """Run `workers` sender processes until stopped (or, `until_empty`, until the outbox is empty); their
    summed counts. One worker runs in this process."""
    from alerts.deliver import send_loop
    from storage.engine import get_engine

    get_engine(database_url)  # migrate once, here, before the workers start
    kwargs = dict(
        database_url=database_url,
        policy=policy,
        concurrency=concurrency,
        batch=batch,
        lease=lease,
        until_empty=until_empty,
        idle_poll=idle_poll,
        max_seconds=max_seconds,
    )
    started = time.perf_counter()
    totals: dict = {k: 0 for k in COUNTS} | {"workers": workers, "crashed": 0}
    if workers == 1:
        stop: Any = threading.Event()
        previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            report = send_loop(stop=stop, **kwargs)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        totals.update({k: getattr(report, k) for k in COUNTS})
        totals["seconds"] = round(time.perf_counter() - started, 3)
        return totals

    context = multiprocessing.get_context("spawn")  # no engine, pool or lock inherited half-way
    stop, results = context.Event(), context.Queue()
    procs = [
        context.Process(target=_worker, args=(n, kwargs, stop, results), name=f"promowatch-sender-{n}", daemon=True)
        for n in range(workers)
    ]
    asked = threading.Event()  # set by the signal handler; the shared event is set by the loop below
    previous = {s: signal.signal(s, lambda *_: asked.set()) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        for proc in procs:
            proc.start()
        log.info("%d sender processes: %s", workers, ", ".join(str(p.pid) for p in procs))
        while any(p.is_alive() for p in procs) and not asked.is_set():
            asked.wait(0.2)
            if max_seconds and time.perf_counter() - started > max_seconds + 60:
                break  # a worker that ignores its own time bound
        stop.set()
        # stopping: the sends under way finish within the channel timeouts (plus recording)
        grace = policy.connect_timeout + policy.read_timeout + 15
        deadline = time.monotonic() + grace
        for proc in procs:
            proc.join(max(0.1, deadline - time.monotonic()))
        for proc in procs:
            if proc.is_alive():
                log.warning("sender process %s did not stop within %.0f s: killed (its rows return)", proc.pid, grace)
                proc.kill()
                proc.join(5)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    reported = 0
    while reported < workers:
        try:
            counts = results.get(timeout=0.5)
        except Exception:  # noqa: BLE001 — queue.Empty: a worker died without a report
            break
        reported += 1
        for key in COUNTS:
            totals[key] += counts[key]
    totals["crashed"] = sum(1 for p in procs if p.exitcode not in (0, None))
    totals["seconds"] = round(time.perf_counter() - started, 3)
    return totals
