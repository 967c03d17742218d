"""The offers filters as a query string: one reading for the offers page, its Atom feed and the JSON API.

The names are the `promowatch offers` options (`operator`, `plan_type`, `max_price`, `min_gb`, `5g`, `from`,
`sort`) plus `who` (tourist / foreign_born offers); an empty field of the GET form means "any". The values go
through the CLI's own parsers (contract.amounts, contract.catalogue.resolve_operator) into the contract's
`OfferFilter`, so the same text is accepted or refused everywhere with the same one-line reason. `canonical`
is the query again, normalised (slugs, sorted), for links that share the same filters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timezone
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from contract.amounts import gb_option, money_option
from contract.catalogue import UnknownOperator, resolve_operator
from contract.offer import PLAN_TYPES
from contract.offer_query import SORTS, OfferFilter

#: what the "who" filter offers: a plan type or an eligibility
WHO = {"tourist": ("plan_type", "tourist"), "foreign_born": ("eligibility", "foreign_born")}
#: the orders the page offers, first the default
PAGE_SORTS = ("price", "eur-per-gb", "year", "gb", "operator")
FILTER_NAMES = ("operator", "plan_type", "max_price", "min_gb", "5g", "from", "who")


class BadQuery(ValueError):
    """A filter that cannot be read: the message says which, what was given and what to write."""


@dataclass
class OfferQuery:
    wanted: OfferFilter
    sort: str
    #: the filters (not the order) as (name, value) pairs, normalised: what a link to the same offers carries
    filters: list[tuple[str, str]]

    @property
    def canonical(self) -> str:
        return urlencode(self.filters)

    def value(self, name: str) -> str:
        return next((v for k, v in self.filters if k == name), "")

    def values(self, name: str) -> list[str]:
        return [v for k, v in self.filters if k == name]


def _given(params, name: str) -> list[str]:
    return [v.strip() for v in params.getlist(name) if v and v.strip()]


def _one(params, name: str) -> str | None:
    values = _given(params, name)
    return values[-1] if values else None


def operator_param(text: str, what: str = "operator") -> str:
    try:
        return resolve_operator(text, what=what)
    except UnknownOperator as exc:
        raise BadQuery(str(exc)) from None


def offer_query(params) -> OfferQuery:
    """The filters and order of a query string (Starlette's QueryParams or anything with getlist)."""
    operators = sorted({operator_param(o) for o in _given(params, "operator")})
    plan_types = sorted(set(_given(params, "plan_type")))
    bad = [p for p in plan_types if p not in PLAN_TYPES]
    if bad:
        raise BadQuery(f"plan_type {bad[0]!r} is not a plan type; one of {', '.join(PLAN_TYPES)}")
    who = sorted(set(_given(params, "who")))
    if any(w not in WHO for w in who):
        raise BadQuery(f"who {who[0]!r} is not known; one of {', '.join(WHO)}")
    sort = _one(params, "sort") or PAGE_SORTS[0]
    if sort not in SORTS:
        raise BadQuery(f"sort {sort!r} is not known; one of {', '.join(SORTS)}")
    try:
        max_price = money_option(_one(params, "max_price"), "max_price")
        min_gb = gb_option(_one(params, "min_gb"), "min_gb")
    except ValueError as exc:
        raise BadQuery(str(exc)) from None
    origin = _one(params, "from")
    origin = operator_param(origin, "'from' operator") if origin else None
    only_5g = (_one(params, "5g") or "").lower() in ("1", "on", "true", "yes")
    wanted = OfferFilter(
        operators=set(operators),
        plan_types=set(plan_types) | {WHO[w][1] for w in who if WHO[w][0] == "plan_type"},
        eligibilities={WHO[w][1] for w in who if WHO[w][0] == "eligibility"},
        max_price_cents=max_price,
        min_gb=min_gb,
        only_5g=only_5g,
        origin=origin,
    )
    filters = [("operator", o) for o in operators] + [("plan_type", p) for p in plan_types]
    if max_price is not None:
        filters.append(("max_price", f"{max_price / 100:.2f}"))
    if min_gb is not None:
        filters.append(("min_gb", f"{min_gb:g}"))
    if only_5g:
        filters.append(("5g", "1"))
    if origin:
        filters.append(("from", origin))
    filters += [("who", w) for w in who]
    return OfferQuery(wanted, sort, filters)


def since_param(text: str | None, zone: ZoneInfo) -> datetime | None:
    """A day (YYYY-MM-DD, the date field's value) or an ISO date-time, in the reader's zone unless it carries an
    offset, as an aware UTC time."""
    if not text or not text.strip():
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadQuery(f"since {text!r} is not a day: write YYYY-MM-DD, e.g. 2026-09-15") from None
    if len(text.strip()) == 10:
        moment = datetime.combine(moment.date(), time())
    return (moment if moment.tzinfo else moment.replace(tzinfo=zone)).astimezone(timezone.utc)


def offer_path(operator: str, offer_key: str) -> str:
    """The offer page's path: keys may hold ':' or '/', never unescaped '?' or '#'."""
    return f"/offers/{quote(operator, safe='')}/{quote(offer_key, safe=':/')}"
