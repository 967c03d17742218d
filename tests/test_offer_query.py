"""Who can take an offer, €/GB, 12-month cost, filters and orderings (tables in data/offer_query.json),
and `promowatch offers` with its filters on a real SQLite database."""

import json
import os
import sys

import processes
import pytest
from conftest import ROOT, store_crawl

from contract.offer_query import OfferFilter, can_take_from, eur_per_gb_cents, sort_offers, twelve_month_cents

CASES = json.loads((ROOT / "tests" / "data" / "offer_query.json").read_text("utf-8"))


@pytest.mark.parametrize(
    "case", CASES["can_take_from"], ids=lambda c: f"{c['offer']['operator']}-{c['origin']}-{c['ok']}"
)
def test_can_take_from(case):
    assert can_take_from(case["offer"], case["origin"]) is case["ok"]


@pytest.mark.parametrize("case", CASES["eur_per_gb_cents"])
def test_eur_per_gb(case):
    assert eur_per_gb_cents(case["offer"]) == case["want"]


@pytest.mark.parametrize("case", CASES["twelve_month_cents"])
def test_twelve_month_cost(case):
    assert twelve_month_cents(case["offer"]) == case["want"]


@pytest.mark.parametrize("case", CASES["eur_per_gb_order"], ids=lambda c: c["id"])
def test_eur_per_gb_order_compares_30_days(case):
    offers = [
        _item("op", key, price, None if gb in (None, "unlimited") else float(gb), unlimited=gb == "unlimited")
        | {"period_days": days}
        for key, price, days, gb in case["offers"]
    ]
    assert [i["offer_key"] for i in sort_offers(offers, "eur-per-gb")] == case["want"]


def _item(op, key, price, gb=None, unlimited=False, g5=False, plan="prepaid", **extra):
    return {
        "operator": op,
        "offer_key": key,
        "name": key,
        "url": "https://x.example/",
        "plan_type": plan,
        "price_cents": price,
        "period_days": 30,
        "data_gb": gb,
        "data_unlimited": unlimited,
        "data_5g": g5,
        **extra,
    }


ITEMS = [
    _item("iliad", "a", 999, 200.0, g5=True),
    _item("very", "b", 599, 150.0),
    _item("ho", "c", 1299, unlimited=True, g5=True),
    _item("tim", "d", 499, plan="voice_only"),
    _item("kena", "e", 699, 300.0, g5=True, eligibility="portability", eligible_from=["tim"]),
]


def test_filter_and_sort():
    keys = lambda items: [i["offer_key"] for i in items]  # noqa: E731
    assert keys(sort_offers(ITEMS, "price")) == ["d", "b", "e", "a", "c"]
    assert keys(sort_offers(ITEMS, "gb")) == ["c", "e", "a", "b", "d"]
    # per 30 days, unlimited counted as the biggest bundle (e's 300 GB): 0,023 e, 0,040 b, 0,043 c, 0,050 a
    assert keys(sort_offers(ITEMS, "eur-per-gb")) == ["e", "b", "c", "a", "d"]
    assert keys(i for i in ITEMS if OfferFilter(only_5g=True, max_price_cents=1000).matches(i)) == ["a", "e"]
    assert keys(i for i in ITEMS if OfferFilter(min_gb=180).matches(i)) == ["a", "c", "e"]
    assert keys(i for i in ITEMS if OfferFilter(origin="iliad").matches(i)) == ["b", "c", "d"]
    assert keys(i for i in ITEMS if OfferFilter(plan_types={"voice_only"}).matches(i)) == ["d"]
    with pytest.raises(ValueError):
        sort_offers(ITEMS, "cheapest")


def _cli(*args, env):
    return processes.run(
        [sys.executable, "-m", "promowatch", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_offers_command_filters_a_real_database(tmp_db):
    env = {**os.environ, "PROMOWATCH_DATABASE_URL": tmp_db}
    from contract.offer import normalise

    by_op: dict[str, list] = {}
    for it in ITEMS:
        by_op.setdefault(it["operator"], []).append(normalise(it))
    for op, items in by_op.items():
        store_crawl(tmp_db, op, items)
    out = _cli("offers", "--from", "iliad", "--sort", "price", "--json", env=env)
    assert out.returncode == 0, out.stderr
    assert [i["offer_key"] for i in json.loads(out.stdout)] == ["d", "b", "c"]
    out = _cli("offers", "--5g", "--min-gb", "250", "--json", env=env)
    assert [i["offer_key"] for i in json.loads(out.stdout)] == ["c", "e"]
    table = _cli("offers", "--operator", "iliad", "--operator", "very", "--sort", "eur-per-gb", env=env)
    assert table.returncode == 0 and "€/GB" in table.stdout and "2 offers" in table.stdout
    for bad in (["--max-price", "abc"], ["--from", "nokia"], ["--sort", "cheapest"], ["--plan-type", "family"]):
        out = _cli("offers", *bad, env=env)
        assert out.returncode == 2, bad
        assert out.stderr.strip(), bad


def test_sort_by_the_cost_of_the_first_twelve_months():
    items = [
        {
            "operator": "tim",
            "offer_key": key,
            "plan_type": "prepaid",
            "period_days": 30,
            "price_cents": price,
            "activation_cents": fee,
        }
        for key, price, fee in (("a", 500, 3000), ("b", 700, 0), ("c", 600, 500))
    ]
    ordered = sort_offers(items, "year")
    assert [(i["offer_key"], twelve_month_cents(i)) for i in ordered] == [("c", 7700), ("b", 8400), ("a", 9000)]


def test_eligibility_filter_keeps_only_those_groups():
    items = [
        {"operator": "tim", "offer_key": "x", "plan_type": "home", "price_cents": 5, "eligibility": "foreign_born"},
        {"operator": "tim", "offer_key": "y", "plan_type": "home", "price_cents": 5},
    ]
    assert [i["offer_key"] for i in items if OfferFilter(eligibilities={"foreign_born"}).matches(i)] == ["x"]
    assert [i["offer_key"] for i in items if OfferFilter().matches(i)] == ["x", "y"]
