"""The one validation every item passes: defaults filled, bad values refused with a countable reason."""

import pytest

from contract.offer import FIELDS, InvalidOffer, content_hash, normalise

BASE = dict(
    operator="iliad",
    offer_key="giga-150",
    name="Giga 150",
    url="https://www.iliad.it/x",
    plan_type="prepaid",
    price_cents=999,
    period_days=30,
)


def test_defaults_and_order():
    item = normalise(BASE)
    assert tuple(item) == FIELDS
    assert item["eligibility"] == "all" and item["eligible_from"] == [] and item["data_unlimited"] is False


def test_unlimited_clears_quantity_and_limited_5g_implies_5g():
    item = normalise({**BASE, "data_unlimited": True, "data_gb": 999.0, "data_5g_limited": True})
    assert item["data_gb"] is None and item["data_5g"] is True


@pytest.mark.parametrize(
    "change,reason",
    [
        ({"price_cents": None}, "no_price"),
        ({"price_cents": -100}, "negative_price"),
        ({"price_cents": 0}, "zero_price"),
        ({"price_cents": 99_999_99}, "absurd_price"),
        ({"price_cents": 9.5}, "bad_price"),
        ({"operator": "acme"}, "unknown_operator"),
        ({"plan_type": "family"}, "bad_plan_type"),
        ({"url": "/relative"}, "bad_url"),
        ({"name": "  "}, "no_name"),
        ({"eligible_from": ["nowhere"]}, "bad_eligible_from"),
        ({"promo_until": "30/09"}, "bad_promo_until"),
        ({"period_days": 0}, "bad_period_days"),
        ({"colour": "red"}, "unknown_field"),
        ({"flags": ["cheap"]}, "bad_flags"),
        ({"flags": "online_only"}, "bad_flags"),
        ({"flags": ["list_price:9,99"]}, "bad_flags"),
        ({"flags": ["online_only:1"]}, "bad_flags"),
    ],
)
def test_invalid_items_have_a_reason(change, reason):
    with pytest.raises(InvalidOffer) as exc:
        normalise({**BASE, **change})
    assert exc.value.reason == reason


def test_content_hash_follows_content():
    a = normalise(BASE)
    assert content_hash(a) == content_hash(normalise(dict(BASE)))
    assert content_hash(a) != content_hash(normalise({**BASE, "price_cents": 899}))
