"""A parsed page is freed by reference counting as soon as the spider's output for it is exhausted."""

import asyncio
import gc
import weakref

from scrapy.http import HtmlResponse

from spiders.page_middleware import PageReleaseMiddleware


def _page():
    return HtmlResponse(
        url="https://example.it/", body=b"<html><body>" + b"<p>offerta</p>" * 2000 + b"</body></html>", encoding="utf-8"
    )


def _spider_output(response):
    for p in response.css("p")[:3]:
        yield {"text": p.get()}


def _freed_without_collector(run) -> bool:
    response = _page()
    assert response.selector is not None  # parsed: response -> selector -> response, a cycle
    ref = weakref.ref(response)
    gc.disable()
    try:
        items = run(response)
        del response
        return len(items) == 3 and ref() is None
    finally:
        gc.enable()


def test_the_cycle_keeps_a_parsed_page_alive_without_the_middleware():
    assert not _freed_without_collector(lambda r: list(_spider_output(r)))


def test_the_middleware_frees_the_page_once_the_output_is_exhausted():
    mw = PageReleaseMiddleware()
    assert _freed_without_collector(lambda r: list(mw.process_spider_output(r, _spider_output(r))))


def test_the_async_path_frees_it_too():
    mw = PageReleaseMiddleware()

    async def agen(r):
        for item in _spider_output(r):
            yield item

    async def consume(r):
        return [i async for i in mw.process_spider_output_async(r, agen(r))]

    assert _freed_without_collector(lambda r: asyncio.run(consume(r)))
