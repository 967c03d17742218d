"""A page's selector over a plain lxml tree, parsed from the response's bytes.

Scrapy builds `response.selector` from `response.text` with parsel's defaults: the body is decoded to a str
(about twice the body's size for a page with any character above U+00FF), encoded back to UTF-8 for lxml, and
parsed with `lxml.html`'s parser, whose element class lookup is a Python callback: every time a spider's
tree walk (card index, card text) touches an element, lxml calls back into Python to choose `HtmlElement`.
The spiders use none of `HtmlElement`'s own methods, only what every lxml element has, so `page_selector`
hands parsel's own `create_root_node` the raw bytes, their encoding and `lxml.etree.HTMLParser`: the same
tree, plain elements made in C (walking the elements of the real TIM page: 4.7 ms -> 1.0 ms), no decoded
copy of the page unless a spider asks for `response.text`. parsel falls back to decoding the body itself
when it is not valid UTF-8 or not UTF-8 at all, as it does for any body it is given.
The selector is parsel's own `Selector`, not Scrapy's subclass: Scrapy's registers every selector it makes
(each result of every `.css`/`.xpath`, a thousand and more per round of pages) in its live-object tracker
(`scrapy.utils.trackref`, a weak reference each); the spiders use nothing the subclass adds.

`use_page_selector(response)` installs it as the response's cached selector (Scrapy's `_cached_selector`,
the attribute behind `response.selector`): `PageSelectorMiddleware` does so before a spider reads a page,
and `spiders.saved_page` for `promowatch parse`.
"""

from __future__ import annotations

from lxml import etree
from parsel import Selector
from parsel.selector import create_root_node
from scrapy.http import HtmlResponse


def page_selector(response: HtmlResponse) -> Selector:
    """The HTML response's selector: parsed from its body in its encoding, elements of plain lxml classes."""
    root = create_root_node("", etree.HTMLParser, base_url=response.url, body=response.body, encoding=response.encoding)
    return Selector(root=root, type="html")


def use_page_selector(response) -> None:
    """Make `response.selector` (and so `.css` / `.xpath`) the page selector, for an HTML response not yet
    parsed; anything else is left as it is."""
    if isinstance(response, HtmlResponse) and getattr(response, "_cached_selector", False) is None:
        response._cached_selector = page_selector(response)
