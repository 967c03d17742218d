"""Web benchmark: the site under 50 concurrent clients on loopback, each page beside a trivial endpoint of the
same server measured in the same run.

Setup (not timed): a SQLite file holding every operator's bundled offers (the fixture folders' expected items)
stored as `--crawls` healthy crawls a day apart, each with every offer's price moved (so each offer has as
many versions as crawls, and events), through storage.repository.record_crawl and alerts.detect as a crawl
would. Then the real server (`promowatch web`, a separate process) and Debian's `wrk` (`apt-get install -y wrk`):
for each URL `--duration` seconds with `--connections` connections; requests/s and p50/p99 latency. The
trivial endpoint is the stylesheet the site serves itself (/static/style.css: a small static file through the
same app, middleware and server), measured first and last; the pages' shares are of the mean of both.
Goal: every page >= 50 % of the trivial endpoint's requests/s, p99 <= 50 ms. `--workers N` is passed to
`promowatch web` (Uvicorn worker processes; compare 1 and 2 on the same --db).
Run: python benchmarks/bench_web.py [--crawls 100] [--duration 10] [--connections 50] [--db PATH] [--workers N]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

TRIVIAL = "/static/style.css"
PAGES = {
    "offers page": "/offers",
    "offer page + chart": "/offers/iliad/giga200",
    "Atom feed": "/feeds/events.atom",
    "/api/v1/offers": "/api/v1/offers",
}
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def build(url: str, crawls: int) -> None:
    """Every operator's offers, `crawls` healthy crawls a day apart, every offer's price moved at each."""
    from web_data import crawl, fixture_items

    from contract.clock import utcnow

    start = utcnow() - timedelta(days=crawls)
    for operator, items in fixture_items().items():
        for n in range(crawls):
            moved = [{**i, "price_cents": i["price_cents"] + 100 * (n % 2)} for i in items]
            crawl(url, operator, moved, start + timedelta(days=n, minutes=len(operator)))


def wait_until_up(base: str, proc: subprocess.Popen, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"promowatch web exited {proc.returncode}: {proc.stdout.read() if proc.stdout else ''}")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"promowatch web did not answer /healthz within {limit:.0f} s")


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not m:
        raise ValueError(f"not a wrk latency: {text!r}")
    return float(m.group(1)) * UNITS[m.group(2)]


def load(url: str, duration: int, connections: int, threads: int) -> dict:
    """wrk on `url`: requests/s, p50 and p99 latency (ms), non-2xx answers and socket errors."""
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", url],
        capture_output=True,
        text=True,
        timeout=duration + 60,
        check=True,
    ).stdout
    percentile = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, re.M))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)$", out, re.M)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": _ms(percentile["50"]),
        "p99": _ms(percentile["99"]),
        "bad": int(bad.group(1)) if bad else 0,
        "errors": errors.group(1) if errors else "",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crawls", type=int, default=100)
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per URL")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="wrk threads: one drives well over 10,000 req/s; on a 2-core machine a second takes the core of the "
        "server (one process) and measures the scheduler, not the site",
    )
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--workers", type=int, default=1, help="promowatch web --workers: server processes")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--db", help="a SQLite file to reuse (built when missing)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")

    folder = Path(tempfile.mkdtemp(prefix="bench-web-"))
    path = Path(args.db) if args.db else folder / "promowatch.db"
    url = f"sqlite:///{path}"
    if not path.exists():
        started = time.perf_counter()
        build(url, args.crawls)
        print(f"database: {args.crawls} crawls of every operator in {time.perf_counter() - started:.0f} s ({path})")
    from sqlalchemy import text

    from storage.engine import get_engine

    with get_engine(url).connect() as conn:
        counts = {
            t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar()
            for t in ("crawl_run", "offer", "offer_version", "offer_event")
        }
    print("rows: " + ", ".join(f"{t} {n:,}" for t, n in counts.items()))

    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMOWATCH_")}
    env["PROMOWATCH_DATABASE_URL"] = url
    server = subprocess.Popen(
        [sys.executable, "-m", "promowatch.cli", "web", "--port", str(args.port), "--workers", str(args.workers)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{args.port}"
    try:
        wait_until_up(base, server)
        for path_ in [TRIVIAL, *PAGES.values()]:  # warm-up: imports, templates, caches
            # each request on a new connection, taken by whichever worker accepts first: 10 per worker warm them
            # all (a worker's first answer of a page is rendered by each connection waiting for it)
            for _ in range(10 * args.workers):
                urllib.request.urlopen(base + path_, timeout=30).read()
        results = {"trivial (first)": load(base + TRIVIAL, args.duration, args.connections, args.threads)}
        for name, page in PAGES.items():
            results[name] = load(base + page, args.duration, args.connections, args.threads)
        results["trivial (last)"] = load(base + TRIVIAL, args.duration, args.connections, args.threads)
    finally:
        server.terminate()
        server.wait(timeout=30)

    trivial = (results["trivial (first)"]["rps"] + results["trivial (last)"]["rps"]) / 2
    load_average = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"\n{args.connections} connections, {args.duration} s per URL, wrk -t{args.threads}; trivial = {TRIVIAL}; ",
        end="",
    )
    print(f"server: {args.workers} worker process(es); load average {load_average} on {os.cpu_count()} cores")
    print(f"{'what':<20} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'share':>7}  goals: share >= 50 %, p99 <= 50 ms")
    for name, r in results.items():
        share = r["rps"] / trivial
        verdict = ""
        if name in PAGES:
            verdict = f"share {'met' if share >= 0.5 else 'MISSED'}, p99 {'met' if r['p99'] <= 50 else 'MISSED'}"
        faults = f"  non-2xx {r['bad']}" if r["bad"] else ""
        faults += f"  socket errors: {r['errors']}" if r["errors"] else ""
        print(f"{name:<20} {r['rps']:>8.0f} {r['p50']:>8.2f} {r['p99']:>8.2f} {share:>6.0%}  {verdict}{faults}")


if __name__ == "__main__":
    main()
