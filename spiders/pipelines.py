"""The one path from spider to storage: validate + normalise each item, then store the crawl.

Items are validated as they come (bad ones dropped and counted by reason under
`promowatch/dropped/<reason>`); when the spider closes, the crawl's health is decided and the whole
crawl is written in one transaction. Only a healthy crawl touches offers; any other is recorded as a
CrawlRun and changes nothing, so a broken page never reads as "all offers gone".
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timezone

from scrapy import signals
from scrapy.exceptions import DropItem

from spiders.items import InvalidOffer, normalise

log = logging.getLogger(__name__)


def crawl_status(*, reason: str, stored: int, min_offers: int, stats: dict) -> tuple[str, str | None]:
    """(status, error text) for a closed crawl, from its finish reason, items and stats."""
    errors = list(stats.get("promowatch/errors") or [])
    http_errors = {
        k.rsplit("/", 1)[-1]: v
        for k, v in stats.items()
        if k.startswith("downloader/response_status_count/") and not k.endswith(("/200", "/301", "/302", "/404"))
    }
    if stats.get("httperror/response_ignored_count"):
        errors.append("HTTP error " + ", ".join(f"{code}×{n}" for code, n in sorted(http_errors.items())))
    # requests our own middlewares refused (IgnoreRequest) are not download errors: a missing saved page
    # records its own error, a mirror skip is deliberate
    failed = (stats.get("downloader/exception_count") or 0) - (
        stats.get("downloader/exception_type_count/scrapy.exceptions.IgnoreRequest") or 0
    )
    if failed > 0:
        errors.append(f"download errors: {failed}")
    if stats.get("spider_exceptions/count"):
        errors.append(f"spider exceptions: {stats['spider_exceptions/count']}")
    if stats.get("promowatch/blocked"):
        return "blocked", "; ".join(errors) or "block page"
    if reason != "finished":
        return "failed", "; ".join([f"crawl ended: {reason}", *errors])
    if stored == 0:
        return "failed", "; ".join(errors) or "no offer found on the page (layout changed?)"
    if stored < min_offers:
        return "partial", "; ".join([f"only {stored} offers, expected at least {min_offers}", *errors])
    if errors:
        return "partial", "; ".join(errors)
    return "healthy", None


class OfferPipeline:
    def __init__(self, crawler):
        self.crawler = crawler
        self.stats = crawler.stats
        self.items: list[dict] = []
        self.keys: set[str] = set()
        self.started = datetime.now(timezone.utc)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def _drop(self, reason: str, message: str):
        self.stats.inc_value(f"promowatch/dropped/{reason}")
        raise DropItem(f"{reason}: {message}")

    def process_item(self, item, spider=None):
        try:
            offer = normalise(dict(item))
        except InvalidOffer as exc:
            self._drop(exc.reason, str(exc))
        if offer["offer_key"] in self.keys:
            self._drop("duplicate_offer_key", offer["offer_key"])
        self.keys.add(offer["offer_key"])
        self.items.append(offer)
        return offer

    def min_offers(self, spider) -> int:
        overrides = self.crawler.settings.getdict("PROMOWATCH_MIN_OFFERS")
        env = os.environ.get(f"PROMOWATCH_MIN_OFFERS_{spider.name.upper()}")
        return int(env or overrides.get(spider.name, getattr(spider, "min_offers", 1)))

    def spider_closed(self, spider, reason):
        from storage.repository import record_crawl

        stats = self.stats.get_stats()
        status, error = crawl_status(
            reason=reason, stored=len(self.items), min_offers=self.min_offers(spider), stats=stats
        )
        dropped = {k.rsplit("/", 1)[-1]: v for k, v in stats.items() if k.startswith("promowatch/dropped/")}
        result = record_crawl(
            operator=spider.name,
            started_at=self.started,
            finish_reason=reason,
            status=status,
            items=self.items,
            items_scraped=len(self.items) + sum(dropped.values()),
            dropped=dropped,
            error=error,
            database_url=self.crawler.settings.get("PROMOWATCH_DATABASE_URL"),
        )
        self.stats.set_value("promowatch/crawl_run_id", result.run_id)
        self.stats.set_value("promowatch/status", status)
        self.stats.set_value("promowatch/new_versions", result.new_versions)
        log.log(
            logging.INFO if status == "healthy" else logging.WARNING,
            "%s crawl %s: %d offers, %d new versions, dropped %s%s",
            spider.name,
            status,
            len(self.items),
            result.new_versions,
            dropped or "none",
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
