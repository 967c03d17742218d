"""The page's selector: the spider gets one over plain lxml elements that reads what Scrapy's own reads, and a
parsed page is freed by reference counting as soon as the spider's output for it is exhausted."""

import asyncio
import gc
import weakref

import pytest
from lxml import etree
from scrapy.http import HtmlResponse, TextResponse
from scrapy.selector import Selector

from spiders.page_middleware import PageSelectorMiddleware
from spiders.page_selector import page_selector, use_page_selector


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
    mw = PageSelectorMiddleware()
    assert _freed_without_collector(lambda r: list(mw.process_spider_output(r, _spider_output(r))))


def test_the_async_path_frees_it_too():
    mw = PageSelectorMiddleware()

    async def agen(r):
        for item in _spider_output(r):
            yield item

    async def consume(r):
        return [i async for i in mw.process_spider_output_async(r, agen(r))]

    assert _freed_without_collector(lambda r: asyncio.run(consume(r)))


# ------------------------------------------------------------------ the page selector (spiders/page_selector.py)
_P = "<p class='price'>9,99 €</p><p>Giga illimitati ’5G’ 中文</p>"
#: bodies whose reading must not change: what Scrapy's own selector reads, the page selector reads too
BODIES = {
    "utf-8, characters beyond Latin-1": f"<html><body>{_P}</body></html>".encode(),
    "utf-8 declared in a meta": f"<html><head><meta charset='utf-8'></head><body>{_P}</body></html>".encode(),
    "byte order mark": b"\xef\xbb\xbf" + f"<html><body>{_P}</body></html>".encode(),
    "invalid utf-8 byte before the offers": b"<html><body><p>caf\xe9</p>" + _P.encode() + b"</body></html>",
    "latin-1 declared in a meta": "<html><head><meta charset='iso-8859-1'></head><body><p>Velocità 5G</p>"
    "<p>6,99 €</p></body></html>".encode("cp1252"),
    "null bytes": b"<html><body><p>9,\x0099 \xe2\x82\xac</p></body></html>",
    "no markup at all": b"solo testo",
    "empty": b"",
}


@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
def test_the_page_selector_reads_what_scrapys_selector_reads(body):
    response = HtmlResponse(url="https://example.it/offerte", body=body)
    default, ours = Selector(response), page_selector(response)
    assert type(ours.root) is etree._Element  # plain lxml elements, not lxml.html's
    assert ours.xpath("//text()").getall() == default.xpath("//text()").getall()
    assert ours.css("p").getall() == default.css("p").getall()
    assert ours.css(".price::text").getall() == default.css(".price::text").getall()


def test_only_an_unparsed_html_response_gets_it():
    page = HtmlResponse(url="https://example.it/", body=b"<p>x</p>")
    use_page_selector(page)
    assert type(page.selector.root) is etree._Element
    parsed = HtmlResponse(url="https://example.it/", body=b"<p>x</p>")
    first = parsed.selector  # already parsed: left alone
    use_page_selector(parsed)
    assert parsed.selector is first
    data = TextResponse(url="https://example.it/a.json", body=b'{"a": 1}', encoding="utf-8")
    use_page_selector(data)
    assert data.selector.type != "html" or type(data.selector.root) is not etree._Element


def test_the_middleware_gives_the_spider_the_page_selector_for_pages_it_reads():
    mw = PageSelectorMiddleware()
    ok = HtmlResponse(url="https://example.it/", body=b"<p>x</p>", status=200)
    mw.process_spider_input(ok)
    assert type(ok.selector.root) is etree._Element
    missing = HtmlResponse(url="https://example.it/", body=b"<p>x</p>", status=404)
    mw.process_spider_input(missing)  # HttpErrorMiddleware drops it: not parsed for nothing
    assert missing._cached_selector is None
