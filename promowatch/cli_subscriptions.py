"""`promowatch subscribe`, `unsubscribe` and `subscribers`, defined on the CLI's Typer app by `register(app)`.

Presentation only: checking, storing and changing subscriptions is `alerts.subscriptions`, the one code path the
web's pages use too. A subscription is checked whole before anything is stored; otherwise exit 2 and nothing
is written. Channel URLs carry secrets: only their masked form is ever printed. The operator's subscriptions
are active at once (no opt-in) and their messages carry the same manage and unsubscribe links.
"""

from __future__ import annotations

import json
import sys
from typing import List, Optional

import typer

from alerts.subscriptions import (
    SubscriptionError,
    find_duplicate,
    list_subscriptions,
    store_subscriptions,
    subscription_spec,
)
from promowatch.cli_common import Column, console, euro, fail, fit_table, gb


def _filters_text(s: dict) -> str:
    parts = []
    if s.get("stay_days"):
        parts.append(f"stay {s['stay_days']} days" + (f", {gb(s['stay_gb'])} GB" if s.get("stay_gb") else ""))
    for key, label in (("operators", "operators"), ("plan_types", "types"), ("kinds", "kinds")):
        if s[key]:
            parts.append(f"{label} {','.join(s[key])}")
    if s["max_price_cents"] is not None:
        parts.append(f"≤ {euro(s['max_price_cents'])}")
    if s["min_gb"] is not None:
        parts.append(f"≥ {gb(s['min_gb'])} GB")
    if s["only_5g"]:
        parts.append("5G")
    if s["origin"]:
        parts.append(f"from {s['origin']}")
    if s["max_eur_per_gb_cents"] is not None:
        parts.append(f"≤ {s['max_eur_per_gb_cents'] / 100:.2f} €/GB".replace(".", ","))
    if s["max_year_cents"] is not None:
        parts.append(f"12 months ≤ {euro(s['max_year_cents'])}")
    return "\n".join(parts) or "any offer"


#: the languages of the messages, named for the command's English output
LANGUAGE_NAMES = {"it": "Italian", "en": "English", "zh": "Chinese"}


def language_line(lang: str, given: bool) -> str:
    """What language the messages will be in, whether it was asked for, and how to change it."""
    others = " or ".join(f"--lang {code}" for code in LANGUAGE_NAMES if code != lang)
    asked = f"--lang {lang}" if given else f"the default, --lang {lang}"
    return (
        f"messages in {LANGUAGE_NAMES.get(lang, lang)} ({asked}); for another language: {others}; "
        "change it later on the manage page linked at the end of every message"
    )


def _short(masked: str) -> str:
    return masked.split("?", 1)[0]


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def register(app: typer.Typer) -> None:
    """Define `subscribe`, `unsubscribe` and `subscribers` on the CLI's app."""

    @app.command()
    def subscribe(
        channel: List[str] = typer.Option(
            ..., "--channel", help="Apprise URL (repeatable), e.g. mailto://user:pass@example.com"
        ),
        lang: Optional[str] = typer.Option(
            None, "--lang", help="language of the messages: it | en | zh (default: it, Italian)"
        ),
        digest: str = typer.Option(
            "off", "--digest", help="one message per event (off) or one a day / a week: off | daily | weekly"
        ),
        tz: str = typer.Option("Europe/Rome", "--tz", help="time zone for quiet hours and digests"),
        operator: List[str] = typer.Option(
            None, "--operator", help="only these operators (repeatable; slug, name or alias, any case)"
        ),
        plan_type: List[str] = typer.Option(None, "--plan-type", help="prepaid, postpaid, ... (repeatable)"),
        kind: List[str] = typer.Option(
            None, "--kind", help="new, returned, price_drop, price_rise, changed, removed, expiring (repeatable)"
        ),
        max_price: Optional[str] = typer.Option(
            None, "--max-price", help="at most this many euro per period, e.g. 9,99"
        ),
        min_gb: Optional[str] = typer.Option(
            None, "--min-gb", help="at least this many GB, e.g. 10 or 1,5 (unlimited passes)"
        ),
        only_5g: bool = typer.Option(False, "--5g", help="only offers with 5G"),
        origin: Optional[str] = typer.Option(
            None, "--from", help="only offers a customer of this operator can take by porting"
        ),
        max_eur_per_gb: Optional[str] = typer.Option(
            None, "--max-eur-per-gb", help="at most this many euro per GB of a period, e.g. 0,05"
        ),
        max_year_cost: Optional[str] = typer.Option(
            None,
            "--max-year-cost",
            help="at most this many euro over the first 12 months incl. activation and SIM, e.g. 120",
        ),
        quiet: Optional[str] = typer.Option(None, "--quiet", help="HH:MM-HH:MM local time, e.g. 22:00-07:00"),
        rearm_hours: int = typer.Option(
            168,
            "--rearm-hours",
            help="hours (1 to 8760, one year) after which the same offer+kind alerts again (or when its price moves)",
        ),
        stay_days: Optional[int] = typer.Option(
            None,
            "--stay-days",
            help="watch a stay of this many days instead of offer events: alert when its cheapest card changes",
        ),
        stay_gb: Optional[str] = typer.Option(
            None, "--stay-gb", help="with --stay-days: the GB needed over the whole stay, e.g. 20 or 1,5"
        ),
        as_json: bool = typer.Option(False, "--json", help="print the stored subscription as JSON"),
    ):
        """Subscribe channels to the events of the offers that pass the filters (or to a saved stay's cheapest
        card: --stay-days)."""
        from alerts.render import DEFAULT_LANG

        try:
            spec = subscription_spec(
                list(channel),
                lang=lang or DEFAULT_LANG,
                digest=digest,
                tz=tz,
                operators=list(operator or []),
                plan_types=list(plan_type or []),
                kinds=list(kind or []),
                max_price=max_price,
                min_gb=min_gb,
                only_5g=only_5g,
                origin=origin,
                max_eur_per_gb=max_eur_per_gb,
                max_year_cost=max_year_cost,
                quiet=quiet,
                rearm_hours=rearm_hours,
                stay_days=stay_days,
                stay_gb=stay_gb,
            )
        except SubscriptionError as exc:
            fail(f"subscription refused, nothing stored: {_escape(str(exc))}")
        duplicate = find_duplicate(spec)
        if duplicate is not None and not as_json:
            console.print(
                f"already subscribed as #{duplicate} (same channels and filters); nothing stored", highlight=False
            )
            return
        (sid,) = (duplicate,) if duplicate is not None else store_subscriptions([spec])
        stored = next(s for s in list_subscriptions() if s["id"] == sid)
        if as_json:
            shown = {**stored, "already_subscribed": True} if duplicate is not None else stored
            sys.stdout.write(json.dumps(shown, ensure_ascii=False, indent=2) + "\n")
            return
        n = len(stored["channels"])
        repeats = spec["repeated_channels"]
        console.print(
            f"subscription {sid}: {n} channel{'' if n == 1 else 's'}"
            + (f" ({repeats} repeated URL{'' if repeats == 1 else 's'} left out)" if repeats else ""),
            highlight=False,
        )
        for ch in stored["channels"]:
            console.print(f"  {_escape(_short(ch['url_masked']))}", highlight=False)
        console.print(language_line(stored["lang"], given=lang is not None), highlight=False)

    @app.command()
    def unsubscribe(
        subscription_id: int = typer.Argument(..., metavar="ID", help="the subscription's id (`subscribers` shows it)"),
    ):
        """Deactivate a subscription (it is kept, and gets nothing more)."""
        from alerts.subscriptions import unsubscribe as stop

        try:
            changed = stop(subscription_id)
        except SubscriptionError:
            fail(f"no subscription {subscription_id} (see `promowatch subscribers`)", code=1)
        console.print(
            f"subscription {subscription_id} " + ("deactivated" if changed else "was already inactive"),
            highlight=False,
        )

    @app.command()
    def subscribers(
        as_json: bool = typer.Option(False, "--json", help="print the subscriptions as JSON instead of a table"),
        active_only: bool = typer.Option(False, "--active", help="only active subscriptions"),
    ):
        """The subscriptions, their filters and their channels (masked)."""
        rows = list_subscriptions(active_only=active_only)
        if as_json:
            sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
            return
        columns = [
            Column("id", "right"),
            Column("status", keep=50),
            Column("lang", keep=40),
            Column("digest", keep=30),
            Column("time zone", keep=20),
            Column("quiet", keep=25),
            Column("re-arm", keep=10),
            Column("filters", fold=16),
            Column("channels", fold=20),
        ]
        table_rows = [
            [
                str(s["id"]),
                s["status"],
                s["lang"],
                s["digest"],
                s["timezone"],
                f"{s['quiet_start']}-{s['quiet_end']}" if s["quiet_start"] else "",
                f"{s['rearm_hours']} h",
                _escape(_filters_text(s)),
                _escape("\n".join(_short(c["url_masked"]) for c in s["channels"])),
            ]
            for s in rows
        ]
        console.print(fit_table(f"{len(rows)} subscription{'' if len(rows) == 1 else 's'}", columns, table_rows))
