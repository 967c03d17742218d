"""Run operator spiders in this process (the `crawl` command) through the project's Scrapy settings.

Offline mode is only a setting (PROMOWATCH_FIXTURES_DIR): the spiders, pipeline and storage are the
ones `scrapy crawl` uses, so there is one code path from page to storage.
"""

from __future__ import annotations

import os
from pathlib import Path

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


def run_crawls(operators: list[str], settings, on_item=None, on_done=None) -> dict[str, dict]:
    """Crawl the operators concurrently; return each one's stats (status, run id, counts)."""
    from scrapy import signals
    from scrapy.crawler import CrawlerProcess

    from spiders.registry import spider_class

    process = CrawlerProcess(settings)
    crawlers = {}
    receivers: list[object] = []  # Scrapy keeps weak references to receivers: hold them here
    for op in operators:
        crawler = process.create_crawler(spider_class(op))
        if on_item:
            receivers.append(lambda item, spider, op=op: on_item(op))
            crawler.signals.connect(receivers[-1], signal=signals.item_scraped)
        if on_done:
            receivers.append(lambda spider, reason, op=op: on_done(op))
            crawler.signals.connect(receivers[-1], signal=signals.spider_closed)
        crawlers[op] = crawler
        process.crawl(crawler)
    process.start()
    return {op: crawler.stats.get_stats() for op, crawler in crawlers.items()}
