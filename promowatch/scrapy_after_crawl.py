"""The Scrapy extension that runs the after-crawl step once the pipeline has stored a crawl.

The pipeline only validates and stores (spiders/pipelines.py) and says so with its `crawl_stored` signal;
this extension answers it with `alerts.after_crawl.after_crawl` (detect, match, and with
PROMOWATCH_SEND_AFTER_CRAWL wake the sender at once), then sends `after_crawl_done` with both records, which
`promowatch crawl` and the crawl worker read instead of Scrapy's stats. It lives here, above both spiders
and alerts, because it joins them; spiders/settings.py names it in EXTENSIONS, so a plain `scrapy crawl`
runs it too. PROMOWATCH_AFTER_CRAWL = False switches it off (NotConfigured), as Scrapy's own are.
"""

from __future__ import annotations

from scrapy.exceptions import NotConfigured

from alerts.after_crawl import AfterCrawlResult, after_crawl, send_now
from spiders.crawl_rules import StoredCrawl
from spiders.pipelines import crawl_stored

#: sent after the step with `stored` (spiders.crawl_rules.StoredCrawl) and `result` (AfterCrawlResult)
after_crawl_done = object()


class AfterCrawl:
    def __init__(self, crawler):
        self.crawler = crawler
        crawler.signals.connect(self.crawl_stored, signal=crawl_stored)

    @classmethod
    def from_crawler(cls, crawler):
        if not crawler.settings.getbool("PROMOWATCH_AFTER_CRAWL", True):
            raise NotConfigured("PROMOWATCH_AFTER_CRAWL is off: crawls are stored, not compared")
        return cls(crawler)

    def crawl_stored(self, stored: StoredCrawl, spider) -> AfterCrawlResult:
        settings = self.crawler.settings
        database_url = settings.get("PROMOWATCH_DATABASE_URL")
        result = after_crawl(
            stored.run_id,
            stored.operator,
            stored.status,
            database_url=database_url,
            wake=send_now(database_url) if settings.getbool("PROMOWATCH_SEND_AFTER_CRAWL") else None,
        )
        stats = self.crawler.stats  # for Scrapy's stats dump at the end of the crawl
        if result.events is not None:
            stats.set_value("promowatch/events", len(result.events))
            for kind, n in result.by_kind.items():
                stats.set_value(f"promowatch/events/{kind}", n)
        if result.sent is not None:
            stats.set_value("promowatch/sent", result.sent)
        self.crawler.signals.send_catch_log(after_crawl_done, stored=stored, result=result, spider=spider)
        return result
