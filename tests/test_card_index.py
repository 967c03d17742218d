"""The card index and the tree-walking text helpers answer exactly what parsel's CSS / XPath would."""

import pytest
from scrapy.http import HtmlResponse

from spiders.card_index import IndexedCard, indexed
from spiders.parsing import CURRENT_TEXT, VISIBLE_TEXT, clean, text_of, text_skipping

PAGE = b"""<html><body><div class="card top">
  <h3 class="title  name">Giga <b>150</b><!-- hidden --></h3>
  <div class="price"><strong>9</strong>,99 &euro;<del>12,99</del><script>var x = 1;</script></div>
  <ul class="features"><li class="f">150 GB <s>100 GB</s></li><li class="f old">Minuti illimitati</li></ul>
  <a class="cta main" href="/offer/1">Attiva</a><a class="cta" href="/offer/2">Dettagli</a>
  <div class="box"><div class="box inner"><span class="tag">5G</span></div><span class="tag">eSIM</span></div>
  <img class="logo" src="/5g.png" alt="5G"><style>.x{}</style>
</div></body></html>"""

QUERIES = [
    ".title",
    ".name",
    ".price",
    "h3.title",
    "div.title",
    ".f",
    "li.f",
    ".cta::attr(href)",
    "a.cta::attr(href)",
    ".logo::attr(alt)",
    ".logo::attr(title)",
    ".features li",
    ".features .f",
    ".price strong",
    ".features li::attr(class)",
    ".missing",
    ".box .tag",
    ".card",
    ".cta, .logo",
    "ul li",
    ".tag",
    "a::attr(href)",
    "img::attr(src), img::attr(alt), img::attr(title)",
    "li",
    "A",
    "h3",
    "h3, .price",
    ".tag, .box",
    ".title, h3",
    ".cta::attr(class), .cta::attr(href)",
    "a, img::attr(src)",
    "div",
    "a[href]::attr(href)",
    "ul li::attr(class)",
    "h3.title, del",
]


@pytest.fixture
def card():
    return HtmlResponse(url="https://example.org/", body=PAGE, encoding="utf-8").css(".card")[0]


@pytest.mark.parametrize("query", QUERIES)
def test_indexed_css_matches_parsel(card, query):
    assert indexed(card).css(query).getall() == card.css(query).getall()


@pytest.mark.parametrize(
    "query", [".tag", ".f", "li.f", ".features", ".missing", "li", "span, li", "li::attr(class)", "s"]
)
def test_lists_from_the_index_answer_like_parsel(card, query):
    assert indexed(card).css(".features, .box").css(query).getall() == card.css(".features, .box").css(query).getall()
    assert indexed(card).css(".box").css(query).getall() == card.css(".box").css(query).getall()  # nested boxes
    assert indexed(card).css(".features").css(query).getall() == card.css(".features").css(query).getall()


def test_indexed_passes_everything_else_through(card):
    wrapped = indexed(card)
    assert isinstance(wrapped, IndexedCard) and indexed(wrapped) is wrapped
    assert wrapped.xpath(".//a/@href").getall() == ["/offer/1", "/offer/2"]
    assert wrapped.attrib == card.attrib and wrapped.get() == card.get()


@pytest.mark.parametrize(
    "xpath",
    [
        VISIBLE_TEXT,
        CURRENT_TEXT,
        ".//text()",
        ".//text()[not(ancestor::del)]",
        ".//text()[not(ancestor::s) and not(ancestor::del)]",
    ],
)
def test_text_of_walk_matches_its_xpath(card, xpath):
    expected = " ".join(" ".join(card.xpath(xpath).getall()).split())
    assert text_of(card, xpath) == expected
    assert text_of(card.css(".f"), xpath) == " ".join(" ".join(card.css(".f").xpath(xpath).getall()).split())


@pytest.mark.parametrize(
    "xpath",
    [
        "./strong//text()",
        ".//del//text() | .//s//text()",
        "(.//h3|.//h2)[1]//text()",
        ".//a/@href",
        "string()",
        "count(.//li)",
        ".//li",
        ".//comment()",
        ".//missing",
        ".//li[re:test(@class, 'o.d')]//text()",
    ],
)
def test_text_of_other_xpaths_matches_parsel(card, xpath):
    """Compiled on the lxml nodes: text and attribute results joined directly, anything else as parsel has it."""
    for sel in (card, card.css(".price"), card.css(".f"), card.css(".cta::attr(href)")):
        assert text_of(sel, xpath) == clean(" ".join(sel.xpath(xpath).getall()))


def test_text_skipping_leaves_out_tags_and_classes(card):
    assert text_skipping(card.css(".features"), frozenset({"s"}), "old") == "150 GB"
    assert text_skipping(card.css(".cta::attr(href)"), frozenset()) == "/offer/1 /offer/2"
