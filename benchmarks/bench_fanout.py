"""Fan-out benchmark: one price drop that matches every subscription, from detection to every alert delivered.

Per database (a SQLite file; a fresh PostgreSQL database created and dropped by the run):
  1. N subscriptions (a realistic mix: it/en/zh, digests mostly off, some quiet hours, operator lists, origin,
     max price, min GB, 5G, kinds, EUR/GB and 12-month caps), each with one json:// webhook to the sink; every
     one of them passes the event (checked with `subscription_matches` before the run);
  2. a baseline crawl, then a crawl where the offer's price drops: `detect_crawl` detects the one event and
     writes its outbox rows in its transaction -> "writes": detection start to every outbox row committed;
  3. the due rows delivered by 1, 2, 4 sender processes (the rows are put back to pending between runs);
     the sink counts every POST by the unique id in its JSON body (`sub`, from the channel URL's `:sub=`
     payload field): none lost, none twice;
  4. in the same run, the floor: a bare keep-alive HTTP client (asyncio streams, as many connections as the
     largest sender run has sends in flight) posting the same bodies to the same sink; our rate as its share;
     and Apprise alone (a child process of threads each notifying through one reused Apprise object): its CPU a
     message, what the machine's cores allow for Apprise's part at most.
The sink (a stdlib asyncio HTTP/1.1 server in its own process) answers each POST after `--delay` (50 ms).
Matching alone (1,000 events x 100,000 subscriptions) is benchmarks/bench_match.py.
Run: python benchmarks/bench_fanout.py [--subscriptions 100000] [--databases sqlite,postgresql]
     [--pg-url URL] [--senders 1,2,4] [--concurrency 16] [--skip-delivery]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import select
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GOAL_WRITES_S = 3.0
GOAL_DELIVERY_S = 120.0  # for 100,000, up to 4 senders, PostgreSQL
GOAL_RATE = 850.0
GOAL_MATCH_S = 1.0
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
OPERATORS = ["iliad", "ho", "very", "kena", "tim", "vodafone", "windtre", "fastweb", "coopvoce", "spusu"]
ZONES = ["Europe/Rome"] * 8 + ["Europe/London", "Asia/Shanghai"]


# ============================================================================================ the sink


class Sink:
    """An HTTP/1.1 keep-alive server (stdlib asyncio): every POST answered 200 after `delay`, its JSON body's
    `sub` counted. GET /_stats -> {"posts", "unique", "duplicates", "missing_id", "first_at", "last_at"};
    POST /_reset zeroes the counts. Run in its own process (`--sink`); prints its port on stdout."""

    def __init__(self, delay: float):
        self.delay = delay
        self.reset()

    def reset(self) -> None:
        self.seen: set = set()
        self.posts = self.duplicates = self.missing = 0
        self.first_at = self.last_at = None

    def stats(self) -> dict:
        return {
            "posts": self.posts,
            "unique": len(self.seen),
            "duplicates": self.duplicates,
            "missing_id": self.missing,
            "first_at": self.first_at,
            "last_at": self.last_at,
        }

    def count(self, body: bytes) -> None:
        self.posts += 1
        try:
            sub = json.loads(body).get("sub")
        except (ValueError, AttributeError):
            sub = None
        if sub is None:
            self.missing += 1
        elif sub in self.seen:
            self.duplicates += 1
        else:
            self.seen.add(sub)
        now = time.time()
        self.first_at = self.first_at or now
        self.last_at = now

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path = lines[0].split(" ")[:2]
                headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:] if h)}
                body = await reader.readexactly(int(headers.get("content-length") or 0))
                answer = b"{}"
                if method == "GET" and path == "/_stats":
                    answer = json.dumps(self.stats()).encode()
                elif method == "POST" and path == "/_reset":
                    self.reset()
                elif method == "POST":
                    await asyncio.sleep(self.delay)
                    self.count(body)
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                    % (len(answer), answer)
                )
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            writer.close()

    async def serve(self) -> None:
        server = await asyncio.start_server(self.handle, "127.0.0.1", 0, backlog=1024)
        print(server.sockets[0].getsockname()[1], flush=True)
        loop = asyncio.get_running_loop()
        stop = loop.create_future()
        loop.add_reader(sys.stdin.fileno(), lambda: stop.done() or stop.set_result(None))  # stdin closed: stop
        async with server:
            await stop


@contextmanager
def sink_process(delay: float):
    """The sink in a child process (it does not share an interpreter with the senders, as a remote endpoint
    would not); yields its port."""
    proc = subprocess.Popen(
        [sys.executable, __file__, "--sink", "--delay", str(delay)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert proc.stdout is not None and proc.stdin is not None
        if not select.select([proc.stdout], [], [], 30)[0]:
            raise SystemExit("the sink did not start within 30 s")
        yield int(proc.stdout.readline())
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def sink_call(port: int, method: str, path: str) -> dict:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=b"" if method == "POST" else None)
        return json.loads(conn.getresponse().read() or b"{}")
    finally:
        conn.close()


# ============================================================================================ the data


def the_offer(price: int) -> dict:
    from contract.offer import normalise

    return normalise(
        {
            "operator": "iliad",
            "offer_key": "giga-150",
            "name": "Giga 150",
            "url": "https://www.iliad.it/offerte/giga-150",
            "plan_type": "prepaid",
            "price_cents": price,
            "period_days": 30,
            "data_gb": 150.0,
            "data_5g": True,
            "eligibility": "all",
            "activation_cents": 999,
        }
    )


def _quiet(rng: random.Random, zone: str, now: datetime, covering: bool) -> tuple[str, str]:
    """A quiet window in the subscriber's zone: one that covers `now` (their alert waits for its end) or one
    that does not (the check runs, the alert goes now)."""
    local = now.astimezone(ZoneInfo(zone))
    start = local + (timedelta(hours=-1) if covering else timedelta(hours=rng.randint(2, 6)))
    end = start + timedelta(hours=rng.choice([4, 8, 9]))
    return start.strftime("%H:%M"), end.strftime("%H:%M")


def subscription(rng: random.Random, now: datetime) -> dict:
    """One subscriber's wishes, all of which the price drop of `the_offer(699)` passes."""
    zone = rng.choice(ZONES)
    origin = rng.choice(OPERATORS[1:]) if rng.random() < 0.1 else None
    operators = [] if origin or rng.random() < 0.35 else ["iliad", *rng.sample(OPERATORS[1:], rng.randint(0, 2))]
    quiet = rng.random()
    start, end = _quiet(rng, zone, now, covering=quiet < 0.02) if quiet < 0.15 else (None, None)
    digest = rng.random()
    return {
        "lang": rng.choices(["it", "en", "zh"], [60, 25, 15])[0],
        "digest": "daily" if digest < 0.04 else "weekly" if digest < 0.05 else "off",
        "timezone": zone,
        "quiet_start": start,
        "quiet_end": end,
        "rearm_hours": rng.choice([24, 168, 168]),
        "operators": operators,
        "plan_types": [] if rng.random() < 0.5 else ["prepaid", *(["data_only"] if rng.random() < 0.3 else [])],
        "kinds": rng.choice([[], [], ["price_drop"], ["price_drop", "new"], ["price_drop", "new", "returned"]]),
        "max_price_cents": rng.choice([None, None, 699, 799, 999, 1499]),
        "min_gb": rng.choice([None, None, 50.0, 100.0, 150.0]),
        "only_5g": rng.random() < 0.3,
        "origin": origin,
        "max_eur_per_gb_cents": rng.choice([None] * 9 + [10.0]),
        "max_year_cents": rng.choice([None] * 9 + [15000]),
    }


def fill(url: str, n: int, port: int, seed: int = 2026) -> dict:
    """The baseline crawl, then `n` subscriptions (batched Core inserts: setup, not measured); the share held
    back (digests, quiet hours now) as counts."""
    from sqlalchemy import insert, select
    from sqlmodel import Session

    from alerts.match import subscription_matches
    from storage.engine import get_engine
    from storage.models import Subscription, SubscriptionChannel, new_link_key

    crawl(url, 999, datetime.now(timezone.utc) - timedelta(hours=1))
    rng = random.Random(seed)
    now = datetime.now(timezone.utc)
    drop = the_offer(699)
    subs = [subscription(rng, now) for _ in range(n)]
    assert all(subscription_matches(s, "price_drop", drop) for s in subs), "a subscription the drop does not pass"
    with Session(get_engine(url)) as session, session.begin():
        for start in range(0, n, 10_000):
            batch = subs[start : start + 10_000]
            rows = [
                {"created_at": now, "active": True, "status": "active", "confirmed_at": now, "link_key": new_link_key()}
                | s
                for s in batch
            ]
            # no RETURNING: SQLAlchemy's sorted RETURNING of many rows costs more than the inserts; the fresh
            # database gives ids in insertion order
            session.execute(insert(Subscription), rows)
            ids = list(session.scalars(select(Subscription.id).order_by(Subscription.id).offset(start)))
            hooks = [f"json://127.0.0.1:{port}/hook?:sub={sid}" for sid in ids]
            session.execute(
                insert(SubscriptionChannel),
                [
                    {"subscription_id": sid, "url": hook, "url_masked": hook, "service": "json", "guarded": False}
                    for sid, hook in zip(ids, hooks, strict=True)
                ],
            )
    return {
        "digest": sum(s["digest"] != "off" for s in subs),
        "quiet_now": sum(s["digest"] == "off" and s["quiet_start"] is not None and _in_quiet(s, now) for s in subs),
    }


def _in_quiet(sub: dict, now: datetime) -> bool:
    from alerts.outbox import quiet_until

    return quiet_until(now.astimezone(ZoneInfo(sub["timezone"])), sub["quiet_start"], sub["quiet_end"]) is not None


def crawl(url: str, price: int, at: datetime) -> int:
    """One healthy iliad crawl with the offer at `price`; its run id."""
    from storage.repository import record_crawl

    return record_crawl(
        operator="iliad",
        started_at=at,
        finished_at=at,
        finish_reason="finished",
        status="healthy",
        items=[the_offer(price)],
        items_scraped=1,
        dropped={},
        error=None,
        database_url=url,
    ).run_id


def detect_and_write(url: str) -> dict:
    """The price-drop crawl, then its detection (which matches and writes the outbox rows in its transaction),
    timed: detection start -> committed, and the matching + outbox part of it."""
    import alerts.detect as detect

    run = crawl(url, 699, datetime.now(timezone.utc))
    timings: dict = {}
    real = detect.match_events

    def timed(session, events, now):
        t = time.perf_counter()
        queued = real(session, events, now)
        timings["match_and_queue_s"] = time.perf_counter() - t
        timings["queued"] = queued
        return queued

    detect.match_events = timed
    server = server_cpu(url)
    try:
        t, cpu = time.perf_counter(), time.process_time()
        events = detect.detect_crawl(run, database_url=url)
        timings["detect_to_committed_s"] = time.perf_counter() - t
        timings["client_cpu_s"] = time.process_time() - cpu
    finally:
        detect.match_events = real
    after = server_cpu(url)
    timings["server_cpu_s"] = after - server if after is not None and server is not None else None
    timings["events"] = len(events)
    return timings


def server_cpu(url: str) -> float | None:
    """CPU seconds the PostgreSQL server's processes of this database have used so far (a server on this machine:
    /proc), None when not readable (SQLite runs in the client: its CPU is the client's)."""
    from sqlalchemy import text

    from storage.engine import get_engine

    engine = get_engine(url)
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as conn:
        pids = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")).scalars()
        total = 0.0
        try:
            for pid in pids:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            return None
    return total


def outbox_counts(url: str) -> dict:
    from sqlalchemy import func, select
    from sqlmodel import Session

    from storage.engine import get_engine
    from storage.models import Notification as N

    now = datetime.now(timezone.utc)
    with Session(get_engine(url)) as s:
        total = s.scalar(select(func.count()).select_from(N)) or 0
        due = s.scalar(select(func.count()).select_from(N).where(N.due_at <= now, N.digest.is_(None))) or 0  # type: ignore[union-attr]
        digests = s.scalar(select(func.count()).select_from(N).where(N.digest.is_not(None))) or 0  # type: ignore[union-attr]
    return {"rows": total, "due_now": due, "digest_rows": digests}


# ============================================================================================ delivery


def pending_due(url: str) -> int:
    from sqlalchemy import func, select
    from sqlmodel import Session

    from storage.engine import get_engine
    from storage.models import Notification as N

    with Session(get_engine(url)) as s:
        return (
            s.scalar(
                select(func.count())
                .select_from(N)
                .where(N.status.in_(("pending", "sending")), N.due_at <= datetime.now(timezone.utc))  # type: ignore[attr-defined]
            )
            or 0
        )


def rearm_outbox(url: str) -> None:
    """Every row delivered in a previous sender run back to pending, as written."""
    from sqlalchemy import update
    from sqlmodel import Session

    from storage.engine import get_engine
    from storage.models import Notification as N

    with Session(get_engine(url)) as s, s.begin():
        s.execute(
            update(N)
            .where(N.status != "pending")  # type: ignore[arg-type]
            .values(status="pending", sent_at=None, claimed_at=None, attempts=0, last_error=None, failure_kind=None)
        )


def until_empty_supported() -> bool:
    """Whether `promowatch send` has `--loop --workers N --until-empty` (helper 2's sender)."""
    out = subprocess.run(
        [sys.executable, "-m", "promowatch.cli", "send", "--help"],
        capture_output=True,
        text=True,
        env=os.environ | {"COLUMNS": "200"},
        cwd=ROOT,
    )
    return "--until-empty" in out.stdout


def run_senders(url: str, workers: int, concurrency: int, batch: int, timeout: float, mode: str) -> float:
    """Deliver every due row with `workers` sender processes; seconds until they are all done.

    mode "cli": `promowatch send --loop --workers N --until-empty`; mode "loop": N processes, each running
    today's sender (`alerts.deliver.send_due`, as `promowatch send` does) again and again until nothing is due."""
    env = os.environ | {"PROMOWATCH_DATABASE_URL": url, "PROMOWATCH_LOG_LEVEL": "WARNING"}
    if mode == "cli":
        cmds = [
            [
                sys.executable,
                "-m",
                "promowatch.cli",
                "send",
                "--loop",
                "--workers",
                str(workers),
                "--until-empty",
                "--concurrency",
                str(concurrency),
                "--limit",
                str(batch),
            ]
        ]
    else:
        cmds = [
            [sys.executable, __file__, "--sender-child", "--concurrency", str(concurrency), "--batch", str(batch)]
        ] * workers
    t = time.perf_counter()
    procs = [subprocess.Popen(cmd, env=env, cwd=ROOT) for cmd in cmds]
    try:
        for proc in procs:
            proc.wait(timeout=max(1.0, timeout - (time.perf_counter() - t)))
    except subprocess.TimeoutExpired:
        for proc in procs:
            proc.kill()
            proc.wait()
        raise SystemExit(f"senders still running after {timeout:.0f} s") from None
    seconds = time.perf_counter() - t
    bad = [p.returncode for p in procs if p.returncode not in (0,)]
    if bad:
        print(f"  (a sender exited with {bad})")
    return seconds


def sender_child(concurrency: int, batch: int) -> None:
    """One sender process of mode "loop": `send_due` until a run claims nothing."""
    from alerts.deliver import Policy, send_due

    policy = Policy(allow_private_addresses=True)
    while True:
        report = send_due(limit=batch, concurrency=concurrency, policy=policy)
        if not report.claimed and not getattr(report, "leased", 0):
            return


async def _floor(port: int, bodies: list[bytes], connections: int) -> float:
    """Seconds a bare keep-alive client takes to POST `bodies` over `connections` connections."""
    queue = list(reversed(bodies))

    async def one() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while queue:
                body = queue.pop()
                writer.write(
                    b"POST /hook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                )
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
        finally:
            writer.close()

    t = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(connections)))
    return time.perf_counter() - t


def floor_rate(port: int, n: int, connections: int) -> tuple[float, dict]:
    """The bare client's notifications per second for `n` bodies shaped as Apprise's json:// ones."""
    sink_call(port, "POST", "/_reset")
    bodies = [
        json.dumps(
            {"version": "1.0", "title": "iliad Giga 150", "message": "x" * 600, "type": "info", "sub": str(i)}
        ).encode()
        for i in range(n)
    ]
    seconds = asyncio.run(_floor(port, bodies, connections))
    return n / seconds, sink_call(port, "GET", "/_stats")


def apprise_child(port: int, n: int, threads: int) -> None:
    """Apprise alone, in a process of its own: `threads` threads, each with one Apprise object holding one
    json:// URL to the sink (reused, as the cheapest way Apprise can be used), `n` notifications in all, bodies
    the size of ours; prints the process's CPU seconds and wall seconds as JSON."""
    import threading

    import apprise

    def one(count: int, index: int) -> None:
        apobj = apprise.Apprise()
        apobj.add(f"json://127.0.0.1:{port}/hook?:sub=apprise-{index}")
        for _ in range(count):
            apobj.notify(body="x" * 600, title="iliad Giga 150")

    workers = [threading.Thread(target=one, args=(n // threads, i)) for i in range(threads)]
    cpu, wall = time.process_time(), time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    print(json.dumps({"cpu_s": time.process_time() - cpu, "wall_s": time.perf_counter() - wall, "n": n}))


def apprise_alone(port: int, n: int, threads: int) -> dict:
    """`apprise_child`'s figures (run in a child: no promowatch code loaded, nothing masked or recorded)."""
    out = subprocess.run(
        [sys.executable, __file__, "--apprise-child", str(port), "--n", str(n), "--concurrency", str(threads)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# ============================================================================================ databases


@contextmanager
def database(kind: str, pg_url: str):
    """A fresh database URL: a SQLite file in a temporary folder, or a new PostgreSQL database (dropped after)."""
    if kind == "sqlite":
        folder = tempfile.mkdtemp(prefix="bench-fanout-")
        try:
            yield f"sqlite:///{Path(folder) / 'fanout.db'}"
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"bench_fanout_{uuid.uuid4().hex[:10]}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    finally:
        from storage.engine import _engine

        _engine.cache_clear()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def goal(ok: bool) -> str:
    return "met" if ok else "MISSED"


def bench_database(kind: str, args, port: int, floor: float | None, mode: str) -> dict:
    from storage.engine import get_engine

    out: dict = {"database": kind}
    with database(kind, args.pg_url) as url:
        get_engine(url)  # migrated to head
        t = time.perf_counter()
        held = fill(url, args.subscriptions, port)
        print(f"\n[{kind}] setup: {args.subscriptions} subscriptions in {time.perf_counter() - t:.1f} s (not timed)")
        w = detect_and_write(url)
        counts = outbox_counts(url)
        out |= w | counts | {"held": held}
        writes = w["detect_to_committed_s"]
        print(
            f"[{kind}] writes: {w['events']} event -> {w['queued']} alerts, {counts['rows']} outbox rows "
            f"({counts['digest_rows']} digest rows, {counts['due_now']} due now)"
        )
        print(
            f"[{kind}]   detection -> every outbox row committed {writes:7.3f} s  "
            f"(matching + outbox writes {w['match_and_queue_s']:.3f} s)   goal <= {GOAL_WRITES_S:g} s for 100,000: "
            + (
                goal(writes <= GOAL_WRITES_S)
                if args.subscriptions >= 100_000
                else "judged at 100,000 only (a run's fixed costs do not scale)"
            )
        )
        server = f" + PostgreSQL server {w['server_cpu_s']:.3f} s" if w.get("server_cpu_s") is not None else ""
        print(f"[{kind}]   CPU (what a loaded machine does not inflate much): client {w['client_cpu_s']:.3f} s{server}")
        if args.skip_delivery:
            return out
        due = counts["due_now"]
        for workers in args.senders:
            rearm_outbox(url)
            sink_call(port, "POST", "/_reset")
            seconds = run_senders(url, workers, args.concurrency, args.batch, args.timeout, mode)
            stats = sink_call(port, "GET", "/_stats")
            left = pending_due(url)
            rate = stats["unique"] / seconds if seconds else 0.0
            share = f", {rate / floor:.0%} of the floor" if floor else ""
            ok = stats["unique"] == due and stats["duplicates"] == 0 and stats["missing_id"] == 0 and left == 0
            out[f"senders_{workers}"] = {"seconds": seconds, "rate": rate, **stats, "left": left, "ok": ok}
            print(
                f"[{kind}] {workers} sender process{'es' if workers > 1 else ''} x {args.concurrency}: "
                f"{stats['unique']}/{due} delivered in {seconds:6.1f} s = {rate:6.0f}/s{share}; "
                f"duplicates {stats['duplicates']}, lost {due - stats['unique']}, still due {left}"
                f" -> {'ok' if ok else 'WRONG'}"
            )
            if kind == "postgresql" and workers <= 4:
                per100k = 100_000 / rate if rate else float("inf")
                print(
                    f"[{kind}]   goal >= {GOAL_RATE:g}/s (100,000 in <= {GOAL_DELIVERY_S:g} s; at this rate "
                    f"{per100k:.0f} s): {goal(rate >= GOAL_RATE)}"
                )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--subscriptions", type=int, default=100_000)
    ap.add_argument("--databases", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    ap.add_argument(
        "--pg-url",
        default=os.environ.get("PROMOWATCH_BENCH_PG_URL", PG_DEFAULT),
        help="a PostgreSQL server URL (a database on it to connect to); the run creates its own database there "
        "and drops it (default: $PROMOWATCH_BENCH_PG_URL or %(default)s)",
    )
    ap.add_argument("--senders", default="1,2,4", help="sender process counts to run, comma-separated")
    ap.add_argument("--concurrency", type=int, default=16, help="sends in flight per sender process")
    ap.add_argument("--batch", type=int, default=500, help="rows a sender claims at a time")
    ap.add_argument("--delay", type=float, default=0.05, help="seconds the sink takes to answer each POST")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds a sender run may take at most")
    ap.add_argument("--sender-mode", choices=["auto", "cli", "loop"], default="auto")
    ap.add_argument("--skip-delivery", action="store_true", help="only the outbox writes")
    ap.add_argument("--json", action="store_true", help="also print the figures as JSON")
    ap.add_argument("--sink", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--sender-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--apprise-child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, default=2000, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.apprise_child:
        apprise_child(args.apprise_child, args.n, args.concurrency)
        return
    if args.sink:
        asyncio.run(Sink(args.delay).serve())
        return
    if args.sender_child:
        sender_child(args.concurrency, args.batch)
        return
    args.senders = [int(n) for n in args.senders.split(",") if n]
    kinds = [k.strip() for k in args.databases.split(",") if k.strip()]
    mode = args.sender_mode
    if mode == "auto":
        mode = "cli" if until_empty_supported() else "loop"
    results = []
    print(
        f"fan-out: {args.subscriptions} subscriptions, one price drop matching all of them; sink answers each POST "
        f"after {args.delay * 1000:.0f} ms; senders: {mode} mode"
    )
    with sink_process(args.delay) as port:
        floor = None
        if not args.skip_delivery:
            connections = max(args.senders) * args.concurrency
            n = min(args.subscriptions, 20_000)
            floor, stats = floor_rate(port, n, connections)
            print(
                f"floor: a bare keep-alive client, {connections} connections, {n} POSTs of the same size: "
                f"{floor:.0f}/s (sink counted {stats['unique']} unique, {stats['duplicates']} twice)"
            )
            alone = apprise_alone(port, min(n, 2000), args.concurrency)
            per = alone["cpu_s"] / alone["n"]
            cores = os.cpu_count() or 1
            print(
                f"Apprise alone: one reused Apprise object per thread, {args.concurrency} threads, {alone['n']} "
                f"json:// POSTs to the same sink: {per * 1000:.2f} ms of CPU a message, so at most "
                f"{cores / per:.0f}/s on {cores} cores for Apprise's part alone (the {GOAL_RATE:g}/s goal leaves "
                f"{cores / GOAL_RATE * 1000:.2f} ms a message for everything, the sink and the database included)"
            )
        for kind in kinds:
            results.append(bench_database(kind, args, port, floor, mode))
    if args.json:
        print(json.dumps({"floor_per_s": floor, "results": results}, indent=2, default=str))


if __name__ == "__main__":
    main()
