"""A page that could not be fetched: one line in words, not a traceback per request.

Without network Scrapy logs every request that failed for good with its traceback (the scraper for a
page, the robots.txt middleware for robots.txt), so a crawl of fifteen operators printed pages of them.
This downloader middleware sits just inside RetryMiddleware (550), so it sees a failure only once the
retries are spent. It puts the reason in words ("connection refused by host:port", "DNS lookup failed
for host X", "timed out after 30 s") into the crawl's errors, once per host and reason — the crawl's
record and its one summary line (spiders/pipelines.py) carry it —, logs it at INFO, and hands the
request on as IgnoreRequest, which Scrapy neither logs again nor counts as a second failure (errbacks
still run; Scrapy's stats still count the download error).
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import scrapy.exceptions
from scrapy.exceptions import IgnoreRequest
from twisted.internet import error as net

log = logging.getLogger(__name__)


def _kinds(*names: str, extra: tuple = ()) -> tuple[type, ...]:
    """Scrapy's own download exceptions (2.13+) where this Scrapy has them, and Twisted's (older Scrapy)."""
    return tuple(getattr(scrapy.exceptions, n) for n in names if hasattr(scrapy.exceptions, n)) + extra


REFUSED = _kinds("DownloadConnectionRefusedError", extra=(net.ConnectionRefusedError,))
DNS = _kinds("CannotResolveHostError", extra=(net.DNSLookupError,))
TIMEOUT = _kinds("DownloadTimeoutError", extra=(net.TimeoutError, net.TCPTimedOutError))


def reason(exception: BaseException, url: str, timeout: float | None = None) -> str:
    """Why a request failed, in a few words a reader can act on."""
    parts = urlsplit(url)
    if isinstance(exception, REFUSED):
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return f"connection refused by {parts.hostname}:{port}"
    if isinstance(exception, DNS):
        return f"DNS lookup failed for host {parts.hostname}"
    if isinstance(exception, TIMEOUT):
        return f"timed out after {timeout:g} s" if timeout else "timed out"
    text = " ".join(str(exception).split())
    text = text if len(text) <= 120 else text[:119] + "…"
    return f"{type(exception).__name__}: {text}" if text else type(exception).__name__


class DownloadErrorsMiddleware:
    def __init__(self, crawler):
        self.crawler = crawler
        self.noted: set[tuple[str, str]] = set()

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_exception(self, request, exception, spider=None):
        if isinstance(exception, IgnoreRequest):
            return None  # refused on purpose (saved page missing, mirror skip, block page): recorded where raised
        why = reason(exception, request.url, request.meta.get("download_timeout"))
        host = urlsplit(request.url).netloc
        if (host, why) not in self.noted:
            self.noted.add((host, why))
            stats = self.crawler.stats
            errors = stats.get_value("promowatch/errors") or []
            stats.set_value("promowatch/errors", [*errors, f"could not fetch {request.url}: {why}"])
            log.info("%s: could not fetch %s: %s", self.crawler.spider.name, request.url, why)
        raise IgnoreRequest(f"could not fetch {request.url}: {why}")
