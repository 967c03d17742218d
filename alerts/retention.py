"""Retention of the outbox: sent notifications older than `keep_sent_days` are deleted, their numbers kept.

The outbox grows by one row per channel x alert; a sent row is useless after a while, except for two things kept
here: its count (per UTC day of sending and channel service, with its failed tries before the success, in
`notification_sent_count`, which storage/figures.py adds to the rows still stored, so the figures and /metrics
of sends never go down) and its part in debounce (alerts.outbox reads back when a subscriber was last alerted
about an offer, within the subscription's re-arm window): a row inside its subscription's window is kept,
whatever `keep_sent_days` says. Pending, sending and dead rows are never deleted, nor is anything of the offers'
history (offers, versions, events, crawls): this module deletes from `notification` only.

Deletes go in batches of `batch` rows, each its own short transaction (select, delete, count), so the sender and
the crawls are never held up for long; a run stops after `max_seconds` and the next run goes on.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import cast

from sqlalchemy import CursorResult, and_, delete, func, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, col

from alerts.outbox import rearm_window
from contract.clock import utcnow
from storage.engine import get_engine
from storage.models import Notification, SentCount, Subscription, SubscriptionChannel, table_of
from storage.repository import as_utc

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())

DEFAULT_KEEP_DAYS = 90
DEFAULT_BATCH = 1000
DEFAULT_MAX_SECONDS = 60.0
TRIES = 5  # a batch another purger (or writer) raced with is rolled back and tried again, this often


@dataclass
class PurgeReport:
    purged: int = 0  # sent rows deleted (and counted in notification_sent_count)
    batches: int = 0
    kept_for_rearm: int = 0  # subscriptions whose re-arm window is longer than keep_sent_days (their rows stay longer)
    finished: bool = True  # False: stopped by max_seconds or max_batches with rows left to purge
    cutoff: str = ""  # ISO UTC: rows sent before this are purged (later for the long re-arm windows)
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


def _clauses(session: Session, cutoff: datetime, keep: timedelta, now: datetime) -> tuple[list, int]:
    """The WHERE clauses of the purgeable rows: sent before `cutoff`, or, for a subscription whose re-arm window
    is longer than `keep`, before the start of that window. (clauses, subscriptions with such a window)."""
    N, S = Notification, Subscription
    sent = col(N.status) == "sent"
    base = and_(sent, col(N.sent_at) < cutoff)
    keep_hours = int(keep.total_seconds() // 3600)
    hours = session.execute(  # few subscriptions, if any (ix_subscription_rearm_hours)
        select(col(S.rearm_hours), func.count()).where(col(S.rearm_hours) > keep_hours).group_by(col(S.rearm_hours))
    ).all()
    longer = {h: rearm_window(h) for h, _ in hours if rearm_window(h) > keep}
    if not longer:
        return [base], 0
    in_long = select(col(S.id)).where(col(S.rearm_hours).in_(sorted(longer)))
    clauses = [and_(base, col(N.subscription_id).not_in(in_long))]
    for h, window in sorted(longer.items()):
        of_h = select(col(S.id)).where(col(S.rearm_hours) == h)
        clauses.append(and_(sent, col(N.sent_at) < now - window, col(N.subscription_id).in_(of_h)))
    return clauses, sum(n for h, n in hours if h in longer)


def _lock(query, engine):
    """The dialect switch of this module: on PostgreSQL concurrent purgers (or a sender) skip each other's rows."""
    if engine.dialect.name == "postgresql":
        return query.with_for_update(of=table_of(Notification), skip_locked=True)
    return query


def _batch(engine, where, limit: int) -> int | None:
    """Delete up to `limit` rows matching `where` and add them to the counts, in one transaction: how many were
    deleted (0: none left), or None when another writer raced with this batch (rolled back: try again)."""
    N, C = Notification, SubscriptionChannel
    with Session(engine) as session, session.begin():
        query = (
            select(col(N.id), col(N.sent_at), col(N.attempts), col(C.service))
            .join(C, col(C.id) == col(N.channel_id), isouter=True)
            .where(where)
            .order_by(col(N.sent_at))
            .limit(limit)
        )
        rows = session.execute(_lock(query, engine)).all()
        if not rows:
            return 0
        ids = [r.id for r in rows]
        deleted = cast(
            CursorResult,
            session.execute(
                delete(N)
                .where(col(N.id).in_(ids), col(N.status) == "sent")
                .execution_options(synchronize_session=False)
            ),
        ).rowcount
        if deleted != len(ids):
            session.rollback()  # some were deleted (or un-sent) by someone else meanwhile: count afresh
            return None
        counts: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0, 0])
        for r in rows:
            key = (as_utc(r.sent_at).date(), r.service or "unknown")
            counts[key][0] += 1
            counts[key][1] += (r.attempts or 0) - 1  # a sent row's last try was its success (as figures counts)
        for (day, service), (sent, failures) in sorted(counts.items()):
            changed = cast(
                CursorResult,
                session.execute(
                    update(SentCount)
                    .where(col(SentCount.day) == day, col(SentCount.service) == service)
                    .values(sent=col(SentCount.sent) + sent, failures=col(SentCount.failures) + failures)
                ),
            ).rowcount
            if not changed:
                session.add(SentCount(day=day, service=service, sent=sent, failures=failures))
        session.flush()
        return deleted


def purge_sent(
    keep_days: float = DEFAULT_KEEP_DAYS,
    database_url: str | None = None,
    now: datetime | None = None,
    batch: int = DEFAULT_BATCH,
    max_seconds: float = DEFAULT_MAX_SECONDS,
    max_batches: int | None = None,
) -> PurgeReport:
    """Delete the sent notifications sent more than `keep_days` ago (and out of their re-arm window), counted
    per day and service first; `batch` rows per transaction, for at most `max_seconds` (and `max_batches`)."""
    if keep_days <= 0:
        raise ValueError(f"keep_days must be more than 0, got {keep_days!r}")
    if batch < 1:
        raise ValueError(f"batch must be at least 1, got {batch!r}")
    started = time.perf_counter()
    now = as_utc(now) or utcnow()
    keep = timedelta(days=keep_days)
    engine = get_engine(database_url)
    report = PurgeReport(cutoff=(now - keep).isoformat())
    with Session(engine) as session:
        clauses, report.kept_for_rearm = _clauses(session, now - keep, keep, now)
    for where in clauses:
        while True:
            if max_batches is not None and report.batches >= max_batches:
                report.finished = False
                break
            if time.perf_counter() - started > max_seconds:
                report.finished = False
                break
            deleted = _try_batch(engine, where, batch)
            if deleted is None:
                report.finished = False
                break
            report.batches += 1
            report.purged += deleted
            if deleted < batch:
                break
        if not report.finished:
            break
    report.seconds = time.perf_counter() - started
    if report.purged:
        log.info(
            "outbox retention: %d sent notification(s) older than %g days purged (counted) in %d batch(es), %.2f s",
            report.purged,
            keep_days,
            report.batches,
            report.seconds,
        )
    return report


def _try_batch(engine, where, batch: int) -> int | None:
    """One batch, tried again when it raced with another writer; None after TRIES races (the next run goes on)."""
    for _ in range(TRIES):
        try:
            deleted = _batch(engine, where, batch)
        except (IntegrityError, OperationalError) as exc:  # a counter row inserted meanwhile; SQLite busy
            log.warning("outbox retention: batch rolled back (%s), trying again", type(exc).__name__)
            continue
        if deleted is not None:
            return deleted
    log.warning("outbox retention: gave up after %d tries (other writers busy); the next run goes on", TRIES)
    return None
