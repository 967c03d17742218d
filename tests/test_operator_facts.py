"""The operator facts file: one checked entry per operator, and a broken entry is refused, not shown."""

import json

import pytest

from promowatch.operator_facts import FACTS_FILE, FactsError, load
from spiders.items import OPERATORS


def test_every_operator_has_an_entry_that_passes_the_checks():
    facts = load()
    assert set(facts) == set(OPERATORS)
    for op, entry in facts.items():
        assert entry["sources"], op
        assert entry["offers_page"].startswith("https://"), op


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
]


@pytest.mark.parametrize("key,value,message", BROKEN, ids=[b[0] for b in BROKEN])
def test_a_broken_entry_is_refused(tmp_path, key, value, message):
    data = json.loads(FACTS_FILE.read_text("utf-8"))
    data["operators"]["tim"][key] = value
    broken = tmp_path / "facts.json"
    broken.write_text(json.dumps(data), "utf-8")
    with pytest.raises(FactsError, match=message):
        load.__wrapped__(broken)


def test_no_two_operators_go_by_the_same_name():
    from promowatch.operator_facts import _folded

    owners: dict[str, set] = {}
    for op, entry in load().items():
        for name in (op, entry["name"], *entry.get("aliases", [])):
            owners.setdefault(_folded(name), set()).add(op)
    assert {name: ops for name, ops in owners.items() if len(ops) > 1} == {}
