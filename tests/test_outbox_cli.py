"""`promowatch send`, `notifications` and `test-notify` as real processes on a real SQLite file, sending to the
loopback SMTP and HTTP servers of tests/servers.py. No output may carry a channel's password."""

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
from conftest import ROOT
from servers import HttpServer, SmtpServer
from test_deliver import add_event, add_subscriber, queue, row

from alerts.render import render_test
from storage.engine import get_engine

PROMOWATCH = [sys.executable, "-m", "promowatch.cli"]
PASSWORD = "Hunter2-cli-s3cret"


def run(*args):
    proc = subprocess.run(
        PROMOWATCH + list(args),
        cwd=ROOT,
        env=dict(os.environ),
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
def outbox(tmp_db, http):
    """Two due notifications: one to a working channel, one to a channel (with a password) answering 500."""
    engine = get_engine(tmp_db)
    http.rule("/down", fail_first=10**6)
    sub, [good, bad] = add_subscriber(engine, http.url("/ok"), http.url("/down", "alice", PASSWORD), lang="en")
    event_id = add_event(engine, name="Giga 150 5G")
    due = datetime.now(timezone.utc) - timedelta(minutes=1)
    return engine, queue(engine, sub, good, event_id, due=due), queue(engine, sub, bad, event_id, due=due)


def test_send_prints_a_summary_and_exits_1_when_something_failed(outbox, http):
    engine, ok_id, bad_id = outbox
    proc = run("send")
    assert proc.returncode == 1, proc.stderr
    assert "sent 1 · failed 1 (will retry) · dead 0" in proc.stdout
    assert f"#{bad_id} json://alice:****@127.0.0.1:{http.port}/down: pending after 1 attempt(s)" in proc.stdout
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
    assert "price_drop" in table.stdout and "iliad giga-150" in table.stdout and "****" in table.stdout

    pending = json.loads(run("notifications", "--status", "pending", "--json").stdout)
    assert [r["id"] for r in pending] == [bad_id]
    assert pending[0]["channel"].startswith("json://alice:****@127.0.0.1")
    assert "500" in pending[0]["last_error"] and pending[0]["attempts"] == 1
    assert "url" not in pending[0]
    everything = json.loads(run("notifications", "--json", "--limit", "1").stdout)
    assert [r["id"] for r in everything] == [bad_id]  # newest first

    bogus = run("notifications", "--status", "lost")
    assert bogus.returncode == 2 and "unknown status" in bogus.stderr


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
