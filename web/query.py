"""The offers filters as a query string: one reading for the offers page, its Atom feed and the JSON API.

The names are the `promowatch offers` options (`operator`, `plan_type`, `max_price`, `min_gb`, `5g`, `from`,
`sort`) plus `who` (tourist / foreign_born offers); an empty field of the GET form means "any". The values go
through the CLI's own parsers (contract.amounts, contract.catalogue.resolve_operator) into the contract's
`OfferFilter`, so the same text is accepted or refused everywhere with the same one-line reason. `canonical`
is the query again, normalised (slugs, sorted), for links that share the same filters. A filter that cannot be
read is a `BadQuery`: its English line is the JSON API's `detail`; its `code` and parameters (which field, what
was typed) are what the pages and the feed word in their reader's language (web/i18n.py QUERY_ERRORS).
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


#: every BadQuery's code; each carries `field` (the filter's name: a key of web/i18n.py WORDS) and `value` (what
#: was typed)
CODES = ("unknown_operator", "unknown_choice", "not_amount", "not_gb", "not_a_day", "day_out_of_range")


class BadQuery(ValueError):
    """A filter that cannot be read: the message (English, for programs) says which, what was given and what to
    write; `code` (one of CODES) and `params` (`field`, `value`) let a page say it in its reader's language."""

    def __init__(self, message: str, code: str, field: str, value: str):
        assert code in CODES, code
        super().__init__(message)
        self.code, self.field, self.value = code, field, value

    @property
    def params(self) -> dict[str, str]:
        return {"field": self.field, "value": self.value}


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


def operator_param(text: str, what: str = "operator", field: str = "operator") -> str:
    try:
        return resolve_operator(text, what=what)
    except UnknownOperator as exc:
        raise BadQuery(str(exc), "unknown_operator", field, text) from None


def _choice(field: str, given: list[str], choices) -> None:
    bad = [g for g in given if g not in choices]
    if bad:
        message = f"{field} {bad[0]!r} is not known; one of {', '.join(choices)}"
        raise BadQuery(message, "unknown_choice", field, bad[0])


def offer_query(params) -> OfferQuery:
    """The filters and order of a query string (Starlette's QueryParams or anything with getlist)."""
    operators = sorted({operator_param(o) for o in _given(params, "operator")})
    plan_types = sorted(set(_given(params, "plan_type")))
    bad = [p for p in plan_types if p not in PLAN_TYPES]
    if bad:
        message = f"plan_type {bad[0]!r} is not a plan type; one of {', '.join(PLAN_TYPES)}"
        raise BadQuery(message, "unknown_choice", "plan_type", bad[0])
    who = sorted(set(_given(params, "who")))
    _choice("who", who, WHO)
    sort = _one(params, "sort") or PAGE_SORTS[0]
    _choice("sort", [sort], SORTS)
    typed = _one(params, "max_price")
    try:
        max_price = money_option(typed, "max_price")
    except ValueError as exc:
        raise BadQuery(str(exc), "not_amount", "max_price", typed or "") from None
    typed = _one(params, "min_gb")
    try:
        min_gb = gb_option(typed, "min_gb")
    except ValueError as exc:
        raise BadQuery(str(exc), "not_gb", "min_gb", typed or "") from None
    origin = _one(params, "from")
    origin = operator_param(origin, "'from' operator", "from") if origin else None
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


def typed_query(params) -> OfferQuery:
    """The filters as typed, unread and matching nothing: what the offers form shows again above a BadQuery."""

    def shown(name: str, value: str) -> str:  # an operator's name as its option's value, to select it again
        if name not in ("operator", "from"):
            return value
        try:
            return resolve_operator(value)
        except UnknownOperator:
            return value

    filters = [(name, shown(name, value)) for name in FILTER_NAMES for value in _given(params, name)]
    sort = _one(params, "sort")
    only_5g = (_one(params, "5g") or "").lower() in ("1", "on", "true", "yes")
    return OfferQuery(OfferFilter(only_5g=only_5g), sort if sort in PAGE_SORTS else PAGE_SORTS[0], filters)


def kind_param(text: str, kinds) -> str | None:
    """A kind of change (alerts.detect.KINDS, given by the caller: web/ reads it from there), None for "any"."""
    if not text or not text.strip():
        return None
    _choice("kind", [text.strip()], kinds)
    return text.strip()


def since_param(text: str | None, zone: ZoneInfo) -> datetime | None:
    """A day (YYYY-MM-DD, the date field's value) or an ISO date-time, in the reader's zone unless it carries an
    offset, as an aware UTC time."""
    if not text or not text.strip():
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        message = f"since {text!r} is not a day: write YYYY-MM-DD, e.g. 2026-09-15"
        raise BadQuery(message, "not_a_day", "since", text.strip()) from None
    if len(text.strip()) == 10:
        moment = datetime.combine(moment.date(), time())
    try:
        return (moment if moment.tzinfo else moment.replace(tzinfo=zone)).astimezone(timezone.utc)
    except OverflowError:  # 0001-01-01 in a zone east of UTC, 9999-12-31 west of it
        message = f"since {text!r} is too far in the past or the future: write a day such as 2026-09-15"
        raise BadQuery(message, "day_out_of_range", "since", text.strip()) from None


def offer_path(operator: str, offer_key: str) -> str:
    """The offer page's path: keys may hold ':' or '/', never unescaped '?' or '#'."""
    return f"/offers/{quote(operator, safe='')}/{quote(offer_key, safe=':/')}"
