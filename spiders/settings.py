"""Scrapy settings: polite by default in live mode, offline when PROMOWATCH_FIXTURES_DIR is set.

The PROMOWATCH_* variables are read through storage.environment. A value it refuses falls back to its default
here (a settings module must import without failing); every entry point has refused it before any crawl
starts (`scrapy crawl`: OperatorSpider.update_settings).
"""

import os

from scrapy.settings import default_settings as _default_settings

from storage.environment import setting_or_default as _env

BOT_NAME = "promowatch"
SPIDER_MODULES = ["spiders"]
NEWSPIDER_MODULE = "spiders"

USER_AGENT = "promowatch/0.1 (+https://github.com/promowatch/promowatch; offer watcher for Italian mobile plans)"
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 1.0
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
RETRY_ENABLED = True
RETRY_TIMES = 3
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
DOWNLOAD_TIMEOUT = _env("PROMOWATCH_DOWNLOAD_TIMEOUT")
#: no cookies by default, as Scrapy's "avoiding getting banned" advice has it: each crawl asks for public pages
#: afresh. PROMOWATCH_COOKIES=1 turns Scrapy's CookiesMiddleware on (see DOWNLOADER_MIDDLEWARES_BASE below).
COOKIES_ENABLED = _env("PROMOWATCH_COOKIES")
TELNETCONSOLE_ENABLED = False
LOG_LEVEL = _env("PROMOWATCH_LOG_LEVEL") or "INFO"
#: every time in a log line names its zone (Scrapy formats log times in the local zone)
LOG_DATEFORMAT = "%Y-%m-%d %H:%M:%S %Z"
#: a dropped card is named in the crawl's own summary line (pipelines.py); Scrapy's line would dump the item
DEFAULT_DROPITEM_LOG_LEVEL = "INFO"
#: a request that failed for good gets one line from spiders/download_errors.py, with the reason in words
RETRY_GIVE_UP_LOG_LEVEL = "INFO"
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
FEED_EXPORT_ENCODING = "utf-8"

DOWNLOADER_MIDDLEWARES = {
    # before the HTTP cache/robots/retry stack: offline answers never touch the network
    "spiders.fixtures_middleware.FixturesMiddleware": 50,
    # live URLs -> a loopback copy (benchmarks, fault drills); the spider sees the live URL again
    "spiders.mirror_middleware.MirrorMiddleware": 60,
    # just inside RetryMiddleware (550): a request that failed for good becomes one line in words
    "spiders.download_errors.DownloadErrorsMiddleware": 540,
    # after retries have had their go (RetryMiddleware is 550), before the spider sees the page
    "spiders.block_detection.BlockDetectionMiddleware": 560,
}
ITEM_PIPELINES = {"spiders.pipelines.OfferPipeline": 300}
# outermost: once everything the spider yielded for a page went through, the parsed page is freed at once
SPIDER_MIDDLEWARES = {"spiders.page_middleware.PageReleaseMiddleware": 10}
#: Scrapy extensions promowatch never uses, all off by their own settings anyway, left out of the base list so
#: that they are not even imported (RemoteControl's module alone loads aiohttp, in every crawl process and
#: in the crawl worker). Through EXTENSIONS_BASE: an EXTENSIONS entry set to None still imports its class.
_UNUSED_EXTENSIONS = (
    "scrapy.extensions.telnet.TelnetConsole",
    "scrapy.extensions.remote_control.RemoteControl",
    "scrapy.extensions.memdebug.MemoryDebugger",
    "scrapy.extensions.spiderstate.SpiderState",
)
EXTENSIONS_BASE = {k: v for k, v in _default_settings.EXTENSIONS_BASE.items() if k not in _UNUSED_EXTENSIONS}
EXTENSIONS = {
    #: an unhealthy crawl keeps its pages for `promowatch capture OP --kept` (spiders/keep_pages.py)
    "spiders.keep_pages.KeepUnhealthyPages": 500,
    #: once the pipeline stored the crawl: detect, match, wake the sender (alerts/after_crawl.py)
    "promowatch.scrapy_after_crawl.AfterCrawl": 600,
}
#: False: crawls are stored but not compared (the after-crawl step is left to whoever runs the crawl)
PROMOWATCH_AFTER_CRAWL = True
PROMOWATCH_KEEP_PAGES = _env("PROMOWATCH_KEEP_PAGES")
#: likewise the cookies middleware while cookies are off: its module imports tldextract and with it requests,
#: and the first cookie with a domain would load the public suffix list after trying to download it, blocking
#: the crawl's thread
_COOKIES_MIDDLEWARE = "scrapy.downloadermiddlewares.cookies.CookiesMiddleware"
DOWNLOADER_MIDDLEWARES_BASE = {
    k: v
    for k, v in _default_settings.DOWNLOADER_MIDDLEWARES_BASE.items()
    if COOKIES_ENABLED or k != _COOKIES_MIDDLEWARE
}

PROMOWATCH_FIXTURES_DIR = os.environ.get("PROMOWATCH_FIXTURES_DIR") or None
PROMOWATCH_DATABASE_URL = os.environ.get("PROMOWATCH_DATABASE_URL") or None
PROMOWATCH_TODAY = _env("PROMOWATCH_TODAY")
PROMOWATCH_MIN_OFFERS: dict = {}
#: a manual `scrapy crawl` sends the notifications it queued at once (else the next `promowatch send` does)
PROMOWATCH_SEND_AFTER_CRAWL = _env("PROMOWATCH_SEND_AFTER_CRAWL")
PROMOWATCH_BROWSER = _env("PROMOWATCH_BROWSER")
#: mirror mode (spiders/mirror_middleware.py): live URLs fetched from our own loopback copy
PROMOWATCH_MIRROR = _env("PROMOWATCH_MIRROR")
PROMOWATCH_MIRROR_INDEX = _env("PROMOWATCH_MIRROR_INDEX")

#: saved pages (PROMOWATCH_FIXTURES_DIR, set here from the environment or by promowatch.crawling per crawl): no
#: robots.txt to ask, no reason to wait between answers, and no network: FixturesMiddleware answers every
#: request or refuses it, so the HTTP(S) download handlers are not loaded (with them Twisted's TLS and
#: pyOpenSSL/cryptography, a noticeable part of an offline crawl's start)
OFFLINE_SETTINGS = {
    "ROBOTSTXT_OBEY": False,
    "AUTOTHROTTLE_ENABLED": False,
    "DOWNLOAD_DELAY": 0,
    "RETRY_ENABLED": False,
    "DOWNLOAD_HANDLERS": {"http": None, "https": None},
}
if PROMOWATCH_FIXTURES_DIR:
    globals().update(OFFLINE_SETTINGS)

if PROMOWATCH_MIRROR:
    # our own copy of the pages: nothing to be polite to, but the network stack (retries, timeouts) stays
    ROBOTSTXT_OBEY = False
    AUTOTHROTTLE_ENABLED = False
    DOWNLOAD_DELAY = 0
    CONCURRENT_REQUESTS_PER_DOMAIN = 16

if PROMOWATCH_BROWSER:  # optional extra `browser`: scrapy-playwright with Debian's chromium
    DOWNLOAD_HANDLERS = {
        "http": "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler",
        "https": "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler",
    }
    PLAYWRIGHT_BROWSER_TYPE = "chromium"
    PLAYWRIGHT_LAUNCH_OPTIONS = {
        "executable_path": _env("PROMOWATCH_CHROMIUM"),
        "headless": True,
        "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
    }
