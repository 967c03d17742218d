"""Several senders: `promowatch send --loop --workers N` processes against one database and loopback sinks.

Each row is sent once however many senders claim (SKIP LOCKED on PostgreSQL, a re-checked claim on SQLite); a
sender killed mid-batch loses nothing (its rows come back after the lease) and duplicates only what it had in
flight; SIGTERM stops cleanly; a channel answering 429 or 5xx is slowed down without holding back the others.
The kill test runs on SQLite and on the PostgreSQL server of 127.0.0.1:5432 (skipped when there is none).
Every wait is bounded.
"""

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import processes
import pytest
from servers import HttpServer
from sqlmodel import Session, select
from test_deliver import add_event, add_subscriber, queue

from alerts import deliver as deliver_mod
from alerts.deliver import ChannelPauses, ChannelPool, Outcome, Policy, channel_key, retry_after, send_loop
from storage.models import Notification

ROOT = Path(__file__).resolve().parents[1]
PG_SERVER = os.environ.get("PROMOWATCH_TEST_SERVER_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


# ------------------------------------------------------------------------------------------ fast: the pieces


def test_channel_key_is_scheme_and_host_without_credentials():
    assert channel_key("json://user:pw@Hooks.Example.com:8080/a/b?x=1") == "json://hooks.example.com:8080"
    assert channel_key("mailto://me:secret@gmail.com?to=a@b.c") == "mailto://gmail.com"
    assert channel_key("ntfys://ntfy.sh/topic") == "ntfys://ntfy.sh"


@pytest.mark.parametrize(
    "lines,seconds",
    [
        (["Trigv asked to retry after 30 second(s)."], 30.0),
        (["Failed to send: Too Many Requests, error=429.", "Retry-After: 2"], 2.0),
        (["Retry-After: Wed, 02 Dec 2026 09:00:45 GMT"], 45.0),
        (["Retry-After: 999999"], deliver_mod.RETRY_AFTER_CAP),
        (["Failed to send JSON POST notification: Too Many Requests, error=429."], None),
    ],
)
def test_retry_after_is_read_from_apprises_report_in_seconds_or_as_an_http_date(lines, seconds):
    assert retry_after(lines, now=datetime(2026, 12, 2, 9, 0, tzinfo=timezone.utc)) == seconds


def test_a_slowed_down_channel_waits_its_retry_after_or_a_doubling_pause():
    pauses, now = ChannelPauses(), datetime(2026, 12, 2, 9, 0, tzinfo=timezone.utc)
    assert pauses.slow_down("json://a", now, 429, 7.0, "json://a") == now + timedelta(seconds=7)
    assert pauses.until("json://a", now + timedelta(seconds=6)) == (now + timedelta(seconds=7), 429)
    assert pauses.until("json://a", now + timedelta(seconds=7)) is None
    first = pauses.slow_down("json://b", now, 503, None, "json://b")
    second = pauses.slow_down("json://b", now, 503, None, "json://b")
    assert (first - now, second - now) == (timedelta(seconds=2), timedelta(seconds=4))
    pauses.recovered("json://b")
    assert pauses.slow_down("json://b", now, 503, None, "json://b") - now == timedelta(seconds=2)
    assert pauses.until("json://c", now) is None


def test_a_429_defers_the_row_without_counting_a_try_and_a_5xx_counts_one():
    job = deliver_mod._Job(1, 2, datetime(2026, 12, 2, 9, 0, tzinfo=timezone.utc))
    at, until = job.claimed_at, job.claimed_at + timedelta(seconds=30)
    limited = Outcome(False, "HTTP 429: Too Many Requests", kind="http", status=429, deferred_until=until)
    values = deliver_mod._result_values(job, limited, at, Policy())
    assert values["status"] == "pending" and values["due_at"] == until and "attempts" not in values
    failing = Outcome(False, "HTTP 503", kind="http", status=503, deferred_until=at + timedelta(hours=2))
    values = deliver_mod._result_values(job, failing, at, Policy())
    assert values["attempts"] == 3 and values["due_at"] == at + timedelta(hours=2)  # the pause outlasts back-off
    old = deliver_mod._Job(1, 2, at, created_at=at - timedelta(days=2))  # deferred long enough: tries count
    assert deliver_mod._result_values(old, limited, at, Policy())["attempts"] == 3


@pytest.mark.slow
def test_the_channel_pool_reuses_an_apprise_object_and_never_carries_one_messages_data_into_the_next():
    with HttpServer() as http:
        pool, url = ChannelPool(Policy()), http.url("/hook")
        first = deliver_mod.deliver(url, "one", "body", data={"event": {"id": 1}}, channels=pool)
        loaded = pool.checkout(url, "json://")
        pool.checkin(url, loaded)
        second = deliver_mod.deliver(url, "two", "body", data={"digest": "daily"}, channels=pool)
        assert pool.checkout(url, "json://") is loaded  # the same object, taken again
        got = http.wait_for(2)
    assert first.ok and second.ok
    assert got[0]["json"]["event"] == {"id": 1} and "digest" not in got[0]["json"]
    assert got[1]["json"]["digest"] == "daily" and "event" not in got[1]["json"]


@pytest.mark.slow
def test_a_message_rendered_once_for_many_rows_keeps_each_subscribers_own_footer(engine):
    from storage.models import OfferEvent
    from storage.repository import event_dict

    at = datetime(2026, 12, 2, 9, 0, tzinfo=timezone.utc)
    with Session(engine) as s:
        event = event_dict(s.get(OfferEvent, add_event(engine)))
    with HttpServer() as http:
        jobs = [
            deliver_mod._Job(n, 0, at, url=http.url(f"/s{n}"), masked="json://", lang="en", events=[event], now=at)
            for n in range(3)
        ]
        for n, job in enumerate(jobs):
            job.footer = {"manage": f"https://example.it/m/{n}", "unsubscribe": f"https://example.it/u/{n}"}
        jobs[2].filters = {"operators": [event["operator"]]}  # its own "why you got this" line, its own render
        cache: dict = {}
        cached = [deliver_mod._render_and_send(job, Policy(), cache) for job in jobs]
        plain = deliver_mod._render_and_send(jobs[2], Policy())  # rendered on its own, no cache
        got = {item["path"]: item["json"] for item in http.wait_for(4)}
    assert all(o.ok for o in cached) and plain.ok and len(cache) == 2
    assert got["/s0"]["message"].replace("/0", "/1") == got["/s1"]["message"]  # same filters: same text
    assert got["/s2"]["message"].replace("/2", "/0") != got["/s0"]["message"]  # the why line differs
    assert [f"https://example.it/u/{n}" in got[f"/s{n}"]["message"] for n in range(3)] == [True] * 3
    assert "https://example.it/u/0" not in got["/s1"]["message"]
    assert got["/s2"]["message"] == http.received[-1]["json"]["message"]  # the same text as without the cache


def test_the_pool_keeps_a_bounded_number_of_idle_objects():
    pool = ChannelPool(Policy(), keep=3)
    for n in range(5):
        pool.checkin(f"json://127.0.0.1:9/{n}", deliver_mod._Loaded(object(), {}))
    assert pool._count == 3 and list(pool._idle) == [f"json://127.0.0.1:9/{n}" for n in (2, 3, 4)]


def test_sender_workers_and_concurrency_come_from_the_config_with_bounds(tmp_path):
    from promowatch.service_config import ConfigError, parse_config

    sender = parse_config({"sender": {"workers": 4, "concurrency": 24}}, operators=[]).sender
    assert (sender.workers, sender.concurrency) == (4, 24)
    defaults = parse_config({}, operators=[]).sender
    assert (defaults.workers, defaults.concurrency) == (1, 16)
    with pytest.raises(ConfigError, match="workers"):
        parse_config({"sender": {"workers": 1000}}, operators=[])


def test_loop_options_without_loop_are_one_clear_error(tmp_db):
    done = _cli(["send", "--workers", "2"], tmp_db, timeout=60)
    assert done.returncode != 0 and "go with --loop" in done.stderr and "Traceback" not in done.stderr


# ------------------------------------------------------------------------------------------ slow: processes


def _cli(args, database_url, timeout=120, **popen):
    env = {**os.environ, "PROMOWATCH_DATABASE_URL": database_url, "PROMOWATCH_LOG_LEVEL": "WARNING"}
    env.pop("PROMOWATCH_CONFIG", None)
    command = [sys.executable, "-m", "promowatch", *args]
    if popen:
        return subprocess.Popen(command, env=env, cwd=ROOT, **popen)
    return processes.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def _queued_now(engine, sub, channels, event_id) -> list[int]:
    """Rows due now and queued now (test_deliver's `queue` dates them at T0, days ago)."""
    from sqlalchemy import update

    now = datetime.now(timezone.utc)
    ids = [queue(engine, sub, channel, event_id, due=now) for channel in channels]
    with engine.begin() as conn:
        conn.execute(update(Notification).where(Notification.id.in_(ids)).values(created_at=now))
    return ids


def _fill(engine, http, n, path="c"):
    sub, channels = add_subscriber(engine, *[http.url(f"/{path}{i}") for i in range(n)])
    return _queued_now(engine, sub, channels, add_event(engine))


def _rows(engine, ids):
    with Session(engine) as s:
        return {n.id: n for n in s.exec(select(Notification).where(Notification.id.in_(ids))).all()}


def _hits(http, paths):
    return {p: http.hits(p) for p in paths}


@pytest.mark.slow
def test_several_worker_processes_send_each_row_exactly_once(engine, tmp_db):
    with HttpServer(delay=0.02) as http:
        ids = _fill(engine, http, 120)
        done = _cli(["send", "--loop", "--workers", "3", "--concurrency", "4", "--until-empty", "--json"], tmp_db)
        assert done.returncode == 0, done.stderr[-2000:]
        hits = _hits(http, [f"/c{i}" for i in range(120)])
    assert set(hits.values()) == {1}
    assert {n.status for n in _rows(engine, ids).values()} == {"sent"}
    assert '"sent": 120' in done.stdout


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db(request, tmp_path, monkeypatch):
    """A fresh database: a SQLite file, or a new database on the PostgreSQL server (skipped without one)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'senders.db'}"
        monkeypatch.setenv("PROMOWATCH_DATABASE_URL", url)
        yield url
        return
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"pw_senders_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 — no server here
        admin.dispose()
        pytest.skip(f"no PostgreSQL server at {make_url(PG_SERVER).host}: {type(exc).__name__}")
    url = make_url(PG_SERVER).set(database=name).render_as_string(hide_password=False)
    monkeypatch.setenv("PROMOWATCH_DATABASE_URL", url)
    yield url
    from storage.engine import _engine

    _engine.cache_clear()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.mark.slow
def test_a_sender_killed_mid_batch_loses_nothing_and_duplicates_only_its_rows_in_flight(any_db):
    from storage.engine import get_engine

    engine = get_engine(any_db)
    n, concurrency = 240, 4
    with HttpServer(delay=0.05) as http:
        ids = _fill(engine, http, n)
        args = ["send", "--loop", "--workers", "1", "--concurrency", str(concurrency), "--batch", "16"]
        args += ["--lease-seconds", "8", "--until-empty", "--max-seconds", "150", "--idle-poll", "0.2"]
        senders = [_cli(args, any_db, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
        try:
            http.wait_for(40, timeout=60)  # every sender is under way
            senders[0].send_signal(signal.SIGKILL)
            senders[0].wait(timeout=10)
            with Session(engine) as s:  # the killed sender's unrecorded rows are among these
                in_flight = set(s.exec(select(Notification.id).where(Notification.status == "sending")).all())
            for proc in senders[1:]:
                proc.wait(timeout=160)
        finally:
            for proc in senders:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(timeout=10)
        paths = {f"/c{i}": nid for i, nid in enumerate(ids)}
        hits = _hits(http, list(paths))
    rows = _rows(engine, ids)
    assert {r.status for r in rows.values()} == {"sent"}, [(r.id, r.status) for r in rows.values()]
    assert all(count >= 1 for count in hits.values())  # every row delivered
    twice = {paths[p] for p, count in hits.items() if count > 1}
    assert all(count <= 2 for count in hits.values())
    assert twice <= in_flight, [(i, rows[i].attempts, rows[i].last_error) for i in sorted(twice - in_flight)][:5]
    assert len(twice) <= concurrency + deliver_mod.FLUSH_ROWS  # ... sent or being sent, not yet recorded
    assert all(p.returncode == 0 for p in senders[1:])


@pytest.mark.slow
def test_sigterm_stops_the_senders_cleanly_leaving_no_row_claimed(engine, tmp_db):
    with HttpServer(delay=0.4) as http:
        ids = _fill(engine, http, 80)
        proc = _cli(
            ["send", "--loop", "--workers", "2", "--concurrency", "2", "--batch", "20", "--read-timeout", "5"],
            tmp_db,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            http.wait_for(4, timeout=60)
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=40)
            stopped = time.monotonic() - started
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        hits = _hits(http, [f"/c{i}" for i in range(80)])
    rows = _rows(engine, ids)
    assert proc.returncode == 0, err[-2000:]
    assert stopped < 15
    assert "sending" not in {r.status for r in rows.values()}  # claimed but not started: back in the outbox
    assert {r.status for r in rows.values()} == {"sent", "pending"}
    assert max(hits.values()) == 1
    sent = {r.id for r in rows.values() if r.status == "sent"}
    assert sum(hits.values()) == len(sent)


@pytest.mark.slow
def test_a_channel_answering_429_is_slowed_down_while_the_others_keep_flowing(engine, tmp_db):
    with HttpServer() as limited, HttpServer(delay=0.05) as normal:
        limited.rule("/", fail_first=10**9, status=429)
        sub, channels = add_subscriber(
            engine, *[limited.url("/") for _ in range(10)], *[normal.url(f"/n{i}") for i in range(30)]
        )
        now = datetime.now(timezone.utc)
        ids = _queued_now(engine, sub, channels, add_event(engine))
        started = time.monotonic()
        report = send_loop(tmp_db, concurrency=2, until_empty=True, max_seconds=60)
        seconds = time.monotonic() - started
        limited_hits, normal_hits = limited.hits("/"), _hits(normal, [f"/n{i}" for i in range(30)])
    rows = _rows(engine, ids)
    assert set(normal_hits.values()) == {1} and report.sent == 30
    assert limited_hits <= 3  # one 429 (or one per thread in flight then), not ten
    assert seconds < 30 * 0.05 + 10
    deferred = [rows[i] for i in ids[:10]]
    assert {r.status for r in deferred} == {"pending"} and {r.attempts for r in deferred} == {0}
    assert all(r.due_at.replace(tzinfo=timezone.utc) > now for r in deferred)
    assert report.deferred == 10 and report.failed == 0
    assert all("429" in (r.last_error or "") for r in deferred)


@pytest.mark.slow
def test_an_idle_loop_sends_a_row_queued_later_within_its_poll_and_stops_when_asked(engine, tmp_db):
    import threading

    with HttpServer() as http:
        sub, [channel] = add_subscriber(engine, http.url("/late"))
        stop = threading.Event()
        reports: list = []
        loop = threading.Thread(target=lambda: reports.append(send_loop(tmp_db, stop=stop, idle_poll=0.2)))
        loop.start()
        try:
            time.sleep(1.5)  # idle: warmed up, looking every 0.2 s
            [nid] = _queued_now(engine, sub, [channel], add_event(engine))
            queued = time.monotonic()
            http.wait_for(1, timeout=10)
            waited = time.monotonic() - queued
        finally:
            stop.set()
            loop.join(timeout=30)
    assert not loop.is_alive() and reports[0].sent == 1
    assert waited < 2.0  # picked up at the next look, not at a scheduler's next tick
    assert _rows(engine, [nid])[nid].status == "sent"
