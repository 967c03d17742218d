"""The outbox side of matching: which Notification rows the matched (subscription, event) pairs become.

A module of its own because debounce, quiet hours and digests are about time and the Notification table, not
about which subscriptions an event concerns (`alerts.subscription_index`). What is written:
  - debounce: the same subscription + offer + kind alerts again only when the price differs from the last
    alerted one, or after `rearm_hours`;
  - without digest: one row per channel x event, due now or at the end of the subscriber's quiet hours;
  - digest: the event joins the open digest row of each channel for the period (`digest` = "daily:DATE" /
    "weekly:DATE", the local date it is sent on), due at the period's send time, past quiet hours.
Rows are written in bulk (`bulk_insert`: binary COPY on PostgreSQL, executemany elsewhere; one switch, `copies`), a
fan-out's reads in one statement each; a failure raises, so the caller's transaction writes neither events nor
notifications.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any, Mapping, Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, bindparam, select, update
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col

from storage.models import Notification, OfferEvent, Subscription, SubscriptionChannel, table_of
from storage.repository import as_utc, driver_rows

if TYPE_CHECKING:
    from alerts.subscription_index import Subscriptions

#: a daily digest goes out at this local time, a weekly one at WEEKLY_AT on weekday WEEKLY_ON (0 = Monday)
DAILY_AT = time(8, 0)
WEEKLY_AT = time(8, 0)
WEEKLY_ON = 0
#: ids per IN (...) list
CHUNK = 500
#: past this many subscriptions, their rows are read by one statement over the table (see `_rows_for`)
WHOLE_TABLE_FROM = 20 * CHUNK
#: the columns queueing needs (read for the matched subscriptions only)
SCHEDULE = ("digest", "timezone", "quiet_start", "quiet_end", "rearm_hours")
REARM = SCHEDULE.index("rearm_hours")
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


def _rows_for(session: Session, stmt, key, ids: Sequence[int], plain: bool = False) -> list:
    """The rows of `stmt` whose `key` column (its first column) is one of `ids`: one IN (...) list per CHUNK
    ids, or, past WHOLE_TABLE_FROM ids (a fan-out reads most subscriptions), one statement without the list,
    the rows of other ids dropped here: one scan instead of hundreds of statements. `plain`: the columns are
    numbers and strings, which the driver gives as SQLAlchemy would, so the whole-table read takes the rows
    straight from the DBAPI cursor (a third of the time of SQLAlchemy's result rows, for 100,000 rows)."""
    if len(ids) > WHOLE_TABLE_FROM:
        wanted = set(ids)
        return [row for row in (driver_rows(session, stmt) if plain else session.execute(stmt)) if row[0] in wanted]
    rows: list = []
    for chunk in _chunks(ids):
        rows += session.execute(stmt.where(key.in_(chunk)))
    return rows


def _last_alerts(session: Session, sub_ids: list[int], operators: list[str], keys: set[str], cutoff: datetime) -> dict:
    """(subscription id, operator, offer_key, kind) -> (alerted at, price) of the latest alert since `cutoff`."""
    last: dict = {}

    def note(key, at, price):
        at = _utc(at)
        if key not in last or at >= last[key][0]:
            last[key] = (at, price)

    N = Notification
    single = select(
        col(N.subscription_id),
        col(N.operator),
        col(N.offer_key),
        col(N.kind),
        col(N.price_cents),
        col(N.created_at),
    ).where(col(N.operator).in_(operators), col(N.event_id).is_not(None), col(N.created_at) >= cutoff)
    if len(keys) <= CHUNK:  # the offers' keys in the statement too (a fan-out: one offer of many alerted)
        single = single.where(col(N.offer_key).in_(sorted(keys)))
    for sid, op, key, kind, price, at in _rows_for(session, single, col(N.subscription_id), sub_ids):
        if key in keys:
            note((sid, op, key, kind), at, price)
    digest_events: dict[int, set[int]] = defaultdict(set)
    digests = select(col(N.subscription_id), col(N.event_ids)).where(
        col(N.digest).is_not(None), col(N.due_at) >= cutoff
    )
    for sid, ids in _rows_for(session, digests, col(N.subscription_id), sub_ids):
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


def _subscribers(session: Session, sub_ids: list[int]) -> tuple[dict[int, tuple], dict[int, list[int]]]:
    """(subscription id -> its SCHEDULE values, subscription id -> its channel ids ascending)."""
    S, C = Subscription, SubscriptionChannel
    # two reads, not a join: for a few hundred ids PostgreSQL would hash-join a scan of every channel
    settings = {
        row[0]: tuple(row[1:])
        for row in _rows_for(
            session, select(col(S.id), *(getattr(S, c) for c in SCHEDULE)), col(S.id), sub_ids, plain=True
        )
    }
    channels: dict[int, list[int]] = defaultdict(list)
    stmt = select(col(C.subscription_id), col(C.id))
    for sid, cid in _rows_for(session, stmt, col(C.subscription_id), sub_ids, plain=True):
        channels[sid].append(cid)
    for ids in channels.values():
        ids.sort()
    return settings, channels


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
    settings, channels = _subscribers(session, sub_ids)
    windows = {hours: rearm_window(hours) for hours in {s[REARM] for s in settings.values()}}
    rearm = {sid: windows[s[REARM]] for sid, s in settings.items()}
    last = _last_alerts(
        session,
        sub_ids,
        sorted({e.operator for e in events}),
        {e.offer_key for e in events},
        now - max(windows.values()),
    )
    plans: dict[tuple, tuple] = {}  # SCHEDULE values -> (digest key, due): alike subscriptions are alike here
    singles: list[tuple] = []
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
            setting = settings[sid]
            plan = plans.get(setting)
            if plan is None:
                plan = plans[setting] = schedule(dict(zip(SCHEDULE, setting, strict=True)), now)
            key, due = plan
            if key is None:
                singles.extend(
                    (sid, cid, event_id, operator, offer_key, kind, price, now, due) for cid in channels.get(sid, ())
                )
            else:
                to_digest.setdefault((sid, key), (due, []))[1].append(event_id)
    if to_digest:  # first: its look-up of the open digest rows then never wades through the new single rows
        _append_to_digests(session, to_digest, channels, now, result)
    if singles:
        bulk_insert(session, SINGLE, singles, {"event_ids": [], "status": "pending", "attempts": 0})
        result.rows = len(singles)
    return result


#: the columns of a single-event row that differ between rows (`bulk_insert` order)
SINGLE = (
    "subscription_id",
    "channel_id",
    "event_id",
    "operator",
    "offer_key",
    "kind",
    "price_cents",
    "created_at",
    "due_at",
)
#: a digest row's
DIGEST = ("subscription_id", "channel_id", "event_ids", "digest", "created_at", "due_at")


def copies(dialect) -> bool:
    """The one dialect switch of outbox writes: PostgreSQL through psycopg 3 takes rows by binary COPY (measured:
    a tenth of the client's CPU of a text COPY, itself a third of executemany's); every other database an
    executemany of one INSERT through its driver (SQLite: one prepared statement, run per row in C)."""
    return dialect.name == "postgresql" and dialect.driver == "psycopg"


def bulk_insert(session: Session, columns: Sequence[str], rows: Sequence[tuple], constants: Mapping) -> None:
    """Insert `rows` (tuples of `columns`' values) into the outbox, each with `constants` (column -> the value
    every row has), in the session's transaction, as one bulk write (`copies`). A database error is raised as
    SQLAlchemy's (sqlalchemy.exc.DBAPIError and its kinds), whichever way the rows went."""
    conn = session.connection()
    names = [*columns, *constants]
    if copies(conn.dialect):
        _copy(conn, names, len(columns), rows, tuple(constants.values()))
    else:
        _executemany(conn, names, len(columns), rows, tuple(constants.values()))


def _executemany(conn, names: list[str], varying: int, rows: Sequence[tuple], extra: tuple) -> None:
    """One INSERT run per row by the driver (`exec_driver_sql`), the values converted as SQLAlchemy converts them
    (each column type's bind processor: SQLite stores times as text, JSON as text), column by column, a time once
    per distinct value: SQLAlchemy's executemany does that work per row and value, more than the insert itself."""
    table, dialect = table_of(Notification), conn.dialect
    placeholder = {"qmark": "?", "format": "%s", "pyformat": "%s"}[dialect.paramstyle]
    quote = dialect.identifier_preparer.quote
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in names)}) "
        f"VALUES ({', '.join([placeholder] * len(names))})"
    )
    processors = [table.c[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names]
    values: list[Sequence] = [list(v) for v in zip(*rows, strict=True)] or [[] for _ in range(varying)]
    for i, process in enumerate(processors[:varying]):
        if process is not None:  # JSON lists per value; times (few distinct) once each
            values[i] = list(map(process if isinstance(table.c[names[i]].type, JSON) else cache(process), values[i]))
    for i, value in enumerate(extra, varying):
        process = processors[i]
        values.append([process(value) if process else value] * len(rows))
    conn.exec_driver_sql(sql, list(zip(*values, strict=True)))


def _copy(conn, names: list[str], varying: int, rows: Sequence[tuple], extra: tuple) -> None:
    """COPY ... (FORMAT BINARY): psycopg writes each row in C, the server reads values without parsing text. The
    columns' types come from the catalog (binary COPY takes exactly them); a JSON constant is serialised once and
    sent as text, which is json's binary form."""
    table = table_of(Notification)
    sql = f"COPY {table.name} ({', '.join(names)}) FROM STDIN (FORMAT BINARY)"
    dbapi = conn.dialect.loaded_dbapi
    raw: Any = conn.connection.dbapi_connection  # psycopg.Connection (copies() said so)
    try:
        with raw.cursor() as cursor:
            oids = dict(
                cursor.execute(
                    "SELECT attname, atttypid FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0",
                    [table.name],
                ).fetchall()
            )
            types = [oids[n] for n in names]
            constants = list(extra)
            for i, name in enumerate(names[varying:]):
                if isinstance(table.c[name].type, JSON):
                    constants[i] = json.dumps(constants[i])
                    types[varying + i] = "text"
            extra = tuple(constants)
            with cursor.copy(sql) as copy:
                copy.set_types(types)
                for row in rows:
                    copy.write_row(row + extra)
    except dbapi.Error as exc:
        raise DBAPIError.instance(sql, None, exc, dbapi.Error) from exc


def _append_to_digests(
    session: Session, wanted: dict, channels: dict[int, list[int]], now: datetime, result: Queued
) -> None:
    sub_ids = sorted({sid for sid, _ in wanted})
    keys = sorted({key for _, key in wanted})
    open_rows: dict[tuple[int, str], dict[int, tuple[int, list]]] = defaultdict(dict)
    N = Notification
    stmt = (
        select(col(N.subscription_id), col(N.id), col(N.channel_id), col(N.digest), col(N.event_ids))
        .where(col(N.digest).in_(keys), col(N.status) == "pending")
        .order_by(col(N.id))
        .with_for_update()
    )
    for sid, nid, cid, key, ids in _rows_for(session, stmt, col(N.subscription_id), sub_ids):
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
                inserts.append((sid, cid, event_ids, key, now, due))
                result.digest_rows += 1
                result.digest_appends += len(event_ids)
    table = table_of(Notification)
    if updates:
        session.execute(update(table).where(table.c.id == bindparam("nid")).values(event_ids=bindparam("ids")), updates)
    if inserts:
        constants = {"event_id": None, "operator": None, "offer_key": None, "kind": None, "price_cents": None}
        bulk_insert(session, DIGEST, inserts, constants | {"status": "pending", "attempts": 0})
