"""The Scrapy pipeline: validate each item as it comes, store the crawl when the spider closes. Nothing else.

Items go through `CrawlItems` (bad ones dropped, counted by reason under `promowatch/dropped/<reason>`);
when the spider closes, the crawl is judged by the health rules and written in one transaction
(`store_crawl`: only a healthy crawl touches offers, so a broken page never reads as "all offers gone").
The stored record is then sent as the `crawl_stored` signal: whoever runs the crawl takes it from there
(the after-crawl step: `promowatch.scrapy_after_crawl` for `scrapy crawl`, the CLI and the crawl worker).
Switched off, as Scrapy's components are, by leaving it out of ITEM_PIPELINES.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from scrapy import signals
from scrapy.exceptions import DropItem

from contract.offer import InvalidOffer
from spiders.crawl_rules import CrawlFacts, CrawlItems, StoredCrawl, store_crawl

log = logging.getLogger(__name__)

#: sent once a crawl is stored, with `stored` (a `spiders.crawl_rules.StoredCrawl`) and `spider`
crawl_stored = object()


class OfferPipeline:
    def __init__(self, crawler):
        self.crawler = crawler
        self.stats = crawler.stats
        self.crawl = CrawlItems()
        self.started = datetime.now(timezone.utc)
        self.stored: StoredCrawl | None = None
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
        facts = CrawlFacts.of_scrapy(reason, self.crawl, self.min_offers(spider), self.stats.get_stats())
        stored = store_crawl(
            facts,
            operator=spider.name,
            started_at=self.started,
            database_url=self.crawler.settings.get("PROMOWATCH_DATABASE_URL"),
        )
        self.stored = stored
        # for Scrapy's own stats dump at the end of a crawl; programs read the `crawl_stored` record
        self.stats.set_value("promowatch/crawl_run_id", stored.run_id)
        self.stats.set_value("promowatch/status", stored.status)
        self.stats.set_value("promowatch/new_versions", stored.new_versions)
        if stored.error:
            self.stats.set_value("promowatch/error", stored.error)
        log.log(
            logging.INFO if stored.healthy and not stored.dropped else logging.WARNING,
            "%s crawl %s: %d offers, %d new versions%s",
            spider.name,
            stored.status,
            len(self.items),
            stored.new_versions,
            f" ({stored.error})" if stored.error else "",
        )
        self.crawler.signals.send_catch_log(crawl_stored, stored=stored, spider=spider)
