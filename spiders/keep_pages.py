"""Keeps the pages of a crawl that ended unhealthy, so that repairing a spider starts from the page that broke it.

A Scrapy extension: while a crawl runs it holds each answered page gzip-compressed in memory (at most
`MAX_PAGES`); when the crawl ends and was not healthy it writes them, with the crawl's status and reasons, to
`<keep dir>/<operator>/<UTC time>-run<id>/` and leaves only the newest `PROMOWATCH_KEEP_PAGES` such folders per
operator (default 3; 0 switches the extension off). `promowatch capture OP --kept` turns the newest one into a
fixture folder. The keep dir is `PROMOWATCH_KEEP_DIR`, else `kept-pages/` beside a SQLite database file, else in
the user's data folder.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

from scrapy import signals
from scrapy.exceptions import NotConfigured

from spiders.pipelines import crawl_stored
from storage.environment import setting

MAX_PAGES = 20
CRAWL_FILE = "crawl.json"


def keep_root(database_url: str | None = None) -> Path:
    """Where kept pages go: PROMOWATCH_KEEP_DIR, else beside the SQLite database file, else the data folder."""
    explicit = setting("PROMOWATCH_KEEP_DIR")
    if explicit:
        return Path(explicit).expanduser()
    url = database_url or os.environ.get("PROMOWATCH_DATABASE_URL")
    if url:
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
            return Path(parsed.database.removeprefix("file:")).expanduser().resolve().parent / "kept-pages"
    from platformdirs import user_data_dir

    return Path(user_data_dir("promowatch", appauthor=False)) / "kept-pages"


def kept_crawls(operator: str, root: Path | None = None) -> list[Path]:
    """The operator's kept crawl folders, newest first."""
    folder = (root or keep_root()) / operator
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.iterdir() if (p / CRAWL_FILE).is_file()), key=lambda p: p.name, reverse=True)


def read_kept(folder: Path) -> tuple[dict, list[tuple[str, bytes]]]:
    """(the crawl's record, [(url, page bytes)]) of one kept crawl folder."""
    record = json.loads((folder / CRAWL_FILE).read_text("utf-8"))
    return record, [(p["url"], gzip.decompress((folder / p["file"]).read_bytes())) for p in record["pages"]]


class KeepUnhealthyPages:
    def __init__(self, crawler, keep: int):
        self.crawler = crawler
        self.keep = keep
        self.pages: list[tuple[str, int, bytes]] = []  # (url, HTTP status, gzip of the body)
        self.stored = None  # the pipeline's record of the crawl (spiders.crawl_rules.StoredCrawl)
        crawler.signals.connect(self.response_received, signal=signals.response_received)
        crawler.signals.connect(self.crawl_stored, signal=crawl_stored)
        # engine_stopped comes after every spider_closed handler: the pipeline has recorded the crawl by then
        crawler.signals.connect(self.engine_stopped, signal=signals.engine_stopped)

    @classmethod
    def from_crawler(cls, crawler):
        keep = crawler.settings.getint("PROMOWATCH_KEEP_PAGES", setting("PROMOWATCH_KEEP_PAGES"))
        if keep <= 0:
            raise NotConfigured("PROMOWATCH_KEEP_PAGES is 0: unhealthy crawls keep no page")
        return cls(crawler, keep)

    def response_received(self, response, request, spider):
        if len(self.pages) < MAX_PAGES and response.body:
            self.pages.append((response.url, response.status, gzip.compress(response.body, compresslevel=1)))

    def crawl_stored(self, stored, spider):
        self.stored = stored

    def engine_stopped(self):
        stored, self.stored = self.stored, None
        status = stored.status if stored else None
        pages, self.pages = self.pages, []
        if status == "healthy" or not pages:
            return
        spider = self.crawler.spider
        database_url = self.crawler.settings.get("PROMOWATCH_DATABASE_URL")
        run_id, error = (stored.run_id, stored.error) if stored else (None, None)
        now = datetime.now(timezone.utc)
        folder = keep_root(database_url) / spider.name / f"{now:%Y%m%dT%H%M%SZ}-run{run_id or 'none'}"
        folder.mkdir(parents=True, exist_ok=True)
        listed = []
        for n, (url, code, body) in enumerate(pages, 1):
            name = f"page-{n}.html.gz"
            (folder / name).write_bytes(body)
            listed.append({"url": url, "status": code, "file": name})
        record = {
            "operator": spider.name,
            "crawl_run_id": run_id,
            "status": status or "failed",
            "error": error,
            "finished_at": now.isoformat(timespec="seconds"),
            "pages": listed,
        }
        (folder / CRAWL_FILE).write_text(json.dumps(record, ensure_ascii=False, indent=1), "utf-8")
        for old in kept_crawls(spider.name, folder.parent.parent)[self.keep :]:
            shutil.rmtree(old, ignore_errors=True)
        spider.logger.info("kept %d page(s) of the %s crawl in %s", len(listed), record["status"], folder)
