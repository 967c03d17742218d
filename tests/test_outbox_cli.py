"""`promowatch send`, `notifications` and `test-notify` as real processes on a real SQLite file, sending to the
loopback SMTP and HTTP servers of tests/servers.py. No output may carry a channel's password."""

import json
import os
import signal
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import processes
import pytest
from conftest import ROOT
from servers import HttpServer, SmtpServer
from sqlmodel import Session, select
from test_deliver import add_event, add_subscriber, queue, row, utc

from alerts.render import render_test
from storage.engine import get_engine
from storage.models import Notification

pytestmark = pytest.mark.slow  # real processes and servers

PROMOWATCH = [sys.executable, "-m", "promowatch.cli"]
PASSWORD = "Hunter2-cli-s3cret"


def run(*args, tz="Europe/Rome"):
    proc = processes.run(
        PROMOWATCH + list(args),
        cwd=ROOT,
        env={**os.environ, "TZ": tz},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert PASSWORD not in proc.stdout and PASSWORD not in proc.stderr, (proc.stdout, proc.stderr)
    return proc


@pytest.fixture
def http():
    with HttpServer() as server:
        yield server


@pytest.fixture
def down():
    """A host of its own answering 500: its 500s slow down that channel only (back-pressure), so the working
    channel's row is sent whichever row goes first."""
    with HttpServer() as server:
        server.rule("/down", fail_first=10**6)
        yield server


@pytest.fixture
def outbox(tmp_db, http, down):
    """Two due notifications: one to a working channel, one to a channel (with a password) answering 500."""
    engine = get_engine(tmp_db)
    sub, [good, bad] = add_subscriber(engine, http.url("/ok"), down.url("/down", "alice", PASSWORD), lang="en")
    event_id = add_event(engine, name="Giga 150 5G")
    due = datetime.now(timezone.utc) - timedelta(minutes=1)
    return engine, queue(engine, sub, good, event_id, due=due), queue(engine, sub, bad, event_id, due=due)


def test_send_prints_a_summary_and_exits_1_when_something_failed(outbox, http, down):
    engine, ok_id, bad_id = outbox
    proc = run("send")
    assert proc.returncode == 1, proc.stderr
    assert "sent 1 · failed 1 (will retry) · dead 0" in proc.stdout
    assert f"#{bad_id} json://alice:****@127.0.0.1:{down.port}/down: pending after 1 attempt" in proc.stdout
    assert "error=500" in proc.stdout
    assert row(engine, ok_id).status == "sent" and row(engine, bad_id).status == "pending"
    assert [p["path"] for p in http.wait_for(1)] == ["/ok"]

    again = run("send", "--json")  # the failed one waits for its back-off: nothing due, nothing failed
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    assert (summary["claimed"], summary["sent"], summary["failed"], summary["dead"]) == (0, 0, 0, 0)


def test_send_json_reports_rows_with_masked_errors(outbox):
    _, _, bad_id = outbox
    proc = run("send", "--json", "--limit", "5")
    assert proc.returncode == 1
    summary = json.loads(proc.stdout)
    assert (summary["claimed"], summary["sent"], summary["failed"]) == (2, 1, 1)
    failed = next(r for r in summary["rows"] if r["id"] == bad_id)
    assert failed["status"] == "pending" and failed["attempts"] == 1 and "500" in failed["error"]
    assert failed["channel"].startswith("json://alice:****@127.0.0.1")


def test_send_marks_dead_after_max_attempts(outbox):
    engine, _, bad_id = outbox
    proc = run("send", "--max-attempts", "1")
    assert proc.returncode == 1
    assert "dead 1" in proc.stdout
    assert row(engine, bad_id).status == "dead"


def test_notifications_table_json_and_status_filter(outbox):
    _, _, bad_id = outbox
    run("send")
    table = run("notifications")
    assert table.returncode == 0, table.stderr
    for header in ("id", "subscription", "channel", "kind", "offer", "status", "attempts", "due", "last error"):
        assert header in table.stdout
    assert "price_drop" in table.stdout and "iliad Giga 150 5G" in table.stdout and "****" in table.stdout
    assert "giga-150" not in table.stdout  # the offer's name, not its key

    pending = json.loads(run("notifications", "--status", "pending", "--json").stdout)
    assert [r["id"] for r in pending] == [bad_id]
    assert pending[0]["channel"].startswith("json://alice:****@127.0.0.1")
    assert "500" in pending[0]["last_error"] and pending[0]["attempts"] == 1
    assert "url" not in pending[0]
    everything = json.loads(run("notifications", "--json", "--limit", "1").stdout)
    assert [r["id"] for r in everything] == [bad_id]  # newest first

    bogus = run("notifications", "--status", "lost")
    assert bogus.returncode == 2 and "unknown status" in bogus.stderr
    assert "known: pending, sending, sent, dead, failed, ambiguous, skipped, leased" in bogus.stderr


def test_test_notify_json_in_chinese(tmp_db, http):
    proc = run("test-notify", http.url("/t"), "--lang", "zh")
    assert proc.returncode == 0, proc.stderr
    assert "test message sent" in proc.stdout
    [post] = http.wait_for(1, timeout=10)
    expected = render_test("zh")
    assert (post["json"]["title"], post["json"]["message"]) == (expected.title, expected.body)


def test_test_notify_email(tmp_db):
    with SmtpServer() as smtp:
        url = f"mailto://127.0.0.1:{smtp.port}?from=promowatch@example.com&to=tester@example.com"
        proc = run("test-notify", url, "--lang", "en")
        assert proc.returncode == 0, proc.stderr
        [mail] = smtp.wait_for(1, timeout=10)
    expected = render_test("en")
    assert mail["Subject"] == expected.title and mail["To"] == "tester@example.com"
    assert mail.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n").strip() == expected.body.strip()


def test_test_notify_refuses_an_unusable_url(tmp_db):
    proc = run("test-notify", f"foo://alice:{PASSWORD}@example.org/x")
    assert proc.returncode == 2
    assert "Apprise cannot use the channel URL foo://****" in proc.stderr
    proc = run("test-notify", "json://")
    assert proc.returncode == 2 and "json://****" in proc.stderr


def test_test_notify_failure_shows_the_masked_reason(tmp_db, http):
    http.rule("/down", fail_first=10**6)
    proc = run("test-notify", http.url("/down", "alice", PASSWORD))
    assert proc.returncode == 1
    assert "sending failed" in proc.stderr and "500" in proc.stderr and "alice:****@127.0.0.1" in proc.stderr


def test_test_notify_unknown_language(tmp_db, http):
    proc = run("test-notify", http.url("/t"), "--lang", "fr")
    assert proc.returncode == 2 and "unknown language" in proc.stderr
    assert http.received == []


def test_header_tokens_never_shown_even_if_the_stored_masked_url_has_them(tmp_db, http):
    import apprise
    from sqlmodel import Session

    from storage.models import SubscriptionChannel

    engine = get_engine(tmp_db)
    url = f"{http.url('/h')}?+X-Api-Key={PASSWORD}"
    sub, [channel] = add_subscriber(engine, url)
    with Session(engine) as s:  # what plain Apprise privacy mode stores: header values in clear
        s.get(SubscriptionChannel, channel).url_masked = apprise.Apprise.instantiate(url).url(privacy=True)
        s.commit()
    nid = queue(engine, sub, channel, add_event(engine), due=datetime.now(timezone.utc) - timedelta(seconds=5))
    assert run("send").returncode == 0  # run() asserts the token is in no output
    [post] = http.wait_for(1)
    assert post["headers"]["X-Api-Key"] == PASSWORD  # sent with the real token
    listing = run("notifications", "--json")
    assert json.loads(listing.stdout)[0]["id"] == nid and "X-Api-Key=****" in listing.stdout
    assert run("notifications").returncode == 0


# ------------------------------------------------------------------------------------------ what a person reads


def test_notifications_shows_offer_names_in_json_and_times_in_the_readers_zone(outbox):
    _, ok_id, _ = outbox
    rows = json.loads(run("notifications", "--json").stdout)
    assert {r["offer_name"] for r in rows} == {"Giga 150 5G"}
    table = run("notifications", "--status", "pending", tz="Asia/Shanghai").stdout
    assert " CST" in table and "UTC" not in table  # due times in the reader's zone, the zone named


def _row_in_every_state(engine, http):
    """One outbox row for each word `send` prints about rows; returns word -> the row ids it must list."""
    http.rule("/down", fail_first=10**6)
    sub, [good, bad] = add_subscriber(engine, http.url("/ok"), http.url("/down"))
    gone, [gone_channel] = add_subscriber(engine, http.url("/gone"), active=False)
    now = datetime.now(timezone.utc)
    ids = {
        "sent": queue(engine, sub, good, add_event(engine, key="a"), status="sent", attempts=1),
        "pending": queue(engine, sub, good, add_event(engine, key="b"), due=now + timedelta(hours=1)),
        "failed": queue(engine, sub, bad, add_event(engine, key="c"), due=now - timedelta(seconds=1)),
        "sending": queue(engine, sub, good, add_event(engine, key="d"), status="sending", claimed_at=now),
        "skipped": queue(engine, gone, gone_channel, add_event(engine, key="e"), due=now - timedelta(seconds=1)),
    }
    with Session(engine) as s:  # a try that went out without an answer, then delivered: maybe twice
        s.get(Notification, ids["sent"]).ambiguous_failures = 1
        s.commit()
    assert run("send").returncode == 1  # `failed` fails once; `skipped` is recorded dead
    return {
        "pending": {ids["pending"], ids["failed"]},
        "sending": {ids["sending"]},
        "leased": {ids["sending"]},
        "sent": {ids["sent"]},
        "dead": {ids["skipped"]},
        "failed": {ids["failed"]},
        "ambiguous": {ids["sent"]},
        "skipped": {ids["skipped"]},
    }


def test_notifications_status_takes_every_word_send_prints(tmp_db, http):
    from alerts.deliver import STATUSES, VIEWS

    expected = _row_in_every_state(get_engine(tmp_db), http)
    assert set(expected) == set(STATUSES + VIEWS)
    for word, ids in expected.items():
        proc = run("notifications", "--status", word, "--json")
        assert proc.returncode == 0, (word, proc.stderr)
        assert {r["id"] for r in json.loads(proc.stdout)} == ids, word
        assert run("notifications", "--status", word).returncode == 0
    table = run("notifications", "--status", "ambiguous").stdout
    assert "maybe delivered 1x" in table
    assert "leased until" in run("notifications", "--status", "leased").stdout


@pytest.mark.slow
def test_send_says_a_try_timed_out_after_sending_and_the_row_waits_long(tmp_db):
    engine = get_engine(tmp_db)
    with HttpServer() as http:
        http.rule("/slow", delay=4)
        sub, [channel] = add_subscriber(engine, http.url("/slow", "alice", PASSWORD))
        nid = queue(engine, sub, channel, add_event(engine), due=datetime.now(timezone.utc) - timedelta(seconds=1))
        proc = run("send", "--read-timeout", "1")
        assert proc.returncode == 1
        assert "1 of them ambiguous" in proc.stdout
        assert f"#{nid} json://alice:****@127.0.0.1:{http.port}/slow: pending after 1 attempt" in proc.stdout
        assert "timed out after sending, no answer within 1 s (it may have arrived)" in proc.stdout
        assert "next try in 30 min; dead after 3 such tries" in proc.stdout
        assert http.hits("/slow") == 1
    [listed] = json.loads(run("notifications", "--status", "ambiguous", "--json").stdout)
    assert (listed["id"], listed["failure_kind"], listed["ambiguous_failures"]) == (nid, "timeout_after_send", 1)
    assert row(engine, nid).status == "pending"


@pytest.mark.slow
def test_after_a_killed_send_send_says_how_many_rows_are_leased_and_until_when(tmp_db):
    from alerts.deliver import LEASE

    engine = get_engine(tmp_db)
    with HttpServer(delay=0.3) as http:
        sub, [channel] = add_subscriber(engine, http.url("/hook"))
        due = datetime.now(timezone.utc) - timedelta(seconds=1)
        for i in range(30):
            queue(engine, sub, channel, add_event(engine, key=f"k{i}"), due=due)
        proc = subprocess.Popen(
            PROMOWATCH + ["send", "--concurrency", "2"],
            cwd=ROOT,
            env=dict(os.environ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            http.wait_for(2, timeout=30)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        with Session(engine) as s:
            leased = s.execute(select(Notification).where(Notification.status == "sending")).scalars().all()
        assert leased
        until = max(utc(n.claimed_at) for n in leased) + LEASE
        again = run("send")
        assert again.returncode == 0, again.stderr
        local = until.astimezone(ZoneInfo("Europe/Rome")).strftime("%Y-%m-%d %H:%M CET")
        assert f"{len(leased)} notifications leased" in again.stdout, again.stdout
        assert f"until {local}" in again.stdout
        report = json.loads(run("send", "--json").stdout)
        assert report["leased"] == len(leased) and datetime.fromisoformat(report["leased_until"]) == until


def test_retry_puts_a_dead_notification_back_and_leaves_others(outbox, http):
    engine, ok_id, bad_id = outbox
    assert run("send", "--max-attempts", "1").returncode == 1  # the bad channel's row is dead at once
    assert row(engine, bad_id).status == "dead"
    proc = run("retry", str(bad_id), str(ok_id))
    assert proc.returncode == 1, proc.stderr
    assert f"back in the outbox, due now: #{bad_id}" in proc.stdout
    assert f"left alone: #{ok_id}" in proc.stderr
    assert row(engine, bad_id).status == "pending" and row(engine, ok_id).status == "sent"
