"""Messages: change events as text a person reads, in the subscriber's language and time zone.

Pure functions, no database: `render_event`, `render_digest`, `render_test` and `render_confirm` (the double
opt-in request) each return a `Message(title, body)`; given a subscription's `footer` links (alerts.links),
the body ends with its manage and unsubscribe links (`footer.txt.j2`): every message carries its way out.
The wording lives in Jinja2 templates, one folder per language (`alerts/templates/<lang>/`, phrases in
`_macros.j2`), so a translator never touches Python; this module
prepares the facts and formats them with Babel in the subscriber's locale and zone. Output rules: strict
plain-text templates (an undefined variable raises); whitespace collapsed and Babel's non-breaking spaces made
plain, so a message reads and searches the same on every channel; a title is one line of at most `MAX_TITLE`
characters (offer name shortened first); an unknown language falls back to Italian and an unknown zone to
Europe/Rome, with a warning, so a bad subscription setting never keeps a notification from going out.
Relative times ("ends in 2 days") count from `now`, when the message is written, because a message can go out
days after its event (quiet hours, digests). `render_html` gives an email's HTML part (`_shared/email.html.j2`,
escaped); `event_data` and `notify_type` what a JSON channel gets as data. Given the subscription's filters,
an alert ends with why it was sent (alerts.why); an offer's operator's known traveller facts (host network, eSIM,
online top-up) come from the operator catalogue (`travel_facts`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from functools import cache, lru_cache
from pathlib import Path
from typing import Literal, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date, format_skeleton, format_time, get_timezone_location
from babel.lists import format_list
from babel.numbers import format_currency, format_decimal
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from contract.catalogue import load as load_catalogue
from contract.clock import utcnow
from contract.offer import DEFAULTS, FIELDS, FLAGS
from contract.offer_query import eur_per_gb_cents, twelve_month_cents
from contract.rates import decimals

#: the fields in minor units of the item's currency besides the price
FEES = ("first_period_cents", "activation_cents", "sim_cents")

log = logging.getLogger(__name__)

LANGS = ("it", "en", "zh")
DEFAULT_LANG = "it"
DEFAULT_TZ = "Europe/Rome"
#: the Babel locale of each language
LOCALES = {"it": "it_IT", "en": "en_GB", "zh": "zh_Hans_CN"}  # English as read in Europe: "27 September 2026, 12:30"
TEMPLATES = Path(__file__).with_name("templates")
MAX_TITLE = 99
MAX_TITLE_NAME = 60
#: how events are ordered inside a digest group: what a subscriber wants to see first
KIND_ORDER = ("price_drop", "new", "returned", "expiring", "changed", "price_rise", "removed")
#: which changes of a `changed` event matter most to a subscriber: the first one or two go in its title
CHANGE_RANK = (
    "first_period_cents",
    "activation_cents",
    "data_unlimited",
    "data_gb",
    "data_5g",
    "promo_until",
    "eligibility",
    "eligible_from",
    "sim_cents",
    "eu_roaming_gb",
    "minutes_unlimited",
    "period_days",
)
GROUP_BY = ("operator", "kind")


@dataclass(frozen=True)
class Message:
    title: str
    body: str


# ---------------------------------------------------------------- language, time zone, operator names


def resolve_lang(lang: str | None) -> str:
    """One of LANGS: "en-GB"/"zh_CN"/"IT" are understood; anything else is Italian (logged)."""
    code = re.split(r"[-_]", (lang or "").strip().lower(), maxsplit=1)[0]
    if code in LANGS:
        return code
    log.warning("no messages in language %r; writing Italian", lang)
    return DEFAULT_LANG


def _zone(tz: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(tz or DEFAULT_TZ)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown time zone %r; writing times for %s", tz, DEFAULT_TZ)
        return ZoneInfo(DEFAULT_TZ)


@lru_cache(maxsize=1)
def _operator_names() -> dict[str, str]:
    """slug -> display name, from the operator catalogue (checked by its tests; the contract loads it anyway)."""
    return {op: entry["name"] for op, entry in load_catalogue().items()}


def operator_name(slug: str | None) -> str:
    return _operator_names().get(slug or "", slug or "?")


def display_name(operator: str, name: str) -> str:
    """The offer name as a person recognises it: prefixed with the operator unless the name already says it."""
    op_name = operator_name(operator)
    for word in {operator, op_name, op_name.split()[0].rstrip(".")}:
        if word and re.match(rf"{re.escape(word)}(?![a-z0-9])", name, re.IGNORECASE):
            return name
    return f"{op_name} {name}"


def travel_facts(operator: str | None, item: dict | None = None) -> dict:
    """What a traveller asks about the offer's operator, from the operator catalogue (contract/operators.json):
    its host network (`network`, with `own_network` when it is the operator's own) or a travel eSIM's `networks`,
    `esim`, `top_up_online` (the ways to top up online) and a travel eSIM's `top_up` (can a plan be topped up).
    Only known facts: a null in the catalogue is left out, never said as "unknown". `esim` is left out too when
    the offer itself says whether it comes as an eSIM (the message shows that already)."""
    entry = load_catalogue().get(operator or "") or {}
    facts: dict = {}
    host = entry.get("host_network")
    if host:
        facts["network"], facts["own_network"] = host, host == operator
    if entry.get("networks"):
        facts["networks"] = list(entry["networks"])
    if entry.get("esim") is not None and (item or {}).get("esim") is None:
        facts["esim"] = entry["esim"]
    if entry.get("top_up_online"):
        facts["top_up_online"] = list(entry["top_up_online"])
    elif entry.get("top_up") is not None:
        facts["top_up"] = entry["top_up"]
    return facts


def why_lines(sub: Mapping | None, views: list[dict]) -> list[dict]:
    """The reasons (alerts.why) a subscription was sent these events: for one event its own, for a digest's
    offers what they share (alerts.why.common); [] without the subscription (a preview): no line."""
    if sub is None or not views:
        return []
    from alerts import why  # the match definition (alerts.match) comes with it: loaded only when asked

    rates = None
    if any((v["raw_item"].get("currency") or "EUR") != "EUR" for v in views):
        from storage.environment import configured_rates_or_none

        rates = configured_rates_or_none()
    return why.common([why.reasons(sub, v["kind"], v["raw_item"], rates) for v in views])


# ---------------------------------------------------------------- Babel formatting, bound to a locale


def _as_date(value) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _as_datetime(value, zone: ZoneInfo) -> datetime | None:
    if value is None or value == "":
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:  # storage is UTC
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(zone)


class Amount(int):
    """Minor units that know their currency (a travel eSIM may be priced in USD): the templates write
    `amount|money` for every price, and the filter shows the amount's own currency."""

    currency = "EUR"

    def __new__(cls, cents: int, currency: str = "EUR"):
        amount = super().__new__(cls, cents)
        amount.currency = currency
        return amount


def _amount(value, currency: str):
    """Cents of `currency` as an Amount (None stays None; euro stays a plain int, the filter's default)."""
    return value if value is None or currency == "EUR" else Amount(value, currency)


def amount_of(cents, item: dict):
    """`cents` in the currency of offer `item` (a figure derived from its prices, e.g. its 12-month cost)."""
    return _amount(cents, item.get("currency") or "EUR")


def priced_item(item: dict) -> dict:
    """A copy of an offer item whose amounts (its price and FEES) know its currency, for `|money` anywhere."""
    currency = item.get("currency") or "EUR"
    return {**item, **{f: _amount(item.get(f), currency) for f in ("price_cents", *FEES) if f in item}}


def locale_filters(locale: str) -> dict:
    """The Jinja2 filters of alerts' templates (money, num, dates, operator lists), bound to a Babel locale."""

    def money(cents) -> str:
        currency = getattr(cents, "currency", "EUR")
        return format_currency(Decimal(int(cents)) / 10 ** decimals(currency), currency, locale=locale)

    def fine_money(cents) -> str:
        """Fractions of a cent kept to three decimals of a euro: €/GB ("€0.044")."""
        return format_currency(round(Decimal(str(cents)) / 100, 3), "EUR", locale=locale, decimal_quantization=False)

    def signed_money(cents) -> str:
        return ("+" if cents > 0 else "−" if cents < 0 else "") + money(abs(cents))

    def pct(value) -> str:
        return ("+" if value > 0 else "−" if value < 0 else "") + f"{abs(value)}%"

    def num(value) -> str:
        return format_decimal(value, format="#,##0.##", locale=locale)

    def longdate(value) -> str:
        return format_date(_as_date(value), "long", locale=locale)

    def shortdate(value) -> str:
        return format_skeleton("MMMd", _as_date(value), locale=locale)

    def daymonth(value) -> str:
        return format_skeleton("MMMMd", _as_date(value), locale=locale)

    def zonename(moment: datetime) -> str:
        return get_timezone_location(moment.tzinfo, locale=locale)

    def hm(moment: datetime) -> str:
        return format_time(moment, "short", tzinfo=moment.tzinfo, locale=locale)

    def opnames(slugs) -> list[str]:
        return [operator_name(s) for s in slugs or ()]

    def oplist(slugs, style: Literal["standard", "or"] = "standard") -> str:
        return format_list(opnames(slugs), style=style, locale=locale)

    return {
        "money": money,
        "fine_money": fine_money,
        "signed_money": signed_money,
        "pct": pct,
        "num": num,
        "longdate": longdate,
        "shortdate": shortdate,
        "daymonth": daymonth,
        "zonename": zonename,
        "hm": hm,
        "opnames": opnames,
        "oplist": oplist,
        "lcfirst": lcfirst,
    }


def lcfirst(text: str) -> str:
    """A label inside a sentence: "Costo di attivazione" -> "costo di attivazione"; "SMS", "5G" stay."""
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


@cache
def _env(lang: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader([str(TEMPLATES / lang), str(TEMPLATES / "_shared")]),
        autoescape=False,
        undefined=StrictUndefined,
        extensions=["jinja2.ext.do"],
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        auto_reload=False,  # package files: loaded once, not checked on disk at every message
    )
    env.filters.update(locale_filters(LOCALES[lang]))
    env.filters["linkify"] = linkify
    env.globals["opname"] = operator_name
    return env


_URL = re.compile(r"https?://[^\s<>\"]+")


def linkify(text: str) -> Markup:
    """A line of plain text as HTML: escaped, its web addresses made links (the address is the link's text)."""
    out, last = [], 0
    for m in _URL.finditer(text):
        out += [escape(text[last : m.start()]), Markup('<a href="{0}">{0}</a>').format(m.group(0))]
        last = m.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


# ---------------------------------------------------------------- tidy output

_SPACES = re.compile(r"(?<=\S)[ \t]{2,}")
_NBSP = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2007": " "})


def tidy(text: str) -> str:
    """Plain spaces, no trailing blanks, at most one empty line in a row, no blank start or end."""
    lines = [_SPACES.sub(" ", line.translate(_NBSP)).rstrip() for line in text.splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip("\n")


def _one_line(text: str) -> str:
    return " ".join(text.translate(_NBSP).split())


def _title(line: str) -> str:
    return line if len(line) <= MAX_TITLE else line[: MAX_TITLE - 1].rstrip() + "…"


def _short(text: str, limit: int = MAX_TITLE_NAME) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


#: Chinese text puts a space between a Han character and an amount ("现价 €7.99", "便宜了 €2.00", "现在 US$3.49")
_HAN_EURO = re.compile(r"([\u3400-\u9fff])(?=€|US\$|[A-Z]{3}\s?\d)")


def _render(lang: str, template: str, context: dict) -> Message:
    module = _env(lang).get_template(template).make_module(context)
    # a template's `{% set title %}` is an attribute its TemplateModule gets at runtime, unknown to the stubs
    title, body = str(module.title), str(module)  # type: ignore[attr-defined]
    if lang == "zh":
        title, body = _HAN_EURO.sub(r"\1 ", title), _HAN_EURO.sub(r"\1 ", body)
    return Message(title=_one_line(title), body=tidy(body))  # the title is cut to MAX_TITLE by the callers


# ---------------------------------------------------------------- events as template facts


def _field_order(field: str) -> tuple[int, str]:
    return (FIELDS.index(field) if field in FIELDS else len(FIELDS), field)


def _in_flag_order(flags) -> list[str]:
    """An offer's flags in the contract's order (the price's terms first), not the stored alphabetical one."""
    return sorted(flags or (), key=lambda f: FLAGS.index(f.partition(":")[0]) if f.partition(":")[0] in FLAGS else 99)


def _change_rank(field: str) -> int:
    return CHANGE_RANK.index(field) if field in CHANGE_RANK else len(CHANGE_RANK)


def event_view(event, zone: ZoneInfo, now: datetime | None = None) -> dict:
    """The facts a template writes about one event (all keys always present); an OfferEvent row works too.

    Relative times ("ends in 2 days") count from `now`, the moment the message is written (default: now), not
    from detection: a message sent late (quiet hours, a weekly digest) must not announce a countdown that ran out.
    """
    if not isinstance(event, dict):
        from storage.repository import event_dict

        event = event_dict(event)
    raw_item = {**DEFAULTS, **(event.get("item") or {})}
    item = priced_item(raw_item)
    item["flags"] = _in_flag_order(item.get("flags"))
    currency = item.get("currency") or "EUR"
    operator = event.get("operator") or item.get("operator") or ""
    offer_name = item.get("name") or event.get("offer_key") or "?"
    kind = event["kind"]
    before, after = event.get("price_before"), event.get("price_after")
    price = after if after is not None else (before if before is not None else item.get("price_cents"))
    old_price = before if before is not None and after is not None and before != after else None
    detected = _as_datetime(event.get("created_at"), zone)
    today = _as_datetime(now or utcnow(), zone).date()  # type: ignore[union-attr]
    promo_until = _as_date(item.get("promo_until"))
    days_left = None if promo_until is None else (promo_until - today).days
    ended = days_left is not None and days_left < 0
    dated = lambda f, v: _as_date(v) if f == "promo_until" else (_in_flag_order(v) if f == "flags" else v)  # noqa: E731
    changes = [
        {
            "field": f,
            "before": _amount(pair[0], currency) if f in FEES else dated(f, pair[0]),
            "after": _amount(pair[1], currency) if f in FEES else dated(f, pair[1]),
        }
        for f, pair in sorted((event.get("changes") or {}).items(), key=lambda kv: _field_order(kv[0]))
        if f != "price_cents"
    ]
    name = display_name(operator, offer_name)
    return {
        "kind": kind,
        "operator": operator,
        "offer_key": event.get("offer_key") or item.get("offer_key") or "",
        "op_name": operator_name(operator),
        "offer_name": offer_name,
        "name": name,
        "title_name": _short(name),
        "item": item,
        "raw_item": raw_item,
        "travel": travel_facts(operator, raw_item),
        "why": [],  # the filters it was sent for (render_event sets them, given the subscription)
        "url": item.get("url") or "",
        "price": _amount(price, currency),
        "old_price": _amount(old_price, currency),
        "difference": _amount(abs(after - before), currency) if old_price is not None else None,
        "changes": changes,
        "top_changes": sorted(changes, key=lambda c: _change_rank(c["field"]))[:2],
        "detected": detected,
        "promo_until": promo_until,
        "days_left": None if ended else days_left,
        "ended": ended,
        "earlier": [],
        "first_price": None,
        # price context (alerts.price_context, set when messages are prepared) and what a year and a GB cost
        "context": event.get("context"),
        "year_cents": twelve_month_cents({**item, "price_cents": price}) if price is not None else None,
        "per_gb_cents": eur_per_gb_cents({**item, "price_cents": price}) or None if price is not None else None,
    }


def latest_per_offer(views: list[dict]) -> list[dict]:
    """One view per offer: its latest state, with what happened before it in the period in `earlier` (kinds, in
    order) and the price the period started from in `first_price`. `expiring` is news about the state, not a
    state: it is shown only when nothing else happened to the offer. `views` in detection order."""
    by_offer: dict[tuple[str, str], list[dict]] = {}
    for view in views:
        by_offer.setdefault((view["operator"], view["offer_key"]), []).append(view)
    out = []
    for chain in by_offer.values():
        states = [v for v in chain if v["kind"] != "expiring"] or chain
        latest = dict(states[-1])
        earlier = [v["kind"] for v in chain if v is not states[-1]]
        latest["earlier"] = list(dict.fromkeys(earlier))
        if earlier:
            first = chain[0]
            start = first["old_price"] if first["old_price"] is not None else first["price"]
            if start is not None and start != latest["price"] and latest["kind"] != "removed":
                latest["first_price"] = start
        out.append(latest)
    return out


# ---------------------------------------------------------------- the API


def with_footer(message: Message, lang: str, footer: dict | None) -> Message:
    """`message` with the subscription's manage and unsubscribe links at its end (unchanged without links)."""
    if not footer:
        return message
    context = {"manage": footer["manage"], "unsubscribe": footer["unsubscribe"]}
    links = tidy(_env(resolve_lang(lang)).get_template("footer.txt.j2").render(context))
    return Message(message.title, f"{message.body}\n\n{links}")


def render_event(
    event: dict,
    lang: str,
    tz: str = DEFAULT_TZ,
    footer: dict | None = None,
    now: datetime | None = None,
    sub: Mapping | None = None,
) -> Message:
    """One event (a `storage.repository.event_dict`) as a message in `lang`, times in `tz`, written at `now`;
    given the subscription's filters `sub` (alerts.why.filters_of), it says which of them the offer passes."""
    view = event_view_in(event, tz, now)
    return with_footer(with_why(event_message(view, lang), view, lang, why_lines(sub, [view])), lang, footer)


def event_view_in(event, tz: str | None, now: datetime | None = None) -> dict:
    """`event_view` with times in the zone named `tz` (an unknown zone: Italian time, with a warning)."""
    return event_view(event, _zone(tz), now)


def event_message(view: dict, lang: str) -> Message:
    """The part of an event's message that is the same for every subscriber in a language and zone: all but
    the "why you got this" line and the footer (a sender renders it once per event, language and zone)."""
    lang = resolve_lang(lang)
    view = dict(view)  # a copy: a long title shortens its name below
    message = _render(lang, "event.txt.j2", {"ev": view})
    overflow = len(message.title) - MAX_TITLE
    if overflow > 0:  # too long for a push title: shorten the offer name first, so the price stays readable
        view["title_name"] = _short(view["title_name"], max(12, len(view["title_name"]) - overflow))
        message = _render(lang, "event.txt.j2", {"ev": view})
    return Message(_title(message.title), message.body)


def with_why(message: Message, view: dict, lang: str, why: list[dict]) -> Message:
    """`message` (`event_message`) with the line saying which of the subscription's filters the offer passes
    (unchanged without reasons: a preview)."""
    if not why:
        return message
    lang = resolve_lang(lang)
    line = tidy(_env(lang).get_template("why.txt.j2").render(ev={**view, "why": why}))
    if lang == "zh":
        line = _HAN_EURO.sub(r"\1 ", line)
    return Message(message.title, f"{message.body}\n{line}")


def _period(period: str | None) -> tuple[str, date | None]:
    """("daily" | "weekly" | other word, the local day it is sent on) from the `digest` key of a Notification
    row ("daily:2026-12-08", alerts.outbox.schedule) or a bare word ("weekly")."""
    word, _, when = (period or "").partition(":")
    try:
        day = date.fromisoformat(when) if when else None
    except ValueError:
        day = None
    return word.strip().lower(), day


def covered(word: str, sent_on: date | None, views: list[dict]) -> tuple[date | None, date | None]:
    """The days a digest's events cover (local): from its key, the day before a daily digest's send day or the
    seven days before a weekly one's, widened to the days its events were detected on (an event of 07:00 goes
    out in that day's 08:00 digest)."""
    days = [v["detected"].date() for v in views if v["detected"] is not None]
    if sent_on is not None and word in ("daily", "weekly"):
        days += [sent_on - timedelta(days=1 if word == "daily" else 7), sent_on - timedelta(days=1)]
    return (min(days), max(days)) if days else (None, None)


def render_digest(
    events: list[dict],
    lang: str,
    tz: str = DEFAULT_TZ,
    period: str = "daily",
    *,
    group_by: str = "operator",
    max_events: int = 100,
    footer: dict | None = None,
    now: datetime | None = None,
    sub: Mapping | None = None,
) -> Message:
    """Many events as one message: each offer once in its latest state, grouped by operator (or by kind), with
    the count in the title and the days the events cover in the first line.

    `period` is "daily" / "weekly", optionally with the day the digest is sent on ("daily:2026-12-08", the
    `digest` key of a Notification row). Promotions that ended before `now` (the sending time) are not announced
    as ending. Beyond `max_events` offers the rest are counted. Given the subscription's filters `sub`, one
    line says why these offers were sent (what they all pass).
    """
    if group_by not in GROUP_BY:
        raise ValueError(f"group_by must be one of {GROUP_BY}, not {group_by!r}")
    lang, zone = resolve_lang(lang), _zone(tz)
    all_views = [event_view(e, zone, now) for e in events]
    word, sent_on = _period(period)
    start, end = covered(word, sent_on, all_views)
    views = [v for v in latest_per_offer(all_views) if not (v["kind"] == "expiring" and v["ended"])]
    rank = {k: n for n, k in enumerate(KIND_ORDER)}
    views.sort(key=lambda v: (rank.get(v["kind"], len(rank)), v["op_name"].lower(), v["price"] or 0, v["name"]))
    counts: dict[str, int] = {}
    for view in views:  # already in KIND_ORDER order
        counts[view["kind"]] = counts.get(view["kind"], 0) + 1
    shown, more = views[:max_events], max(0, len(views) - max_events)
    groups: dict[str, list[dict]] = {}
    for view in shown:
        groups.setdefault(view["op_name"] if group_by == "operator" else view["kind"], []).append(view)
    ordered = sorted(groups.items(), key=lambda kv: kv[0].lower()) if group_by == "operator" else list(groups.items())
    context = {
        "count": len(views),
        "counts": counts,
        "group_by": group_by,
        "period": word,
        "start": start,
        "end": end,
        "groups": [{"key": key, "events": evs} for key, evs in ordered],
        "more": more,
        "why": why_lines(sub, views),
    }
    message = _render(lang, "digest.txt.j2", context)
    return with_footer(Message(_title(message.title), message.body), lang, footer)


#: Apprise's notify type of an alert: good news "success", bad news "warning", the rest (digests too) "info"
NOTIFY_TYPES = {
    "price_drop": "success",
    "new": "success",
    "returned": "success",
    "price_rise": "warning",
    "removed": "warning",
}
PAYLOAD_VERSION = 1


def notify_type(kind: str | None) -> str:
    return NOTIFY_TYPES.get(kind or "", "info")


def event_data(event: dict) -> dict:
    """An event as data for the JSON channel (README "JSON payload"): money in integer cents with its currency,
    times in UTC (ISO 8601), the offer's facts as the contract names them."""
    if not isinstance(event, dict):
        from storage.repository import event_dict

        event = event_dict(event)
    item = {**DEFAULTS, **(event.get("item") or {})}
    operator = event.get("operator") or item.get("operator") or ""
    detected = _as_datetime(event.get("created_at"), ZoneInfo("UTC"))
    context = event.get("context") or {}
    return {
        "version": PAYLOAD_VERSION,
        "kind": event["kind"],
        "operator": operator,
        "operator_name": operator_name(operator),
        "offer_key": event.get("offer_key") or item.get("offer_key"),
        "offer_name": item.get("name"),
        "price_before_cents": event.get("price_before"),
        "price_after_cents": event.get("price_after"),
        "currency": item.get("currency") or "EUR",
        "period_days": item.get("period_days"),
        "data_gb": item.get("data_gb"),
        "data_unlimited": item.get("data_unlimited"),
        "data_5g": item.get("data_5g"),
        "eligibility": item.get("eligibility"),
        "eligible_from": item.get("eligible_from"),
        "promo_until": item.get("promo_until"),
        "flags": item.get("flags"),
        "url": item.get("url"),
        "detected_at": detected.isoformat().replace("+00:00", "Z") if detected else None,
        "changes": {f: {"before": b, "after": a} for f, (b, a) in (event.get("changes") or {}).items()},
        "low_90_cents": context.get("low_90_cents"),
        "low_ever_cents": context.get("low_ever_cents"),
        "is_low_90": context.get("is_low_90"),
    }


#: what a test notification shows as an example of an alert
SAMPLE_EVENT = {
    "kind": "price_drop",
    "operator": "ho",
    "offer_key": "ho-180-giga",
    "price_before": 999,
    "price_after": 799,
    "changes": {},
    "created_at": None,
    "item": {
        "operator": "ho",
        "offer_key": "ho-180-giga",
        "name": "ho. 180 Giga",
        "plan_type": "prepaid",
        "url": "https://www.ho-mobile.it/",
        "price_cents": 799,
        "period_days": 30,
        "data_gb": 180.0,
        "data_5g": True,
    },
}


def render_test(lang: str, footer: dict | None = None) -> Message:
    """The message `promowatch test-notify` sends: says the channel works, with a sample alert line."""
    lang = resolve_lang(lang)
    message = _render(lang, "test.txt.j2", {"sample": event_view(SAMPLE_EVENT, _zone(DEFAULT_TZ), None)})
    return with_footer(Message(_title(message.title), message.body), lang, footer)


def price_table(event: dict, lang: str, now: datetime | None = None) -> list[tuple[str, str]]:
    """The rows of an email's price-change table for a price event (none for other kinds): before, now, the
    change, the offer's lows (with its price context), the first 12 months and €/GB."""
    view = event_view(event, ZoneInfo(DEFAULT_TZ), now)
    if view["kind"] not in ("price_drop", "price_rise", "new", "returned") or view["price"] is None:
        return []
    env = _env(resolve_lang(lang))
    labels, f = env.get_template("_macros.j2").module.HTML, env.filters  # type: ignore[attr-defined]
    context = view["context"] or {}
    rows = []
    if view["old_price"] is not None:
        rows.append((labels["before"], f["money"](view["old_price"])))
    rows.append((labels["now"], f["money"](view["price"])))
    if context.get("change_cents"):
        rows.append(
            (labels["change"], f"{f['pct'](context['change_percent'])} ({f['signed_money'](context['change_cents'])})")
        )
    if context.get("history_since"):
        rows += [
            (labels["low_90"], f["money"](context["low_90_cents"])),
            (labels["low_ever"], f["money"](context["low_ever_cents"])),
        ]
    if view["year_cents"] is not None:
        rows.append((labels["year"], f["money"](view["year_cents"])))
    if view["per_gb_cents"]:
        rows.append((labels["per_gb"], f["fine_money"](view["per_gb_cents"])))
    return [(label, _one_line(value)) for label, value in rows]


def render_html(message: Message, lang: str, event: dict | None = None, now: datetime | None = None) -> str:
    """The HTML part of an email: `message` (its title and every paragraph, links made links) and, for a price
    event, its price-change table.

    Apprise's email plugin takes one body and makes the text/plain part beside an HTML body itself (its HTML to
    text conversion); it has no argument for a text body of our own. So every line of the text message is one
    line of HTML here, and the plain part Apprise derives is the text message, line for line, plus the title and
    the table's cells (tests/test_email_plain_part.py reads it back from a real SMTP server)."""
    lang = resolve_lang(lang)
    paragraphs = [block.split("\n") for block in message.body.split("\n\n") if block.strip()]
    env = _env(lang)
    return env.get_template("email.html.j2").render(
        lang=lang,
        title=message.title,
        paragraphs=paragraphs,
        table=price_table(event, lang, now) if event else [],
        labels=env.get_template("_macros.j2").module.HTML,  # type: ignore[attr-defined]
    )


def render_stay(lang: str, stay: dict, footer: dict | None = None) -> Message:
    """A saved stay's cheapest card changed: `stay` holds days, gb, card (None: no card covers it now) and was."""
    lang = resolve_lang(lang)
    context = {"days": stay.get("days"), "gb": stay.get("gb") or 0, "card": stay.get("card"), "was": stay.get("was")}
    message = _render(lang, "stay.txt.j2", context)
    return with_footer(Message(_title(message.title), message.body), lang, footer)


def stay_phrases(lang: str, phrases) -> list[str]:
    """contract.stay's phrases (a code and its parameters: what a card includes, what to watch, why an offer is
    left out) in `lang`, one line each, worded by `_stay.j2`; a plain text (stored before the codes) as it is."""
    module = _env(resolve_lang(lang)).get_template("_stay.j2").module
    return [_one_line(str(module.phrase(p))) for p in phrases]  # type: ignore[attr-defined]


def stay_left_out(lang: str, code: str) -> str:
    """The kind of reason an offer is left out of a stay (contract.stay.Excluded.code) in `lang`."""
    return _one_line(str(_env(resolve_lang(lang)).get_template("_stay.j2").module.left_out(code)))  # type: ignore[attr-defined]


def render_confirm(lang: str, confirm: str, footer: dict | None = None) -> Message:
    """The double opt-in request: the signed `confirm` link, valid 48 hours."""
    lang = resolve_lang(lang)
    message = _render(lang, "confirm.txt.j2", {"confirm": confirm})
    return with_footer(Message(_title(message.title), message.body), lang, footer)
