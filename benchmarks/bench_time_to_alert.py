"""Time to alert: in `promowatch run` (the service, a real process), from the end of a crawl that drops a price to
the matching notification arriving at a loopback webhook, beside the crawl's own duration.

Setup: a fresh database (SQLite file; or a new PostgreSQL database, dropped after) holding a baseline iliad
crawl (the bundled fixture's offers, one of them 2 euro dearer, stored as if two hours old, so the service's
first crawl is due at once), `--subscriptions` subscriptions to iliad price drops with a json:// webhook to
the sink of benchmarks/bench_fanout.py (its own process; answers after `--delay`). The service runs offline
(the bundled saved pages) with the sender's own tick at 1 h: an alert within seconds can only come from the
after-crawl wake-up (scheduler.py `Service.wake_sender`). Measured: crawl end (crawl_run.finished_at, stored by
the worker) -> first POST at the sink, and -> every POST. Goal: first alert <= 2 s after the crawl ends.
Run: python benchmarks/bench_time_to_alert.py [--databases sqlite,postgresql] [--subscriptions 1]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_fanout  # noqa: E402  (the sink and the fresh databases)

GOAL_S = 2.0
FIXTURES = ROOT / "spiders" / "fixtures"
CONFIG = """[schedule]
enabled = false
startup_spread = "0s"
[schedule.operators.iliad]
enabled = true
interval = "1h"
jitter = "0s"
[sender]
interval = "1h"
"""


def promowatch(args: list[str], env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "promowatch.cli", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != 0:
        raise SystemExit(f"promowatch {' '.join(args[:1])} failed: {proc.stderr.strip()[-2000:]}")
    return proc


def prepare(url: str, env: dict, port: int, subscriptions: int, folder: Path) -> str:
    """Baseline crawl (made two hours old) and the subscriptions; the offer whose price will drop."""
    from sqlalchemy import select
    from sqlmodel import Session

    from storage.engine import get_engine
    from storage.models import CrawlRun

    offers = json.loads((FIXTURES / "iliad" / "mobile.html.expected.json").read_text("utf-8"))
    dropped = offers[0]
    baseline = [dict(o) for o in offers]
    baseline[0]["price_cents"] = dropped["price_cents"] + 200
    path = folder / "baseline.json"
    path.write_text(json.dumps(baseline), "utf-8")
    promowatch(["import", str(path)], env)
    with Session(get_engine(url)) as s, s.begin():
        for run in s.execute(select(CrawlRun)).scalars():
            run.started_at -= timedelta(hours=2)
            run.finished_at -= timedelta(hours=2)
    for n in range(subscriptions):
        hook = f"json://127.0.0.1:{port}/hook?:sub={n}"
        promowatch(["subscribe", "--channel", hook, "--operator", "iliad", "--kind", "price_drop"], env)
    return dropped["name"]


def last_crawl(url: str) -> CrawlRunTimes | None:
    from sqlalchemy import select
    from sqlmodel import Session

    from storage.engine import get_engine
    from storage.models import CrawlRun

    with Session(get_engine(url)) as s:
        row = s.execute(
            select(CrawlRun.started_at, CrawlRun.finished_at, CrawlRun.detected_at, CrawlRun.status)
            .order_by(CrawlRun.id.desc())  # type: ignore[union-attr]
            .limit(1)
        ).first()
    if row is None:
        return None
    return CrawlRunTimes(*(_aware(t) if isinstance(t, datetime) else t for t in row))


class CrawlRunTimes:
    def __init__(self, started: datetime, finished: datetime, detected: datetime | None, status: str):
        self.started, self.finished, self.detected, self.status = started, finished, detected, status


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def measure(kind: str, args, port: int) -> dict:
    with bench_fanout.database(kind, args.pg_url) as url, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = folder / "service.toml"
        config.write_text(CONFIG, "utf-8")
        env = os.environ | {
            "PROMOWATCH_DATABASE_URL": url,
            "PROMOWATCH_CONFIG": str(config),
            "PROMOWATCH_LOG_LEVEL": "INFO",
        }
        from storage.engine import get_engine

        get_engine(url)
        name = prepare(url, env, port, args.subscriptions, folder)
        bench_fanout.sink_call(port, "POST", "/_reset")
        log = open(folder / "service.log", "w+")
        started = time.time()
        service = subprocess.Popen(
            [sys.executable, "-m", "promowatch.cli", "run", "--offline"], env=env, cwd=ROOT, stderr=log, stdout=log
        )
        stats: dict = {}
        try:
            deadline = time.monotonic() + args.timeout
            while time.monotonic() < deadline:
                stats = bench_fanout.sink_call(port, "GET", "/_stats")
                if stats["unique"] >= args.subscriptions:
                    break
                if service.poll() is not None:
                    break
                time.sleep(0.05)
        finally:
            service.send_signal(signal.SIGTERM)
            try:
                service.wait(timeout=60)
            except subprocess.TimeoutExpired:
                service.kill()
                service.wait()
        crawl = last_crawl(url)
        log.seek(0)
        lines = log.read()
        log.close()
        if not stats.get("first_at") or crawl is None or crawl.finished < datetime.fromtimestamp(started, timezone.utc):
            print(lines[-4000:])
            raise SystemExit(f"[{kind}] no alert arrived within {args.timeout:.0f} s (or no crawl ran)")
        first = stats["first_at"] - crawl.finished.timestamp()
        every = stats["last_at"] - crawl.finished.timestamp()
        out = {
            "database": kind,
            "offer": name,
            "crawl_s": (crawl.finished - crawl.started).total_seconds(),
            "crawl_end_to_first_alert_s": first,
            "crawl_end_to_every_alert_s": every,
            "alerts": stats["unique"],
            "duplicates": stats["duplicates"],
            "service_start_to_crawl_end_s": crawl.finished.timestamp() - started,
        }
        print(
            f"[{kind}] crawl of iliad (offline pages): {out['crawl_s']:.2f} s; crawl end -> first alert at the sink "
            f"{first:.2f} s (goal <= {GOAL_S:g} s: {bench_fanout.goal(first <= GOAL_S)}), -> all {stats['unique']} "
            f"alerts {every:.2f} s; duplicates {stats['duplicates']}"
        )
        if args.verbose:
            print(lines)
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--databases", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    ap.add_argument("--pg-url", default=os.environ.get("PROMOWATCH_BENCH_PG_URL", bench_fanout.PG_DEFAULT))
    ap.add_argument("--subscriptions", type=int, default=1, help="subscribers to the price drop (webhooks)")
    ap.add_argument("--delay", type=float, default=0.05, help="seconds the sink takes to answer each POST")
    ap.add_argument("--timeout", type=float, default=180, help="seconds to wait for the alerts")
    ap.add_argument("--verbose", action="store_true", help="print the service's log")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    results = []
    with bench_fanout.sink_process(args.delay) as port:
        for kind in (k.strip() for k in args.databases.split(",") if k.strip()):
            results.append(measure(kind, args, port))
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
