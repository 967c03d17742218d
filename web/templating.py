"""HTML pages from Jinja2 templates, one environment per language (as alerts/render.py does for messages).

Every template is autoescaped: scraped text (offer names, notes, URLs) and anything a visitor typed reach the
page only as text. The alerts' phrase macros are reachable as "alerts/<lang>/_macros.j2" with the alerts'
Babel filters bound to the page's locale (money as `it` "7,99 €", `en` "€7.99"); times are shown in the
reader's zone (the app's, Europe/Rome unless configured) with the zone named.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache, lru_cache
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from babel.numbers import format_decimal
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PrefixLoader, StrictUndefined

from alerts.render import LOCALES, Amount, amount_of, locale_filters, operator_name
from alerts.render import TEMPLATES as ALERT_TEMPLATES
from contract.offer import DEFAULTS
from contract.offer_query import eur_per_gb_cents, twelve_month_cents
from storage.repository import as_utc
from web.i18n import COOKIE, NATIVE, WORDS, choose
from web.query import offer_path

TEMPLATES = Path(__file__).with_name("templates")
#: filters of one hashable value whose result depends on nothing else
CACHED_FILTERS = ("num", "per_gb", "shortdate", "longdate")


def language(request: Request) -> str:
    return choose(request.cookies.get(COOKIE), request.headers.get("accept-language"))


@cache
def environment(lang: str) -> Environment:
    env = Environment(
        loader=ChoiceLoader(
            [FileSystemLoader(str(TEMPLATES)), PrefixLoader({"alerts": FileSystemLoader(str(ALERT_TEMPLATES))})]
        ),
        autoescape=True,
        undefined=StrictUndefined,
        extensions=["jinja2.ext.do"],
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # package files: loaded once, not checked on disk at every page
    )
    locale = LOCALES[lang]
    filters = locale_filters(locale)
    filters["per_gb"] = lambda cents: format_decimal(cents / 100, format="#,##0.00#", locale=locale)
    # a page formats the same few amounts over and over, and Babel's formatting is most of a page's time
    env.filters.update(filters, **{name: lru_cache(maxsize=4096)(filters[name]) for name in CACHED_FILTERS})
    # an amount's currency is part of the key: Amount(1299, "USD") hashes and compares as the int 1299
    money = lru_cache(maxsize=4096)(lambda cents, currency: filters["money"](Amount(cents, currency)))
    env.filters["money"] = lambda cents: money(int(cents), getattr(cents, "currency", "EUR"))
    env.globals.update(
        lang=lang,
        t=WORDS[lang],
        langs=NATIVE,
        opname=operator_name,
        full=lambda item: {**DEFAULTS, **item},
        eur_per_gb_cents=eur_per_gb_cents,
        twelve_month_cents=lambda item: amount_of(twelve_month_cents(item), item),
        amount_of=amount_of,
        offer_path=offer_path,
    )
    return env


def local_time(moment, zone: ZoneInfo, lang: str) -> str:
    """A stored UTC time in the reader's zone, the zone named: "7 dic 2026, 15:25 CET"; "" for None."""
    if moment in (None, ""):
        return ""
    moment = as_utc(datetime.fromisoformat(moment) if isinstance(moment, str) else moment).astimezone(zone)
    locale = LOCALES[lang]
    day, hour = format_date(moment, "medium", locale=locale), format_time(moment, "short", locale=locale)
    return f"{day} {hour} {moment.tzname()}"


def page(request: Request, template: str, status: int = 200, **context) -> HTMLResponse:
    """The page `template` in the visitor's language, with what every page shows (navigation, language switch)."""
    lang = language(request)
    zone = request.app.state.zone
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    html = (
        environment(lang)
        .get_template(template)
        .render(
            **context,
            when=lambda moment: local_time(moment, zone, lang),
            zone_name=zone.key,
            path=request.url.path,
            switch={code: f"/lang/{code}?next={quote(here, safe='')}" for code in NATIVE},
        )
    )
    response = HTMLResponse(html, status_code=status)
    response.headers["Content-Language"] = lang
    response.headers["Vary"] = "Accept-Language, Cookie"
    return response
