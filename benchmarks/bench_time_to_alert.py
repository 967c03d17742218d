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
        [sys.executable, "-m", "promowatch.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise SystemExit(f"promowatch {' '.join(args[:1])} failed: {proc.stderr.strip()[-2000:]}")
    return proc


def prepare(url: str, env: dict, port: int, subscriptions: int, folder: Path) -> None:
    """The baseline crawl (one offer dearer; made two hours old, so the service crawls at once) and the
    subscriptions."""
    from sqlalchemy import select
    from sqlmodel import Session

    from storage.engine import get_engine
    from storage.models import CrawlRun

    path = dearer(folder, 0)
    promowatch(["import", str(path)], env)
    with Session(get_engine(url)) as s, s.begin():
        for run in s.execute(select(CrawlRun)).scalars():
            run.started_at -= timedelta(hours=2)
            run.finished_at -= timedelta(hours=2)
    for n in range(subscriptions):
        hook = f"json://127.0.0.1:{port}/hook?:sub={n}"
        promowatch(["subscribe", "--channel", hook, "--operator", "iliad", "--kind", "price_drop"], env)


def dearer(folder: Path, n: int) -> Path:
    """The bundled iliad offers with the n-th 2 euro dearer, as an import file: after it, the service's next crawl
    (the bundled pages) drops that offer's price. Another offer each round: the same drop again would be held
    back by debounce."""
    offers = json.loads((FIXTURES / "iliad" / "mobile.html.expected.json").read_text("utf-8"))
    offers[n % len(offers)]["price_cents"] += 200
    path = folder / f"dearer-{n}.json"
    path.write_text(json.dumps(offers), "utf-8")
    return path


def crawl_before(url: str, moment: float) -> tuple[datetime, datetime] | None:
    """(started, finished) of the last crawl that finished before `moment` (epoch seconds)."""
    from sqlalchemy import select
    from sqlmodel import Session

    from storage.engine import get_engine
    from storage.models import CrawlRun

    with Session(get_engine(url)) as s:
        rows = s.execute(select(CrawlRun.started_at, CrawlRun.finished_at)).all()
    runs = sorted((_aware(a), _aware(b)) for a, b in rows)
    before = [r for r in runs if r[1].timestamp() <= moment]
    return max(before, key=lambda r: r[1]) if before else None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def wait_for_alerts(port: int, want: int, timeout: float, service: subprocess.Popen) -> dict:
    deadline = time.monotonic() + timeout
    stats: dict = {}
    while time.monotonic() < deadline and service.poll() is None:
        stats = bench_fanout.sink_call(port, "GET", "/_stats")
        if stats["unique"] >= want:
            break
        time.sleep(0.02)
    return stats


def measure(kind: str, args, port: int) -> dict:
    with bench_fanout.database(kind, args.pg_url) as url, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = folder / "service.toml"
        config.write_text(
            CONFIG.replace('interval = "1h"\njitter', f'interval = "{args.interval}s"\njitter', 1), "utf-8"
        )
        env = os.environ | {
            "PROMOWATCH_DATABASE_URL": url,
            "PROMOWATCH_CONFIG": str(config),
            "PROMOWATCH_LOG_LEVEL": "INFO",
        }
        from storage.engine import get_engine

        get_engine(url)
        prepare(url, env, port, args.subscriptions, folder)
        bench_fanout.sink_call(port, "POST", "/_reset")
        log = open(folder / "service.log", "w+")
        service = subprocess.Popen(
            [sys.executable, "-m", "promowatch.cli", "run", "--offline"], env=env, cwd=ROOT, stderr=log, stdout=log
        )
        rounds = []
        try:
            for n in range(args.rounds):
                if n:  # the price up again (a crawl of its own), and the service's next crawl drops it
                    bench_fanout.sink_call(port, "POST", "/_reset")
                    promowatch(["import", str(dearer(folder, n))], env)
                stats = wait_for_alerts(port, args.subscriptions, args.timeout, service)
                crawl = crawl_before(url, stats["first_at"]) if stats.get("first_at") else None
                if crawl is None or stats["unique"] < args.subscriptions:
                    break
                started, finished = crawl
                rounds.append(
                    {
                        "round": n + 1,
                        "crawl_s": (finished - started).total_seconds(),
                        "crawl_end_to_first_alert_s": stats["first_at"] - finished.timestamp(),
                        "crawl_end_to_every_alert_s": stats["last_at"] - finished.timestamp(),
                        "alerts": stats["unique"],
                        "duplicates": stats["duplicates"],
                    }
                )
        finally:
            service.send_signal(signal.SIGTERM)
            try:
                service.wait(timeout=60)
            except subprocess.TimeoutExpired:
                service.kill()
                service.wait()
        log.seek(0)
        lines = log.read()
        log.close()
        if args.verbose or len(rounds) < args.rounds:
            print(lines[-6000:])
        if len(rounds) < args.rounds:
            raise SystemExit(f"[{kind}] round {len(rounds) + 1}: the alerts did not arrive within {args.timeout:.0f} s")
        for r in rounds:
            first = r["crawl_end_to_first_alert_s"]
            print(
                f"[{kind}] round {r['round']} ({'cold: first send in the worker' if r['round'] == 1 else 'warm'}):"
                f" crawl of iliad (saved pages) {r['crawl_s']:.2f} s; crawl end -> first alert at the sink "
                f"{first:.2f} s (goal <= {GOAL_S:g} s: {bench_fanout.goal(first <= GOAL_S)}), -> all {r['alerts']} "
                f"{r['crawl_end_to_every_alert_s']:.2f} s; duplicates {r['duplicates']}"
            )
        return {"database": kind, "rounds": rounds}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--databases", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    ap.add_argument("--pg-url", default=os.environ.get("PROMOWATCH_BENCH_PG_URL", bench_fanout.PG_DEFAULT))
    ap.add_argument("--subscriptions", type=int, default=1, help="subscribers to the price drop (webhooks)")
    ap.add_argument("--delay", type=float, default=0.05, help="seconds the sink takes to answer each POST")
    ap.add_argument("--timeout", type=float, default=180, help="seconds to wait for each round's alerts")
    ap.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="price drops: the first after the service starts, then one per crawl interval",
    )
    ap.add_argument("--interval", type=int, default=20, help="seconds between the service's crawls")
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
