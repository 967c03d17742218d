"""The promowatch service's scheduler (APScheduler 3.x): one crawl job per operator, the sender, the health check.

Jobs (ids as `promowatch status` and the logs show them):
- ``crawl:<operator>``: interval or cron from `[schedule]`, with jitter, at most one at a time per operator,
  misfires coalesced; it runs in the crawl worker (promowatch/crawl_worker.py), then the operator's health is
  checked and, when the crawl produced events, the sender is woken so new alerts go out at once.
- ``send``: `alerts.deliver.send_due`. Digests need no job: each is an outbox row due at its time.
- ``health``: promowatch/health.py, which also sees crawls stored by `promowatch crawl` or `scrapy crawl`.
- ``retention``: `alerts.retention.purge_sent`, old sent notifications deleted (counted), when
  `[retention] keep_sent_days` is not 0; first run RETENTION_DELAY after a start, after the first crawls.

Why no APScheduler job store: the schedule is recomputed at start from the config and each operator's last
stored crawl (its start plus the interval, or the next cron time; an overdue crawl runs once within
`startup_spread`). A restart neither crawls again nor delays, a config edit takes effect at the next start,
and the database stays the only state; `next_runs()` gives `promowatch status` the same schedule.
`Service.stop()`: no new jobs, running crawls get `shutdown_grace`, the others are recorded interrupted.
"""

from __future__ import annotations

import logging
import os
import random
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from promowatch.service_config import OperatorSchedule, ServiceConfig, every, format_duration

log = logging.getLogger("promowatch.scheduler")
#: the retention job's first run after a start: the crawls and the sender go first
RETENTION_DELAY = timedelta(minutes=5)


# ============================================================================================ schedules


def crawl_trigger(schedule: OperatorSchedule, tz: str, start_date: datetime | None = None, jitter: bool = True):
    jit = (schedule.jitter or None) if jitter else None
    if schedule.cron:
        minute, hour, day, month, dow = schedule.cron.split()
        return CronTrigger(
            minute=minute, hour=hour, day=day, month=month, day_of_week=dow, timezone=ZoneInfo(tz), jitter=jit
        )
    return IntervalTrigger(seconds=schedule.interval, start_date=start_date, timezone=ZoneInfo(tz), jitter=jit)


def at(moment: datetime | None, zone: str) -> str:
    """A time in a log line: minutes, in the service's zone (the zone its cron schedules are read in), named:
    "2026-12-07 14:30 CET"."""
    if moment is None:
        return "none (paused)"
    local = moment.astimezone(ZoneInfo(zone))
    return local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or local.strftime("%z"))


@dataclass
class JobSpec:
    id: str
    trigger: object
    next_run_time: datetime | None  # None: the trigger's own next time
    kind: str  # crawl | send | health | retention
    operator: str | None = None
    describe: str = ""


def _started(last: dict | None) -> datetime | None:
    if not last or not last.get("started_at"):
        return None
    moment = datetime.fromisoformat(last["started_at"])
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def crawl_spec(
    schedule: OperatorSchedule, config: ServiceConfig, last: dict | None, now: datetime, rng=random, jitter: bool = True
) -> JobSpec:
    """The crawl job of one operator: its trigger and its first run, from its last stored crawl."""
    previous = _started(last)
    spread = config.startup_spread if jitter else 0.0
    if schedule.cron:
        trigger = crawl_trigger(schedule, config.timezone, jitter=jitter)
        due = trigger.get_next_fire_time(None, previous) if previous else now
        first = (
            now + timedelta(seconds=rng.uniform(0, spread))
            if due is None or due <= now
            else trigger.get_next_fire_time(None, now)
        )
    else:
        assert schedule.interval is not None  # no cron: an interval (OperatorSchedule)
        due = previous + timedelta(seconds=schedule.interval) if previous else now
        if due <= now:
            first = now + timedelta(seconds=rng.uniform(0, spread))
        else:
            first = due + timedelta(seconds=rng.uniform(0, schedule.jitter) if jitter else 0)
        trigger = crawl_trigger(schedule, config.timezone, start_date=first, jitter=jitter)
    return JobSpec(
        f"crawl:{schedule.operator}",
        trigger,
        first,
        "crawl",
        schedule.operator,
        f"{schedule.describe()}, jitter {format_duration(schedule.jitter)}" if schedule.jitter else schedule.describe(),
    )


def job_specs(
    config: ServiceConfig,
    last: dict[str, dict],
    now: datetime | None = None,
    rng=random,
    sender_available: bool = True,
    jitter: bool = True,
) -> list[JobSpec]:
    """Every job of the service, not started: crawl jobs of the enabled operators, sender, health."""
    now = now or datetime.now(timezone.utc)
    specs = [crawl_spec(config.schedules[op], config, last.get(op), now, rng, jitter) for op in config.operators]
    tz = ZoneInfo(config.timezone)
    if config.sender.enabled and sender_available:
        specs.append(
            JobSpec(
                "send",
                IntervalTrigger(seconds=config.sender.interval, timezone=tz),
                now,
                "send",
                describe=every(config.sender.interval),
            )
        )
    specs.append(
        JobSpec(
            "health",
            IntervalTrigger(seconds=config.health.interval, timezone=tz),
            now,
            "health",
            describe=f"{every(config.health.interval)}, threshold {config.health.threshold}",
        )
    )
    retention = config.retention
    if retention.keep_sent_days:
        specs.append(
            JobSpec(
                "retention",
                IntervalTrigger(seconds=retention.interval, timezone=tz),
                now + RETENTION_DELAY,
                "retention",
                describe=f"{every(retention.interval)}, sent notifications kept {retention.keep_sent_days} days",
            )
        )
    return specs


def next_runs(config: ServiceConfig, last: dict[str, dict], now: datetime | None = None) -> dict[str, datetime | None]:
    """When each operator's next crawl is due by the config and its last crawl (jitter left out)."""
    now = now or datetime.now(timezone.utc)
    return {
        spec.operator: spec.next_run_time
        for spec in job_specs(config, last, now, jitter=False)
        if spec.kind == "crawl" and spec.operator is not None
    }


def sender_installed() -> bool:
    """Whether the sender (alerts.deliver and Apprise) is installed, found without importing it: the crawl
    worker runs it, the scheduler process never loads it."""
    from importlib.util import find_spec

    try:
        found = find_spec("alerts.deliver") is not None and find_spec("apprise") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        log.warning("the sender (alerts.deliver, Apprise) is not installed: notifications are not sent")
    return found


# ============================================================================================ the service


@dataclass
class CycleReport:
    """One full cycle (`promowatch run --once`)."""

    crawls: list = field(default_factory=list)  # CrawlOutcome
    send: dict | None = None  # the sender's counts; None when it did not run
    sender_available: bool = True
    health: list = field(default_factory=list)  # promowatch.health.HealthMessage, as dicts

    @property
    def ok(self) -> bool:
        crawls_ok = all(c.status == "healthy" and c.events is not None for c in self.crawls)
        send_ok = self.send is None or not (self.send.get("failed") or self.send.get("dead"))
        health_ok = all(m["delivered"] or not m["failed"] for m in self.health)
        return bool(self.crawls) and crawls_ok and send_ok and health_ok

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "crawls": [c.as_dict() for c in self.crawls],
            "notifications": self.send,
            "sender_available": self.sender_available,
            "health": list(self.health),
        }


class Service:
    """The scheduler process: jobs and the crawl worker. Storage, Apprise and the alert code are never
    imported here: crawls, sending, health checks and the last crawls all run in the worker
    (`CrawlWorker.call`), so the long-running process holds only APScheduler and the worker's handle."""

    def __init__(
        self, config: ServiceConfig, *, database_url: str | None = None, fixtures_dir: str | None = None, worker=None
    ):
        from promowatch.crawl_worker import CrawlWorker

        self.config = config
        self.database_url = database_url
        # offline when asked (CLI), configured ([service] fixtures_dir) or set in the environment, as for `crawl`
        self.fixtures_dir = (
            str(fixtures_dir or config.fixtures_dir or os.environ.get("PROMOWATCH_FIXTURES_DIR") or "") or None
        )
        self.worker = worker or CrawlWorker.from_config(config, database_url, self.fixtures_dir)
        self.scheduler: BackgroundScheduler | None = None
        self.sender_available = sender_installed()  # and config.sender.enabled says whether it runs
        self._stopping = threading.Event()
        # a wake-up that comes while the send job runs: APScheduler would skip the job's woken run (one instance
        # at a time), so the running send goes round once more instead (`send`, `wake_sender`)
        self._send_state = threading.Lock()
        self._sending = False
        self._woken = False

    # ------------------------------------------------------------------------------------------ jobs

    def crawl(self, operator: str):
        from promowatch.crawl_worker import WorkerStopped

        if self._stopping.is_set():
            return []
        try:
            outcomes = self.worker.crawl([operator])
        except WorkerStopped:
            return []
        if self.config.sender.after_crawl and any(o.events for o in outcomes):
            self.wake_sender()
        self.check_health([operator])
        return outcomes

    def send(self) -> dict | None:
        """The sender's run (in the worker): its counts, or None when there is no sender."""
        from promowatch.crawl_worker import WorkerStopped

        if not (self.config.sender.enabled and self.sender_available):
            return None
        s = self.config.sender
        with self._send_state:
            self._sending, self._woken = True, False
        try:
            while True:
                result = self.worker.call(
                    "send",
                    database_url=self.database_url,
                    limit=s.batch,
                    concurrency=s.concurrency,
                    **self.config.sender_policy(),
                )
                with self._send_state:
                    if not self._woken or self._stopping.is_set():
                        self._sending = False
                        return result
                    self._woken = False  # woken while sending: rows queued since its claim go now, not next tick
        except WorkerStopped:
            return None
        finally:
            with self._send_state:
                self._sending = False

    def check_health(self, operators: list[str] | None = None) -> list[dict]:
        """The health check (in the worker): the alerts and recoveries it sent, as dicts."""
        h = self.config.health
        try:
            return self.worker.call(
                "health",
                operators=operators or self.config.operators,
                threshold=h.threshold,
                channels=list(h.admin_channels),
                database_url=self.database_url,
            )
        except Exception:  # noqa: BLE001 — a health check must not take the crawl job down
            if not self._stopping.is_set():
                log.exception("health check failed")
            return []

    def purge_sent(self) -> dict | None:
        """The retention job (in the worker): its report, or None when the worker is stopping."""
        from promowatch.crawl_worker import WorkerStopped

        r = self.config.retention
        try:
            return self.worker.call(
                "purge_sent", keep_days=r.keep_sent_days, batch=r.batch, database_url=self.database_url
            )
        except WorkerStopped:
            return None

    def wake_sender(self) -> None:
        with self._send_state:
            self._woken = True
            if self._sending:  # the running send goes round again (see __init__)
                return
        job = self.scheduler.get_job("send") if self.scheduler is not None else None
        if job is not None and not self._stopping.is_set():
            job.modify(next_run_time=datetime.now(timezone.utc))

    # ------------------------------------------------------------------------------------------ scheduling

    def build_scheduler(self, now: datetime | None = None, last: dict[str, dict] | None = None) -> BackgroundScheduler:
        """A BackgroundScheduler with every job added, not started."""
        if last is None:
            last = self.worker.call("last_crawls", database_url=self.database_url)
        config = self.config
        scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=len(config.operators) + 4)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": int(config.misfire_grace_time)},
            timezone=ZoneInfo(config.timezone),
        )
        for spec in job_specs(config, last, now, sender_available=self.sender_available):
            func, args = {
                "crawl": (self.crawl, (spec.operator,)),
                "send": (self.send, ()),
                "health": (self.check_health, ()),
                "retention": (self.purge_sent, ()),
            }[spec.kind]
            scheduler.add_job(
                func,
                spec.trigger,
                args=args,
                id=spec.id,
                name=f"{spec.id} ({spec.describe})",
                next_run_time=spec.next_run_time,
                replace_existing=True,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=int(config.misfire_grace_time),
            )
        scheduler.add_listener(self._on_event, EVENT_JOB_ERROR | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
        self.scheduler = scheduler
        return scheduler

    def _on_event(self, event) -> None:
        if event.code == EVENT_JOB_ERROR:
            log.error("job %s failed: %r", event.job_id, event.exception, exc_info=event.exception)
        elif event.code == EVENT_JOB_MISSED:
            log.warning(
                "job %s missed its run at %s (coalesced)",
                event.job_id,
                at(event.scheduled_run_time, self.config.timezone),
            )
        else:
            log.info("job %s still running: this run skipped", event.job_id)

    def start(self) -> None:
        scheduler = self.scheduler or self.build_scheduler()
        scheduler.start()
        for job in scheduler.get_jobs():
            log.info("job %s: next run %s", job.name, at(job.next_run_time, self.config.timezone))

    def stop(self) -> None:
        """No new jobs; running crawls finish within shutdown_grace or are recorded interrupted; then exit."""
        self._stopping.set()
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.pause()
        log.info("stopping: waiting up to %g s for running crawls", self.config.shutdown_grace)
        self.worker.shutdown(grace=self.config.shutdown_grace)
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        log.info("stopped")

    def serve(self, stop: threading.Event) -> None:
        """Run until `stop` is set (the CLI sets it on SIGTERM/SIGINT), then stop cleanly."""
        self.start()
        try:
            while not stop.wait(1.0):
                pass
        finally:
            self.stop()

    def run_cycle(self, operators: list[str] | None = None) -> CycleReport:
        """One full cycle: crawl every operator (detection and matching in the pipeline), send, check health."""
        report = CycleReport(sender_available=self.sender_available)
        report.crawls = self.worker.crawl(operators or self.config.operators)
        report.send = self.send()
        report.health = self.check_health(operators)
        return report
