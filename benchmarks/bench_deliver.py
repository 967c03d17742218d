"""Delivery benchmark: `send_due` vs Apprise's own `notify()` one URL after the other, same messages, one run.

A loopback HTTP server (tests/servers.py, in its own process: like a real remote endpoint it does not compete
with the sender for the interpreter) answers each POST after `--delay` (50 ms: a typical webhook/API).
N notifications, each to its own json:// channel, are queued in a fresh SQLite file. Then:
- baseline: the N already-rendered messages sent with one `apprise.Apprise()` per URL, `notify()` called one
  after another (no database work at all);
- send_due: the whole outbox path — claim, read rows and events, render, send on `--concurrency` threads,
  record each result in its own transaction.
Target: send_due >= 5x the baseline's notifications per second.
Run: python benchmarks/bench_deliver.py [--n 200] [--delay 0.05] [--concurrency 8] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import select
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
TARGET = 5.0


def queue(engine, urls: list[str], at: datetime) -> list[dict]:
    """One subscription per URL, one event and one due notification each; the events as dicts."""
    from sqlmodel import Session

    from contract.offer import normalise
    from storage.models import (
        CrawlRun,
        Notification,
        Offer,
        OfferEvent,
        Subscription,
        SubscriptionChannel,
    )
    from storage.repository import event_dict

    events = []
    with Session(engine) as s:
        run = CrawlRun(operator="iliad", started_at=at, finished_at=at, finish_reason="finished", status="healthy")
        s.add(run)
        s.flush()
        for n, url in enumerate(urls):
            item = normalise(
                {
                    "operator": "iliad",
                    "offer_key": f"giga-{n}",
                    "name": f"Giga {n}",
                    "plan_type": "prepaid",
                    "url": f"https://example.it/giga-{n}",
                    "price_cents": 799,
                    "period_days": 30,
                    "data_gb": 100 + n,
                }
            )
            offer = Offer(
                operator="iliad",
                offer_key=item["offer_key"],
                name=item["name"],
                plan_type="prepaid",
                price_cents=799,
                data=item,
                content_hash=str(n),
                first_seen=at,
                last_seen=at,
            )
            sub = Subscription(created_at=at, lang=("it", "en", "zh")[n % 3])
            s.add_all([offer, sub])
            s.flush()
            channel = SubscriptionChannel(subscription_id=sub.id, url=url, url_masked=url, service="json")
            event = OfferEvent(
                crawl_run_id=run.id,
                offer_id=offer.id,
                operator="iliad",
                offer_key=item["offer_key"],
                kind="price_drop",
                created_at=at,
                price_before=999,
                price_after=799,
                changes={},
                item=item,
            )
            s.add_all([channel, event])
            s.flush()
            s.add(
                Notification(
                    subscription_id=sub.id,
                    channel_id=channel.id,
                    event_id=event.id,
                    operator="iliad",
                    offer_key=item["offer_key"],
                    kind="price_drop",
                    price_cents=799,
                    created_at=at,
                    due_at=at,
                )
            )
            events.append((event_dict(event), sub.lang))
        s.commit()
    return events


@contextmanager
def channel_server(delay: float):
    """tests/servers.py's HttpServer in a child process; yields its port."""
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "servers.py"), "--delay", str(delay)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        ready = select.select([proc.stdout], [], [], 30)[0]
        if not ready:
            raise SystemExit("the channel server did not start within 30 s")
        yield int(proc.stdout.readline())
    finally:
        proc.stdin.close()  # the server's signal to stop
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--delay", type=float, default=0.05, help="seconds the server takes to answer each POST")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PROMOWATCH_DATABASE_URL"] = f"sqlite:///{Path(tmp) / 'bench.db'}"
        import apprise

        from alerts.deliver import send_due
        from alerts.render import render_event
        from storage.engine import get_engine

        engine = get_engine()
        now = datetime.now(timezone.utc) - timedelta(seconds=1)
        with channel_server(args.delay) as port:
            urls = [f"json://127.0.0.1:{port}/c{n}" for n in range(args.n)]
            events = queue(engine, urls, now)
            messages = [render_event(event, lang) for event, lang in events]

            warm = apprise.Apprise()  # plugin loading and the first connection are paid by nobody's figure
            warm.add(f"json://127.0.0.1:{port}/warm")
            warm.notify(body="warm-up", title="warm-up")

            started = time.perf_counter()
            ok = 0
            for url, message in zip(urls, messages, strict=False):
                apobj = apprise.Apprise()
                apobj.add(url)
                ok += bool(apobj.notify(body=message.body, title=message.title, body_format=apprise.NotifyFormat.TEXT))
            baseline = time.perf_counter() - started

            started = time.perf_counter()
            report = send_due(limit=args.n, concurrency=args.concurrency)
            ours = time.perf_counter() - started
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stats", timeout=10) as answer:
                stats = json.load(answer)
            peak = stats["max_in_flight"]

        if ok != args.n or report.sent != args.n or stats["received"] != 2 * args.n + 1:
            raise SystemExit(
                f"not everything was sent: baseline {ok}/{args.n}, send_due {report.sent}/{args.n}, "
                f"server received {stats['received']}"
            )
        result = {
            "n": args.n,
            "server_delay_s": args.delay,
            "concurrency": args.concurrency,
            "baseline_s": round(baseline, 3),
            "baseline_per_s": round(args.n / baseline, 1),
            "send_due_s": round(ours, 3),
            "send_due_per_s": round(args.n / ours, 1),
            "ratio": round(baseline / ours, 2),
            "target": TARGET,
            "max_in_flight": peak,
        }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{args.n} notifications, server answers each POST after {args.delay * 1000:.0f} ms")
    print(
        f"  Apprise notify(), one URL after the other: {result['baseline_s']:7.2f} s "
        f"{result['baseline_per_s']:7.1f} notifications/s"
    )
    print(
        f"  send_due (concurrency {args.concurrency}):               {result['send_due_s']:7.2f} s "
        f"{result['send_due_per_s']:7.1f} notifications/s"
    )
    verdict = "met" if result["ratio"] >= TARGET else "MISSED"
    print(f"  ratio {result['ratio']:.2f}x (target >= {TARGET:g}x: {verdict}); at most {peak} requests at once")


if __name__ == "__main__":
    main()
