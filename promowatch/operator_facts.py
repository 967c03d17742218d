"""The operator facts file (`operator_facts.json`): what travellers ask before choosing a SIM.

Kept by hand; `load()` checks its shape so a typo (an unknown key, a method we do not know, a guessed
value where null belongs) fails in the tests rather than showing wrong facts to a user.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

FACTS_FILE = Path(__file__).with_name("operator_facts.json")
NETWORKS = ("tim", "vodafone", "windtre", "iliad")
METHODS = ("app", "website", "card", "paypal", "satispay", "voucher", "bank_account", "credit")
BILLING = ("prepaid", "postpaid")
#: key -> allowed values (None: any text), every key of an entry; lists may be null (unconfirmed)
FIELDS: dict[str, tuple | None] = {
    "name": None,
    "host_network": NETWORKS,
    "has_5g": (True, False),
    "esim": (True, False),
    "top_up_online": METHODS,
    "renews_automatically": (True, False),
    "renews_from": METHODS,
    "billing": BILLING,
    "offers_page": None,
    "app": None,
    "sources": None,
    "checked": None,
}
OPTIONAL = {"network_note"}
LISTS = {"top_up_online", "renews_from", "billing", "sources"}


class FactsError(ValueError):
    pass


def _check(op: str, entry: dict) -> dict:
    unknown = set(entry) - set(FIELDS) - OPTIONAL
    missing = set(FIELDS) - set(entry)
    if unknown or missing:
        raise FactsError(f"{op}: unknown keys {sorted(unknown)}, missing keys {sorted(missing)}")
    for key, allowed in FIELDS.items():
        value = entry[key]
        if value is None:
            if key in ("name", "offers_page", "sources", "checked"):
                raise FactsError(f"{op}: {key} may not be null")
            continue
        values = value if key in LISTS else [value]
        if key in LISTS and not isinstance(value, list):
            raise FactsError(f"{op}: {key} must be a list or null")
        if allowed is not None and any(v not in allowed or type(v) is not type(allowed[0]) for v in values):
            raise FactsError(f"{op}: {key}={value!r}; allowed: {', '.join(map(str, allowed))}")
    return entry


@lru_cache(maxsize=1)
def load(path: Path = FACTS_FILE) -> dict[str, dict]:
    """operator slug -> its checked facts entry."""
    data = json.loads(Path(path).read_text("utf-8"))
    return {op: _check(op, entry) for op, entry in data["operators"].items()}
