"""Table-driven cases for the text helpers (cases kept as data files, urlwatch style)."""

import json
from datetime import date
from pathlib import Path

import pytest

from spiders.parsing import data_gb, is_unlimited, money_cents, note_flags, parse_date, split_price_cents

DATA = Path(__file__).parent / "data"


def cases(name):
    return json.loads((DATA / name).read_text("utf-8"))


@pytest.mark.parametrize("text,cents", cases("money_cases.json"))
def test_money(text, cents):
    assert money_cents(text) == cents


@pytest.mark.parametrize("text,gb", cases("data_cases.json"))
def test_data_gb(text, gb):
    assert data_gb(text) == gb


@pytest.mark.parametrize("text,today,expected", cases("date_cases.json"))
def test_dates_without_year_resolve_forward(text, today, expected):
    assert parse_date(text, date.fromisoformat(today)) == expected


@pytest.mark.parametrize(
    "units,decimals,cents", [("6", ",95", 695), ("9", ",99 €", 999), ("12", "", 1200), ("", ",99", None)]
)
def test_split_price(units, decimals, cents):
    assert split_price_cents(units, decimals) == cents


@pytest.mark.parametrize(
    "text,expected", [("Giga illimitati*", True), ("-1", True), ("Minuti ILLIMITATI", True), ("100 minuti", False)]
)
def test_unlimited(text, expected):
    assert is_unlimited(text) is expected


@pytest.mark.parametrize(
    "text,exclude,expected",
    [
        ("Per chi viene da Iliad, PosteMobile e CoopVoce", None, ["iliad", "postemobile", "coopvoce"]),
        (
            "Hai TIM, Vodafone, ho. Mobile, Kena Mobile o Very Mobile?",
            "windtre",
            ["tim", "vodafone", "ho", "kena", "very"],
        ),
        ("clienti WINDTRE, Wind Tre e 1Mobile", None, ["windtre", "unomobile"]),
        ("Sky Mobile", "ho", ["sky"]),
        ("io ho un telefono", None, []),
        ("passa a TIM da TIM", "tim", []),
    ],
)
def test_operators_named(text, exclude, expected):
    from spiders.parsing import operators_named

    assert operators_named(text, exclude) == expected


@pytest.mark.parametrize("lines,expected", cases("allowance_cases.json"))
def test_allowances_from_feature_lines(lines, expected):
    from spiders.parsing import allowances

    assert allowances(lines) == expected


@pytest.mark.parametrize("notes,given,flags,rest", cases("note_cases.json"))
def test_note_terms_become_flags(notes, given, flags, rest):
    """A part that is only recognised terms leaves the notes; a sentence keeps its words and still gives its
    flags, except the terms that inside a sentence qualify something else (a fee's list price, new customers)."""
    from contract.offer import normalise

    assert note_flags(notes, given) == (flags, rest)
    base = {"operator": "iliad", "offer_key": "k", "name": "n", "url": "https://x.it", "plan_type": "prepaid"}
    assert normalise({**base, "price_cents": 999, "period_days": 30, "flags": flags})["flags"] == flags
