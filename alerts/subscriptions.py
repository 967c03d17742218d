"""Subscriptions and their life cycle: the one code path of the operator's CLI and the web's pages.

Why one module: `promowatch subscribe` and the subscribe / manage pages must check, store and change
subscriptions alike. The life cycle (pending -> active <-> paused -> unsubscribed, double opt-in through the
outbox, the consent record, erasure, the purge of stale requests, rate limits) is described in
docs/architecture.md. Every error is a `SubscriptionError`: one line, never a channel secret.
"""

from __future__ import annotations

import logging
import re
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Optional, Sequence, cast

from sqlalchemy import CursorResult, delete, func, insert, select, update
from sqlmodel import Session, col

from alerts.channels import CODES as CHANNEL_CODES
from alerts.channels import ChannelError, ChannelSettings, build_channel, shown_channel
from alerts.links import CONFIRM_MAX_AGE, LinkError, Links
from alerts.masking import mask_unusable, mask_url
from alerts.subscription_index import FILTERS
from contract.clock import utcnow
from storage.engine import get_engine
from storage.models import (
    Notification,
    RateLimitHit,
    Subscription,
    SubscriptionChannel,
    SubscriptionConsent,
    new_link_key,
)
from storage.repository import as_utc
from storage.secret import keyed_hash

DIGESTS = ("off", "daily", "weekly")
STATUSES = ("pending", "active", "paused", "unsubscribed")
#: a pending request is erased after this long without confirmation
PENDING_MAX_AGE = CONFIRM_MAX_AGE
#: the outbox kinds of messages that are about the subscription itself, not an offer
MESSAGE_KINDS = ("confirm", "test", "stay")
_QUIET = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
#: a saved stay: days and GB (alerts/stay_alerts.py)
STAY = ("stay_days", "stay_gb")
#: the settings of a subscription (what `settings_spec` returns and `update_settings` changes): how and when it is
#: sent, then the filters the matching index reads
SETTINGS = ("lang", "digest", "timezone", "quiet_start", "quiet_end", "rearm_hours", *FILTERS[1:], *STAY)
#: what `list_subscriptions` shows of a subscription, in this order (then created_at and the masked channels)
SHOWN = ("id", "status", "active", *SETTINGS)


#: every SubscriptionError's code (and alerts.channels.CODES, whose errors it passes on): what a page words in its
#: reader's language (web/subscribe_words.py ERRORS)
CODES = (
    "unknown_lang",
    "unknown_digest",
    "unknown_zone",
    "unknown_operator",
    "not_gb",
    "not_amount",
    "rearm_range",
    "quiet_format",
    "quiet_range",
    "quiet_same",
    "unknown_choice",
    "stay_gb_needs_days",
    "stay_days_range",
    "no_subscription",
    "cancelled",
    "unknown_setting",
    "test_needs_active",
    "no_channel",
    "not_apprise",
)


class SubscriptionError(ValueError):
    """A subscription that cannot be stored or changed as asked: one English line for the CLI (never a channel
    secret); `code` (one of CODES or alerts.channels.CODES) and `params` (what the line names: the value given,
    the limits) for a page that words it in its reader's language."""

    def __init__(self, message: str, code: str, **params):
        assert code in CODES or code in CHANNEL_CODES, code
        super().__init__(message)
        self.code, self.params = code, params


# ------------------------------------------------------------------------------------------------ checking


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
    if plugin is None:
        raise SubscriptionError(mask_unusable(url), "not_apprise")
    service = url.strip().partition("://")[0].lower()[:32]
    return {"url": url.strip(), "url_masked": mask_url(url.strip()), "service": service}


def _amount(text: Optional[str], flag: str) -> Optional[int]:
    from contract.amounts import money_option

    try:
        return money_option(text, flag)
    except ValueError as exc:
        raise SubscriptionError(str(exc), "not_amount", value=text) from None


def _gb(text, flag: str) -> Optional[float]:
    from contract.amounts import gb_option

    try:
        if isinstance(text, (int, float)) and not isinstance(text, bool):  # from code (the match benchmark)
            text = f"{text:f}"
        return gb_option(text, flag)
    except ValueError as exc:
        raise SubscriptionError(str(exc), "not_gb", value=text) from None


def _rearm(hours) -> int:
    from alerts.outbox import REARM_MAX_HOURS, REARM_MIN_HOURS

    if isinstance(hours, bool) or not isinstance(hours, int) or not REARM_MIN_HOURS <= hours <= REARM_MAX_HOURS:
        raise SubscriptionError(
            f"--rearm-hours {hours} is out of range: write {REARM_MIN_HOURS} to {REARM_MAX_HOURS} hours (one year)",
            "rearm_range",
            value=hours,
            min=REARM_MIN_HOURS,
            max=REARM_MAX_HOURS,
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

    slugs = []
    for name in names:
        try:
            slugs.append(resolve_operator(name, OPERATORS, what))
        except UnknownOperator as exc:
            raise SubscriptionError(str(exc), "unknown_operator", value=name) from None
    return list(dict.fromkeys(slugs))


def _stay(days, gb) -> tuple[Optional[int], Optional[float]]:
    """A saved stay: days (1 to MAX_DAYS) and GB (default 0), or neither."""
    from contract.stay import MAX_DAYS

    if days is None:
        if gb is not None:
            raise SubscriptionError(
                "--stay-gb needs --stay-days: the days of the stay whose cheapest card to watch", "stay_gb_needs_days"
            )
        return None, None
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise SubscriptionError(
            f"--stay-days {days}: the days of the stay, a whole number from 1 to {MAX_DAYS}",
            "stay_days_range",
            value=days,
            max=MAX_DAYS,
        )
    return days, _gb(gb, "--stay-gb") or 0.0


def _quiet(text: Optional[str]) -> tuple[Optional[str], Optional[str]]:
    if text is None:
        return None, None
    m = _QUIET.match(text)
    if not m:
        raise SubscriptionError(f"--quiet {text!r} is not HH:MM-HH:MM (e.g. 22:00-07:00)", "quiet_format", value=text)
    h1, m1, h2, m2 = map(int, m.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise SubscriptionError(f"--quiet {text!r}: hours 00-23, minutes 00-59", "quiet_range", value=text)
    start, end = f"{h1:02d}:{m1:02d}", f"{h2:02d}:{m2:02d}"
    if start == end:
        raise SubscriptionError(f"--quiet {text!r}: start and end are the same time", "quiet_same", value=text)
    return start, end


def _one_of(values, known, what: str) -> list:
    bad = [v for v in values if v not in known]
    if bad:
        raise SubscriptionError(
            f"unknown {what}: {', '.join(map(str, bad))}; known: {', '.join(known)}", "unknown_choice", value=bad
        )
    return list(dict.fromkeys(values))


def settings_spec(
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
    stay_days: Optional[int] = None,
    stay_gb: Optional[str | float] = None,
) -> dict:
    """The validated settings of a subscription (the SETTINGS columns), from what a person typed."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from alerts.detect import KINDS
    from alerts.render import LANGS
    from contract.offer import PLAN_TYPES

    if lang not in LANGS:
        raise SubscriptionError(f"unknown language {lang!r}; one of {', '.join(LANGS)}", "unknown_lang", value=lang)
    if digest not in DIGESTS:
        raise SubscriptionError(
            f"unknown digest {digest!r}; one of {', '.join(DIGESTS)}", "unknown_digest", value=digest
        )
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise SubscriptionError(
            f"unknown time zone {tz!r} (an IANA name such as Europe/Rome)", "unknown_zone", value=tz
        ) from None
    if origin is not None:
        (origin,) = _operators([origin], "operator for --from")
    min_gb = _gb(min_gb, "--min-gb")
    rearm_hours = _rearm(rearm_hours)
    quiet_start, quiet_end = _quiet(quiet)
    per_gb = _amount(max_eur_per_gb, "--max-eur-per-gb")
    stay_days, stay_gb = _stay(stay_days, stay_gb)
    return {
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
        "only_5g": bool(only_5g),
        "origin": origin,
        "max_eur_per_gb_cents": None if per_gb is None else float(per_gb),
        "max_year_cents": _amount(max_year_cost, "--max-year-cost"),
        "stay_days": stay_days,
        "stay_gb": stay_gb,
    }


def subscription_spec(channels: list[str], **settings) -> dict:
    """A validated subscription from Apprise URLs (the operator's CLI): {"subscription": column values,
    "channels": [checked channels], "repeated_channels": n}. `settings`: those of `settings_spec`."""
    if not channels:
        raise SubscriptionError("at least one --channel URL is needed", "no_channel")
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
            + " (see https://github.com/caronc/apprise/wiki for the URL forms)",
            "not_apprise",
        )
    checked, repeats = _unique_channels(checked)
    return {"subscription": settings_spec(**settings), "channels": checked, "repeated_channels": repeats}


# ------------------------------------------------------------------------------------------------ storing


STORE_BATCH = 1_000  # subscriptions per INSERT ... RETURNING


def store_subscriptions(specs: list[dict], database_url: Optional[str] = None) -> list[int]:
    """Store validated specs (subscription_spec) as active subscriptions, in one transaction, batched; their ids
    in order. The operator's own subscriptions: no opt-in, confirmed when stored."""
    if not specs:
        return []
    now = utcnow()
    with Session(get_engine(database_url)) as session, session.begin():
        rows = [
            {
                "created_at": now,
                "active": True,
                "status": "active",
                "confirmed_at": now,
                "link_key": new_link_key(),
                **spec["subscription"],
            }
            for spec in specs
        ]
        statement = insert(Subscription).returning(col(Subscription.id), sort_by_parameter_order=True)
        ids: list[int | None] = []
        for start in range(0, len(rows), STORE_BATCH):  # RETURNING in order costs the square of a batch's size
            ids += session.scalars(statement, rows[start : start + STORE_BATCH])
        channels = [
            {"subscription_id": sid, **_channel_columns(channel)}
            for sid, spec in zip(ids, specs, strict=False)
            for channel in spec["channels"]
        ]
        session.execute(insert(SubscriptionChannel), channels)
    return cast(list[int], ids)  # primary keys: never None once inserted


def _channel_columns(channel: dict) -> dict:
    return {
        "url": channel["url"],
        "url_masked": channel["url_masked"],
        "service": channel["service"],
        "guarded": bool(channel.get("guarded", False)),
    }


def _same(a, b) -> bool:
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return sorted(a or []) == sorted(b or [])
    return a == b


def find_duplicate(
    spec: dict, database_url: Optional[str] = None, statuses: tuple[str, ...] = ("active",)
) -> Optional[int]:
    """The id of a subscription in one of `statuses` with the same channels and the same filters and settings as
    `spec` (lists compared as sets), or None. Only subscriptions sharing a channel URL are read."""
    wanted = spec["subscription"]
    urls = sorted({c["url"] for c in spec["channels"]})
    with Session(get_engine(database_url)) as session:
        candidates = session.scalars(
            select(col(SubscriptionChannel.subscription_id))
            .join(Subscription, col(Subscription.id) == col(SubscriptionChannel.subscription_id))
            .where(col(SubscriptionChannel.url).in_(urls), col(Subscription.status).in_(statuses))
            .distinct()
        ).all()
        for sid in sorted(candidates):
            sub = session.get(Subscription, sid)
            if not all(_same(getattr(sub, key), value) for key, value in wanted.items()):
                continue
            stored = session.scalars(
                select(col(SubscriptionChannel.url)).where(col(SubscriptionChannel.subscription_id) == sid)
            )
            if sorted(set(stored)) == urls:
                return sid
    return None


def _iso(moment) -> str | None:
    return as_utc(moment).isoformat() if moment is not None else None


def list_subscriptions(database_url: Optional[str] = None, active_only: bool = False) -> list[dict]:
    """Subscriptions with their channels, masked (never the URL itself)."""
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
        for sid, cid, service, url in rows:  # masked now, not the stored url_masked: masking may have improved
            channels.setdefault(sid, []).append({"id": cid, "service": service, "url_masked": mask_url(url)})
        return [
            {
                **{c: getattr(s, c) for c in SHOWN},
                "created_at": _iso(s.created_at),
                "confirmed_at": _iso(s.confirmed_at),
                "channels": channels.get(s.id, []),
            }
            for s in subs
        ]


# ------------------------------------------------------------------------------------------------ the web's path


@dataclass(frozen=True)
class Requested:
    subscription_id: int
    created: bool  # False: the same channel and filters were already subscribed (that one is returned)
    status: str


def queue_message(session: Session, sid: int, kind: str, now: datetime) -> int:
    """Queue a message about the subscription itself (MESSAGE_KINDS: confirm | test | stay) to each of its channels."""
    query = select(col(SubscriptionChannel.id)).where(col(SubscriptionChannel.subscription_id) == sid)
    channel_ids = session.scalars(query.order_by(col(SubscriptionChannel.id))).all()
    if channel_ids:
        session.execute(
            insert(Notification),
            [
                {
                    "subscription_id": sid,
                    "channel_id": cid,
                    "event_id": None,
                    "event_ids": [],
                    "kind": kind,
                    "status": "pending",
                    "created_at": now,
                    "due_at": now,
                    "attempts": 0,
                }
                for cid in channel_ids
            ],
        )
    return len(channel_ids)


def request_subscription(
    kind: str,
    value: str,
    channel_settings: ChannelSettings,
    *,
    source: str = "web:subscribe",
    ip: Optional[str] = None,
    database_url: Optional[str] = None,
    now: Optional[datetime] = None,
    **settings,
) -> Requested:
    """A visitor's subscription: the channel built from what they typed (`alerts.channels.build_channel`),
    stored `pending` with its consent record and a confirmation message queued in the same transaction.

    The same channel with the same filters again returns the existing subscription (a pending one gets a new
    confirmation message: the first may have been lost). SubscriptionError (one line) for anything not valid."""
    try:
        channel = build_channel(kind, value, channel_settings)
    except ChannelError as exc:
        raise SubscriptionError(str(exc), exc.code, **exc.params) from None
    spec: dict[str, Any] = {"subscription": settings_spec(**settings), "channels": [channel]}
    now = as_utc(now) or utcnow()
    existing = find_duplicate(spec, database_url, statuses=("pending", "active", "paused"))
    with Session(get_engine(database_url)) as session, session.begin():
        if existing is not None:
            status = _get(session, existing).status
            if status == "pending":
                queue_message(session, existing, "confirm", now)
            return Requested(existing, False, status)
        sub = Subscription(
            created_at=now, active=False, status="pending", link_key=new_link_key(), **spec["subscription"]
        )
        session.add(sub)
        session.flush()
        sid = cast(int, sub.id)  # given by the flush
        session.add(SubscriptionChannel(subscription_id=sid, **_channel_columns(channel)))
        session.add(
            SubscriptionConsent(
                subscription_id=sid,
                requested_at=now,
                source=source[:64],
                lang=spec["subscription"]["lang"],
                filters=spec["subscription"],
                channel=channel["shown"],
                ip_hash=keyed_hash(ip, "ip", database_url) if ip else None,
            )
        )
        session.flush()
        queue_message(session, sid, "confirm", now)
        return Requested(sid, True, "pending")


def open_link(token: str, purpose: str, links: Links, database_url: Optional[str] = None) -> int:
    """The id of the subscription a signed link of `purpose` (confirm | manage | unsubscribe) is for; LinkError
    when it is forged, altered, expired, for another purpose, or its subscription is gone (erased)."""
    sid, key = links.read(purpose, token)
    with Session(get_engine(database_url)) as session:
        stored = session.scalar(select(col(Subscription.link_key)).where(col(Subscription.id) == sid))
    if stored is None or stored != key:
        raise LinkError("invalid")
    return sid


def confirm(token: str, links: Links, database_url: Optional[str] = None, now: Optional[datetime] = None) -> str:
    """Confirm a pending subscription with its signed link; its status afterwards. A subscription that is no
    longer pending is left as it is (a confirm link never resumes a paused or unsubscribed one)."""
    sid = open_link(token, "confirm", links, database_url)
    now = as_utc(now) or utcnow()
    with Session(get_engine(database_url)) as session, session.begin():
        moved = _rowcount(
            session.execute(
                update(Subscription)
                .where(col(Subscription.id) == sid, col(Subscription.status) == "pending")
                .values(status="active", active=True, confirmed_at=now)
            )
        )
        if moved:
            session.execute(
                update(SubscriptionConsent)
                .where(col(SubscriptionConsent.subscription_id) == sid)
                .values(confirmed_at=now)
            )
        return str(session.scalar(select(col(Subscription.status)).where(col(Subscription.id) == sid)))


# ------------------------------------------------------------------------------------------------ managing


def _get(session: Session, sid: int) -> Subscription:
    sub = session.get(Subscription, sid)
    if sub is None:
        raise SubscriptionError(f"no subscription {sid}", "no_subscription", id=sid)
    return sub


def _move(sid: int, to: str, allowed_from: tuple[str, ...], database_url: Optional[str]) -> tuple[str, bool]:
    """(status before, whether it changed): move the subscription to `to` if it is in one of `allowed_from`."""
    with Session(get_engine(database_url)) as session, session.begin():
        sub = _get(session, sid)
        before = sub.status
        if before not in allowed_from:
            return before, False
        sub.status, sub.active = to, to == "active"
        return before, True


def pause(sid: int, database_url: Optional[str] = None) -> bool:
    """Pause an active subscription (nothing is sent until `resume`); whether it changed."""
    return _move(sid, "paused", ("active",), database_url)[1]


def resume(sid: int, database_url: Optional[str] = None) -> bool:
    """Resume a paused subscription; whether it changed (a pending one needs its confirmation instead)."""
    return _move(sid, "active", ("paused",), database_url)[1]


def unsubscribe(sid: int, database_url: Optional[str] = None) -> bool:
    """Stop every message to the subscription (it is kept, unsubscribed); whether it changed."""
    return _move(sid, "unsubscribed", ("pending", "active", "paused"), database_url)[1]


def update_settings(sid: int, database_url: Optional[str] = None, **changes) -> dict:
    """Change filters, language, digest, ... (the arguments of `settings_spec`; what is not given stays);
    the stored settings afterwards."""
    with Session(get_engine(database_url)) as session, session.begin():
        sub = _get(session, sid)
        if sub.status == "unsubscribed":
            raise SubscriptionError("this subscription has been cancelled: subscribe again instead", "cancelled")
        current = {
            "lang": sub.lang,
            "digest": sub.digest,
            "tz": sub.timezone,
            "operators": sub.operators,
            "plan_types": sub.plan_types,
            "kinds": sub.kinds,
            "max_price": _typed_euro(sub.max_price_cents),
            "min_gb": sub.min_gb,
            "only_5g": sub.only_5g,
            "origin": sub.origin,
            "max_eur_per_gb": _typed_euro(sub.max_eur_per_gb_cents),
            "max_year_cost": _typed_euro(sub.max_year_cents),
            "quiet": f"{sub.quiet_start}-{sub.quiet_end}" if sub.quiet_start else None,
            "rearm_hours": sub.rearm_hours,
        }
        unknown = set(changes) - set(current)
        if unknown:
            raise SubscriptionError(
                f"cannot change {', '.join(sorted(unknown))}; one of {', '.join(current)}",
                "unknown_setting",
                value=sorted(unknown),
            )
        new = settings_spec(**{**current, **changes})
        for key, value in new.items():
            setattr(sub, key, value)
        return new


def _typed_euro(cents) -> Optional[str]:
    return None if cents is None else f"{int(cents) // 100}.{int(cents) % 100:02d}"


def _rowcount(result) -> int:
    """The rows an UPDATE or DELETE touched (Session.execute is typed for any statement)."""
    return cast(CursorResult, result).rowcount


def erase(sid: int, database_url: Optional[str] = None) -> dict:
    """Delete everything stored about the subscription: its outbox rows (they name its channel), its channels
    (the address itself), its consent record and the subscription. How many rows of each went."""
    with Session(get_engine(database_url)) as session, session.begin():
        _get(session, sid)
        counts = {
            name: _rowcount(session.execute(delete(model).where(column == sid)))
            for name, model, column in (
                ("notifications", Notification, col(Notification.subscription_id)),
                ("channels", SubscriptionChannel, col(SubscriptionChannel.subscription_id)),
                ("consent", SubscriptionConsent, col(SubscriptionConsent.subscription_id)),
                ("subscriptions", Subscription, col(Subscription.id)),
            )
        }
    return counts


def queue_test(sid: int, database_url: Optional[str] = None, now: Optional[datetime] = None) -> int:
    """Queue a test message to the subscription's channels (sent only while it is active or paused)."""
    with Session(get_engine(database_url)) as session, session.begin():
        sub = _get(session, sid)
        if sub.status not in ("active", "paused"):
            raise SubscriptionError(
                f"the subscription is {sub.status}: a test message goes to an active one only",
                "test_needs_active",
                status=sub.status,
            )
        return queue_message(session, sid, "test", as_utc(now) or utcnow())


def manage_view(sid: int, database_url: Optional[str] = None) -> dict:
    """What the manage page shows: status, settings, the channels (masked) and the consent record."""
    with Session(get_engine(database_url)) as session:
        sub = _get(session, sid)
        channels = session.execute(
            select(col(SubscriptionChannel.service), col(SubscriptionChannel.url))
            .where(col(SubscriptionChannel.subscription_id) == sid)
            .order_by(col(SubscriptionChannel.id))
        ).all()
        consent = session.scalars(
            select(SubscriptionConsent)
            .where(col(SubscriptionConsent.subscription_id) == sid)
            .order_by(col(SubscriptionConsent.id).desc())
        ).first()
        return {
            "id": sub.id,
            "status": sub.status,
            "created_at": _iso(sub.created_at),
            "confirmed_at": _iso(sub.confirmed_at),
            "settings": {key: getattr(sub, key) for key in SETTINGS},
            "channels": [{"service": service, "shown": shown_channel(url)} for service, url in channels],
            "consent": consent_dict(consent) if consent is not None else None,
        }


def consent_dict(consent: SubscriptionConsent) -> dict:
    """The consent record as shown: the channel is stored masked, the IP only as a keyed hash (shortened)."""
    return {
        "requested_at": _iso(consent.requested_at),
        "confirmed_at": _iso(consent.confirmed_at),
        "source": consent.source,
        "lang": consent.lang,
        "filters": dict(consent.filters or {}),
        "channel": consent.channel,
        "ip_hash": consent.ip_hash[:16] if consent.ip_hash else None,
    }


# ------------------------------------------------------------------------------------------------ housekeeping


def purge_pending(
    database_url: Optional[str] = None, now: Optional[datetime] = None, max_age: timedelta = PENDING_MAX_AGE
) -> int:
    """Erase the requests still pending after `max_age` (never confirmed), and rate-limit hits older than a day;
    how many subscriptions were erased."""
    now = as_utc(now) or utcnow()
    with Session(get_engine(database_url)) as session:
        stale = session.scalars(
            select(col(Subscription.id)).where(
                col(Subscription.status) == "pending", col(Subscription.created_at) < now - max_age
            )
        ).all()
        session.execute(delete(RateLimitHit).where(col(RateLimitHit.at) < now - timedelta(days=1)))
        session.commit()
    for sid in stale:
        erase(cast(int, sid), database_url)
    return len(stale)


def allow(
    bucket: str,
    key: str,
    limit: int,
    window: timedelta,
    database_url: Optional[str] = None,
    now: Optional[datetime] = None,
) -> bool:
    """Count one request of `key` (an IP, a channel address) in `bucket` ("subscribe:ip", ...): True while at most
    `limit` were counted within `window`, False beyond (the refused one is counted too). `key` is stored only as
    a keyed hash."""
    if window > timedelta(days=1):
        raise ValueError("a rate-limit window is at most one day (older hits are purged)")
    now = as_utc(now) or utcnow()
    digest = keyed_hash(key.strip().lower(), f"rate:{bucket}", database_url)
    with Session(get_engine(database_url)) as session, session.begin():
        session.add(RateLimitHit(bucket=bucket[:32], key_hash=digest, at=now))
        session.flush()
        seen = session.scalar(
            select(func.count(col(RateLimitHit.id))).where(
                col(RateLimitHit.bucket) == bucket[:32],
                col(RateLimitHit.key_hash) == digest,
                col(RateLimitHit.at) > now - window,
            )
        )
    return (seen or 0) <= limit
