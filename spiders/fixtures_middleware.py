"""Offline mode: answer every request from saved pages, never from the network.

Switched on by the PROMOWATCH_FIXTURES_DIR setting (or environment variable); without it the
middleware raises NotConfigured and Scrapy drops it. A folder that does not exist stops the crawl
before it starts (`fixtures_root`, checked by every operator spider as its crawler is made): nothing is
recorded. Layout: DIR/<operator>/index.json maps each URL to a file in that folder, either "page.html"
or {"file": "page.html", "status": 500} (to replay an error answer). A request with no saved page is
an error counted in the crawl's stats, not a silent hole.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import urldefrag

from scrapy.exceptions import IgnoreRequest, NotConfigured, UsageError
from scrapy.http import HtmlResponse, Response, TextResponse


def fixtures_root(settings) -> Path | None:
    """The saved pages' folder of offline mode (None: live mode). A folder that does not exist is a usage
    error (UsageError: `scrapy crawl` prints it as one line and exits 2): the crawl must not start and fail
    on every request, which would be recorded as a failed crawl of the operator."""
    folder = settings.get("PROMOWATCH_FIXTURES_DIR") or os.environ.get("PROMOWATCH_FIXTURES_DIR")
    if not folder:
        return None
    root = Path(folder).expanduser().resolve()
    if not root.is_dir():
        raise UsageError(
            f"PROMOWATCH_FIXTURES_DIR={folder}: no such folder. Point it at a folder of saved pages "
            "(DIR/<operator>/index.json, e.g. spiders/fixtures) or unset it for a live crawl.",
            print_help=False,
        )
    return root


class SavedIndexes:
    """The saved pages' indexes under `root` (DIR/<operator>/index.json), each read once: shared by offline and
    mirror mode, which read the same layout."""

    def __init__(self, root: Path):
        self.root = root
        self._indexes: dict[str, dict] = {}

    def __call__(self, operator: str) -> dict:
        """The operator's index (URL -> "page.html" or {"file": ..., "status": ...}); {} when it has none."""
        if operator not in self._indexes:
            path = self.root / operator / "index.json"
            self._indexes[operator] = json.loads(path.read_text("utf-8")) if path.exists() else {}
        return self._indexes[operator]


class FixturesMiddleware:
    def __init__(self, root: Path, crawler):
        self.root = root
        self.crawler = crawler
        self.stats = crawler.stats
        self._index = SavedIndexes(root)

    @classmethod
    def from_crawler(cls, crawler):
        root = fixtures_root(crawler.settings)
        if root is None:
            raise NotConfigured  # live mode (no reason given: Scrapy then disables it without a warning)
        return cls(root, crawler)

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
