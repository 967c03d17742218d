"""spiders.base.OfferKeys: the ways a spider keeps offer keys unique on a page, as the spiders use them."""

from spiders.base import OfferKeys


def test_first_keeps_a_key_once():
    keys = OfferKeys()
    assert [keys.first(k) for k in ("a", "b", "a", "a", "c")] == [True, True, False, False, True]


def test_unique_numbers_a_taken_key():  # coopvoce, very, ho
    keys = OfferKeys()
    assert [keys.unique(k) for k in ("a", "a", "b", "a", "a-2")] == ["a", "a-2", "b", "a-3", "a-2-2"]


def test_unique_drops_a_card_equal_to_any_holder_of_its_keys():  # iliad, kena
    keys = OfferKeys()
    assert keys.unique("a", {"gb": 10}, drop_same=True) == "a"
    assert keys.unique("a", {"gb": 20}, drop_same=True) == "a-2"
    assert keys.unique("a", {"gb": 10}, drop_same=True) is None  # the first card again
    assert keys.unique("a", {"gb": 20}, drop_same=True) is None  # the second card again, held as a-2
    assert keys.unique("a", {"gb": 30}, drop_same=True) == "a-3"


def test_unique_with_a_stem_after_a_first_key_check():  # postemobile, tim
    keys = OfferKeys()
    cards = [("x", {"n": 1}), ("x", {"n": 1}), ("x", {"n": 2}), ("x", {"n": 3}), ("x", {"n": 2})]
    out = []
    for key, value in cards:
        if keys.holds(key, value):
            out.append(None)  # the same card listed twice
            continue
        out.append(keys.unique(key, value, stem=f"{key}-name"))
    # only the first key is checked for an equal card: the fifth card is numbered, as the spiders did
    assert out == ["x", None, "x-name", "x-name-2", "x-name-3"]
    assert keys.holds("x-name", {"n": 2}) and not keys.holds("x-name", {"n": 3})


def test_the_spider_helpers_keep_or_number_keys():
    from spiders.tiscali import TiscaliSpider

    spider = TiscaliSpider()
    cards = [{"offer_key": "a", "price_cents": 100}, None, {"offer_key": "a", "price_cents": 200}]
    cards.append({"offer_key": "a", "price_cents": 100})
    assert [(o["offer_key"], o["price_cents"]) for o in spider.first_offers(cards)] == [("a", 100)]
    numbered = [(o["offer_key"], o["price_cents"]) for o in spider.numbered_offers(cards)]
    assert numbered == [("a", 100), ("a-2", 200), ("a-3", 100)]
    distinct = [(o["offer_key"], o["price_cents"]) for o in spider.numbered_offers(cards, drop_same=True)]
    assert distinct == [("a", 100), ("a-2", 200)]
    assert all(o["operator"] == "tiscali" for o in spider.numbered_offers(cards))
