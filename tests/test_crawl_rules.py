"""The crawl rules every crawl and import share (spiders/crawl_rules.py): which cards are kept, which
dropped, and the status they make, as a table."""

import re

import pytest

from contract.offer import InvalidOffer
from spiders.crawl_rules import DROPPED_SHARE_PARTIAL, HEALTH_RULES, CrawlFacts, CrawlItems, crawl_status


def card(key, price=999, **extra):
    return {
        "operator": "iliad",
        "offer_key": key,
        "name": f"Giga {key}",
        "url": "https://www.iliad.it/x",
        "plan_type": "prepaid",
        "price_cents": price,
        "period_days": 30,
        **extra,
    }


def collect(cards) -> CrawlItems:
    """The cards through the rules, as a crawl collects them (invalid ones dropped and counted)."""
    crawl = CrawlItems()
    for c in cards:
        try:
            crawl.add(c)
        except InvalidOffer:
            pass
    return crawl


def valid(n):
    return [card(f"v{i}") for i in range(n)]


CASES = [  # id, cards, min offers, status, error (None: no note)
    ("all valid", valid(5), 1, "healthy", None),
    (
        "one of five invalid: exactly 20 %",
        [*valid(4), card("b", -1)],
        1,
        "healthy",
        "dropped 1 of 5 cards: b (negative_price: -1)",
    ),
    (
        "two of six invalid: more than 20 %",
        [*valid(4), card("b", "9,99"), card("c", None)],
        1,
        "partial",
        "dropped 2 of 6 cards (more than 20% invalid): b (bad_price: '9,99'), c (no_price)",
    ),
    (
        "a card without a key counts toward the share, named by its name",
        [*valid(3), card(None), card(" ", 0)],
        1,
        "partial",
        'dropped 2 of 5 cards (more than 20% invalid): "Giga None" (no_offer_key: None), "Giga" (no_offer_key: \' \')',
    ),
    (
        "a repeated card is dropped, not invalid",
        [*valid(3), card("v0"), card("v1")],
        1,
        "healthy",
        "dropped 2 of 5 cards: v0 (duplicate_offer_key), v1 (duplicate_offer_key)",
    ),
    (
        "every card invalid",
        [card("a", -5), card("b", -6)],
        1,
        "failed",
        "no valid offer: dropped 2 of 2 cards (more than 20% invalid): a (negative_price: -5), b (negative_price: -6)",
    ),
    ("no card", [], 1, "failed", "no offer found on the page (layout changed?)"),
    (
        "too few offers",
        [*valid(2), card("b", -1)],
        4,
        "partial",
        "only 2 offers, expected at least 4; dropped 1 of 3 cards (more than 20% invalid): b (negative_price: -1)",
    ),
    (
        "more than five dropped: the first five named",
        [*valid(30), *(card(f"x{i}", -1) for i in range(7))],
        1,
        "healthy",
        "dropped 7 of 37 cards: x0 (negative_price: -1), x1 (negative_price: -1), x2 (negative_price: -1), "
        "x3 (negative_price: -1), x4 (negative_price: -1), 2 more",
    ),
]


@pytest.mark.parametrize("cards, min_offers, status, error", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_crawl_rules(cards, min_offers, status, error):
    crawl = collect(cards)
    assert crawl_status(CrawlFacts("finished", crawl, min_offers)) == (status, error)
    assert crawl.seen == len(cards) and len(crawl.items) + sum(crawl.dropped.values()) == len(cards)


def test_seen_invalid_keys_are_the_keyed_invalid_cards_no_valid_card_had():
    crawl = CrawlItems()
    for c in [card("a"), card("a", -1), card("b", -1), card(None, -1), card("c"), card("c")]:
        try:
            crawl.add(c)
        except InvalidOffer:
            pass
    assert crawl.seen_invalid_keys == {"b"}
    assert DROPPED_SHARE_PARTIAL == 0.20


#: (case, finish reason, Scrapy stats, status, error): the rules read from what went wrong in a Scrapy crawl
STATS_CASES = [
    ("block page", "finished", {"promowatch/blocked": True}, "blocked", "block page"),
    (
        "block page after a 403",
        "finished",
        {"promowatch/blocked": True, "httperror/response_ignored_count": 1, "downloader/response_status_count/403": 1},
        "blocked",
        "HTTP error 403×1",
    ),
    ("shut down", "shutdown", {}, "failed", "crawl ended: shutdown"),
    ("download error", "finished", {"downloader/exception_count": 2}, "partial", "download errors: 2"),
    (
        "our own refusals are no download errors",
        "finished",
        {"downloader/exception_count": 1, "downloader/exception_type_count/scrapy.exceptions.IgnoreRequest": 1},
        "healthy",
        None,
    ),
    ("spider exception", "finished", {"spider_exceptions/count": 1}, "partial", "spider exceptions: 1"),
    ("import", "import", {}, "healthy", None),
]


@pytest.mark.parametrize("reason, stats, status, error", [c[1:] for c in STATS_CASES], ids=[c[0] for c in STATS_CASES])
def test_health_rules_read_the_crawls_stats(reason, stats, status, error):
    crawl = collect(valid(3))
    assert crawl_status(CrawlFacts.of_scrapy(reason, crawl, 1, stats)) == (status, error)


SHRINK_CASES = [  # id, offers read, offers of the previous healthy crawl (None: none yet), status, error
    ("first healthy crawl: nothing to compare", 2, None, "healthy", None),
    ("same size", 18, 18, "healthy", None),
    ("a little smaller", 10, 18, "healthy", None),
    ("just over half", 10, 19, "healthy", None),
    ("exactly half", 9, 18, "partial", "only 9 offers, the previous healthy crawl had 18"),
    ("a third", 6, 18, "partial", "only 6 offers, the previous healthy crawl had 18"),
    ("grew", 30, 18, "healthy", None),
    ("the previous healthy crawl stored none", 3, 0, "healthy", None),
    ("too small to judge: 3 -> 1", 1, 3, "healthy", None),
    ("the smallest judged: 4 -> 2", 2, 4, "partial", "only 2 offers, the previous healthy crawl had 4"),
]


@pytest.mark.parametrize("n, previous, status, error", [c[1:] for c in SHRINK_CASES], ids=[c[0] for c in SHRINK_CASES])
def test_a_catalogue_shrunk_by_half_is_partial(n, previous, status, error):
    crawl = CrawlItems()
    for c in valid(n):
        crawl.add(c)
    assert crawl_status(CrawlFacts("finished", crawl, 1, previous=previous)) == (status, error)


@pytest.mark.parametrize(
    "since, status",
    [((), "partial"), ((9,), "partial"), ((9, 9), "healthy"), ((9, 8), "partial"), ((8, 9), "partial")],
)
def test_a_smaller_catalogue_read_three_times_in_a_row_is_the_sites_own(since, status):
    crawl = CrawlItems()
    for c in valid(9):
        crawl.add(c)
    assert crawl_status(CrawlFacts("finished", crawl, 1, previous=18, since=since))[0] == status


def test_each_health_rule_decides_some_crawl_and_says_what_it_checks():
    """The table is read in order, first failure decides: each rule is reachable and described."""
    decided = set()
    for cards, min_offers, *_ in [c[1:] for c in CASES]:
        facts = CrawlFacts("finished", collect(cards), min_offers)
        decided |= {type(r).__name__ for r in HEALTH_RULES if r.check(facts) is not None}
    for reason, stats, *_ in [c[1:] for c in STATS_CASES]:
        facts = CrawlFacts.of_scrapy(reason, collect(valid(3)), 1, stats)
        decided |= {type(r).__name__ for r in HEALTH_RULES if r.check(facts) is not None}
    for n, previous, *_ in [c[1:] for c in SHRINK_CASES]:
        crawl = CrawlItems()
        for c in valid(n):
            crawl.add(c)
        facts = CrawlFacts("finished", crawl, 1, previous=previous)
        decided |= {type(r).__name__ for r in HEALTH_RULES if r.check(facts) is not None}
    assert decided == {type(r).__name__ for r in HEALTH_RULES}
    assert all(r.status in ("blocked", "failed", "partial") and r.description for r in HEALTH_RULES)


def test_the_architecture_doc_lists_the_rule_table():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "architecture.md").read_text("utf-8")
    listed = re.findall(r"^\| `(\w+)` \| (\w+) \|", doc, re.M)
    assert listed == [(type(r).__name__, r.status) for r in HEALTH_RULES]
