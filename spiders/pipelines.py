"""The one path from spider to storage: validate + normalise each item, then store the crawl.

Items are validated as they come (`spiders/crawl_rules.CrawlItems`: bad ones dropped, counted by reason
under `promowatch/dropped/<reason>` and remembered by card); when the spider closes, the crawl's health is
decided by the rules `promowatch import` uses too (`crawl_status`) and the whole crawl is written in one
transaction. Only a healthy crawl touches offers; any other is recorded as a CrawlRun and changes
nothing, so a broken page never reads as "all offers gone".
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from scrapy import signals
from scrapy.exceptions import DropItem

from contract.offer import InvalidOffer
from spiders.crawl_rules import CrawlItems, crawl_status

log = logging.getLogger(__name__)


class OfferPipeline:
    def __init__(self, crawler):
        self.crawler = crawler
        self.stats = crawler.stats
        self.crawl = CrawlItems()
        self.started = datetime.now(timezone.utc)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    @property
    def items(self) -> list[dict]:
        return self.crawl.items

    def process_item(self, item, spider=None):
        try:
            return self.crawl.add(dict(item))
        except InvalidOffer as exc:
            self.stats.inc_value(f"promowatch/dropped/{exc.reason}")
            raise DropItem(str(exc)) from None

    def min_offers(self, spider) -> int:
        from storage.environment import min_offers

        overrides = self.crawler.settings.getdict("PROMOWATCH_MIN_OFFERS")
        env = min_offers(spider.name)  # checked at the start of every entry point
        return int(env or overrides.get(spider.name, getattr(spider, "min_offers", 1)))

    def spider_closed(self, spider, reason):
        from storage.repository import record_crawl

        stats = self.stats.get_stats()
        status, error = crawl_status(reason=reason, crawl=self.crawl, min_offers=self.min_offers(spider), stats=stats)
        result = record_crawl(
            operator=spider.name,
            started_at=self.started,
            finish_reason=reason,
            status=status,
            items=self.items,
            items_scraped=self.crawl.seen,
            dropped=self.crawl.dropped,
            error=error,
            database_url=self.crawler.settings.get("PROMOWATCH_DATABASE_URL"),
            invalid_keys=self.crawl.seen_invalid_keys,
            dropped_cards=self.crawl.cards,
        )
        self.stats.set_value("promowatch/crawl_run_id", result.run_id)
        self.stats.set_value("promowatch/status", status)
        self.stats.set_value("promowatch/new_versions", result.new_versions)
        if error:
            self.stats.set_value("promowatch/error", error)
        if self.crawl.cards:
            self.stats.set_value("promowatch/dropped_cards", self.crawl.cards)
        log.log(
            logging.INFO if status == "healthy" and not self.crawl.dropped else logging.WARNING,
            "%s crawl %s: %d offers, %d new versions%s",
            spider.name,
            status,
            len(self.items),
            result.new_versions,
            f" ({error})" if error else "",
        )
        if status == "healthy":  # only a healthy crawl is compared; a detection error leaves it pending
            from alerts.detect import count_by_kind, detect_after_crawl

            events = detect_after_crawl(result.run_id, self.crawler.settings.get("PROMOWATCH_DATABASE_URL"))
            if events is not None:
                self.stats.set_value("promowatch/events", len(events))
                for kind, n in count_by_kind(events).items():
                    self.stats.set_value(f"promowatch/events/{kind}", n)
                log.info(
                    "%s crawl %d: %d change events %s",
                    spider.name,
                    result.run_id,
                    len(events),
                    count_by_kind(events) or "",
                )
            if events and self.crawler.settings.getbool("PROMOWATCH_SEND_AFTER_CRAWL"):
                self._send_now()

    def _send_now(self) -> None:
        """A manual refresh that sends at once (PROMOWATCH_SEND_AFTER_CRAWL): the due outbox rows, through the
        same sender as `promowatch send`; a failure is retried by the next sender run, never lost."""
        try:
            from alerts.deliver import send_due

            report = send_due(database_url=self.crawler.settings.get("PROMOWATCH_DATABASE_URL"))
            self.stats.set_value("promowatch/sent", report.sent)
            log.info("sent %d notifications, %d failed (retried later)", report.sent, report.failed)
        except Exception:  # noqa: BLE001 — the crawl is stored; the outbox keeps the rows for the next send
            log.exception("sending after the crawl failed; the notifications stay in the outbox")
