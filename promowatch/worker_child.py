"""The child side of the crawl worker: the code that only runs inside the worker process.

Why a module of its own: `crawl_worker` is the parent's supervisor (thread-safe `CrawlWorker`, recycling,
kills, failed-crawl records); this is what the worker process runs: it installs the asyncio reactor, loads
Scrapy and the project once, and runs each crawl it is handed with `AsyncCrawlerRunner`, replying over the
pipe. The protocol and the reasons for a resident child are described in `promowatch.crawl_worker`'s
docstring. The import goes one way: this module imports from `crawl_worker`, and `crawl_worker` imports
this module only by name, in the command line that starts the worker process.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Any

from contract.clock import utcnow
from promowatch.crawl_worker import ASYNCIO_REACTOR, CrawlOutcome, record_failed

log = logging.getLogger(__name__)
RUNNERS_KEPT = 4  # distinct crawl settings (offline, live, a test's extras) whose runner stays built


def _child_logging(level: str | None) -> None:
    from promowatch.serve import log_formatter
    from storage.environment import setting_or_default

    level = (level or setting_or_default("PROMOWATCH_LOG_LEVEL") or "INFO").upper()
    handler = logging.StreamHandler()
    handler.setFormatter(log_formatter(f"%(asctime)s %(levelname)s worker[{os.getpid()}] %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])
    if level != "DEBUG":
        for name in ("scrapy", "twisted", "py.warnings", "asyncio"):
            logging.getLogger(name).setLevel(logging.WARNING)


def main_from_fds(requests_fd: str, replies_fd: str, options_json: str) -> None:
    """Entry point of the worker process: the two pipes' file descriptors and the options, from its argv."""
    import json
    from multiprocessing.connection import Connection

    child_main(
        Connection(int(requests_fd), writable=False),
        Connection(int(replies_fd), readable=False),
        json.loads(options_json),
    )


def child_main(requests, replies, options: dict) -> None:
    """The worker: a Twisted reactor on asyncio running the crawls and tasks read from `requests`."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.pop("PROMOWATCH_FIXTURES_DIR", None)  # offline or not is per request, not baked into settings
    _child_logging(options.get("log_level"))
    from scrapy.utils.reactor import install_reactor

    install_reactor(ASYNCIO_REACTOR)
    import gc

    import scrapy.crawler  # noqa: F401  (the stack every crawl uses, loaded once)
    from twisted.internet import reactor

    import spiders.pipelines  # noqa: F401
    import storage.engine
    import storage.repository  # noqa: F401

    storage.engine.MIGRATE_IN_SUBPROCESS = True  # else Alembic would stay loaded in the worker for good

    gc.freeze()  # what is loaded now lives as long as the worker: keep it out of every later collection
    loop = _ChildLoop(reactor, requests, replies, options)
    signal.signal(signal.SIGTERM, lambda *_: reactor.callFromThread(loop.stop, "SIGTERM"))
    reactor.callWhenRunning(loop.start)
    reactor.run(installSignalHandlers=False)  # type: ignore[call-arg, misc]  # not in twisted's IReactorCore
    log.debug("worker exits")


class _ChildLoop:
    def __init__(self, reactor, requests, replies, options: dict):
        self.reactor, self.requests, self.replies, self.options = reactor, requests, replies, options
        self.active: set = set()  # (request, operator) of crawls running or queued, ("call", n) of tasks
        self.queue: deque = deque()  # (message, operator) of crawls waiting for a free place
        self.running = 0
        # crawls at a time (0: no cap): each running crawl holds its crawler and its page's parse tree, so the cap
        # bounds the worker's high-water mark when a whole cycle's crawls arrive at once
        self.parallel = max(0, int(options.get("parallel_crawls") or 0))
        self.stopping = False
        self._reactor_stopped = False
        self._keep: list = []  # strong references (tasks, crawlers) while crawls run
        self._runners: dict = {}  # settings key -> AsyncCrawlerRunner, see runner()
        self.idle_before = False  # whether the worker has been idle (all crawls done) once already

    def send(self, message: dict) -> None:
        try:
            self.replies.send(message)
        except (BrokenPipeError, OSError):  # the parent is gone; keep going, storage is what matters
            pass

    def start(self) -> None:
        import scrapy.crawler  # noqa: F401 — load everything a crawl needs once, before the first request

        import promowatch.scrapy_after_crawl  # noqa: F401 — and with it the pipeline and alerts.detect
        from spiders.registry import OPERATORS, spider_class

        for op in OPERATORS:
            spider_class(op)
        self.send({"type": "ready", "pid": os.getpid()})
        threading.Thread(target=self._read, name="worker-requests", daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                message = self.requests.recv()
            except (EOFError, OSError):
                self.reactor.callFromThread(self.stop, "request pipe closed", False)
                return
            self.reactor.callFromThread(self.handle, message)
            if message.get("cmd") == "stop":
                return

    def handle(self, message: dict) -> None:
        if message.get("cmd") == "stop":
            self.stop("asked to stop", bool(message.get("drain", True)))
        elif message.get("cmd") == "crawl":
            try:  # what the parent compares with to find a crawl stored by a worker that then died
                message["baseline"] = _max_run_id(message.get("database_url"))
            except Exception:  # noqa: BLE001 — the crawls will fail and say why
                log.exception("could not read the database")
                message["baseline"] = None
            self.send({"type": "accepted", "request": message["request"], "operators": message["operators"]})
            for op in message["operators"]:
                self.active.add((message["request"], op))
                self.queue.append((message, op))
            self.start_queued()
        elif message.get("cmd") == "call":
            self.call(message)

    def call(self, message: dict) -> None:
        """Run a task for the parent in a thread of the reactor's pool (crawls go on meanwhile); reply."""
        from twisted.internet import threads

        key = ("call", message["request"])
        self.active.add(key)

        def reply(value, error):
            self.send({"type": "result", "request": message["request"], "value": value, "error": error})
            self.active.discard(key)
            self.stop_if_idle()

        def failed(failure):
            log.error("task %s failed: %s", message.get("task"), failure.getTraceback())
            reply(None, f"{failure.type.__name__}: {failure.getErrorMessage()}")

        d = threads.deferToThread(run_task, message.get("task", ""), message.get("kwargs") or {})
        d.addCallbacks(lambda value: reply(value, None), failed)

    def start_queued(self) -> None:
        while self.queue and not (self.parallel and self.running >= self.parallel):
            self.crawl(*self.queue.popleft())

    def stop(self, why: str, drain: bool = False) -> None:
        """Exit once the running crawls are done. `drain` (a recycle): the queued crawls run first; otherwise
        (the service stops, SIGTERM, the parent is gone) they are recorded as interrupted without starting."""
        if not self.stopping:
            log.info(
                "stopping (%s) after %d running crawl(s)%s",
                why,
                self.running,
                f" and {len(self.queue)} queued" if drain and self.queue else "",
            )
        self.stopping = True
        while self.queue and not drain:
            self.interrupted(*self.queue.popleft())
        self.stop_if_idle()

    def interrupted(self, message: dict, op: str) -> None:
        """A queued crawl the worker will not start: a failed CrawlRun the health check ignores."""
        error, run_id = "interrupted: the service stopped before this crawl began", None
        try:
            run_id = record_failed(op, utcnow(), error, "interrupted", message.get("database_url"))
        except Exception:  # noqa: BLE001 — the database is unreachable: nothing can be recorded
            log.exception("%s: could not record the interrupted crawl", op)
        outcome = CrawlOutcome(
            operator=op,
            status="failed",
            crawl_run_id=run_id,
            error=error,
            finish_reason="interrupted",
            worker_pid=os.getpid(),
        )
        self.send({"type": "done", "request": message["request"], "operator": op, "outcome": outcome.as_dict()})
        self.active.discard((message["request"], op))

    def stop_if_idle(self) -> None:
        """Stop the reactor once stopping and nothing runs; once only (a SIGTERM and the parent's "stop"
        may both ask)."""
        if self.stopping and not self.active and self.reactor.running and not self._reactor_stopped:
            self._reactor_stopped = True
            self.reactor.stop()

    def settings(self, message: dict):
        from promowatch.crawling import project_settings

        fixtures = message.get("fixtures_dir")
        if not fixtures:
            os.environ.pop("PROMOWATCH_FIXTURES_DIR", None)
        settings = project_settings(fixtures, message.get("database_url"))
        if not fixtures:
            settings.set("PROMOWATCH_FIXTURES_DIR", None)
        if self.options.get("time_limit"):
            settings.set("CLOSESPIDER_TIMEOUT", float(self.options["time_limit"]))
        for key, value in (message.get("settings") or {}).items():
            if isinstance(value, dict) and settings.get(key) is not None:
                value = {**settings.getdict(key), **value}
            settings.set(key, value, priority="cmdline")
        return settings

    def runner(self, message: dict):
        """The runner for this request's settings, made once per distinct settings and kept: building the
        project settings and the runner's spider loader (which walks every spider module) cost more than
        a steady crawl's parse. Each crawler still gets its own copy of the settings from Scrapy."""
        import json

        from scrapy.crawler import AsyncCrawlerRunner

        key = json.dumps(
            [message.get("fixtures_dir"), message.get("database_url"), message.get("settings") or {}],
            sort_keys=True,
            default=str,
        )
        runner = self._runners.pop(key, None) or AsyncCrawlerRunner(self.settings(message))
        self._runners[key] = runner  # most recently used last
        while len(self._runners) > RUNNERS_KEPT:
            del self._runners[next(iter(self._runners))]
        return runner

    def crawl(self, message: dict, op: str) -> None:
        from promowatch.scrapy_after_crawl import after_crawl_done
        from spiders.registry import spider_class

        request, started, clock = message["request"], utcnow(), time.monotonic()
        self.send(
            {
                "type": "started",
                "request": request,
                "operator": op,
                "started_at": started.isoformat(),
                "baseline": message.get("baseline"),
            }
        )
        key = (request, op)
        self.running += 1
        crawler = None
        done: dict = {}  # the pipeline's record and the after-crawl step's result, once the crawl is stored

        def on_done(stored, result, spider):
            done.update(stored=stored, result=result)

        try:
            runner = self.runner(message)
            crawler = runner.create_crawler(spider_class(op))
            crawler.signals.connect(on_done, signal=after_crawl_done)
            task = runner.crawl(crawler)
        except Exception as exc:  # noqa: BLE001 — a crawl that cannot even start is a failed crawl
            log.exception("%s: the crawl could not start", op)
            self.finished(message, op, done, started, clock, exc)
            return
        self._keep.append((key, runner, crawler, task, on_done))
        task.add_done_callback(
            lambda t: self.finished(message, op, done, started, clock, None if t.cancelled() else t.exception())
        )

    def finished(self, message: dict, op: str, done: dict, started: datetime, clock: float, exc) -> None:
        key = (message["request"], op)
        self._keep = [k for k in self._keep if k[0] != key]
        stored, result = done.get("stored"), done.get("result")
        outcome = CrawlOutcome(operator=op, status="failed", worker_pid=os.getpid())
        if stored is not None:
            outcome.status, outcome.crawl_run_id, outcome.error = stored.status, stored.run_id, stored.error
            outcome.offers, outcome.new_versions = stored.offers, stored.new_versions
            outcome.finish_reason = stored.finish_reason
        if result is not None:
            outcome.events = result.event_count
            outcome.error = result.error or outcome.error
        if outcome.crawl_run_id is None:  # the pipeline never recorded it: record the failure here
            error = (
                f"crawl crashed before it was stored: {type(exc).__name__}: {exc}"
                if exc
                else "crawl ended without being stored"
            )
            try:
                outcome.crawl_run_id = record_failed(op, started, error, "crawl_crashed", message.get("database_url"))
            except Exception:  # noqa: BLE001
                log.exception("%s: could not record the failed crawl", op)
            outcome.status, outcome.error, outcome.finish_reason = "failed", error, "crawl_crashed"
        outcome.seconds = round(time.monotonic() - clock, 3)
        self.send({"type": "done", "request": message["request"], "operator": op, "outcome": outcome.as_dict()})
        self.active.discard(key)
        self.running -= 1
        if self.queue:  # next turn of the reactor: not from inside this crawl's own callbacks
            self.reactor.callLater(0, self.start_queued)
        elif not self.active:
            _give_back_memory(freeze=not self.idle_before)
            self.idle_before = True
        self.stop_if_idle()


def _give_back_memory(freeze: bool = False) -> None:
    """Between crawls: free the pages' parse trees and hand the freed heap back to the system (glibc), so
    a resident worker's RSS is what it keeps, not the high-water mark of the largest page it ever read.

    The collection is cheap because what lives as long as the worker is frozen out of the collector's
    sight: the modules at start-up, and (`freeze`, the first time the worker is idle) what the first crawls
    loaded lazily (Scrapy's components, SQLAlchemy's compiled statements). What survives that first full
    collection is held by module state; should some of it become cyclic garbage later, it stays until the
    worker is recycled (`recycle_after`)."""
    import ctypes
    import gc

    gc.collect()
    if freeze:
        gc.freeze()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def _send(database_url=None, limit=500, concurrency=8, max_attempts=6, **policy) -> dict:
    """The sender's run; `policy`: the rest of `[sender]` (SenderConfig.policy(): back-offs in seconds)."""
    from datetime import timedelta

    from alerts.deliver import Policy, send_due

    if "ambiguous_backoff" in policy:
        policy["ambiguous_backoff"] = timedelta(seconds=policy["ambiguous_backoff"])
    data = send_due(
        database_url=database_url,
        limit=limit,
        concurrency=concurrency,
        policy=Policy(max_attempts=max_attempts, **policy),
    ).as_dict()
    data.pop("rows", None)
    return data


def _health(**kwargs) -> list[dict]:
    from promowatch import health

    return [m.as_dict() for m in health.check(**kwargs)]


def _last_crawls(database_url=None) -> dict:
    from storage.repository import last_crawls

    return last_crawls(database_url)


def _purge_sent(keep_days: int, batch: int = 1000, database_url=None) -> dict:
    from alerts.retention import purge_sent

    return purge_sent(keep_days, database_url, batch=batch).as_dict()


#: what the parent may ask the worker to run (`CrawlWorker.call`); values and results are plain data
TASKS: dict[str, Callable[..., Any]] = {
    "send": _send,
    "health": _health,
    "last_crawls": _last_crawls,
    "purge_sent": _purge_sent,
}


def run_task(name: str, kwargs: dict):
    if name not in TASKS:
        raise KeyError(f"no task {name!r} (known: {', '.join(TASKS)})")
    return TASKS[name](**kwargs)


def _max_run_id(database_url: str | None) -> int:
    from sqlalchemy import func, select

    from storage.engine import get_engine
    from storage.models import CrawlRun

    with get_engine(database_url).connect() as conn:  # the first use also migrates the database
        return conn.execute(select(func.max(CrawlRun.id))).scalar() or 0
