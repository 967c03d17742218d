"""Run operator spiders in this process (the `crawl` command) through the project's Scrapy settings.

Offline mode is only a setting (PROMOWATCH_FIXTURES_DIR): the spiders, pipeline, storage and after-crawl
step are the ones `scrapy crawl` uses, so there is one code path from page to alert.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alerts.after_crawl import AfterCrawlResult
    from spiders.crawl_rules import StoredCrawl

BUNDLED_FIXTURES = Path(__file__).resolve().parents[1] / "spiders" / "fixtures"


def project_settings(fixtures_dir: str | None = None, database_url: str | None = None):
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "spiders.settings")
    if fixtures_dir:
        os.environ["PROMOWATCH_FIXTURES_DIR"] = str(fixtures_dir)
    from scrapy.utils.project import get_project_settings

    settings = get_project_settings()
    if fixtures_dir:
        settings.set("PROMOWATCH_FIXTURES_DIR", str(fixtures_dir))
        from spiders.settings import OFFLINE_SETTINGS

        for key, value in OFFLINE_SETTINGS.items():
            settings.set(key, value)
    if database_url:
        settings.set("PROMOWATCH_DATABASE_URL", database_url)
    return settings


@dataclass
class Crawled:
    """One operator's crawl as `run_crawls` saw it: its stored record and what the after-crawl step made of it
    (both None when the crawl ended before the pipeline could store it)."""

    operator: str
    stored: StoredCrawl | None = None
    result: AfterCrawlResult | None = None


def run_crawls(operators: list[str], settings, on_item=None, on_done=None) -> dict[str, Crawled]:
    """Crawl the operators concurrently; each one's stored record and after-crawl result."""
    from scrapy import signals
    from scrapy.crawler import CrawlerProcess

    from promowatch.scrapy_after_crawl import after_crawl_done
    from spiders.registry import spider_class

    process = CrawlerProcess(settings)
    crawled = {op: Crawled(op) for op in operators}
    receivers: list[object] = []  # Scrapy keeps weak references to receivers: hold them here
    for op in operators:
        crawler = process.create_crawler(spider_class(op))

        def done(stored, result, spider, op=op):
            crawled[op].stored, crawled[op].result = stored, result

        receivers.append(done)
        crawler.signals.connect(done, signal=after_crawl_done)
        if on_item:
            receivers.append(lambda item, spider, op=op: on_item(op))
            crawler.signals.connect(receivers[-1], signal=signals.item_scraped)
        if on_done:
            receivers.append(lambda spider, reason, op=op: on_done(op))
            crawler.signals.connect(receivers[-1], signal=signals.spider_closed)
        process.crawl(crawler)
    process.start()
    return crawled
