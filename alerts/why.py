"""Why a subscriber got an alert: the filters of their subscription that the offer passes, for the message's
"why you got this" line ("you are with Iliad: you can take this by porting", "under your 10 € limit").

Each filter is checked on its own with the one definition of a match (`alerts.match.subscription_filter`, that
is `contract.offer_query.OfferFilter`), against the offer as the event carries it, so the line names only
filters the offer really passes, even when the subscription was edited after the event was queued. Facts, not
words: the templates phrase them in the reader's language (`_macros.j2`, `why`).
"""

from __future__ import annotations

from typing import Any, Mapping

from alerts.match import subscription_filter
from contract.rates import Rates

#: the subscription columns that filter offers, in the order a reason is told (the most telling first)
COLUMNS = (
    "origin",
    "operators",
    "plan_types",
    "max_price_cents",
    "min_gb",
    "only_5g",
    "max_eur_per_gb_cents",
    "max_year_cents",
)


def filters_of(sub: Any) -> dict:
    """The filter settings of a subscription (a Subscription row or a mapping with its columns) as a plain dict,
    `kinds` included: what a message needs to say why it was sent."""
    get = sub.get if isinstance(sub, Mapping) else lambda name, default=None: getattr(sub, name, default)
    return {name: get(name) for name in (*COLUMNS, "kinds")}


def _is_set(name: str, value) -> bool:
    return bool(value) if name in ("operators", "plan_types", "only_5g", "kinds") else value is not None


def reasons(sub: Mapping, kind: str, item: dict, rates: Rates | None = None) -> list[dict]:
    """The filters of `sub` that an event of `kind` about the offer `item` passes, each as
    {"filter": column, "value": what to name}: the origin operator, the limits as set, and as a one-item list
    the offer's own operator or plan type (not the subscription's whole list) and the event kind. A subscription
    with no filter at all gives [{"filter": "any", "value": None}]; one whose filters the offer no longer passes
    gives []."""
    out: list[dict] = []
    set_any = False
    for name in COLUMNS:
        value = sub.get(name)
        if not _is_set(name, value):
            continue
        set_any = True
        if not subscription_filter({name: value}, rates).matches(item):
            continue
        if name == "operators":
            value = [item.get("operator")]
        elif name == "plan_types":
            value = [item.get("plan_type")]
        out.append({"filter": name, "value": value})
    kinds = sub.get("kinds") or ()
    if kinds:
        set_any = True
        if kind in kinds:
            out.append({"filter": "kinds", "value": [kind]})
    return out if set_any else [{"filter": "any", "value": None}]


#: the reasons whose value is a list of the offer's own operator, plan type, event kind: merged in a digest
LISTED = ("operators", "plan_types", "kinds")


def common(lists: list[list[dict]]) -> list[dict]:
    """One line of reasons for a digest's offers (each offer's `reasons`): a limit or the origin when every
    offer passes it; the operators, plan types and event kinds of all the offers that were sent for them."""
    if not lists:
        return []
    out: list[dict] = []
    for reason in lists[0]:
        name = reason["filter"]
        if name in LISTED:
            values = [v for other in lists for r in other if r["filter"] == name for v in r["value"]]
            out.append({"filter": name, "value": list(dict.fromkeys(values))})
        elif all(reason in other for other in lists[1:]):
            out.append(reason)
    return out
