"""The stay rules (contract/stay.py) as tables: tests/data/stay/*.json hold offers and, per case, a stay (days,
GB, wishes, arrival, rates) and the expected ranking (keys in order with their euro totals), the cards listed
apart, the offers left out and why, and lines the cards must (or must not) show."""

import json
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from alerts.render import stay_phrases
from contract.stay import MAX_DAYS, Stay, eur_only, stay_costs

CASE_FILES = sorted((Path(__file__).parent / "data" / "stay").glob("*.json"))
CASES = [
    (path.stem, n, case) for path in CASE_FILES for n, case in enumerate(json.loads(path.read_text("utf-8"))["cases"])
]


def offers(path_stem: str) -> list[dict]:
    data = json.loads((Path(__file__).parent / "data" / "stay" / f"{path_stem}.json").read_text("utf-8"))
    return [
        {"name": o["offer_key"].upper(), "url": f"https://example.test/{o['operator']}/{o['offer_key']}", **o}
        for o in data["offers"]
    ]


def converter(rates: dict | None):
    """The ECB reference rates' arithmetic (units of a currency per euro), as contract/rates.py does it."""
    if rates is None:
        return eur_only, None
    per_eur = {c: Decimal(r) for c, r in rates["per_eur"].items()}

    def to_eur(cents: int, currency: str) -> int | None:
        if currency == "EUR":
            return cents
        if currency not in per_eur:
            return None
        return int((Decimal(cents) / per_eur[currency]).quantize(Decimal(1), rounding=ROUND_HALF_UP))

    return to_eur, rates["day"]


def en(phrases) -> list[str]:
    """The phrases as the command prints them (alerts/templates/en/_stay.j2); the tables say what they expect."""
    return stay_phrases("en", phrases)


def test_every_case_file_is_read():
    assert {p.stem for p in CASE_FILES} >= {"realistic_mix", "periods", "fair_use", "topups", "currency"}
    assert len(CASES) >= 25


@pytest.mark.parametrize("stem, n, case", CASES, ids=[f"{s}-{n}" for s, n, _ in CASES])
def test_stay_table(stem, n, case):
    file_rates = json.loads((Path(__file__).parent / "data" / "stay" / f"{stem}.json").read_text("utf-8")).get("rates")
    to_eur, day = converter(case.get("rates", file_rates))
    wanted = dict(case["stay"])
    wanted["arrive"] = date.fromisoformat(wanted["arrive"])
    costs = stay_costs(offers(stem), Stay(**wanted), to_eur, day)
    assert [[c.key, c.total_eur_cents] for c in costs.ranked] == case["ranking"], case["why"]
    assert [[c.key, c.total_cents, c.currency] for c in costs.apart] == case.get("apart", []), case["why"]
    left_out = {f"{e.item['operator']}:{e.item['offer_key']}": e.code for e in costs.excluded}
    assert left_out == case.get("excluded", {}), case["why"]
    reasons = {f"{e.item['operator']}:{e.item['offer_key']}": en([e.reason])[0] for e in costs.excluded}
    for key, reason in case.get("reasons", {}).items():
        assert reasons[key] == reason
    cards = {c.key: c for c in costs.ranked + costs.apart}
    for key, lines in case.get("watch", {}).items():
        for line in lines:
            assert line in "\n".join(en(cards[key].watch)), (key, line, en(cards[key].watch))
    for key, lines in case.get("no_watch", {}).items():
        for line in lines:
            assert line not in "\n".join(en(cards[key].watch)), (key, line, en(cards[key].watch))
    for key, text in case.get("included", {}).items():
        assert text in en(cards[key].included), (key, en(cards[key].included))  # one phrase of the list
    if "throttled" in case:
        assert sorted(k for k, c in cards.items() if not c.full_speed) == sorted(case["throttled"])


def test_the_json_form_holds_the_ranking_and_the_reasons():
    costs = stay_costs(offers("eligibility"), Stay(10, 20, arrive=date(2026, 12, 20)))
    data = json.loads(json.dumps(costs.as_dict()))
    assert data["stay"] == {"days": 10, "gb": 20, "only_5g": False, "origin": None, "esim_only": False} | {
        "arrive": "2026-12-20"
    }
    assert [(c["rank"], c["key"], c["total_eur_cents"]) for c in data["ranked"]][:2] == [
        (1, "very:180-nuovi", 699),
        (2, "tim:under30", 899),
    ]
    assert {e["key"]: e["reason"] for e in data["excluded"]}["tim:cross"] == {
        "code": "existing_customers",
        "operator": "tim",
    }


@pytest.mark.parametrize("days, gb", [(0, 1), (MAX_DAYS + 1, 1), (True, 1), (1.5, 1), (10, -1), (10, float("nan"))])
def test_a_stay_refuses_what_is_not_one(days, gb):
    with pytest.raises(ValueError):
        Stay(days, gb)


def test_arrival_defaults_to_today_in_utc():
    from contract.clock import utcnow

    assert Stay(3).arrival == utcnow().date()
    assert Stay(3, arrive=date(2027, 1, 2)).arrival == date(2027, 1, 2)
