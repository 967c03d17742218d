"""Delivery when things go wrong: a channel that never answers, a sender killed mid-batch, send run again and again.

Real processes and real servers on 127.0.0.1; every wait is bounded.
"""

import json
import logging
import os
import signal
import socket
import subprocess
import threading
import time
from datetime import timedelta

import pytest
from conftest import FIXTURES, PROMOWATCH, ROOT, run
from servers import HttpServer, free_port
from sqlmodel import Session, select
from test_deliver import PASSWORD, T0, add_event, add_subscriber, queue, row, utc

from alerts.deliver import LEASE, Policy, ambiguous_backoff, backoff, classify, send_due
from contract.clock import utcnow
from storage.models import Notification

pytestmark = pytest.mark.slow  # real processes and servers


class SilentServer:
    """Accepts connections on 127.0.0.1 and never answers (a channel that hangs)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
                self.held.append(conn)
            except OSError:
                continue

    def close(self):
        self._stop.set()
        for conn in self.held:
            conn.close()
        self.sock.close()


def test_channel_that_never_answers_times_out_is_retried_and_dies_masked(engine, caplog):
    silent = SilentServer()
    try:
        url = f"json://admin:{PASSWORD}@127.0.0.1:{silent.port}/hook?rto=1&cto=1"
        sub, [channel] = add_subscriber(engine, url)
        nid = queue(engine, sub, channel, add_event(engine))
        now = T0
        for attempt in range(1, 4):
            start = time.monotonic()
            report = send_due(now=now, max_attempts=3)
            assert time.monotonic() - start < 15  # the read timeout, not a hang
            n = row(engine, nid)
            assert n.attempts == attempt and report.sent == 0
            if attempt < 3:
                assert n.status == "pending" and n.due_at.replace(tzinfo=now.tzinfo) > now
                now = n.due_at.replace(tzinfo=now.tzinfo) + timedelta(seconds=1)
        assert n.status == "dead" and n.last_error
        assert PASSWORD not in n.last_error and PASSWORD not in caplog.text
        assert len(silent.held) == 3  # one connection per attempt, never answered
    finally:
        silent.close()


def _count_sent(engine) -> int:
    with Session(engine) as s:
        return len(s.execute(select(Notification.id).where(Notification.status == "sent")).all())


def test_sender_killed_mid_batch_loses_nothing(engine, tmp_db):
    with HttpServer(delay=0.4) as http:
        sub, [channel] = add_subscriber(engine, http.url("/hook"), lang="en")
        names = {}
        for i in range(40):
            event = add_event(engine, key=f"o{i:02d}", name=f"Offer O{i:02d}")
            names[f"Offer O{i:02d}"] = queue(engine, sub, channel, event)
        env = {**os.environ, "PROMOWATCH_DATABASE_URL": tmp_db}
        proc = subprocess.Popen(
            PROMOWATCH + ["send"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            # kill once some results are recorded (a sender records in small batches, so a row answered a moment
            # ago may still be unrecorded) and while most rows are still to go
            http.wait_for(1, timeout=30)
            deadline = time.monotonic() + 30
            while not _count_sent(engine) and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        with Session(engine) as s:
            states = {n.id: n.status for n in s.execute(select(Notification)).scalars()}
        in_flight = {nid for nid, status in states.items() if status == "sending"}
        # killed mid-batch: some sent, the rest claimed (in flight) and not recorded
        assert in_flight and "sent" in states.values(), states
        run(PROMOWATCH + ["send"], env, timeout=120)  # nothing due: rows in flight wait for their lease
        assert {nid for nid, st in ((n, row(engine, n).status) for n in states) if st != "sent"} == in_flight
        report = send_due(now=utcnow() + LEASE + timedelta(minutes=1))  # past the lease: reclaimed
        assert report.reclaimed == len(in_flight)
        assert {row(engine, n).status for n in states} == {"sent"}
        time.sleep(0.3)
        # a request the kill cut short arrives without its body: not a delivery
        titles = [r["json"]["title"] for r in http.received if isinstance(r["json"], dict)]
    delivered = {nid: sum(name in t for t in titles) for name, nid in names.items()}
    assert all(count >= 1 for count in delivered.values()), delivered  # nothing lost
    assert {nid for nid, count in delivered.items() if count > 1} <= in_flight  # twice only if in flight


def test_one_price_drop_is_one_notification_however_often_send_runs(env, tmp_path):
    items = json.loads((FIXTURES / "iliad" / "mobile.html.expected.json").read_text("utf-8"))
    before, after = tmp_path / "before.json", tmp_path / "after.json"
    before.write_text(json.dumps(items), "utf-8")
    items[0]["price_cents"] -= 100
    after.write_text(json.dumps(items), "utf-8")
    with HttpServer() as sink:
        run(PROMOWATCH + ["import", str(before)], env)
        run(PROMOWATCH + ["subscribe", "--channel", sink.url("/sink"), "--kind", "price_drop"], env)
        run(PROMOWATCH + ["import", str(after)], env)
        run(PROMOWATCH + ["import", str(after)], env)  # the same page again: no new event
        for _ in range(3):
            run(PROMOWATCH + ["send"], env)
        time.sleep(0.3)
        received = sink.received
    assert len(received) == 1 and str(items[0]["price_cents"] / 100).replace(".", ",")[:3] in json.dumps(
        received[0]["json"], ensure_ascii=False
    )


# ------------------------------------------------------------------------------------ failure kinds, one table


class FullBacklog:
    """A port on 127.0.0.1 whose accept queue is full: a new connection is never established (connect timeout)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0)
        self.port = self.sock.getsockname()[1]
        self.fillers = []
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", self.port))
            self.fillers.append(filler)
        time.sleep(0.2)

    def close(self):
        for filler in self.fillers:
            filler.close()
        self.sock.close()


def _refused(http, backlog):
    return f"json://admin:{PASSWORD}@127.0.0.1:{free_port()}/hook?cto=1&rto=1", None


# (case, URL maker -> (url, path on the HttpServer or None), kind, words in last_error, ambiguous, requests per try)
FAILURES = [
    ("refused", _refused, "refused", "connection refused (not sent)", False, None),
    (
        "connect timeout",
        lambda http, backlog: (f"json://admin:{PASSWORD}@127.0.0.1:{backlog.port}/hook?cto=1&rto=1", None),
        "connect_timeout",
        "timed out connecting (not sent)",
        False,
        None,
    ),
    (
        "SMTP refused",
        lambda http, backlog: (
            f"mailto://user:{PASSWORD}@127.0.0.1:{free_port()}?from=pw@example.com&to=to@example.com",
            None,
        ),
        "refused",
        "connection refused (not sent)",
        False,
        None,
    ),
    ("HTTP 500", lambda http, backlog: (http.url("/e500", "admin", PASSWORD), "/e500"), "http", "HTTP 500", False, 1),
    (
        "HTTP 500, URL asks Apprise to retry",
        lambda http, backlog: (http.url("/e500r", "admin", PASSWORD) + "?retry=3", "/e500r"),
        "http",
        "HTTP 500",
        False,
        1,
    ),
    (
        "TLS to a plain HTTP server",
        lambda http, backlog: (f"jsons://admin:{PASSWORD}@127.0.0.1:{http.port}/tls?cto=1&rto=1", None),
        "tls",
        "TLS failed (not sent)",
        False,
        None,
    ),
    (
        "answers after the read timeout",
        lambda http, backlog: (http.url("/slow", "admin", PASSWORD) + "?rto=1", "/slow"),
        "timeout_after_send",
        "timed out after sending, no answer within 1 s (it may have arrived)",
        True,
        1,
    ),
    (
        "answers after the read timeout, URL asks Apprise to retry",
        lambda http, backlog: (http.url("/slowr", "admin", PASSWORD) + "?rto=1&retry=2", "/slowr"),
        "timeout_after_send",
        "timed out after sending",
        True,
        1,
    ),
    (
        "closes the connection without an answer",
        lambda http, backlog: (http.url("/drop", "admin", PASSWORD), "/drop"),
        "closed_after_send",
        "connection closed after sending, no answer (it may have arrived)",
        True,
        1,
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize("case,make,kind,words,ambiguous,per_try", FAILURES, ids=[f[0] for f in FAILURES])
def test_each_failure_kind_is_named_and_retried_by_its_own_rules(
    engine, caplog, case, make, kind, words, ambiguous, per_try
):
    backlog = FullBacklog()
    try:
        with HttpServer() as http:
            http.rule("/e500", fail_first=10**6)
            http.rule("/e500r", fail_first=10**6)
            http.rule("/slow", delay=3)
            http.rule("/slowr", delay=3)
            http.rule("/drop", drop=True)
            url, path = make(http, backlog)
            sub, [channel] = add_subscriber(engine, url)
            nid = queue(engine, sub, channel, add_event(engine))
            policy = Policy(max_attempts=6, ambiguous_max_attempts=2)
            now = T0
            for attempt in (1, 2):
                started = time.monotonic()
                report = send_due(now=now, policy=policy)
                assert time.monotonic() - started < 10  # bounded by the channel's timeouts
                n = row(engine, nid)
                assert (n.attempts, n.failure_kind) == (attempt, kind), n.last_error
                assert words in n.last_error and PASSWORD not in n.last_error
                assert report.rows[0]["kind"] == kind and report.ambiguous == int(ambiguous)
                if path:
                    assert http.hits(path) == attempt * per_try  # one request per try: Apprise does not resend
                if attempt == 1:
                    assert n.status == "pending" and n.ambiguous_failures == int(ambiguous)
                    wait = utc(n.due_at) - now
                    assert wait == (ambiguous_backoff(1) if ambiguous else backoff(1))
                    assert (wait >= timedelta(minutes=30)) == ambiguous
                    now = utc(n.due_at)
            # the second try: an ambiguous row is dead at its cap (2 here); any other waits its normal back-off
            if ambiguous:
                assert n.status == "dead" and n.ambiguous_failures == 2 and "not tried again" in n.last_error
            else:
                assert n.status == "pending" and utc(n.due_at) - now == backoff(2)
            assert PASSWORD not in caplog.text
    finally:
        backlog.close()


@pytest.mark.parametrize(
    "logged,kind",
    [
        (["Socket Exception: ... Caused by NameResolutionError(\"Failed to resolve 'x.invalid'\")"], "dns"),
        (["Socket Exception: [Errno -2] Name or service not known"], "dns"),  # smtplib
        (["Socket Exception: [Errno 111] Connection refused"], "refused"),  # smtplib
        (["Socket Exception: timed out"], "timeout_after_send"),  # smtplib: may have been mid-DATA
        (["Socket Exception: Connection unexpectedly closed"], "closed_after_send"),
        (["Socket Exception: ... [Errno 113] No route to host"], "connect_failed"),
        (["Failed to send Telegram notification: Unauthorized, error=401."], "http"),
        (["Apprise reported a failure"], "other"),
    ],
)
def test_failure_texts_the_loopback_cannot_produce_are_classified(logged, kind):
    assert classify(logged)[0] == kind


@pytest.mark.slow
def test_a_channel_answering_after_6_s_gets_the_message_once(engine):
    """The issue's case: Apprise's own read timeout (4 s) made this a failure and a duplicate; the sender's
    explicit per-channel read timeout (15 s by default) waits for the answer."""
    with HttpServer() as http:
        http.rule("/six", delay=6)
        sub, [channel] = add_subscriber(engine, http.url("/six"))
        nid = queue(engine, sub, channel, add_event(engine))
        report = send_due(now=T0)
        assert report.sent == 1 and row(engine, nid).status == "sent"
        assert http.hits("/six") == 1


@pytest.mark.slow
def test_the_applications_log_gets_no_apprise_debug_records(engine):
    """Failures are classified from Apprise's DEBUG records, yet a service logging at WARNING shows none."""
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    keep, apprise_logger = Keep(logging.NOTSET), logging.getLogger("apprise")
    level = apprise_logger.level
    logging.getLogger().addHandler(keep)
    apprise_logger.setLevel(logging.WARNING)  # as promowatch.serve.setup_logging does
    try:
        sub, [channel] = add_subscriber(engine, f"json://127.0.0.1:{free_port()}/hook")
        nid = queue(engine, sub, channel, add_event(engine))
        send_due(now=T0)
        # the logger is as the application left it
        assert apprise_logger.level == logging.WARNING and apprise_logger.propagate
        assert not any(type(h).__name__ == "_AppriseDetail" for h in apprise_logger.handlers)
    finally:
        logging.getLogger().removeHandler(keep)
        apprise_logger.setLevel(level)
    assert row(engine, nid).failure_kind == "refused"
    shown = [r for r in records if r.name.startswith("apprise")]
    assert shown and all(r.levelno >= logging.WARNING for r in shown)


@pytest.mark.slow
def test_sender_config_keys_reach_the_services_sender(engine, tmp_db):
    """[sender] read_timeout / ambiguous_backoff / ambiguous_max_attempts, as the service passes them to the
    worker's send task (SenderConfig.policy() -> worker_child._send)."""
    from promowatch import worker_child
    from promowatch.service_config import parse_config

    config = parse_config(
        {"sender": {"read_timeout": "1s", "ambiguous_backoff": "2h", "ambiguous_max_attempts": 1}}, operators=[]
    )
    with HttpServer() as http:
        http.rule("/slow", delay=3)
        sub, [channel] = add_subscriber(engine, http.url("/slow"))
        nid = queue(engine, sub, channel, add_event(engine), due=utcnow() - timedelta(seconds=1))
        data = worker_child._send(database_url=tmp_db, limit=10, concurrency=2, **config.sender.policy())
        assert (data["failed"], data["dead"], data["ambiguous"]) == (0, 1, 1)
        n = row(engine, nid)
        assert (n.status, n.failure_kind) == ("dead", "timeout_after_send") and http.hits("/slow") == 1
        assert "no answer within 1 s" in n.last_error and "sent 1x without an answer" in n.last_error
    defaults = parse_config({}, operators=[]).sender.policy()
    assert Policy(**{**defaults, "ambiguous_backoff": timedelta(seconds=defaults["ambiguous_backoff"])}) == Policy()


@pytest.mark.parametrize(
    "sender,message",
    [
        ({"read_timeout": "10m"}, "[sender] read_timeout: 10 min is too long; at most 5 min"),
        ({"connect_timeout": "soon"}, "[sender] connect_timeout: 'soon' is not a duration"),
        ({"ambiguous_max_attempts": 0}, "[sender] ambiguous_max_attempts: expected a whole number of at least 1"),
        ({"ambiguous_backof": "1h"}, "did you mean 'ambiguous_backoff'?"),
    ],
)
def test_bad_sender_timeouts_and_caps_are_one_clear_error(sender, message):
    from promowatch.service_config import ConfigError, parse_config

    with pytest.raises(ConfigError) as caught:
        parse_config({"sender": sender}, "promowatch.toml", operators=[])
    assert message in str(caught.value) and str(caught.value).startswith("promowatch.toml: ")
