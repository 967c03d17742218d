"""Drops a page's parsed tree as soon as the spider is done with it.

A Scrapy response caches its Selector, and that Selector points back to the response: a reference cycle. The
page's body and its whole lxml tree (several MiB for a large page) then outlive the callback until Python's cyclic
collector runs, which in the resident crawl worker is after the cycle's last crawl: every page of the cycle alive at
once. Once the spider's output for a response is exhausted, this spider middleware drops that cache, so reference
counting frees the page at once.
"""

from __future__ import annotations


def _release(response) -> None:
    try:
        if getattr(response, "_cached_selector", None) is not None:
            response._cached_selector = None
    except AttributeError:  # a Scrapy without that cache: nothing held
        pass


class PageReleaseMiddleware:
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
