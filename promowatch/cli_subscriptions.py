"""`promowatch subscribe`, `unsubscribe` and `subscribers`, defined on the CLI's Typer app by `register(app)`.

A subscription is checked whole before anything is stored: every channel URL must be one Apprise can use
(`apprise.Apprise.instantiate(url)`), and operators, plan types, kinds, language, time zone, quiet hours and
amounts must be valid; otherwise exit 2 and nothing is written. Channel URLs carry secrets: only their masked
form (Apprise's privacy mode, kept in SubscriptionChannel.url_masked) is ever printed.

`subscription_spec` (validation) and `store_subscriptions` (one transaction, batched inserts) are plain functions
so that the match benchmark creates its subscriptions through the same path.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Sequence
from contextlib import contextmanager
from typing import List, Optional

import typer

from promowatch.cli_common import Column, console, euro, fail, fit_table, gb, gb_option, money_option

DIGESTS = ("off", "daily", "weekly")
_QUIET = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
#: what `subscribers --json` shows of a subscription, in this order (then created_at and the masked channels)
_SHOWN = (
    "id",
    "active",
    "lang",
    "digest",
    "timezone",
    "quiet_start",
    "quiet_end",
    "rearm_hours",
    "operators",
    "plan_types",
    "kinds",
    "max_price_cents",
    "min_gb",
    "only_5g",
    "origin",
    "max_eur_per_gb_cents",
    "max_year_cents",
)


class SubscriptionError(ValueError):
    """A subscription that cannot be stored as asked (the message never contains a channel secret)."""


@contextmanager
def _apprise_quiet():
    """Apprise logs what it cannot parse, URL included: silence it while checking URLs."""
    logger = logging.getLogger("apprise")
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(level)


def check_channel(url: str) -> dict:
    """{"url", "url_masked", "service"} for a usable Apprise URL; SubscriptionError (masked) for another."""
    import apprise

    with _apprise_quiet():
        plugin = apprise.Apprise.instantiate(url.strip())
    from alerts.masking import mask_unusable, mask_url

    if plugin is None:
        raise SubscriptionError(mask_unusable(url))

    service = url.strip().partition("://")[0].lower()[:32]
    return {"url": url.strip(), "url_masked": mask_url(url.strip()), "service": service}


def _amount(text: Optional[str], flag: str) -> Optional[int]:
    try:
        return money_option(text, flag)
    except ValueError as exc:
        raise SubscriptionError(str(exc)) from None


def _gb(text, flag: str) -> Optional[float]:
    try:
        if isinstance(text, (int, float)) and not isinstance(text, bool):  # from code (the match benchmark)
            text = f"{text:f}"
        return gb_option(text, flag)
    except ValueError as exc:
        raise SubscriptionError(str(exc)) from None


def _rearm(hours) -> int:
    from alerts.outbox import REARM_MAX_HOURS, REARM_MIN_HOURS

    if not REARM_MIN_HOURS <= hours <= REARM_MAX_HOURS:
        raise SubscriptionError(
            f"--rearm-hours {hours} is out of range: write {REARM_MIN_HOURS} to {REARM_MAX_HOURS} hours (one year)"
        )
    return hours


def _unique_channels(checked: list[dict]) -> tuple[list[dict], int]:
    """The channels without repeats (the same URL once its scheme and host are lower case and a trailing slash
    is dropped: Apprise sends to both alike), in order; and how many repeats were left out."""
    seen, out = set(), []
    for channel in checked:
        scheme, _, rest = channel["url"].partition("://")
        head, sep, tail = rest.partition("/")
        userinfo, at, host = head.rpartition("@")
        key = f"{scheme.lower()}://{userinfo}{at}{host.lower()}{sep}{tail}".rstrip("/")
        if key not in seen:
            seen.add(key)
            out.append(channel)
    return out, len(checked) - len(out)


def _operators(names, what: str = "operator") -> list[str]:
    """The slugs of the names (slug, display name or alias, any case), in order, without repeats."""
    from contract.catalogue import UnknownOperator, resolve_operator
    from contract.offer import OPERATORS

    try:
        return list(dict.fromkeys(resolve_operator(n, OPERATORS, what) for n in names))
    except UnknownOperator as exc:
        raise SubscriptionError(str(exc)) from None


def _quiet(text: Optional[str]) -> tuple[Optional[str], Optional[str]]:
    if text is None:
        return None, None
    m = _QUIET.match(text)
    if not m:
        raise SubscriptionError(f"--quiet {text!r} is not HH:MM-HH:MM (e.g. 22:00-07:00)")
    h1, m1, h2, m2 = map(int, m.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise SubscriptionError(f"--quiet {text!r}: hours 00-23, minutes 00-59")
    start, end = f"{h1:02d}:{m1:02d}", f"{h2:02d}:{m2:02d}"
    if start == end:
        raise SubscriptionError(f"--quiet {text!r}: start and end are the same time")
    return start, end


def _one_of(values, known, what: str) -> list:
    bad = [v for v in values if v not in known]
    if bad:
        raise SubscriptionError(f"unknown {what}: {', '.join(map(str, bad))}; known: {', '.join(known)}")
    return list(dict.fromkeys(values))


def subscription_spec(
    channels: list[str],
    lang: str = "it",
    digest: str = "off",
    tz: str = "Europe/Rome",
    operators: Sequence[str] = (),
    plan_types: Sequence[str] = (),
    kinds: Sequence[str] = (),
    max_price: Optional[str] = None,
    min_gb: Optional[str | float] = None,
    only_5g: bool = False,
    origin: Optional[str] = None,
    max_eur_per_gb: Optional[str] = None,
    max_year_cost: Optional[str] = None,
    quiet: Optional[str] = None,
    rearm_hours: int = 168,
) -> dict:
    """A validated subscription: {"subscription": column values, "channels": [checked channels]}."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from alerts.detect import KINDS
    from alerts.render import LANGS
    from contract.offer import PLAN_TYPES

    if not channels:
        raise SubscriptionError("at least one --channel URL is needed")
    checked, bad = [], []
    for n, url in enumerate(channels, 1):
        try:
            checked.append(check_channel(url))
        except SubscriptionError as exc:
            bad.append(f"channel {n}: {exc}")
    if bad:
        raise SubscriptionError(
            "not a notification URL Apprise can use: "
            + "; ".join(bad)
            + " (see https://github.com/caronc/apprise/wiki for the URL forms)"
        )
    checked, repeats = _unique_channels(checked)
    if lang not in LANGS:
        raise SubscriptionError(f"unknown language {lang!r}; one of {', '.join(LANGS)}")
    if digest not in DIGESTS:
        raise SubscriptionError(f"unknown digest {digest!r}; one of {', '.join(DIGESTS)}")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise SubscriptionError(f"unknown time zone {tz!r} (an IANA name such as Europe/Rome)") from None
    if origin is not None:
        (origin,) = _operators([origin], "operator for --from")
    min_gb = _gb(min_gb, "--min-gb")
    rearm_hours = _rearm(rearm_hours)
    quiet_start, quiet_end = _quiet(quiet)
    per_gb = _amount(max_eur_per_gb, "--max-eur-per-gb")
    return {
        "subscription": {
            "lang": lang,
            "digest": digest,
            "timezone": tz,
            "quiet_start": quiet_start,
            "quiet_end": quiet_end,
            "rearm_hours": rearm_hours,
            "operators": _operators(operators or []),
            "plan_types": _one_of(plan_types or [], PLAN_TYPES, "plan type"),
            "kinds": _one_of(kinds or [], KINDS, "event kind"),
            "max_price_cents": _amount(max_price, "--max-price"),
            "min_gb": min_gb,
            "only_5g": only_5g,
            "origin": origin,
            "max_eur_per_gb_cents": None if per_gb is None else float(per_gb),
            "max_year_cents": _amount(max_year_cost, "--max-year-cost"),
        },
        "channels": checked,
        "repeated_channels": repeats,
    }


def store_subscriptions(specs: list[dict], database_url: Optional[str] = None) -> list[int]:
    """Store validated specs (subscription_spec) in one transaction, batched; their ids in order."""
    from sqlalchemy import insert
    from sqlmodel import Session

    from contract.clock import utcnow
    from storage.engine import get_engine
    from storage.models import Subscription, SubscriptionChannel, table_of

    if not specs:
        return []
    now = utcnow()
    with Session(get_engine(database_url)) as session, session.begin():
        rows = [{"created_at": now, "active": True, **spec["subscription"]} for spec in specs]
        ids = list(
            session.scalars(
                insert(Subscription).returning(table_of(Subscription).c.id, sort_by_parameter_order=True), rows
            )
        )
        channels = [
            {"subscription_id": sid, **channel}
            for sid, spec in zip(ids, specs, strict=False)
            for channel in spec["channels"]
        ]
        session.execute(insert(SubscriptionChannel), channels)
    return ids


def _same(a, b) -> bool:
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return sorted(a or []) == sorted(b or [])
    return a == b


def find_duplicate(spec: dict, database_url: Optional[str] = None) -> Optional[int]:
    """The id of an active subscription with the same channels and the same filters and settings as `spec`
    (lists compared as sets), or None."""
    from sqlalchemy import select
    from sqlmodel import Session, col

    from storage.engine import get_engine
    from storage.models import Subscription, SubscriptionChannel

    wanted = spec["subscription"]
    urls = sorted({c["url"] for c in spec["channels"]})
    with Session(get_engine(database_url)) as session:
        subs = session.execute(
            select(Subscription).where(col(Subscription.active).is_(True)).order_by(col(Subscription.id))
        )
        for sub in subs.scalars():
            if not all(_same(getattr(sub, key), value) for key, value in wanted.items()):
                continue
            stored = session.execute(
                select(col(SubscriptionChannel.url)).where(col(SubscriptionChannel.subscription_id) == sub.id)
            )
            if sorted(set(stored.scalars())) == urls:
                return sub.id
    return None


def list_subscriptions(database_url: Optional[str] = None, active_only: bool = False) -> list[dict]:
    """Subscriptions with their channels, masked (never the URL itself)."""
    from sqlalchemy import select
    from sqlmodel import Session, col

    from storage.engine import get_engine
    from storage.models import Subscription, SubscriptionChannel

    with Session(get_engine(database_url)) as session:
        query = select(Subscription).order_by(col(Subscription.id))
        if active_only:
            query = query.where(col(Subscription.active).is_(True))
        subs = session.execute(query).scalars().all()
        channels: dict[int, list] = {}
        rows = session.execute(
            select(
                col(SubscriptionChannel.subscription_id),
                col(SubscriptionChannel.id),
                col(SubscriptionChannel.service),
                col(SubscriptionChannel.url),
            ).order_by(col(SubscriptionChannel.id))
        )
        from alerts.masking import mask_url  # masked now, not the stored url_masked: masking may have improved

        for sid, cid, service, url in rows:
            channels.setdefault(sid, []).append({"id": cid, "service": service, "url_masked": mask_url(url)})
        return [
            {**{c: getattr(s, c) for c in _SHOWN}, "created_at": _iso(s.created_at), "channels": channels.get(s.id, [])}
            for s in subs
        ]


def _iso(moment) -> str:
    from datetime import timezone

    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).isoformat()


def _filters_text(s: dict) -> str:
    parts = []
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
        lang: str = typer.Option("it", "--lang", help="language of the messages: it | en | zh"),
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
        as_json: bool = typer.Option(False, "--json", help="print the stored subscription as JSON"),
    ):
        """Subscribe channels to the events of the offers that pass the filters."""
        try:
            spec = subscription_spec(
                list(channel),
                lang=lang,
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

    @app.command()
    def unsubscribe(
        subscription_id: int = typer.Argument(..., metavar="ID", help="the subscription's id (`subscribers` shows it)"),
    ):
        """Deactivate a subscription (it is kept, and gets nothing more)."""
        from sqlmodel import Session

        from storage.engine import get_engine
        from storage.models import Subscription

        with Session(get_engine()) as session, session.begin():
            sub = session.get(Subscription, subscription_id)
            if sub is None:
                fail(f"no subscription {subscription_id} (see `promowatch subscribers`)", code=1)
            was_active, sub.active = sub.active, False
        console.print(
            f"subscription {subscription_id} " + ("deactivated" if was_active else "was already inactive"),
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
            Column("active", keep=50),
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
                "yes" if s["active"] else "no",
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
