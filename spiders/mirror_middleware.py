"""Mirror mode: fetch each operator page from another server (a loopback copy) instead of the operator.

For benchmarks and fault drills: the real network stack (HTTP, retries, timeouts, block detection) runs,
but against pages we serve ourselves. Switched on by PROMOWATCH_MIRROR (the server's base URL, e.g.
http://127.0.0.1:8123) with PROMOWATCH_MIRROR_INDEX, a folder laid out like `spiders/fixtures/`
(DIR/<operator>/index.json: live URL -> file); the request for a live URL goes to
`<mirror>/<operator>/<file>` and the answer is handed to the spider under the live URL, so the spider
reads it exactly as it would the operator's own page. A live URL the index does not list is skipped
(counted in `promowatch/mirror_skipped`, not an error): a mirror of a few pages measures those pages.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urldefrag

from scrapy.exceptions import IgnoreRequest, NotConfigured

from spiders.fixtures_middleware import SavedIndexes

_LIVE_URL = "promowatch_live_url"


class MirrorMiddleware:
    def __init__(self, base: str, root: Path, crawler):
        self.base, self.root, self.crawler = base.rstrip("/"), root, crawler
        self._index = SavedIndexes(root)

    @classmethod
    def from_crawler(cls, crawler):
        base = crawler.settings.get("PROMOWATCH_MIRROR")
        if not base:
            raise NotConfigured  # not in mirror mode (silently disabled)
        root = Path(crawler.settings.get("PROMOWATCH_MIRROR_INDEX") or "").expanduser().resolve()
        if not (root / crawler.spider.name).is_dir() and not root.is_dir():
            raise NotConfigured(f"PROMOWATCH_MIRROR_INDEX {root} is not a folder")
        return cls(base, root, crawler)

    def process_request(self, request, spider=None):
        if _LIVE_URL in request.meta:
            return None  # already pointed at the mirror
        operator = self.crawler.spider.name
        url = urldefrag(request.url)[0]
        entry = self._index(operator).get(url)
        if entry is None:
            if url.endswith("/robots.txt"):
                return None if url.startswith(self.base) else self._skip(url)
            return self._skip(url)
        name = entry if isinstance(entry, str) else entry["file"]
        meta = {**request.meta, _LIVE_URL: request.url}
        return request.replace(url=f"{self.base}/{operator}/{name}", meta=meta, dont_filter=True)

    def _skip(self, url: str):
        self.crawler.stats.inc_value("promowatch/mirror_skipped")
        raise IgnoreRequest(f"{url} is not in the mirror index")

    def process_response(self, request, response, spider=None):
        live = request.meta.get(_LIVE_URL)
        return response.replace(url=live) if live else response
