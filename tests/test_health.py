"""Source health alerts to a real loopback HTTP server (Apprise json://), state kept in the database."""

import logging
import time
from datetime import datetime, timedelta, timezone

import pytest
from servers import HttpServer

from contract.offer import normalise
from promowatch import health
from storage.repository import record_crawl

T0 = datetime(2026, 9, 15, 8, 0, tzinfo=timezone.utc)


class Hook:
    """tests/servers.HttpServer as an admin channel: the JSON bodies it received; `status` answers every POST."""

    def __init__(self):
        self._server = HttpServer().__enter__()
        self.port = self._server.port

    @property
    def status(self) -> int:
        return self._status

    @status.setter
    def status(self, code: int) -> None:
        self._status = code
        self._server.rule("/", fail_first=0 if code < 400 else 10**9, status=code)

    _status = 200

    @property
    def received(self) -> list:
        return [r["json"] for r in self._server.received]

    def url(self, secret=""):
        return self._server.url("/", user="admin" if secret else None, password=secret or None)

    def wait_for(self, count, timeout=5.0):
        return [r["json"] for r in self._server.wait_for(count, timeout=timeout)]

    def close(self):
        self._server.__exit__(None, None, None)


@pytest.fixture
def hook():
    h = Hook()
    yield h
    h.close()


def crawl(db, status, n, operator="iliad", error=None, finish_reason="finished", stored=7):
    started = T0 + timedelta(hours=n)
    items = [
        normalise(
            {
                "offer_key": f"k{i}",
                "name": f"Offer {i}",
                "plan_type": "prepaid",
                "price_cents": 999,
                "operator": operator,
                "url": "https://example.com",
                "period_days": 30,
            }
        )
        for i in range(stored)
    ]
    return record_crawl(
        operator=operator,
        started_at=started,
        finished_at=started + timedelta(seconds=5),
        finish_reason=finish_reason,
        status=status,
        items=items if status == "healthy" else [],
        items_scraped=stored if status != "failed" else 0,
        dropped={},
        error=error,
        database_url=db,
    ).run_id


def test_three_unhealthy_crawls_one_alert_then_silence_then_one_recovery(tmp_db, hook, caplog):
    caplog.set_level(logging.DEBUG)
    url = hook.url(secret="s3cr3tpass")
    check = lambda: health.check(["iliad"], threshold=3, channels=[url], database_url=tmp_db)  # noqa: E731
    crawl(tmp_db, "healthy", 0)
    assert check() == []
    crawl(tmp_db, "blocked", 1, error="block page")
    crawl(tmp_db, "blocked", 2, error="block page")
    assert check() == []  # two in a row: not yet
    third = crawl(tmp_db, "blocked", 3, error="block page")
    [alert] = check()
    assert alert.kind == "alert" and alert.delivered == 1 and alert.crawl_run_id == third
    [message] = hook.wait_for(1)
    assert "iliad" in message["title"] and "blocked" in message["title"]
    assert "3 crawls in a row" in message["message"] and "2026-09-15 09:00 UTC" in message["message"]  # since
    assert message["type"] == "failure"
    crawl(tmp_db, "failed", 4, error="no offer found on the page (layout changed?)")
    assert check() == [] and check() == []  # a 4th unhealthy crawl, and a restart: nothing
    crawl(tmp_db, "failed", 5, finish_reason="interrupted", error="interrupted: the service stopped")
    assert check() == []
    healthy = crawl(tmp_db, "healthy", 6)
    [recovery] = check()
    assert recovery.kind == "recovery" and recovery.crawl_run_id == healthy
    messages = hook.wait_for(2)
    assert len(messages) == 2 and "healthy again" in messages[1]["title"] and messages[1]["type"] == "success"
    assert "since 2026-09-15 09:00 UTC" in messages[1]["message"]
    crawl(tmp_db, "healthy", 7)
    assert check() == []
    time.sleep(0.2)
    assert len(hook.received) == 2
    assert "s3cr3tpass" not in caplog.text and "s3cr3tpass" not in alert.body


def test_reasons_of_the_alert(tmp_db, hook):
    for n, (status, error) in enumerate(
        [
            ("failed", "HTTP error 503×1"),
            ("partial", "only 2 offers, expected at least 5"),
            ("failed", "no offer found on the page (layout changed?)"),
        ]
    ):
        crawl(tmp_db, status, n, error=error, stored=2)
    [alert] = health.check(["iliad"], threshold=3, channels=[hook.url()], database_url=tmp_db)
    assert "layout changed" in alert.title and "failed x2, partial x1" in alert.body
    from sqlalchemy import select
    from sqlmodel import Session

    from storage.engine import get_engine
    from storage.models import CrawlRun

    with Session(get_engine(tmp_db)) as session:
        runs = {r.error: health.reason(r) for r in session.execute(select(CrawlRun)).scalars()}
    assert runs["HTTP error 503×1"] == "HTTP error" and runs["only 2 offers, expected at least 5"] == "too few offers"


def test_an_alert_nobody_received_is_sent_at_the_next_check(tmp_db, hook):
    hook.status = 500
    for n in range(3):
        crawl(tmp_db, "blocked", n, error="block page")
    [failed] = health.check(["iliad"], threshold=3, channels=[hook.url()], database_url=tmp_db)
    assert failed.delivered == 0 and failed.failed
    hook.status = 200
    [sent] = health.check(["iliad"], threshold=3, channels=[hook.url()], database_url=tmp_db)
    assert sent.delivered == 1 and len(hook.wait_for(1)) == 1
    assert health.check(["iliad"], threshold=3, channels=[hook.url()], database_url=tmp_db) == []


def test_without_admin_channels_the_alert_is_logged_once(tmp_db, caplog):
    for n in range(3):
        crawl(tmp_db, "blocked", n, error="block page")
    with caplog.at_level(logging.WARNING, logger="promowatch.health"):
        assert len(health.check(["iliad"], threshold=3, database_url=tmp_db)) == 1
        assert health.check(["iliad"], threshold=3, database_url=tmp_db) == []
    assert sum("no admin channel" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.parametrize(
    ("status", "error", "finish_reason", "want"),
    [
        ("blocked", "block page", "finished", "blocked (a block or captcha page answered)"),
        ("failed", "HTTP error 503×1", "finished", "HTTP error"),
        ("failed", "download errors: 2", "finished", "the page could not be fetched"),
        ("partial", "only 2 offers, expected at least 5", "finished", "too few offers"),
        (
            "partial",
            "dropped 3 of 7 cards (more than 20% invalid): a (negative_price), b (no_price), c (no_price)",
            "finished",
            "too many offers failed validation (layout changed?)",
        ),
        (
            "failed",
            "no offer found on the page (layout changed?)",
            "finished",
            "layout changed (no offer found on the page)",
        ),
        ("failed", "crawl ran past its time limit", "worker_killed", "hung (the crawl ran past its time limit)"),
    ],
)
def test_reason_table(status, error, finish_reason, want):
    from storage.models import CrawlRun

    run = CrawlRun(
        operator="iliad", started_at=None, finished_at=None, status=status, error=error, finish_reason=finish_reason
    )
    assert health.reason(run) == want
