"""The outbox side of matching: which Notification rows the matched (subscription, event) pairs become.

A module of its own because debounce, quiet hours and digests are about time and the Notification table, not
about which subscriptions an event concerns (`alerts.subscription_index`). What is written:
  - debounce: the same subscription + offer + kind alerts again only when the price differs from the last
    alerted one, or after `rearm_hours`;
  - without digest: one row per channel x event, due now or at the end of the subscriber's quiet hours;
  - digest: the event joins the open digest row of each channel for the period (`digest` = "daily:DATE" /
    "weekly:DATE", the local date it is sent on), due at the period's send time, past quiet hours.
Writes are batched; a failure raises, so the caller's transaction writes neither events nor notifications.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Mapping, Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, literal_column, select, update
from sqlmodel import Session, col

from storage.models import Notification, OfferEvent, Subscription, SubscriptionChannel, table_of
from storage.repository import as_utc

if TYPE_CHECKING:
    from alerts.subscription_index import Subscriptions

#: a daily digest goes out at this local time, a weekly one at WEEKLY_AT on weekday WEEKLY_ON (0 = Monday)
DAILY_AT = time(8, 0)
WEEKLY_AT = time(8, 0)
WEEKLY_ON = 0
#: ids per IN (...) list
CHUNK = 500
#: the columns queueing needs (read for the matched subscriptions only)
SCHEDULE = ("digest", "timezone", "quiet_start", "quiet_end", "rearm_hours")
#: the re-arm window `subscribe --rearm-hours` accepts (1 hour to 1 year); a stored value outside it (written
#: by an older version or by hand) is clamped where it is used, so one row can never stop matching for everyone
REARM_MIN_HOURS = 1
REARM_MAX_HOURS = 24 * 365


def rearm_window(hours) -> timedelta:
    """A subscription's re-arm window, its stored hours clamped to REARM_MIN_HOURS..REARM_MAX_HOURS."""
    try:
        hours = int(hours)
    except (TypeError, ValueError, OverflowError):
        hours = REARM_MAX_HOURS
    return timedelta(hours=min(max(hours, REARM_MIN_HOURS), REARM_MAX_HOURS))


def event_price(item: dict) -> int:
    """The price debounce compares: the offer's price (for `removed`, its last one)."""
    return item["price_cents"]


# --- times ----------------------------------------------------------------------------------------------------

_utc = as_utc  # stored times come back naive from SQLite


def _hm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def quiet_until(local: datetime, quiet_start: str | None, quiet_end: str | None) -> datetime | None:
    """The end of the quiet period `local` (an aware local time) falls in, or None when it is not quiet."""
    if not quiet_start or not quiet_end:
        return None
    start, end, now = _hm(quiet_start), _hm(quiet_end), local.time()
    if start == end:
        return None
    if start < end:
        inside, day = start <= now < end, local.date()
    else:  # over midnight: 22:00-07:00
        inside = now >= start or now < end
        day = local.date() + timedelta(days=1) if now >= start else local.date()
    return datetime.combine(day, end, tzinfo=local.tzinfo) if inside else None


def _next_send(local: datetime, digest: str) -> datetime:
    """The first digest send time (local) strictly after `local`."""
    if digest == "daily":
        at = datetime.combine(local.date(), DAILY_AT, tzinfo=local.tzinfo)
        return at if at > local else datetime.combine(local.date() + timedelta(days=1), DAILY_AT, tzinfo=local.tzinfo)
    day = local.date() + timedelta(days=(WEEKLY_ON - local.weekday()) % 7)
    at = datetime.combine(day, WEEKLY_AT, tzinfo=local.tzinfo)
    return at if at > local else datetime.combine(day + timedelta(days=7), WEEKLY_AT, tzinfo=local.tzinfo)


def schedule(sub: Mapping, now: datetime) -> tuple[str | None, datetime]:
    """(digest key or None, due_at in UTC) for what `sub` is sent about an event detected at `now`."""
    zone = _zone(sub.get("timezone") or "Europe/Rome")
    local = _utc(now).astimezone(zone)
    digest = sub.get("digest") or "off"
    key = None
    if digest in ("daily", "weekly"):
        local = _next_send(local, digest)
        key = f"{digest}:{local.date().isoformat()}"
    later = quiet_until(local, sub.get("quiet_start"), sub.get("quiet_end"))
    return key, _utc(later or local)


# --- the database side ----------------------------------------------------------------------------------------
def _chunks(values: Sequence, size: int = CHUNK):
    for i in range(0, len(values), size):
        yield values[i : i + size]


def _last_alerts(session: Session, sub_ids: list[int], operators: list[str], keys: set[str], cutoff: datetime) -> dict:
    """(subscription id, operator, offer_key, kind) -> (alerted at, price) of the latest alert since `cutoff`."""
    last: dict = {}

    def note(key, at, price):
        at = _utc(at)
        if key not in last or at >= last[key][0]:
            last[key] = (at, price)

    digest_events: dict[int, set[int]] = defaultdict(set)
    for chunk in _chunks(sub_ids):
        single = select(
            col(Notification.subscription_id),
            col(Notification.operator),
            col(Notification.offer_key),
            col(Notification.kind),
            col(Notification.price_cents),
            col(Notification.created_at),
        ).where(
            col(Notification.subscription_id).in_(chunk),
            col(Notification.operator).in_(operators),
            col(Notification.event_id).is_not(None),
            col(Notification.created_at) >= cutoff,
        )
        for sid, op, key, kind, price, at in session.execute(single):
            if key in keys:
                note((sid, op, key, kind), at, price)
        digests = select(col(Notification.subscription_id), col(Notification.event_ids)).where(
            col(Notification.subscription_id).in_(chunk),
            col(Notification.digest).is_not(None),
            col(Notification.due_at) >= cutoff,
        )
        for sid, ids in session.execute(digests):
            for eid in ids or ():
                digest_events[eid].add(sid)
    if digest_events:
        for chunk in _chunks(sorted(digest_events)):
            rows = session.execute(
                select(
                    col(OfferEvent.id),
                    col(OfferEvent.operator),
                    col(OfferEvent.offer_key),
                    col(OfferEvent.kind),
                    col(OfferEvent.price_before),
                    col(OfferEvent.price_after),
                    col(OfferEvent.created_at),
                ).where(col(OfferEvent.id).in_(chunk), col(OfferEvent.created_at) >= cutoff)
            )
            for eid, op, key, kind, before, after, at in rows:
                if key in keys:
                    for sid in digest_events[eid]:
                        note((sid, op, key, kind), at, after if after is not None else before)
    return last


def _settings(session: Session, sub_ids: list[int]) -> dict[int, dict]:
    """subscription id -> its SCHEDULE columns."""
    out = {}
    cols = [getattr(Subscription, c) for c in SCHEDULE]
    for chunk in _chunks(sub_ids):
        for sid, *values in session.execute(select(col(Subscription.id), *cols).where(col(Subscription.id).in_(chunk))):
            out[sid] = dict(zip(SCHEDULE, values, strict=False))
    return out


def _channels(session: Session, sub_ids: list[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = defaultdict(list)
    for chunk in _chunks(sub_ids):
        rows = session.execute(
            select(col(SubscriptionChannel.subscription_id), col(SubscriptionChannel.id))
            .where(col(SubscriptionChannel.subscription_id).in_(chunk))
            .order_by(col(SubscriptionChannel.id))
        )
        for sid, cid in rows:
            out[sid].append(cid)
    return out


@dataclass
class Queued:
    rows: int = 0  # single-event rows inserted
    digest_rows: int = 0  # digest rows opened
    digest_appends: int = 0  # events appended to digest rows (channel x event)
    debounced: int = 0  # subscription x event pairs held back by debounce

    @property
    def total(self) -> int:
        return self.rows + self.digest_appends


def queue(
    session: Session, events: Sequence, matches: Sequence[Sequence[int]], subs: Subscriptions, now: datetime
) -> Queued:
    """Write the outbox rows for `matches` (per event, positions into `subs`), after debounce."""
    now = _utc(now)
    result = Queued()
    matched = sorted({p for positions in matches for p in positions})
    if not matched:
        return result
    ids = subs.ids
    sub_ids = [ids[p] for p in matched]
    settings = _settings(session, sub_ids)
    last = _last_alerts(
        session,
        sub_ids,
        sorted({e.operator for e in events}),
        {e.offer_key for e in events},
        now - max(rearm_window(s["rearm_hours"]) for s in settings.values()),
    )
    channels = _channels(session, sub_ids)
    rearm = {sid: rearm_window(s["rearm_hours"]) for sid, s in settings.items()}
    plans: dict[int, tuple] = {}
    singles: list[dict] = []
    to_digest: dict[tuple[int, str], tuple[datetime, list[int]]] = {}  # (subscription id, key) -> (due, event ids)
    for event, positions in zip(events, matches, strict=False):
        price, operator, offer_key, kind, event_id = (
            event_price(event.item),
            event.operator,
            event.offer_key,
            event.kind,
            event.id,
        )
        for p in positions:
            sid = ids[p]
            debounce_key = (sid, operator, offer_key, kind)
            prior = last.get(debounce_key)
            if prior is not None and prior[1] == price and now - prior[0] < rearm[sid]:
                result.debounced += 1
                continue
            last[debounce_key] = (now, price)
            plan = plans.get(sid)
            if plan is None:
                plan = plans[sid] = schedule(settings[sid], now)
            key, due = plan
            if key is None:
                singles.extend(
                    {
                        "subscription_id": sid,
                        "channel_id": cid,
                        "event_id": event_id,
                        "operator": operator,
                        "offer_key": offer_key,
                        "kind": kind,
                        "price_cents": price,
                        "created_at": now,
                        "due_at": due,
                    }
                    for cid in channels.get(sid, ())
                )
            else:
                to_digest.setdefault((sid, key), (due, []))[1].append(event_id)
    if singles:
        session.execute(_new_rows(), singles)
        result.rows = len(singles)
    if to_digest:
        _append_to_digests(session, to_digest, channels, now, result)
    return result


def _new_rows():
    """INSERT of pending single-event rows; the columns every new row has alike are SQL literals, not parameters
    processed once per row."""
    return (
        table_of(Notification)
        .insert()
        .values(event_ids=literal_column("'[]'"), status=literal_column("'pending'"), attempts=literal_column("0"))
    )


def _append_to_digests(
    session: Session, wanted: dict, channels: dict[int, list[int]], now: datetime, result: Queued
) -> None:
    sub_ids = sorted({sid for sid, _ in wanted})
    keys = sorted({key for _, key in wanted})
    open_rows: dict[tuple[int, str], dict[int, tuple[int, list]]] = defaultdict(dict)
    for chunk in _chunks(sub_ids):
        rows = session.execute(
            select(
                col(Notification.id),
                col(Notification.subscription_id),
                col(Notification.channel_id),
                col(Notification.digest),
                col(Notification.event_ids),
            )
            .where(
                col(Notification.subscription_id).in_(chunk),
                col(Notification.digest).in_(keys),
                col(Notification.status) == "pending",
            )
            .order_by(col(Notification.id))
            .with_for_update()
        )
        for nid, sid, cid, key, ids in rows:
            open_rows[(sid, key)].setdefault(cid, (nid, list(ids or ())))
    updates, inserts = [], []
    for (sid, key), (due, event_ids) in wanted.items():
        existing = open_rows.get((sid, key), {})
        for cid in channels.get(sid, ()):
            if cid in existing:
                nid, ids = existing[cid]
                have = set(ids)
                new = [e for e in event_ids if e not in have]
                updates.append({"nid": nid, "ids": ids + new})
                result.digest_appends += len(new)
            else:
                inserts.append(
                    {
                        "subscription_id": sid,
                        "channel_id": cid,
                        "event_id": None,
                        "event_ids": event_ids,
                        "digest": key,
                        "operator": None,
                        "offer_key": None,
                        "kind": None,
                        "price_cents": None,
                        "status": "pending",
                        "created_at": now,
                        "due_at": due,
                        "attempts": 0,
                    }
                )
                result.digest_rows += 1
                result.digest_appends += len(event_ids)
    table = table_of(Notification)
    if updates:
        session.execute(update(table).where(table.c.id == bindparam("nid")).values(event_ids=bindparam("ids")), updates)
    if inserts:
        session.execute(table.insert(), inserts)
