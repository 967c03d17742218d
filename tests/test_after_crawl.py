"""The after-crawl step (alerts/after_crawl.py) and the Scrapy extension that runs it once the pipeline has
stored a crawl (promowatch/scrapy_after_crawl.py), on a real SQLite file."""

import logging
from types import SimpleNamespace

import pytest
from scrapy.exceptions import NotConfigured
from scrapy.utils.test import get_crawler
from sqlmodel import Session
from test_detect import item, store

from alerts import detect
from alerts.after_crawl import DETECTION_FAILED, after_crawl
from alerts.detect import detect_pending
from promowatch.scrapy_after_crawl import AfterCrawl, after_crawl_done
from spiders.pipelines import OfferPipeline, crawl_stored
from storage.engine import get_engine
from storage.models import CrawlRun
from storage.repository import list_events

SPIDER = SimpleNamespace(name="iliad", min_offers=1)


class Crawl:
    """The pipeline and the extension of one crawler, as Scrapy builds them, with what the crawler's signals
    carried: the stored record and the after-crawl result."""

    def __init__(self, url, items, settings=None, spider=SPIDER):
        self.crawler = get_crawler(settings_dict={"PROMOWATCH_DATABASE_URL": url, **(settings or {})})
        self.pipeline = OfferPipeline.from_crawler(self.crawler)
        try:
            self.extension = AfterCrawl.from_crawler(self.crawler)
        except NotConfigured:
            self.extension = None
        self.seen: dict = {}
        self.crawler.signals.connect(self.stored, signal=crawl_stored)
        self.crawler.signals.connect(self.done, signal=after_crawl_done)
        for i in items:
            self.pipeline.process_item(item(**i))
        self.pipeline.spider_closed(spider, "finished")

    def stored(self, stored, spider):
        self.seen["stored"] = stored

    def done(self, stored, result, spider):
        self.seen["result"] = result


def test_the_pipeline_only_stores(tmp_db):
    """Without the extension the crawl is stored and announced, and nothing is compared."""
    store([{"offer_key": "a", "price_cents": 999}])
    crawl = Crawl(tmp_db, [{"offer_key": "a", "price_cents": 899}], {"PROMOWATCH_AFTER_CRAWL": False})
    assert crawl.extension is None and "result" not in crawl.seen
    stored = crawl.seen["stored"]
    assert (stored.status, stored.offers, stored.stored, stored.new_versions) == ("healthy", 1, 1, 1)
    assert list_events() == []
    assert [e["kind"] for e in detect_pending()] == ["price_drop"]  # left pending, not lost


def test_the_extension_detects_after_storing(tmp_db, monkeypatch, caplog):
    crawl = Crawl(tmp_db, [{"offer_key": "a", "price_cents": 999}])
    assert crawl.seen["result"].events == []  # baseline
    assert crawl.crawler.stats.get_value("promowatch/events") == 0
    with caplog.at_level(logging.INFO, logger="alerts.after_crawl"):
        crawl = Crawl(tmp_db, [{"offer_key": "a", "price_cents": 899}, {"offer_key": "b", "price_cents": 99}])
    result = crawl.seen["result"]
    assert result.run_id == crawl.seen["stored"].run_id and result.detected
    assert result.by_kind == {"price_drop": 1, "new": 1} and result.event_count == 2
    assert crawl.crawler.stats.get_value("promowatch/events/price_drop") == 1  # Scrapy's stats dump
    assert "2 change events" in caplog.text
    # a detection failure loses neither the crawl nor, later, its events
    with monkeypatch.context() as patch:
        patch.setattr(detect, "_events", lambda *a, **k: 1 / 0)
        crawl = Crawl(tmp_db, [{"offer_key": "a", "price_cents": 799}, {"offer_key": "b", "price_cents": 99}])
    result = crawl.seen["result"]
    assert crawl.seen["stored"].status == "healthy"
    assert result.events is None and result.error == DETECTION_FAILED
    assert [e["kind"] for e in detect_pending()] == ["price_drop"]
    with Session(get_engine()) as s:
        assert s.get(CrawlRun, result.run_id).detected_at is not None


def test_an_unhealthy_crawl_is_not_compared(tmp_db):
    crawl = Crawl(tmp_db, [{"offer_key": "a", "price_cents": 999}], spider=SimpleNamespace(name="iliad", min_offers=5))
    assert crawl.seen["stored"].status == "partial"
    assert crawl.seen["stored"].error == "only 1 offers, expected at least 5"
    result = crawl.seen["result"]
    assert result.status == "partial" and result.events is None and result.error is None
    assert list_events() == [] and detect_pending() == []


@pytest.mark.parametrize("outcome", ["report", "raises"])
def test_wake_runs_only_when_the_crawl_queued_something(tmp_db, outcome, caplog):
    calls = []

    def wake():
        calls.append(1)
        if outcome == "raises":
            raise ConnectionError("sender down")
        return SimpleNamespace(sent=3, failed=1)

    baseline = store([{"offer_key": "a", "price_cents": 999}])
    assert after_crawl(baseline, "iliad", "healthy", wake=wake).sent is None and calls == []  # no event yet
    assert after_crawl(store([{"offer_key": "a", "price_cents": 999}]), "iliad", "healthy", wake=wake).events == []
    assert calls == []  # nothing changed: the sender is not woken
    result = after_crawl(store([{"offer_key": "a", "price_cents": 899}]), "iliad", "healthy", wake=wake)
    assert calls == [1] and result.by_kind == {"price_drop": 1}
    if outcome == "report":
        assert (result.sent, result.send_failed) == (3, 1)
    else:
        assert result.sent is None and "the notifications stay in the outbox" in caplog.text
    assert after_crawl(store([], status="failed"), "iliad", "failed", wake=wake).events is None and calls == [1]
