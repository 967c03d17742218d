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


# ------------------------------------------------------------------------------------------------ in each language

#: (phrase, Italian, English, Chinese): how a reader of each language reads it
PHRASES = [
    (
        {"code": "data_per_period", "unlimited": False, "gb": 180, "days": 30, "periods": 2},
        "180 GB ogni 30 giorni × 2",
        "180 GB per 30 days × 2",
        "每 30 天 180 GB × 2",
    ),
    (
        {
            "code": "combined",
            "parts": [
                {"code": "data_for", "unlimited": False, "gb": 1.5, "days": 7, "times": 2},
                {"code": "data_for", "unlimited": True, "gb": None, "days": 1, "times": 1},
            ],
        },
        "1,5 GB per 7 giorni × 2 + dati illimitati per 1 giorno",
        "1.5 GB for 7 days × 2 + unlimited data for 1 day",
        "7 天 1.5 GB × 2 + 1 天 不限流量",
    ),
    ({"code": "5g", "capped": True}, "5G (con limitazioni)", "5G (capped)", "5G（有限制）"),
    (
        {"code": "networks", "networks": ["TIM", "Vodafone"]},
        "su rete TIM, Vodafone",
        "on TIM, Vodafone",
        "使用 TIM、Vodafone 网络",
    ),
    ({"code": "no_hotspot"}, "hotspot non consentito", "no hotspot", "不可开热点"),
    (
        {"code": "existing_customers", "operator": "tim"},
        "solo per chi è già cliente TIM",
        "only for existing TIM customers",
        "仅限 TIM 现有用户",
    ),
    ({"code": "age", "group": "under_30"}, "solo under 30", "only under 30", "仅限 30 岁以下"),
    (
        {"code": "foreign_born"},
        "solo per chi è nato all'estero: serve un codice fiscale italiano",
        "only for people born abroad: needs an Italian codice fiscale",
        "仅限在国外出生的人：需要意大利税号（codice fiscale）",
    ),
    (
        {"code": "fair_use_short", "cap": 2, "need": 3.5, "after_mbps": 0.512},
        "fair use: 2 GB al giorno alla massima velocità (te ne servono 3,5), poi 0,51 Mbit/s",
        "fair use: 2 GB a day at full speed (you need 3.5), then 0.51 Mbit/s",
        "合理使用：每天 2 GB 全速（您每天需要 3.5 GB），超出后降至 0.51 Mbit/s",
    ),
    (
        {"code": "converted", "currency": "USD", "day": "2026-12-04"},
        "prezzo in USD, convertito al cambio del 4 dicembre 2026",
        "price in USD, converted at the rate of 4 December 2026",
        "以 USD 计价，按 2026年12月4日 的汇率换算",
    ),
    (
        {"code": "renews"},
        "si rinnova da solo: disattivalo quando riparti",
        "renews by itself: cancel it when you leave",
        "会自动续订：离开时请取消",
    ),
    (
        {"code": "porting_needed", "operator": "very", "origins": ["iliad", "postemobile"]},
        "solo portando a Very Mobile un numero di Iliad o PosteMobile: indica il tuo operatore attuale",
        "only by porting a number from Iliad or PosteMobile to Very Mobile: say which operator your number is with",
        "仅限将号码从 Iliad或PosteMobile 携号转入 Very Mobile：请填写您目前的运营商",
    ),
    (
        {"code": "too_short", "valid": 7, "days": 10},
        "valida 7 giorni, meno del tuo soggiorno di 10 giorni",
        "valid 7 days, shorter than your 10 days",
        "有效期 7 天，短于您 10 天的行程",
    ),
    (
        {"code": "does_not_cover", "operator": "airalo", "days": 45, "gb": 100},
        "nessun piano o ricarica di Airalo copre 45 giorni e 100 GB",
        "no Airalo plan or top-ups cover 45 days and 100 GB",
        "Airalo 没有套餐或充值组合能覆盖 45 天和 100 GB",
    ),
    (
        "a line stored before the codes",
        "a line stored before the codes",
        "a line stored before the codes",
        "a line stored before the codes",
    ),
]


@pytest.mark.parametrize("phrase, it, en_text, zh", PHRASES, ids=[str(p)[:40] for p, *_ in PHRASES])
def test_each_phrase_in_each_language(phrase, it, en_text, zh):
    assert [stay_phrases(lang, [phrase])[0] for lang in ("it", "en", "zh")] == [it, en_text, zh]


def _every_phrase():
    """Every phrase the case files make: included, watch and left-out reasons (combined parts too)."""
    found: dict[str, dict] = {}
    for stem, _, case in CASES:
        file_rates = json.loads((Path(__file__).parent / "data" / "stay" / f"{stem}.json").read_text("utf-8"))
        to_eur, day = converter(case.get("rates", file_rates.get("rates")))
        wanted = dict(case["stay"]) | {"arrive": date.fromisoformat(case["stay"]["arrive"])}
        costs = stay_costs(offers(stem), Stay(**wanted), to_eur, day)
        for card in costs.ranked + costs.apart:
            for p in card.included + card.watch:
                found.setdefault(p["code"], p)
        for e in costs.excluded:
            found.setdefault(e.reason["code"], e.reason)
    return found


def test_every_phrase_the_rules_make_is_worded_in_each_language():
    from alerts.render import stay_left_out

    found = _every_phrase()
    assert len(found) >= 25  # the tables reach most of the rules' phrases
    for lang in ("it", "en", "zh"):
        for code, p in found.items():
            [text] = stay_phrases(lang, [p])
            assert text and text != code and "{" not in text, (lang, code, text)
            if lang != "en":
                assert text != stay_phrases("en", [p])[0] or code in ("5g", "hotspot_gb"), (lang, code, text)
        for code in {"smart_home", "not_5g", "not_esim", "promo_ended", "no_data", "existing_customers"} | {
            "porting_only",
            "too_little_data",
            "too_short",
            "does_not_cover",
        }:
            assert stay_left_out(lang, code) != code, (lang, code)
