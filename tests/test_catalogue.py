"""The operator catalogue: one checked entry per operator, and a broken entry is refused, not shown."""

import json

import pytest

from contract.catalogue import CATALOGUE_FILE, FactsError, load
from contract.offer import OPERATORS


def test_every_operator_has_an_entry_that_passes_the_checks():
    facts = load()
    assert set(facts) == set(OPERATORS)
    for op, entry in facts.items():
        assert entry["sources"], op
        assert entry["offers_page"].startswith("https://"), op


def test_every_operator_says_how_to_pay_from_abroad_and_about_the_codice_fiscale_or_null():
    """Unconfirmed is null; a confirmed fact passes the checks (an operator entry without the keys does not)."""
    for op, entry in load().items():
        if entry["kind"] == "operator":
            assert "pay_from_abroad" in entry and "needs_codice_fiscale" in entry, op
    data = json.loads(CATALOGUE_FILE.read_text("utf-8"))
    data["operators"]["tim"] |= {"pay_from_abroad": ["foreign_card", "paypal"], "needs_codice_fiscale": False}
    assert _loaded(data)["tim"]["pay_from_abroad"] == ["foreign_card", "paypal"]
    del data["operators"]["tim"]["needs_codice_fiscale"]
    with pytest.raises(FactsError, match=r"tim: unknown keys \[\], missing keys \['needs_codice_fiscale'\]"):
        _loaded(data)


def _loaded(data: dict) -> dict:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "facts.json"
        path.write_text(json.dumps(data), "utf-8")
        return load.__wrapped__(path)


def test_own_networks_name_themselves():
    facts = load()
    for op in ("tim", "vodafone", "windtre", "iliad"):
        assert facts[op]["host_network"] == op


BROKEN = [
    ("host_network", "wind", "host_network='wind'"),  # not a network slug
    ("esim", "yes", "esim='yes'"),  # a string where a bool belongs
    ("top_up_online", ["app", "bitcoin"], "top_up_online"),
    ("renews_from", "card", "must be a list"),
    ("sources", None, "may not be null"),
    ("guess", True, "unknown keys"),
    ("aliases", "Telecom", "aliases must be a list of names"),
    ("aliases", ["Telecom", ""], "aliases must be a list of names"),
    ("page_names", None, "page_names must be a regular expression"),
    ("page_names", "", "page_names must be a regular expression"),
    ("page_names", r"\btim(", "is not a regular expression"),
    ("pay_from_abroad", ["foreign_card", "bitcoin"], "pay_from_abroad"),
    ("pay_from_abroad", "paypal", "must be a list"),
    ("needs_codice_fiscale", "yes", "needs_codice_fiscale='yes'"),
    ("needs_codice_fiscale", 1, "needs_codice_fiscale=1"),
]


@pytest.mark.parametrize("key,value,message", BROKEN, ids=[f"{b[0]}={b[1]!r}" for b in BROKEN])
def test_a_broken_entry_is_refused(tmp_path, key, value, message):
    data = json.loads(CATALOGUE_FILE.read_text("utf-8"))
    data["operators"]["tim"][key] = value
    broken = tmp_path / "facts.json"
    broken.write_text(json.dumps(data), "utf-8")
    with pytest.raises(FactsError, match=message):
        load.__wrapped__(broken)


def test_no_two_operators_go_by_the_same_name():
    from contract.catalogue import _folded

    owners: dict[str, set] = {}
    for op, entry in load().items():
        for name in (op, entry["name"], *entry.get("aliases", [])):
            owners.setdefault(_folded(name), set()).add(op)
    assert {name: ops for name, ops in owners.items() if len(ops) > 1} == {}


def test_the_contract_takes_the_catalogue_operators_in_file_order():
    data = json.loads(CATALOGUE_FILE.read_text("utf-8"))
    assert OPERATORS == tuple(data["operators"])


def test_each_operator_is_found_by_its_own_page_names():
    from spiders.parsing import operators_named

    for op, entry in load().items():
        assert operators_named(f"per chi viene da {entry['name']}") == [op], op
