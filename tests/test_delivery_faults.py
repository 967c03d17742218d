"""Delivery when things go wrong: a channel that never answers, a sender killed mid-batch, send run again and again.

Real processes and real servers on 127.0.0.1; every wait is bounded.
"""

import json
import os
import signal
import socket
import subprocess
import threading
import time
from datetime import timedelta

from conftest import FIXTURES, PROMOWATCH, ROOT, run
from servers import HttpServer
from sqlmodel import Session, select
from test_deliver import PASSWORD, T0, add_event, add_subscriber, queue, row

from alerts.deliver import LEASE, send_due
from storage.models import Notification
from storage.repository import utcnow


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


def test_sender_killed_mid_batch_loses_nothing(engine, tmp_db):
    with HttpServer(delay=0.25) as http:
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
            http.wait_for(10, timeout=30)
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
        titles = [r["json"]["title"] for r in http.received]
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
