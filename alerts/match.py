"""Events x subscriptions -> Notification rows (the outbox), written in the detector's transaction.

`match_events(session, events, now)` is called by `alerts.detect._detect_one` right after the events are
flushed, so events and their notifications are committed together or not at all.

What matches (one definition): an event passes a subscription when its kind is one of the subscription's
`kinds` (empty = any) and its offer item passes `subscription_filter(sub)`, an
`storage.offer_query.OfferFilter` (operators, plan types, max price, min GB, 5G, origin via can_take_from,
€/GB via eur_per_gb_cents, 12-month cost via twelve_month_cents). The item is the event's `item`: the offer
as it now is, for `removed` its last item. `subscription_matches` applies that definition to one pair.

How it is fast: `SubscriptionIndex` is built once per call from the active subscriptions. Each subscription
gets a bit position; every dimension keeps Python ints used as bit sets:
  - list filters (kinds, operators, plan types): value -> subscriptions naming it OR-ed with the "any" set;
  - origin: origin -> subscriptions, plus the "no origin" set; an event passes the origins
    `can_take_from` accepts for its item (evaluated once per distinct origin, not per subscription);
  - 5G: the subscriptions not asking for 5G (all pass when the offer has 5G);
  - thresholds (max price, min GB, max €/GB, max 12-month cost): one sweep over the thresholds sorted
    against the batch's distinct event values sorted the same way gives, per value, the set of passing
    subscriptions (plus those without the threshold).
An event's matches are the AND of its ~10 sets (about a microsecond per AND for 100,000 subscriptions), then
the set bits are read out by C loops (str.split / itertools), so Python only touches the matches found. No loop
over subscription x event pairs. The subscriptions are read with one SELECT of the filter columns (rows
straight from the DBAPI cursor); the scheduling columns are read afterwards for the matched ones only.
Measured in benchmarks/bench_match.py.

What is written (design: alerts contract):
  - debounce: the same subscription + offer + kind alerts again only when the offer's price differs from
    the last alerted one, or when `rearm_hours` have passed since that alert (single rows carry
    operator/offer_key/kind/price_cents; events in digest rows are looked up through `event_ids`);
  - subscriptions without digest: one row per channel x event, due now, or at the end of the quiet
    hours (subscriber's time zone) when now falls inside them;
  - digest subscriptions: the event is appended to the open (pending) digest row of each channel for the
    current period, `digest` = "daily:YYYY-MM-DD" / "weekly:YYYY-MM-DD" (the local date it is sent on),
    `due_at` = the send time (DAILY_AT every day, WEEKLY_AT on WEEKLY_ON), moved past quiet hours.
Inserts are batched (one executemany per kind of row), digest appends one executemany UPDATE by primary key.
A failure raises: the caller's transaction then writes neither the events nor their notifications.
"""
from __future__ import annotations

import gc
import json
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from functools import lru_cache
from itertools import accumulate, compress, repeat
from operator import add
from typing import Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, literal_column, select, update
from sqlmodel import Session

from storage.models import Notification, OfferEvent, Subscription, SubscriptionChannel
from storage.offer_query import OfferFilter, can_take_from, comparable_gb, eur_per_gb_cents, twelve_month_cents

#: a daily digest goes out at this local time, a weekly one at WEEKLY_AT on weekday WEEKLY_ON (0 = Monday)
DAILY_AT = time(8, 0)
WEEKLY_AT = time(8, 0)
WEEKLY_ON = 0
#: ids per IN (...) list
CHUNK = 500

#: the subscription columns the index is built from (read for every active subscription)
FILTERS = ("id", "operators", "plan_types", "kinds", "max_price_cents", "min_gb", "only_5g", "origin",
           "max_eur_per_gb_cents", "max_year_cents")
#: the columns queueing needs (read for the matched subscriptions only)
SCHEDULE = ("digest", "timezone", "quiet_start", "quiet_end", "rearm_hours")
_LISTS = ("operators", "plan_types", "kinds")


# --- the definition, one pair at a time ---------------------------------------------------------------------

def subscription_filter(sub: Mapping) -> OfferFilter:
    """The offer filter of a subscription (a mapping with the Subscription columns)."""
    return OfferFilter(operators=set(sub.get("operators") or ()), plan_types=set(sub.get("plan_types") or ()),
                       max_price_cents=sub.get("max_price_cents"), min_gb=sub.get("min_gb"),
                       only_5g=bool(sub.get("only_5g")), origin=sub.get("origin"),
                       max_eur_per_gb_cents=sub.get("max_eur_per_gb_cents"), max_year_cents=sub.get("max_year_cents"))


def subscription_matches(sub: Mapping, kind: str, item: dict) -> bool:
    """Does an event of `kind` about the offer `item` concern the subscription `sub`?"""
    kinds = sub.get("kinds") or ()
    return (not kinds or kind in kinds) and subscription_filter(sub).matches(item)


def event_price(item: dict) -> int:
    """The price debounce compares: the offer's price (for `removed`, its last one)."""
    return item["price_cents"]


# --- bit sets -------------------------------------------------------------------------------------------------

_BIT = tuple(1 << i for i in range(8))
_ZERO_ONE = bytes.maketrans(b"01", b"\x00\x01")


def _bitset(positions: Iterable[int], nbytes: int) -> int:
    buf = bytearray(nbytes)
    for p in positions:
        buf[p >> 3] |= _BIT[p & 7]
    return int.from_bytes(buf, "little")


@lru_cache(maxsize=4)
def _bit_range(nbits: int) -> list[int]:
    return list(range(nbits))


def _positions(mask: int, nbits: int) -> list[int]:
    """The set bits of `mask`, ascending; every loop runs in C, none in Python per bit or per subscription."""
    if not mask:
        return []
    bits = format(mask, "b")[::-1]  # bits[i] is bit i
    if mask.bit_count() * 8 > nbits:  # dense: pick the positions of the "1"s
        return list(compress(_bit_range(nbits), bits.encode().translate(_ZERO_ONE)))
    gaps = bits.split("1")  # sparse: the runs of "0" between the "1"s -> positions by a running sum
    gaps.pop()
    out = list(accumulate(map(add, map(len, gaps), repeat(1)), initial=-1))
    del out[0]
    return out


def _groups(values: Sequence) -> dict:
    """value -> positions holding it."""
    out: dict = defaultdict(list)
    for p, v in enumerate(values):
        out[v].append(p)
    return out


class _Listed:
    """A list filter (empty = any): value -> bit set of the subscriptions an event with that value passes."""

    def __init__(self, lists: Sequence, nbytes: int):
        self.any = 0
        named: dict[str, int] = defaultdict(int)
        for raw, positions in _groups(lists).items():  # few distinct lists (as stored): one bit set each
            mask = _bitset(positions, nbytes)
            values = list_value(raw)
            if not values:
                self.any |= mask
            for v in values:
                named[v] |= mask
        self.passing = {v: self.any | mask for v, mask in named.items()}

    def __call__(self, value) -> int:
        return self.passing.get(value, self.any)


class _Threshold:
    """A numeric filter: `at_most` (the event's value must be <= the threshold) or at least (>=); None = no filter."""

    def __init__(self, thresholds: Sequence, nbytes: int, at_most: bool):
        self.nbytes, self.at_most = nbytes, at_most
        groups = _groups(thresholds)
        self.none = _bitset(groups.pop(None, ()), nbytes)
        # in the order the sweep admits them: highest first for "at most", lowest first for "at least"
        self.sorted = sorted(groups.items(), reverse=at_most)

    def passing(self, values: Iterable) -> dict:
        """value -> bit set of the subscriptions an event with that value passes (value None: only the unfiltered)."""
        out = {None: self.none}
        wanted = sorted({v for v in values if v is not None}, reverse=self.at_most)
        buf, i, admitted = bytearray(self.nbytes), 0, self.sorted
        for v in wanted:
            while i < len(admitted) and (admitted[i][0] >= v if self.at_most else admitted[i][0] <= v):
                for p in admitted[i][1]:
                    buf[p >> 3] |= _BIT[p & 7]
                i += 1
            out[v] = self.none | int.from_bytes(buf, "little")
        return out


class Subscriptions:
    """Subscriptions column by column (FILTERS): position p is the p-th subscription. List filters stay as
    stored (JSON text, or tuples), hashable: the index parses each distinct one once (`list_value`)."""

    def __init__(self, columns: dict[str, Sequence]):
        self.columns = columns
        self.ids = columns["id"]

    @classmethod
    def from_rows(cls, rows: Sequence[Mapping]) -> "Subscriptions":
        columns = {c: [r.get(c) for r in rows] for c in FILTERS}
        for c in _LISTS:
            columns[c] = [tuple(v or ()) for v in columns[c]]
        return cls(columns)

    def __len__(self) -> int:
        return len(self.ids)

    def row(self, p: int) -> dict:
        row = {c: self.columns[c][p] for c in FILTERS}
        for c in _LISTS:
            row[c] = list_value(row[c])
        return row


class SubscriptionIndex:
    """Subscriptions indexed by filter dimension, for matching a batch of events (see the module docstring)."""

    def __init__(self, subs: Subscriptions | Sequence[Mapping]):
        self.subs = subs if isinstance(subs, Subscriptions) else Subscriptions.from_rows(subs)
        n = len(self.subs)
        self.nbits, self.nbytes = n, max(1, (n + 7) // 8)
        nb = self.nbytes
        col = self.subs.columns
        self.kinds = _Listed(col["kinds"], nb)
        self.operators = _Listed(col["operators"], nb)
        self.plan_types = _Listed(col["plan_types"], nb)
        origins = _groups(col["origin"])
        self.no_origin = _bitset(origins.pop(None, ()), nb)
        self.by_origin = {o: _bitset(ps, nb) for o, ps in origins.items()}
        self.everyone = (1 << n) - 1
        self.not_5g = _bitset((p for p, s in enumerate(col["only_5g"]) if not s), nb)
        self.price = _Threshold(col["max_price_cents"], nb, at_most=True)
        self.gb = _Threshold(col["min_gb"], nb, at_most=False)
        self.per_gb = _Threshold(col["max_eur_per_gb_cents"], nb, at_most=True)
        self.year = _Threshold(col["max_year_cents"], nb, at_most=True)

    def __len__(self) -> int:
        return len(self.subs)

    def match(self, events: Sequence[tuple[str, dict]]) -> list[list[int]]:
        """For each (kind, item): the positions (into `subs`) of the subscriptions it concerns, ascending."""
        if not len(self.subs):
            return [[] for _ in events]
        items = [item for _, item in events]
        price = self.price.passing(i["price_cents"] for i in items)
        gb = self.gb.passing(comparable_gb(i) for i in items)
        per_gb = self.per_gb.passing(eur_per_gb_cents(i) for i in items)
        year = self.year.passing(twelve_month_cents(i) for i in items)
        origin_cache: dict = {}
        out = []
        for kind, item in events:
            who = (item["operator"], item.get("eligibility", "all"), tuple(item.get("eligible_from") or ()))
            origin = origin_cache.get(who)
            if origin is None:
                origin = self.no_origin
                for o, mask in self.by_origin.items():
                    if can_take_from(item, o):
                        origin |= mask
                origin_cache[who] = origin
            mask = (self.kinds(kind) & self.operators(item["operator"]) & self.plan_types(item["plan_type"]) & origin
                    & (self.everyone if item.get("data_5g") else self.not_5g) & price[item["price_cents"]]
                    & gb[comparable_gb(item)] & per_gb[eur_per_gb_cents(item)] & year[twelve_month_cents(item)])
            out.append(_positions(mask, self.nbits))
        return out


# --- times ----------------------------------------------------------------------------------------------------

def _utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc) if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


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

def load_subscriptions(session: Session) -> Subscriptions:
    """The active subscriptions' filter columns: one SELECT, rows straight from the DBAPI cursor (no ORM objects,
    no result processing: this is the one read of every subscription), list columns parsed once per distinct text."""
    table = Subscription.__table__
    stmt = select(*(table.c[c] for c in FILTERS)).where(table.c.active.is_(True)).order_by(table.c.id)
    conn = session.connection()
    cursor = conn.connection.cursor()
    try:
        cursor.execute(str(stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})))
        rows = cursor.fetchall()
    finally:
        cursor.close()
    columns = dict(zip(FILTERS, zip(*rows))) if rows else {c: () for c in FILTERS}
    for c in _LISTS:  # JSON text (SQLite) stays text; drivers that decode JSON give lists: made hashable
        if columns[c] and not isinstance(columns[c][0], str):
            columns[c] = [tuple(v or ()) for v in columns[c]]
    return Subscriptions(columns)


@lru_cache(maxsize=8192)
def _parse_list(text: str) -> tuple:
    return tuple(json.loads(text) or ())


def list_value(raw) -> tuple:
    """A list filter as stored (JSON text or a sequence) -> a tuple."""
    return _parse_list(raw) if isinstance(raw, str) else tuple(raw or ())


def _chunks(values: Sequence, size: int = CHUNK):
    for i in range(0, len(values), size):
        yield values[i:i + size]


def _last_alerts(session: Session, sub_ids: list[int], operators: list[str], keys: set[str],
                 cutoff: datetime) -> dict:
    """(subscription id, operator, offer_key, kind) -> (alerted at, price) of the latest alert since `cutoff`."""
    last: dict = {}

    def note(key, at, price):
        at = _utc(at)
        if key not in last or at >= last[key][0]:
            last[key] = (at, price)

    digest_events: dict[int, set[int]] = defaultdict(set)
    for chunk in _chunks(sub_ids):
        single = select(Notification.subscription_id, Notification.operator, Notification.offer_key,
                        Notification.kind, Notification.price_cents, Notification.created_at).where(
            Notification.subscription_id.in_(chunk), Notification.operator.in_(operators),
            Notification.event_id.is_not(None), Notification.created_at >= cutoff)
        for sid, op, key, kind, price, at in session.execute(single):
            if key in keys:
                note((sid, op, key, kind), at, price)
        digests = select(Notification.subscription_id, Notification.event_ids).where(
            Notification.subscription_id.in_(chunk), Notification.digest.is_not(None), Notification.due_at >= cutoff)
        for sid, ids in session.execute(digests):
            for eid in ids or ():
                digest_events[eid].add(sid)
    if digest_events:
        for chunk in _chunks(sorted(digest_events)):
            rows = session.execute(select(OfferEvent.id, OfferEvent.operator, OfferEvent.offer_key, OfferEvent.kind,
                                          OfferEvent.price_before, OfferEvent.price_after, OfferEvent.created_at)
                                   .where(OfferEvent.id.in_(chunk), OfferEvent.created_at >= cutoff))
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
        for sid, *values in session.execute(select(Subscription.id, *cols).where(Subscription.id.in_(chunk))):
            out[sid] = dict(zip(SCHEDULE, values))
    return out


def _channels(session: Session, sub_ids: list[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = defaultdict(list)
    for chunk in _chunks(sub_ids):
        rows = session.execute(select(SubscriptionChannel.subscription_id, SubscriptionChannel.id)
                               .where(SubscriptionChannel.subscription_id.in_(chunk))
                               .order_by(SubscriptionChannel.id))
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


def queue(session: Session, events: Sequence, matches: Sequence[Sequence[int]], subs: Subscriptions,
          now: datetime) -> Queued:
    """Write the outbox rows for `matches` (per event, positions into `subs`), after debounce."""
    now = _utc(now)
    result = Queued()
    matched = sorted({p for positions in matches for p in positions})
    if not matched:
        return result
    ids = subs.ids
    sub_ids = [ids[p] for p in matched]
    settings = _settings(session, sub_ids)
    last = _last_alerts(session, sub_ids, sorted({e.operator for e in events}), {e.offer_key for e in events},
                        now - timedelta(hours=max(s["rearm_hours"] for s in settings.values())))
    channels = _channels(session, sub_ids)
    rearm = {sid: timedelta(hours=s["rearm_hours"]) for sid, s in settings.items()}
    plans: dict[int, tuple] = {}
    singles: list[dict] = []
    to_digest: dict[tuple[int, str], tuple[datetime, list[int]]] = {}  # (subscription id, key) -> (due, event ids)
    for event, positions in zip(events, matches):
        price, operator, offer_key, kind, event_id = (event_price(event.item), event.operator, event.offer_key,
                                                      event.kind, event.id)
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
                singles.extend({"subscription_id": sid, "channel_id": cid, "event_id": event_id, "operator": operator,
                                "offer_key": offer_key, "kind": kind, "price_cents": price, "created_at": now,
                                "due_at": due} for cid in channels.get(sid, ()))
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
    return Notification.__table__.insert().values(event_ids=literal_column("'[]'"), status=literal_column("'pending'"),
                                                  attempts=literal_column("0"))


def _append_to_digests(session: Session, wanted: dict, channels: dict[int, list[int]], now: datetime,
                       result: Queued) -> None:
    sub_ids = sorted({sid for sid, _ in wanted})
    keys = sorted({key for _, key in wanted})
    open_rows: dict[tuple[int, str], dict[int, tuple[int, list]]] = defaultdict(dict)
    for chunk in _chunks(sub_ids):
        rows = session.execute(select(Notification.id, Notification.subscription_id, Notification.channel_id,
                                      Notification.digest, Notification.event_ids)
                               .where(Notification.subscription_id.in_(chunk), Notification.digest.in_(keys),
                                      Notification.status == "pending")
                               .order_by(Notification.id).with_for_update())
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
                inserts.append({"subscription_id": sid, "channel_id": cid, "event_id": None, "event_ids": event_ids,
                                "digest": key, "operator": None, "offer_key": None, "kind": None, "price_cents": None,
                                "status": "pending", "created_at": now, "due_at": due, "attempts": 0})
                result.digest_rows += 1
                result.digest_appends += len(event_ids)
    table = Notification.__table__
    if updates:
        session.execute(update(table).where(table.c.id == bindparam("nid")).values(event_ids=bindparam("ids")),
                        updates)
    if inserts:
        session.execute(table.insert(), inserts)


@contextmanager
def gc_paused():
    """The cyclic garbage collector off while rows, bit positions and outbox rows are made by the hundred thousand
    (none of them cyclic): each of its passes would walk them all again. It is back on afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def match_events(session: Session, events: list[OfferEvent], now: datetime) -> int:
    """Queue the notifications `events` (flushed OfferEvent rows) cause; the number of channel x event alerts
    queued (single rows plus events appended to digest rows). Runs in the caller's transaction."""
    if not events:
        return 0
    with gc_paused():
        subs = load_subscriptions(session)
        if not subs:
            return 0
        matches = SubscriptionIndex(subs).match([(e.kind, e.item) for e in events])
        return queue(session, events, matches, subs, now).total
