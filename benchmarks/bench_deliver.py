"""Delivery benchmark: `promowatch send --loop --workers N --until-empty` against a loopback sink, beside the floor.

One price drop fans out to `--n` subscribers (languages mixed), each with a json:// channel of its own, on a sink
(its own process, asyncio: it costs little CPU, like a real remote endpoint it does not compete for our
interpreter) that answers every POST after `--delay` (50 ms). For each database (SQLite file, PostgreSQL when
`--pg` names a server) and each worker count (1, 2, 4), a fresh database is filled, the real CLI is run until the
outbox is empty, and the sink counts every channel's POSTs: each exactly once, or the run fails.

The floor, in the same run: a bare keep-alive HTTP client (`http.client`, `--floor-threads` persistent
connections) posting the same bodies to the same sink; our rate is printed as a share of it.
Goal (issue 20): >= 850 notifications/s with up to 4 senders on PostgreSQL, the sink included, on 2 cores.
Run: python benchmarks/bench_deliver.py [--n 3000] [--workers 1,2,4] [--pg postgresql+psycopg://postgres@127.0.0.1/postgres]
     python benchmarks/bench_deliver.py --sink [--delay 0.05]   # the sink alone: prints its port, stdin closes it
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import select
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]
GOAL = 850.0


# ------------------------------------------------------------------------------------------------ the sink


def serve_sink(delay: float, status_for=None) -> None:
    """An HTTP/1.1 keep-alive sink on 127.0.0.1 (asyncio): answers each POST after `delay`, counts POSTs per
    path; GET /_stats gives {"posts", "paths", "duplicates"}, GET /_reset clears them. Prints its port."""
    counts: Counter = Counter()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                length, close = 0, False
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                    elif name.lower() == "connection" and value.strip().lower() == "close":
                        close = True
                if length:
                    await reader.readexactly(length)
                if method == "GET":
                    if path == "/_reset":
                        counts.clear()
                    many = sum(1 for c in counts.values() if c > 1)
                    body = json.dumps(
                        {"posts": sum(counts.values()), "paths": len(counts), "duplicates": many}
                    ).encode()
                else:
                    counts[path.split("?", 1)[0]] += 1
                    await asyncio.sleep(delay)
                    body = b"{}"
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                    + str(len(body)).encode()
                    + b"\r\n\r\n"
                    + body
                )
                await writer.drain()
                if close:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
        print(server.sockets[0].getsockname()[1], flush=True)
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        threading.Thread(
            target=lambda: (sys.stdin.read(), loop.call_soon_threadsafe(done.set_result, None)), daemon=True
        ).start()
        await done
        server.close()

    asyncio.run(main())


@contextmanager
def sink(delay: float):
    """The sink in a child process; yields its port."""
    proc = subprocess.Popen(
        [sys.executable, __file__, "--sink", "--delay", str(delay)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        if not select.select([proc.stdout], [], [], 30)[0]:
            raise SystemExit("the sink did not start within 30 s")
        yield int(proc.stdout.readline())
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def stats(port: int, reset: bool = False) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/{'_reset' if reset else '_stats'}", timeout=10) as r:
        return json.load(r)


# ------------------------------------------------------------------------------------------------ the outbox


def fill(url: str, n: int, port: int) -> list[tuple[str, bytes]]:
    """One price drop, `n` subscribers each with a channel of its own and a due outbox row (bulk inserts); the
    (path, JSON body) each would get, as Apprise's json:// sends it, for the floor."""
    from sqlalchemy import insert, select
    from sqlmodel import Session

    from alerts.links import site_links
    from alerts.render import event_data, notify_type, render_event
    from contract.offer import normalise
    from storage.engine import get_engine
    from storage.models import CrawlRun, Notification, Offer, OfferEvent, Subscription, SubscriptionChannel
    from storage.repository import event_dict

    engine = get_engine(url)
    at = datetime.now(timezone.utc) - timedelta(seconds=5)
    item = normalise(
        {
            "operator": "iliad",
            "offer_key": "giga-150",
            "name": "Giga 150",
            "plan_type": "prepaid",
            "url": "https://example.it/giga",
            "price_cents": 799,
            "period_days": 30,
            "data_gb": 150,
        }
    )
    with Session(engine) as s:
        run = CrawlRun(operator="iliad", started_at=at, finished_at=at, finish_reason="finished", status="healthy")
        offer = Offer(
            operator="iliad",
            offer_key="giga-150",
            name="Giga 150",
            plan_type="prepaid",
            price_cents=799,
            data=item,
            content_hash="x",
            first_seen=at,
            last_seen=at,
        )
        s.add_all([run, offer])
        s.flush()
        event = OfferEvent(
            crawl_run_id=run.id,
            offer_id=offer.id,
            operator="iliad",
            offer_key="giga-150",
            kind="price_drop",
            created_at=at,
            price_before=999,
            price_after=799,
            changes={},
            item=item,
        )
        s.add(event)
        s.commit()
        event_id, ev = event.id, event_dict(event)
    langs = ("it", "en", "zh")
    with engine.begin() as conn:
        first = conn.execute(select(Subscription.id).order_by(Subscription.id.desc()).limit(1)).scalar() or 0
        template = Subscription(created_at=at).model_dump()
        urls = [f"json://127.0.0.1:{port}/c{i}" for i in range(n)]
        conn.execute(
            insert(Subscription),
            [{**template, "id": first + 1 + i, "lang": langs[i % 3], "link_key": f"k{i}"} for i in range(n)],
        )
        conn.execute(
            insert(SubscriptionChannel),
            [
                {"id": first + 1 + i, "subscription_id": first + 1 + i, "url": u, "url_masked": u, "service": "json"}
                for i, u in enumerate(urls)
            ],
        )
        conn.execute(
            insert(Notification),
            [
                {
                    "subscription_id": first + 1 + i,
                    "channel_id": first + 1 + i,
                    "event_id": event_id,
                    "operator": "iliad",
                    "offer_key": "giga-150",
                    "kind": "price_drop",
                    "price_cents": 799,
                    "created_at": at,
                    "due_at": at,
                    "event_ids": [],
                    "status": "pending",
                    "attempts": 0,
                    "ambiguous_failures": 0,
                }
                for i in range(n)
            ],
        )
    links = site_links(None, url)
    bodies = []
    data = event_data(ev)
    for i in range(n):
        m = render_event(ev, langs[i % 3], footer=links.footer(first + 1 + i, f"k{i}"))
        payload = {
            "version": "1.0",
            "title": m.title,
            "message": m.body,
            "attachments": [],
            "type": notify_type(ev["kind"]),
            "event": data,
        }
        bodies.append((f"/c{i}", json.dumps(payload).encode()))
    return bodies


def fresh_database(kind: str, pg: str | None, tmp: Path, label: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp / f'{label}.db'}"
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"pw_bench_deliver_{label}"
    admin = create_engine(pg, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(pg).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str, pg: str | None) -> None:
    if url.startswith("sqlite") or not pg:
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from storage.engine import _engine

    _engine.cache_clear()
    admin = create_engine(pg, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


# ------------------------------------------------------------------------------------------------ runs


def floor(port: int, bodies: list[tuple[str, bytes]], threads: int) -> float:
    """Notifications/s of a bare keep-alive client: `threads` persistent connections posting the bodies."""
    import http.client

    todo = list(bodies)
    lock = threading.Lock()

    def run() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                if not todo:
                    break
                path, body = todo.pop()
            conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
            conn.getresponse().read()
        conn.close()

    started = time.perf_counter()
    pool = [threading.Thread(target=run) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return len(bodies) / (time.perf_counter() - started)


def ours(url: str, workers: int, concurrency: int, timeout: float) -> tuple[float, float]:
    """(notifications/s, CPU seconds of the senders) of `promowatch send --loop --workers N --until-empty`."""
    env = {**os.environ, "PROMOWATCH_DATABASE_URL": url, "PROMOWATCH_LOG_LEVEL": "WARNING"}
    env.pop("PROMOWATCH_CONFIG", None)
    before = os.times()
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "promowatch",
            "send",
            "--loop",
            "--until-empty",
            "--workers",
            str(workers),
            "--concurrency",
            str(concurrency),
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    seconds = time.perf_counter() - started
    after = os.times()
    if done.returncode != 0:
        raise SystemExit(f"promowatch send failed ({done.returncode}): {done.stderr[-2000:]}")
    report = json.loads(done.stdout)
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return report["sent"] / seconds, cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sink", action="store_true", help="run the sink alone (prints its port)")
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--delay", type=float, default=0.05, help="seconds the sink takes to answer each POST")
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--concurrency", type=int, default=16, help="per worker")
    ap.add_argument("--floor-threads", type=int, default=64)
    ap.add_argument("--pg", default=os.environ.get("PROMOWATCH_TEST_SERVER_URL"), help="a PostgreSQL server URL")
    ap.add_argument("--no-sqlite", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.sink:
        serve_sink(args.delay)
        return

    kinds = ([] if args.no_sqlite else ["sqlite"]) + (["postgresql"] if args.pg else [])
    results = []
    with tempfile.TemporaryDirectory() as tmp, sink(args.delay) as port:
        for kind in kinds:
            for workers in [int(w) for w in args.workers.split(",")]:
                url = fresh_database(kind, args.pg, Path(tmp), f"{kind}_{workers}")
                try:
                    bodies = fill(url, args.n, port)
                    stats(port, reset=True)
                    rate, cpu = ours(url, workers, args.concurrency, timeout=max(120, args.n / 20))
                    got = stats(port)
                    stats(port, reset=True)
                    bare = floor(port, bodies, args.floor_threads)
                    stats(port, reset=True)
                finally:
                    drop_database(url, args.pg)
                if got["paths"] != args.n or got["duplicates"] or got["posts"] != args.n:
                    raise SystemExit(f"{kind} x{workers}: not each row exactly once: {got} for {args.n} rows")
                results.append(
                    {
                        "database": kind,
                        "workers": workers,
                        "concurrency": args.concurrency,
                        "n": args.n,
                        "per_s": round(rate, 1),
                        "cpu_ms_per_message": round(cpu / args.n * 1000, 2),
                        "floor_per_s": round(bare, 1),
                        "share_of_floor": round(rate / bare, 3),
                    }
                )
                r = results[-1]
                if not args.json:
                    print(
                        f"{kind:10} {workers} worker(s) x {args.concurrency}: {r['per_s']:7.1f}/s "
                        f"({r['cpu_ms_per_message']:.2f} ms CPU/message in the senders); bare keep-alive client "
                        f"{r['floor_per_s']:7.1f}/s; ours = {r['share_of_floor']:.0%} of the floor",
                        flush=True,
                    )
    if args.json:
        print(json.dumps(results, indent=2))
        return
    best = max((r["per_s"] for r in results if r["database"] == "postgresql"), default=None)
    if best is not None:
        verdict = "met" if best >= GOAL else "MISSED"
        print(f"best on PostgreSQL: {best:.0f}/s (goal >= {GOAL:.0f}/s, 100,000 in <= 120 s: {verdict})")


if __name__ == "__main__":
    main()
