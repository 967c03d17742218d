"""The operator catalogue (`operators.json`): which operators exist, their names, and what travellers ask
before choosing a SIM.

Kept by hand; `load()` checks its shape so a typo (an unknown key, a method we do not know, a guessed
value where null belongs, a page-name pattern that does not compile) fails in the tests rather than showing
wrong facts to a user. It is the one list of operators: the offer contract's valid slugs, the spider registry
and the page-name patterns of `spiders.parsing.operators_named` all read it, so a new operator is one entry here
(plus its spider module and fixture folder).

`resolve_operator` turns what a person types (the slug, the display name, an alias such as "1Mobile" or
"Wind Tre", in any case) into the slug every command uses.
"""

from __future__ import annotations

import difflib
import json
import re
from functools import lru_cache
from pathlib import Path

CATALOGUE_FILE = Path(__file__).with_name("operators.json")
NETWORKS = ("tim", "vodafone", "windtre", "iliad")
METHODS = ("app", "website", "card", "paypal", "satispay", "voucher", "bank_account", "credit")
BILLING = ("prepaid", "postpaid")
#: operator: sells Italian SIMs (its own network or another's); travel_esim: an international eSIM brand that
#: rides on Italian networks and sells trip plans priced by days and GB
KINDS = ("operator", "travel_esim")
#: how a traveller can pay from abroad (a card issued abroad, PayPal, Alipay, WeChat Pay, vouchers in shops only)
PAYMENTS = ("foreign_card", "paypal", "alipay", "wechat_pay", "apple_pay", "google_pay", "voucher_in_shop")
#: key -> allowed values (None: any text), every key of an entry; lists may be null (unconfirmed)
FIELDS: dict[str, tuple | None] = {
    "kind": KINDS,
    "name": None,
    "page_names": None,
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
#: the keys of a travel_esim entry only (each may be null: unconfirmed): the plans' terms the provider states for
#: every Italy plan, which its spider gives the plans whose own data does not state them
ESIM_FIELDS: dict[str, tuple | type] = {
    "networks": NETWORKS,  # the Italian host networks (several: the eSIM attaches to whichever it finds)
    "hotspot": (True, False),
    "hotspot_gb_per_day": float,
    "top_up": (True, False),
    "fair_use_gb_per_day": float,  # unlimited plans: GB a day at full speed
    "throttled_kbps": int,  # unlimited plans: the speed after it
    "pay_from_abroad": PAYMENTS,
}
#: the keys of an operator entry only (each may be null: unconfirmed): how a top-up can be paid from abroad, and
#: whether an Italian codice fiscale is needed to buy or activate its SIM
OPERATOR_FIELDS: dict[str, tuple | type] = {
    "pay_from_abroad": PAYMENTS,
    "needs_codice_fiscale": (True, False),
}
#: each kind's own keys
KIND_FIELDS = {"operator": OPERATOR_FIELDS, "travel_esim": ESIM_FIELDS}
OPTIONAL = {"network_note", "aliases"}
LISTS = {"top_up_online", "renews_from", "billing", "sources", "aliases", "networks", "pay_from_abroad"}


class FactsError(ValueError):
    pass


def _check(op: str, entry: dict) -> dict:
    if entry.get("kind") not in KINDS:
        raise FactsError(f"{op}: kind={entry.get('kind')!r}; allowed: {', '.join(KINDS)}")
    own = KIND_FIELDS[entry["kind"]]
    fields = {**FIELDS, **own}
    unknown = set(entry) - set(fields) - OPTIONAL
    missing = set(fields) - set(entry)
    if unknown or missing:
        raise FactsError(f"{op}: unknown keys {sorted(unknown)}, missing keys {sorted(missing)}")
    aliases = entry.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
        raise FactsError(f"{op}: aliases must be a list of names")
    if not isinstance(entry["page_names"], str) or not entry["page_names"].strip():
        raise FactsError(f"{op}: page_names must be a regular expression")
    try:
        re.compile(entry["page_names"])
    except re.error as e:
        raise FactsError(f"{op}: page_names {entry['page_names']!r} is not a regular expression: {e}") from None
    for key, allowed in FIELDS.items():
        value = entry[key]
        if value is None:
            if key in ("name", "page_names", "offers_page", "sources", "checked"):
                raise FactsError(f"{op}: {key} may not be null")
            continue
        _one_of(op, key, value, allowed)
    for key, kind in own.items():
        value = entry[key]
        if value is None:
            continue
        if isinstance(kind, type):
            number = (int, float) if kind is float else int
            if isinstance(value, bool) or not isinstance(value, number) or value < 0:
                raise FactsError(f"{op}: {key}={value!r}; a number ≥ 0 or null is expected")
        else:
            _one_of(op, key, value, kind)
    return entry


def _one_of(op: str, key: str, value, allowed: tuple | None) -> None:
    """`value` (each item of it for a list key) is one of `allowed` (None: any text)."""
    values = value if key in LISTS else [value]
    if key in LISTS and not isinstance(value, list):
        raise FactsError(f"{op}: {key} must be a list or null")
    if allowed is not None and any(v not in allowed or type(v) is not type(allowed[0]) for v in values):
        raise FactsError(f"{op}: {key}={value!r}; allowed: {', '.join(map(str, allowed))}")


@lru_cache(maxsize=1)
def load(path: Path = CATALOGUE_FILE) -> dict[str, dict]:
    """operator slug -> its checked catalogue entry, in file order."""
    data = json.loads(Path(path).read_text("utf-8"))
    return {op: _check(op, entry) for op, entry in data["operators"].items()}


class UnknownOperator(ValueError):
    """A name no operator goes by; the message lists the known names and a close match when there is one."""


def _folded(name: str) -> str:
    return re.sub(r"[\s.\-_']+", "", name).casefold()


@lru_cache(maxsize=1)
def _names() -> dict[str, str]:
    """Every folded name an operator goes by (slug, display name, aliases) -> its slug."""
    names: dict[str, str] = {}
    for op, entry in load().items():
        for name in (op, entry["name"], *entry.get("aliases", [])):
            names.setdefault(_folded(name), op)
    return names


def resolve_operator(name: str, known=None, what: str = "operator") -> str:
    """The slug of the operator `name` means (case-insensitive slug, display name or alias), if it is in `known`
    (default: every operator of the catalogue); UnknownOperator otherwise."""
    known = list(load()) if known is None else list(known)
    folded = _folded(str(name))
    slug = _names().get(folded)
    if slug is not None and slug in known:
        return slug
    if slug is not None:  # a real operator, but not one this option takes (e.g. one without a spider)
        raise UnknownOperator(f"{what} {name!r} ({slug}) is not one of: {', '.join(known)}")
    candidates = {f: op for f, op in _names().items() if op in known}
    close = difflib.get_close_matches(folded, list(candidates), n=1, cutoff=0.6)
    hint = f"; did you mean {candidates[close[0]]}?" if close else ""
    raise UnknownOperator(f"unknown {what} {name!r}{hint} (known: {', '.join(known)})")
