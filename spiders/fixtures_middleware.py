"""Offline mode: answer every request from saved pages, never from the network.

Switched on by the PROMOWATCH_FIXTURES_DIR setting (or environment variable); without it the
middleware raises NotConfigured and Scrapy drops it. Layout: DIR/<operator>/index.json maps each URL
to a file in that folder, either "page.html" or {"file": "page.html", "status": 500} (to replay an
error answer). A request with no saved page is an error counted in the crawl's stats, not a silent hole.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import urldefrag

from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import HtmlResponse, Response, TextResponse


class FixturesMiddleware:
    def __init__(self, root: Path, crawler):
        self.root = root
        self.crawler = crawler
        self.stats = crawler.stats
        self._indexes: dict[str, dict] = {}

    @classmethod
    def from_crawler(cls, crawler):
        folder = crawler.settings.get("PROMOWATCH_FIXTURES_DIR") or os.environ.get("PROMOWATCH_FIXTURES_DIR")
        if not folder:
            raise NotConfigured  # live mode (no reason given: Scrapy then disables it without a warning)
        root = Path(folder).expanduser().resolve()
        if not root.is_dir():
            raise NotConfigured(f"PROMOWATCH_FIXTURES_DIR {root} is not a folder")
        return cls(root, crawler)

    def _index(self, operator: str) -> dict:
        if operator not in self._indexes:
            path = self.root / operator / "index.json"
            self._indexes[operator] = json.loads(path.read_text("utf-8")) if path.exists() else {}
        return self._indexes[operator]

    def process_request(self, request, spider=None):
        if request.url.endswith("/robots.txt"):
            return Response(request.url, status=404, request=request)
        operator = self.crawler.spider.name
        index = self._index(operator)
        url = urldefrag(request.url)[0]
        entry = index.get(url) or index.get(url.rstrip("/")) or index.get(url + "/")
        if entry is None:
            message = f"no saved page for {url} in {self.root / operator / 'index.json'}"
            self.stats.inc_value("promowatch/fixture_missing")
            errors = self.stats.get_value("promowatch/errors") or []
            self.stats.set_value("promowatch/errors", [*errors, message])
            raise IgnoreRequest(message)
        if isinstance(entry, str):
            entry = {"file": entry}
        body = (self.root / operator / entry["file"]).read_bytes()
        cls = TextResponse if entry["file"].endswith(".json") else HtmlResponse
        return cls(
            url=request.url,
            status=int(entry.get("status", 200)),
            body=body,
            encoding="utf-8",
            request=request,
            headers={"Content-Type": "application/json" if cls is TextResponse else "text/html; charset=utf-8"},
        )
