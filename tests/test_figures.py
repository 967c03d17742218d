"""The service's figures (storage/figures.py) and the revival of dead notifications (alerts.deliver.retry_dead),
on a real SQLite file with rows sent to a real loopback HTTP server."""

from datetime import timedelta

import pytest
from servers import HttpServer
from test_deliver import T0, add_event, add_subscriber, queue, row
from test_detect import store

from alerts.deliver import retry_dead, send_due
from storage.figures import LATENCY_BUCKETS, figures


@pytest.fixture
def http():
    with HttpServer() as server:
        yield server


def test_figures_count_what_the_tables_hold(engine, http):
    store([{"offer_key": "a", "price_cents": 999}, {"offer_key": "b", "price_cents": 499}], day="2026-09-14")
    store([], status="failed", day="2026-09-15")
    store([{"offer_key": "x", "price_cents": 999}], operator="tim", day="2026-09-15")
    with HttpServer() as down:  # the failing channel on a host of its own: its 500 slows down that channel only
        down.rule("/down", fail_first=10**6)
        sub, [good, bad] = add_subscriber(engine, http.url("/ok"), down.url("/down"))
        event = add_event(engine, key="c", operator="vodafone")
        queue(engine, sub, good, event)
        failing = queue(engine, sub, bad, event)
        add_subscriber(engine, http.url("/ok"), active=False)
        sent_at = T0 + timedelta(seconds=7)
        assert send_due(now=sent_at, max_attempts=1).sent == 1
    assert row(engine, failing).status == "dead"

    f = figures(now=sent_at)
    assert f.crawls == {
        ("iliad", "healthy"): 1,
        ("iliad", "failed"): 1,
        ("tim", "healthy"): 1,
        ("vodafone", "healthy"): 1,
    }
    assert f.last_crawl_at["iliad"].date().isoformat() == "2026-09-15"
    assert f.last_healthy_at["iliad"] < f.last_crawl_at["iliad"]  # the latest crawl failed
    assert f.offers == {"iliad": 2, "tim": 1, "vodafone": 1}
    assert f.events == {"price_drop": 1}
    assert f.outbox == {"sent": 1, "dead": 1}
    assert (f.sent, f.dead, f.failures) == ({"json": 1}, {"json": 1}, {"json": 1})
    assert f.subscriptions == {"active": 1, "inactive": 1}
    assert f.latency == [7.0]
    histogram = f.latency_histogram()
    assert histogram[0] == (LATENCY_BUCKETS[0], 0) and histogram[1] == (5.0, 0) and histogram[2] == (15.0, 1)
    assert histogram[-1] == (float("inf"), 1)
    assert figures(now=sent_at + timedelta(days=2)).latency == []  # outside the window


def test_retry_dead_revives_dead_rows_only(engine, http):
    http.rule("/flaky", fail_first=1)
    sub, [channel] = add_subscriber(engine, http.url("/flaky"))
    # One row per send: a failed send slows its channel down for that sender, so a second row queued beside the
    # failing one would be sent or deferred depending on which thread ran first.
    dead = queue(engine, sub, channel, add_event(engine))
    assert send_due(now=T0, max_attempts=1).dead == 1
    sent = queue(engine, sub, channel, add_event(engine, key="other"))
    assert send_due(now=T0).sent == 1
    assert retry_dead([dead, sent, 10**6], now=T0 + timedelta(hours=1)) == [dead]  # sent and unknown ids: untouched
    revived = row(engine, dead)
    assert (revived.status, revived.attempts) == ("pending", 0)
    assert send_due(now=T0 + timedelta(hours=1)).sent == 1  # the channel answers now
    assert row(engine, dead).status == "sent" and row(engine, sent).status == "sent"
    assert http.hits("/flaky") == 3
    assert retry_dead([dead]) == []
