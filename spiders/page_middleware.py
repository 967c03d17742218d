"""The page's selector: built lean before the spider reads the page, dropped as soon as it is done with it.

Before: the response's selector is the page selector of `spiders.page_selector` (parsed from the bytes, plain
lxml elements), not Scrapy's default one; see that module for why.

After: a Scrapy response caches its Selector, and that Selector points back to the response: a reference
cycle. The page's body and its whole lxml tree (several MiB for a large page) then outlive the callback until
Python's cyclic collector runs, which in a resident crawl worker is after the cycle's last crawl: every page
of the cycle alive at once, the worker's memory peak. Once the spider's output for a response is exhausted,
this spider middleware drops that cache, so reference counting frees the page at once.
"""

from __future__ import annotations

from spiders.page_selector import use_page_selector


def _release(response) -> None:
    try:
        if getattr(response, "_cached_selector", None) is not None:
            response._cached_selector = None
    except AttributeError:  # a Scrapy without that cache: nothing held
        pass


class PageSelectorMiddleware:
    def process_spider_input(self, response, spider=None):
        if 200 <= response.status < 300:  # what HttpErrorMiddleware lets through (others seldom reach a spider)
            use_page_selector(response)

    def process_spider_output(self, response, result, spider=None):
        try:
            yield from result
        finally:
            _release(response)

    async def process_spider_output_async(self, response, result, spider=None):
        try:
            async for out in result:
                yield out
        finally:
            _release(response)
