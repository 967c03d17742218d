"""The crawl worker: a long-lived child process that keeps Scrapy loaded and runs the crawls it is handed.

Why a child process: a cycle then pays for the crawl and not for interpreter and import start-up, and the
service survives what a crawl can do to a process (a hang, a leak, a crash). Inside the child, Scrapy's
`AsyncCrawlerRunner` runs on the asyncio Twisted reactor, which starts once and runs any number of crawls
(a `CrawlerProcess` cannot be restarted); the crawls go through the project's settings and pipeline, so a
crawl here stores and detects exactly as `scrapy crawl` and `promowatch crawl` do. Everything else that needs
the database, Apprise or the alert code runs in the child too (`CrawlWorker.call`), so the scheduler process
imports none of it and stays small.

Protocol (two one-way pipes carrying pickled dicts, `multiprocessing.connection.Connection` on each end):

    parent -> child  {"cmd": "crawl", "request": n, "operators": [...], "fixtures_dir": str|None,
                      "database_url": str|None, "settings": {...}}        # extra Scrapy settings (tests, benchmarks)
                     {"cmd": "call", "request": n, "task": name, "kwargs": {...}}  # send | health | last_crawls
                     {"cmd": "stop", "drain": bool}    # finish running (drain: and queued) crawls, then exit
    child -> parent  {"type": "ready", "pid": p}
                     {"type": "accepted", "request": n, "operators": [...]}  # queued in the child
                     {"type": "started", "request": n, "operator": op, "started_at": iso, "baseline": run id}
                     {"type": "done", "request": n, "operator": op, "outcome": {...CrawlOutcome fields}}
                     {"type": "result", "request": n, "value": ..., "error": str|None}  # of a call

This module is the parent side (`CrawlWorker`) and what both sides share; the child side is
`promowatch.worker_child`, which imports from here (never the reverse, but for the child's entry, which
names it by module path).
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, fields
from datetime import datetime

from contract.clock import utcnow

log = logging.getLogger(__name__)

ASYNCIO_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
MONITOR_PERIOD = 0.25
MEMORY_CHECK_PERIOD = 2.0
_UNSET = object()


@dataclass
class CrawlOutcome:
    """What one crawl of one operator came to."""

    operator: str
    status: str  # healthy | blocked | partial | failed | skipped (a crawl of it was already running)
    crawl_run_id: int | None = None
    offers: int = 0
    new_versions: int = 0
    events: int | None = None  # None: not detected (unhealthy crawl, or detection failed and stays pending)
    error: str | None = None
    finish_reason: str | None = None
    worker_pid: int | None = None
    seconds: float = 0.0

    @property
    def healthy(self) -> bool:
        return self.status == "healthy"

    def as_dict(self) -> dict:
        return asdict(self)


class WorkerStopped(RuntimeError):
    """The worker is shutting down and takes no more crawls."""


def record_failed(operator: str, started_at: datetime, error: str, finish_reason: str, database_url: str | None) -> int:
    """A failed CrawlRun for a crawl that did not get to record itself; its id."""
    from storage.repository import record_crawl

    return record_crawl(
        operator=operator,
        started_at=started_at,
        finish_reason=finish_reason,
        status="failed",
        items=[],
        items_scraped=0,
        dropped={},
        error=error,
        database_url=database_url,
    ).run_id


# ============================================================================================ parent side

#: what the worker process runs: the parent's sys.path, then promowatch.worker_child on the two pipes' fds
_CHILD_ENTRY = (
    "import json, sys; sys.path[:0] = json.loads(sys.argv[1]); "
    "from promowatch.worker_child import main_from_fds; main_from_fds(*sys.argv[2:])"
)


class _Pending:
    def __init__(self, operator: str):
        self.operator = operator
        self.submitted = time.monotonic()
        self.accepted: float | None = None  # the child queued it
        self.started: float | None = None
        self.started_at: datetime = utcnow()
        self.outcome: CrawlOutcome | None = None


class _Request:
    def __init__(self, number: int, operators: list[str], fixtures_dir, database_url):
        self.number = number
        self.fixtures_dir, self.database_url = fixtures_dir, database_url
        # the highest CrawlRun id when the child started the request's crawls (None: none started)
        self.baseline: int | None = None
        self.pending = {op: _Pending(op) for op in operators}
        self.done = threading.Event()

    def check_done(self) -> None:
        if all(p.outcome is not None for p in self.pending.values()):
            self.done.set()


class _Call:
    """A task run in the child for the parent (see `CrawlWorker.call`)."""

    def __init__(self, number: int, task: str):
        self.number, self.task = number, task
        self.value = None
        self.error: str | None = None
        self.done = threading.Event()


class WorkerCallError(RuntimeError):
    """A task run in the crawl worker failed, or the worker died before it answered."""


class _Child:
    """One worker process and the crawls it was handed."""

    def __init__(self, owner: "CrawlWorker"):
        from multiprocessing.connection import Connection

        self.owner = owner
        # a plain child process on two pipes rather than multiprocessing's spawn: spawn also starts its resource
        # tracker (one more resident Python process) and re-imports the parent's __main__ (the whole CLI) in
        # the worker. The child gets the parent's sys.path, so it imports the same code.
        req_read, req_write = os.pipe()
        rep_read, rep_write = os.pipe()
        options = {
            "time_limit": owner.time_limit,
            "parallel_crawls": owner.parallel_crawls,
            "log_level": owner.log_level or logging.getLevelName(logging.getLogger().getEffectiveLevel()),
        }
        try:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    _CHILD_ENTRY,
                    json.dumps([p for p in sys.path if p]),
                    str(req_read),
                    str(rep_write),
                    json.dumps(options),
                ],
                pass_fds=(req_read, rep_write),
                stdin=subprocess.DEVNULL,
            )
        except BaseException:
            os.close(req_write)
            os.close(rep_read)
            raise
        finally:  # the child's ends: the child holds them now (or there is no child)
            os.close(req_read)
            os.close(rep_write)
        self.req_write = Connection(req_write, readable=False)
        self.rep_read = Connection(rep_read, writable=False)
        self.pid = self.process.pid
        self.requests: dict[int, _Request] = {}
        self.calls: dict[int, _Call] = {}
        self.assigned = 0
        self.retiring = False
        self.exited = threading.Event()
        self.kill_reason: tuple[str, str] | None = None  # (finish_reason, error) of the crawls it takes down
        self.ready = False
        self._send_lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, name=f"worker-{self.pid}-replies", daemon=True)
        self.reader.start()
        log.info("crawl worker started (pid %d)", self.pid)

    def send(self, message: dict) -> bool:
        with self._send_lock:
            try:
                self.req_write.send(message)
                return True
            except (BrokenPipeError, OSError):
                return False

    def submit(self, request: _Request, operators: list[str], settings: dict | None) -> None:
        self.requests[request.number] = request
        self.assigned += len(operators)
        self.send(
            {
                "cmd": "crawl",
                "request": request.number,
                "operators": operators,
                "fixtures_dir": request.fixtures_dir,
                "database_url": request.database_url,
                "settings": settings or {},
            }
        )

    def submit_call(self, call: _Call, kwargs: dict) -> None:
        self.calls[call.number] = call
        if not self.send({"cmd": "call", "request": call.number, "task": call.task, "kwargs": kwargs}):
            self.calls.pop(call.number, None)
            call.error = f"crawl worker (pid {self.pid}) is gone"
            call.done.set()

    def retire(self, why: str, drain: bool = True) -> None:
        """Send it no more crawls and let it exit after its running ones (`drain`: and its queued ones)."""
        if not self.retiring:
            log.info("crawl worker %d: %s (%s)", self.pid, "recycled" if drain else "stopping", why)
            self.retiring = True
            self.send({"cmd": "stop", "drain": drain})

    def kill(self, finish_reason: str, error: str) -> None:
        if self.kill_reason is None:
            self.kill_reason = (finish_reason, error)
            log.warning("crawl worker %d killed: %s", self.pid, error)
        try:
            self.process.kill()
        except Exception:  # noqa: BLE001 — already gone
            pass

    def _read(self) -> None:
        while True:
            try:
                message = self.rep_read.recv()
            except (EOFError, OSError):
                break
            self.owner._on_message(self, message)
        self.rep_read.close()
        with self._send_lock:  # nothing more to send it: its request pipe goes too (a recycled worker leaks no fd)
            self.req_write.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:  # its reply pipe closed but it lingers: it will be gone soon
            self.process.kill()
            self.process.wait(10)
        self.owner._on_exit(self)
        self.exited.set()


class CrawlWorker:
    """The parent's handle on the crawl worker process (started on the first crawl, restarted as needed).

    Thread-safe: `crawl()` blocks its calling thread (a scheduler job) until each operator's outcome is in. A
    request's operators crawl concurrently, `parallel_crawls` at a time in the child (the others queue, in
    order), which bounds the worker's memory when a whole cycle arrives at once; `start_timeout` bounds how long
    the child takes to accept a request. The child is recycled after `recycle_after` crawls, when its RSS passes
    `memory_limit_mb` (`rss_bytes`, after each crawl and every few seconds), when it crashes, and when a crawl
    runs past `time_limit`: Scrapy closes a crawl at the limit itself, and a worker still busy with it
    `kill_grace` seconds later (a blocked reactor) is killed. A recycle lets the queued crawls run first; a stop
    of the service does not start them (the child records them interrupted). A crawl whose worker died, was
    killed or stopped before storing it is recorded here as a failed CrawlRun (`worker_crashed`,
    `worker_killed`, `interrupted`), the only time the parent imports storage; a crawl the child stored keeps
    its own record, so none is recorded twice. In the child, SIGTERM and the end of the request pipe mean
    "stop"; SIGINT is ignored (a Ctrl-C reaches the whole process group: the parent decides).
    """

    def __init__(
        self,
        *,
        database_url: str | None = None,
        fixtures_dir: str | None = None,
        recycle_after: int = 50,
        time_limit: float = 900.0,
        memory_limit_mb: int | None = 1024,
        start_timeout: float = 60.0,
        kill_grace: float | None = None,
        log_level: str | None = None,
        parallel_crawls: int = 2,
    ):
        self.database_url, self.fixtures_dir = database_url, fixtures_dir
        self.recycle_after, self.time_limit = max(1, int(recycle_after)), float(time_limit)
        self.memory_limit = memory_limit_mb * 1024 * 1024 if memory_limit_mb else None
        self.start_timeout = float(start_timeout)
        self.parallel_crawls = max(0, int(parallel_crawls))  # 0: no cap
        self.kill_grace = kill_grace if kill_grace is not None else min(60.0, max(2.0, self.time_limit * 0.1))
        self.log_level = log_level  # of the worker's logging; None: the parent's root level when it starts
        self._lock = threading.RLock()
        self._children: list[_Child] = []
        self._current: _Child | None = None
        self._numbers = itertools.count(1)
        self._in_flight: set[str] = set()
        self._stopping = False
        self._monitor: threading.Thread | None = None
        self._monitor_stop = threading.Event()
        self.crawls_done = 0
        self.workers_started = 0

    @classmethod
    def from_config(cls, config, database_url: str | None = None, fixtures_dir: str | None = None) -> "CrawlWorker":
        w = config.worker
        return cls(
            database_url=database_url,
            fixtures_dir=fixtures_dir or config.fixtures_dir,
            recycle_after=w.recycle_after,
            time_limit=w.crawl_time_limit,
            memory_limit_mb=w.memory_limit_mb,
            start_timeout=w.start_timeout,
            parallel_crawls=w.parallel_crawls,
        )

    def __enter__(self) -> "CrawlWorker":
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown(grace=30)

    @property
    def pid(self) -> int | None:
        """The current worker process's PID (None before the first crawl)."""
        with self._lock:
            child = self._current
            return child.pid if child is not None and not child.exited.is_set() else None

    # ------------------------------------------------------------------------------------------ crawling

    def crawl(self, operators: list[str], *, fixtures_dir=_UNSET, settings: dict | None = None) -> list[CrawlOutcome]:
        """Crawl the operators (concurrently, in the worker); each one's outcome, in order. Blocks until done."""
        operators = list(dict.fromkeys(operators))
        fixtures = self.fixtures_dir if fixtures_dir is _UNSET else fixtures_dir
        fixtures = str(fixtures) if fixtures else None
        skipped: dict[str, CrawlOutcome] = {}
        with self._lock:
            if self._stopping:
                raise WorkerStopped("the crawl worker is shutting down")
            for op in operators:
                if op in self._in_flight:
                    skipped[op] = CrawlOutcome(op, "skipped", error=f"a crawl of {op} is already running")
            todo = [op for op in operators if op not in skipped]
            request = None
            if todo:
                child = self._child()
                request = _Request(next(self._numbers), todo, fixtures, self.database_url)
                self._in_flight.update(todo)
                child.submit(request, todo, settings)
                if child.assigned >= self.recycle_after:
                    child.retire(f"{child.assigned} crawls handed to it, recycle_after = {self.recycle_after}")
                self._ensure_monitor()
        outcomes = dict(skipped)
        if request is not None:
            while not request.done.wait(1.0):
                pass  # bounded by the monitor: every pending crawl ends with an outcome, killed if need be
            outcomes.update((op, p.outcome) for op, p in request.pending.items() if p.outcome is not None)
        return [outcomes[op] for op in operators]

    def call(self, task: str, timeout: float | None = None, **kwargs):
        """Run `task` (send, health, last_crawls: promowatch.worker_child.TASKS) with `kwargs` in the worker
        (started if need be) and return its value; WorkerCallError when it failed or the worker died,
        TimeoutError after `timeout` seconds (default: the crawl time limit)."""
        with self._lock:
            if self._stopping:
                raise WorkerStopped("the crawl worker is shutting down")
            child = self._child()
            call = _Call(next(self._numbers), task)
            child.submit_call(call, kwargs)
            self._ensure_monitor()
        if not call.done.wait(self.time_limit if timeout is None else timeout):
            raise TimeoutError(
                f"the crawl worker did not answer {task!r} within {self.time_limit if timeout is None else timeout:g} s"
            )
        if call.error is not None:
            raise WorkerCallError(f"{task} in the crawl worker failed: {call.error}")
        return call.value

    def _child(self) -> _Child:
        child = self._current
        if child is None or child.retiring or child.exited.is_set() or child.kill_reason:
            child = _Child(self)
            self.workers_started += 1
            self._children.append(child)
            self._current = child
        return child

    def _on_message(self, child: _Child, message: dict) -> None:
        kind = message.get("type")
        if kind == "ready":
            child.ready = True
            return
        if kind == "result":
            with self._lock:
                call = child.calls.pop(message["request"], None)
            if call is not None:
                call.value, call.error = message.get("value"), message.get("error")
                call.done.set()
            return
        with self._lock:
            request = child.requests.get(message["request"])
            if request is None:
                return
            if kind == "accepted":
                now = time.monotonic()
                for op in message.get("operators") or ():
                    if op in request.pending:
                        request.pending[op].accepted = now
                return
            pending = request.pending.get(message["operator"])
            if pending is None:
                return
            if kind == "started":
                pending.started = time.monotonic()
                pending.started_at = datetime.fromisoformat(message["started_at"])
                if request.baseline is None:
                    request.baseline = message.get("baseline")
            elif kind == "done" and pending.outcome is None:
                known = {f.name for f in fields(CrawlOutcome)}
                pending.outcome = CrawlOutcome(**{k: v for k, v in message["outcome"].items() if k in known})
                self._finish(pending)
                request.check_done()
        if kind == "done":
            self._check_memory(child)

    def _finish(self, pending: _Pending) -> None:
        self._in_flight.discard(pending.operator)
        self.crawls_done += 1
        o = pending.outcome
        assert o is not None  # set by the caller
        level = logging.INFO if o.status in ("healthy", "skipped") else logging.WARNING
        log.log(
            level,
            "%s: %s, %d offers, %s events, %.1f s (worker %s)%s",
            o.operator,
            o.status,
            o.offers,
            "no" if o.events is None else o.events,
            o.seconds,
            o.worker_pid,
            f": {o.error}" if o.error else "",
        )

    def _on_exit(self, child: _Child) -> None:
        """The child's reply pipe closed: it exited. Record every crawl it did not finish."""
        code = child.process.returncode
        with self._lock:
            unfinished = [(r, p) for r in child.requests.values() for p in r.pending.values() if p.outcome is None]
            calls, child.calls = list(child.calls.values()), {}
            if self._current is child:
                self._current = None
            if child in self._children:
                self._children.remove(child)
        for call in calls:
            call.error = f"crawl worker (pid {child.pid}) exited (code {code}) before it answered"
            call.done.set()
        if not unfinished:
            log.info("crawl worker %d exited (code %s)", child.pid, code)
            return
        if child.kill_reason:
            finish_reason, error = child.kill_reason
        else:
            finish_reason = "worker_crashed"
            error = f"crawl worker (pid {child.pid}) died with exit code {code} during the crawl"
        for request, pending in unfinished:
            run_id, status, own_error = (
                (None, None, None)
                if request.baseline is None or pending.started is None
                else _run_since(pending.operator, request.baseline, request.database_url)
            )
            if run_id is None:  # not stored before the worker died: record it as failed
                reason = error
                if (
                    child.kill_reason
                    and child.kill_reason[0] == "worker_killed"
                    and pending.started is not None
                    and time.monotonic() - pending.started < self.time_limit
                ):
                    reason = f"{error} (this crawl was killed with it: another crawl of the worker hung)"
                try:
                    run_id = record_failed(
                        pending.operator, pending.started_at, reason, finish_reason, request.database_url
                    )
                except Exception:  # noqa: BLE001
                    log.exception("%s: could not record the failed crawl", pending.operator)
                status, own_error = "failed", reason
            with self._lock:
                pending.outcome = CrawlOutcome(
                    pending.operator,
                    status or "failed",  # None only with run_id None, which sets "failed" above
                    crawl_run_id=run_id,
                    error=own_error,
                    finish_reason=finish_reason if status == "failed" else None,
                    worker_pid=child.pid,
                    seconds=round(time.monotonic() - pending.submitted, 3),
                )
                self._finish(pending)
                request.check_done()

    # ------------------------------------------------------------------------------------------ supervision

    def _ensure_monitor(self) -> None:
        if self._monitor is None or not self._monitor.is_alive():
            self._monitor_stop.clear()
            self._monitor = threading.Thread(target=self._watch, name="crawl-worker-monitor", daemon=True)
            self._monitor.start()

    def _watch(self) -> None:
        last_memory = 0.0
        while not self._monitor_stop.wait(MONITOR_PERIOD):
            try:
                last_memory = self._watch_once(last_memory)
            except Exception:  # noqa: BLE001 — the monitor bounds every wait: it must outlive any surprise
                log.exception("crawl worker monitor")
            with self._lock:
                if not self._children and not self._stopping:
                    self._monitor = None
                    return

    def _watch_once(self, last_memory: float) -> float:
        now = time.monotonic()
        with self._lock:
            children = list(self._children)
        for child in children:
            if child.exited.is_set() or child.kill_reason:
                continue
            for request in list(child.requests.values()):
                for pending in list(request.pending.values()):
                    if pending.outcome is not None:
                        continue
                    if pending.accepted is None and now - pending.submitted > self.start_timeout:
                        child.kill(
                            "worker_killed",
                            f"crawl worker (pid {child.pid}) did not take the crawl within {self.start_timeout:g} s",
                        )
                    elif pending.started is not None and now - pending.started > self.time_limit + self.kill_grace:
                        child.kill(
                            "worker_killed",
                            f"crawl of {pending.operator} hung past the crawl time limit of "
                            f"{self.time_limit:g} s: worker (pid {child.pid}) killed",
                        )
        if now - last_memory > MEMORY_CHECK_PERIOD:
            last_memory = now
            for child in children:
                self._check_memory(child)
        return last_memory

    def _check_memory(self, child: _Child) -> None:
        if not self.memory_limit or child.retiring or child.exited.is_set():
            return
        rss = rss_bytes(child.pid)
        if rss is not None and rss > self.memory_limit:
            with self._lock:
                child.retire(f"RSS {rss / 2**20:.0f} MiB over the limit of {self.memory_limit / 2**20:.0f} MiB")

    # ------------------------------------------------------------------------------------------ stopping

    def shutdown(self, grace: float = 60.0) -> None:
        """Take no more crawls; let running ones finish for `grace` seconds, then record them interrupted."""
        with self._lock:
            self._stopping = True
            children = list(self._children)
        for child in children:
            child.retire("service stopping", drain=False)
        deadline = time.monotonic() + max(0.0, grace)
        for child in children:
            child.exited.wait(max(0.0, deadline - time.monotonic()))
        for child in children:
            if not child.exited.is_set():
                child.kill(
                    "interrupted", f"interrupted: the service stopped and the crawl did not finish within {grace:g} s"
                )
        for child in children:
            child.exited.wait(30)
        self._monitor_stop.set()
        if self._monitor is not None:
            self._monitor.join(5)


def rss_bytes(pid: int) -> int | None:
    """Resident memory of a process, or None when it is gone: read from /proc (Linux) without importing
    anything (psutil would stay loaded in the service process for one number), psutil where there is no /proc."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except FileNotFoundError:
        if os.path.isdir("/proc/self"):
            return None  # Linux: the process is gone
    except (OSError, ValueError, IndexError):
        return None
    try:
        import psutil

        return psutil.Process(pid).memory_info().rss
    except Exception:  # noqa: BLE001 — no psutil, or the process is gone
        return None


def _run_since(operator: str, baseline: int, database_url: str | None) -> tuple[int | None, str | None, str | None]:
    """The CrawlRun of `operator` stored after `baseline` (by a worker that died after storing it), if any."""
    from sqlalchemy import select
    from sqlmodel import Session, col

    from storage.engine import get_engine
    from storage.models import CrawlRun

    with Session(get_engine(database_url)) as session:
        run = session.execute(
            select(CrawlRun)
            .where(col(CrawlRun.operator) == operator, col(CrawlRun.id) > baseline)
            .order_by(col(CrawlRun.id).desc())
            .limit(1)
        ).scalar()
        return (run.id, run.status, run.error) if run is not None else (None, None, None)
