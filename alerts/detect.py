"""Change detection: what a stored healthy crawl changed, as OfferEvent rows (the rules: docs/architecture.md,
"Change events").

It runs after the crawl is committed, in its own transaction, and derives everything from stored state (the
crawl's new versions, `CrawlRun.presence`, the current versions' promo dates), so it can run late, after a
crash, and give the same answer. `CrawlRun.detected_at` is claimed in that transaction: a crawl is detected
once, and a failure rolls the claim back so `detect_pending` takes the crawl first next time. The matched
outbox rows are written in the same transaction as the events.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timezone

from sqlalchemy import bindparam, func, select, update
from sqlmodel import Session, col

from alerts.match import match_events
from contract.clock import utcnow
from contract.offer import DEFAULTS, FIELDS
from storage.engine import get_engine
from storage.environment import VARIABLES, setting
from storage.models import CrawlRun, Offer, OfferEvent, OfferVersion, table_of
from storage.repository import event_dict

log = logging.getLogger(__name__)

KINDS = ("new", "returned", "price_drop", "price_rise", "changed", "removed", "expiring")
#: the item fields whose difference is a change (price_cents is reported as price_before/price_after)
COMPARED = tuple(f for f in FIELDS if f not in ("operator", "offer_key", "price_cents"))
REMOVED_AFTER = VARIABLES["PROMOWATCH_REMOVED_AFTER"].default
EXPIRING_DAYS = VARIABLES["PROMOWATCH_EXPIRING_DAYS"].default


_RUN, _OFFER = table_of(CrawlRun), table_of(Offer)
# the steady path's statements, built once (SQLAlchemy Core): see _quiet
_FACTS = select(_RUN.c.operator, _RUN.c.new_versions, _RUN.c.presence, _RUN.c.finished_at).where(
    _RUN.c.id == bindparam("run")
)
_PENDING_OF = (
    select(_RUN.c.id)
    .where(
        _RUN.c.operator == bindparam("operator"),
        _RUN.c.status == "healthy",
        _RUN.c.detected_at.is_(None),
        _RUN.c.id < bindparam("run"),
    )
    .order_by(_RUN.c.id)
)
_LATEST = select(func.max(_RUN.c.id)).where(_RUN.c.operator == bindparam("operator"))
_CURRENT = select(_OFFER.c.data).where(_OFFER.c.operator == bindparam("operator"), _OFFER.c.active.is_(True))
_CLAIM = (
    update(_RUN)
    .where(_RUN.c.id == bindparam("run"), _RUN.c.status == "healthy", _RUN.c.detected_at.is_(None))
    .values(detected_at=bindparam("now"))
)
_EARLIER = (
    select(_RUN.c.id)
    .where(
        _RUN.c.operator == bindparam("operator"),
        _RUN.c.status == "healthy",
        _RUN.c.detected_at.is_not(None),
        _RUN.c.id < bindparam("run"),
    )
    .order_by(_RUN.c.id.desc())  # the previous one: found at once on ix_crawl_run_operator_id
    .limit(1)
)


def thresholds() -> dict:
    """removed_after / expiring_days from PROMOWATCH_REMOVED_AFTER / PROMOWATCH_EXPIRING_DAYS (else the defaults)."""
    return {
        "removed_after": setting("PROMOWATCH_REMOVED_AFTER"),
        "expiring_days": setting("PROMOWATCH_EXPIRING_DAYS"),
    }


#: fields a version stored before `flags` existed was read without: the same page read again moves recognised
#: terms from the notes to the flags, which is our reading changing, not the operator's offer
REREAD = ("notes", "flags")


def diff(before: dict, after: dict) -> dict:
    """field -> [before, after] for the compared fields that differ (a field an older item lacks is its default;
    an item stored before `flags` is not compared on the notes and flags: our reading of them changed)."""
    old = {**DEFAULTS, **before}
    new = {**DEFAULTS, **after}
    skip = REREAD if "flags" not in before else ()
    return {f: [old.get(f), new.get(f)] for f in COMPARED if f not in skip and old.get(f) != new.get(f)}


def detect_crawl(
    run_id: int, database_url: str | None = None, removed_after: int = REMOVED_AFTER, expiring_days: int = EXPIRING_DAYS
) -> list[dict]:
    """Detect the operator's undetected earlier crawls (oldest first), then this one; the events created."""
    engine = get_engine(database_url)
    with engine.connect() as conn:
        operator = conn.execute(_FACTS, {"run": run_id}).scalar()
        if operator is None:
            raise LookupError(f"no crawl run {run_id}")
        pending = list(conn.execute(_PENDING_OF, {"operator": operator, "run": run_id}).scalars())
    events = _detect_all(engine, pending, removed_after, expiring_days)
    return events + _detect_one(engine, run_id, removed_after, expiring_days)


def detect_pending(
    database_url: str | None = None,
    operator: str | None = None,
    before: int | None = None,
    removed_after: int = REMOVED_AFTER,
    expiring_days: int = EXPIRING_DAYS,
) -> list[dict]:
    """Detect every healthy crawl not detected yet (optionally of one operator, before a run id), oldest first."""
    engine = get_engine(database_url)
    query = (
        select(col(CrawlRun.id))
        .where(col(CrawlRun.status) == "healthy", col(CrawlRun.detected_at).is_(None))
        .order_by(col(CrawlRun.id))
    )
    if operator:
        query = query.where(col(CrawlRun.operator) == operator)
    if before is not None:
        query = query.where(col(CrawlRun.id) < before)
    with Session(engine) as session:
        pending = list(session.execute(query).scalars())
    return _detect_all(engine, pending, removed_after, expiring_days)


def _detect_all(engine, pending: list[int], removed_after: int, expiring_days: int) -> list[dict]:
    events: list[dict] = []
    for run_id in pending:
        found = _detect_one(engine, run_id, removed_after, expiring_days)
        if found:
            log.info("detected late crawl %d: %d events", run_id, len(found))
        events += found
    return events


def _detect_one(engine, run_id: int, removed_after: int, expiring_days: int) -> list[dict]:
    now = utcnow()
    with Session(engine) as session, session.begin():
        conn = session.connection()
        # claim first: takes the write lock, so two detectors of one crawl never both write
        if not conn.execute(_CLAIM, {"run": run_id, "now": now}).rowcount:
            return []
        facts = conn.execute(_FACTS, {"run": run_id}).one()
        if conn.execute(_EARLIER, {"run": run_id, "operator": facts.operator}).first() is None:
            return []  # the operator's first healthy crawl: baseline
        if _quiet(conn, run_id, facts, expiring_days):
            return []
        run = session.get_one(CrawlRun, run_id)
        events = _events(session, run, now, removed_after, expiring_days)
        session.add_all(events)
        session.flush()
        queued = match_events(session, events, now)  # the outbox rows, committed with the events or not at all
        if queued:
            log.debug("crawl %d: %d notifications queued", run_id, queued)
        return [event_dict(e) for e in events]


def _quiet(conn, run_id: int, facts, expiring_days: int) -> bool:
    """Whether this crawl can have no event, decided from the crawl and the operator's current offers
    without loading versions and events: most crawls change nothing, and this runs after every crawl.

    True only for the operator's latest crawl (the offers' current state is then their state at this
    crawl) that created no version and missed or got back no offer (storage's `presence`), when no current
    offer's promo ends within `expiring_days` of the crawl's day: the only event such a crawl could yield
    is `expiring`. Everything else goes through `_events`."""
    presence = facts.presence or {}
    if facts.new_versions != 0 or presence.get("missed") or presence.get("back"):
        return False
    if conn.execute(_LATEST, {"operator": facts.operator}).scalar() != run_id:
        return False  # a late detection: later crawls have moved the offers on
    day = _day_of(facts.finished_at)
    for (data,) in conn.execute(_CURRENT, {"operator": facts.operator}):
        promo = data.get("promo_until")
        if promo and 0 <= (date.fromisoformat(promo) - day).days <= expiring_days:
            return False
    return True


def _day_of(moment: datetime) -> date:
    """The UTC day of a stored time (SQLite hands it back naive, in UTC)."""
    return (moment.astimezone(timezone.utc) if moment.tzinfo else moment).date()


def _events(session: Session, run: CrawlRun, now: datetime, removed_after: int, expiring_days: int) -> list[OfferEvent]:
    run_id = run.id
    assert run_id is not None  # a stored crawl
    offers = {o.id: o for o in session.execute(select(Offer).where(col(Offer.operator) == run.operator)).scalars()}
    if not offers:
        return []
    ids = list(offers)
    presence = run.presence or {}
    missed = {int(k): v for k, v in (presence.get("missed") or {}).items()}
    back = {int(k): v for k, v in (presence.get("back") or {}).items()}
    kept = set(presence.get("kept") or ())

    # the version each offer had at this crawl, and the one before it for those this crawl changed
    at_run = (
        select(func.max(col(OfferVersion.id)))
        .where(col(OfferVersion.offer_id).in_(ids), col(OfferVersion.crawl_run_id) <= run.id)
        .group_by(col(OfferVersion.offer_id))
    )
    current = {
        v.offer_id: v for v in session.execute(select(OfferVersion).where(col(OfferVersion.id).in_(at_run))).scalars()
    }
    changed = {oid: v for oid, v in current.items() if v.crawl_run_id == run.id}
    prior = (
        select(func.max(col(OfferVersion.id)))
        .where(col(OfferVersion.offer_id).in_(list(changed) or [-1]), col(OfferVersion.crawl_run_id) < run.id)
        .group_by(col(OfferVersion.offer_id))
    )
    previous = {
        v.offer_id: v for v in session.execute(select(OfferVersion).where(col(OfferVersion.id).in_(prior))).scalars()
    }
    # each offer's last event before this crawl (is it currently removed?) and the versions already "expiring"
    last_ids = (
        select(func.max(col(OfferEvent.id)))
        .where(col(OfferEvent.offer_id).in_(ids), col(OfferEvent.crawl_run_id) < run.id)
        .group_by(col(OfferEvent.offer_id))
    )
    last_kind = dict(
        session.execute(
            select(col(OfferEvent.offer_id), col(OfferEvent.kind)).where(col(OfferEvent.id).in_(last_ids))
        ).all()
    )
    expiring_done = set(
        session.execute(
            select(col(OfferEvent.version_id)).where(
                col(OfferEvent.offer_id).in_(ids), col(OfferEvent.kind) == "expiring"
            )
        ).scalars()
    )

    day = _day_of(run.finished_at)
    events: list[OfferEvent] = []

    def add(
        offer_id: int,
        kind: str,
        version: OfferVersion,
        before: int | None,
        after: int | None,
        changes: dict | None = None,
    ) -> None:
        offer = offers[offer_id]
        events.append(
            OfferEvent(
                crawl_run_id=run_id,
                offer_id=offer_id,
                operator=offer.operator,
                offer_key=offer.offer_key,
                kind=kind,
                created_at=now,
                price_before=before,
                price_after=after,
                changes=changes or {},
                item=version.data,
                version_id=version.id,
            )
        )

    for offer_id, version in current.items():
        if offer_id in kept:
            continue
        offer = offers[offer_id]
        removed_before = last_kind.get(offer_id) == "removed"
        if offer_id in missed:
            if missed[offer_id] >= removed_after and not removed_before:
                add(offer_id, "removed", version, version.data["price_cents"], None)
                if offer.missed_crawls:  # still absent now (a late detection may find it already back)
                    offer.active = False
            continue
        if removed_before and offer_id not in back:
            continue  # removed earlier and still absent
        price = version.data["price_cents"]
        prev = previous.get(offer_id) if offer_id in changed else None
        if offer_id in back and removed_before:
            before = prev.data if prev is not None else version.data
            add(offer_id, "returned", version, before["price_cents"], price, diff(before, version.data))
            if not offer.missed_crawls:
                offer.active = True
            continue
        if offer_id in changed:
            if prev is None:
                add(offer_id, "new", version, None, price)
                continue
            old_price, changes = prev.data["price_cents"], diff(prev.data, version.data)
            if price != old_price:
                add(offer_id, "price_drop" if price < old_price else "price_rise", version, old_price, price, changes)
                continue
            if changes:
                add(offer_id, "changed", version, old_price, price, changes)
                continue
        promo = version.data.get("promo_until")
        if promo and version.id not in expiring_done and 0 <= (date.fromisoformat(promo) - day).days <= expiring_days:
            add(offer_id, "expiring", version, None, price)
    events.sort(key=lambda e: (e.offer_key, e.kind))
    return events


def count_by_kind(events: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for event in events:
        counts[event["kind"]] = counts.get(event["kind"], 0) + 1
    return counts


def detect_after_crawl(run_id: int, database_url: str | None = None) -> list[dict] | None:
    """What every entry point calls once a healthy crawl is stored: the events, or None when detection failed.

    A failure is logged and leaves the crawl stored with detected_at NULL; the next detection of the
    operator picks it up first (detect_pending).
    """
    try:
        events = detect_crawl(run_id, database_url=database_url, **thresholds())
    except Exception:  # noqa: BLE001 — never lose the crawl over detection
        log.exception("change detection of crawl %d failed; it stays pending for the next run", run_id)
        return None
    log.debug("crawl %d: %d events %s", run_id, len(events), count_by_kind(events) or "")
    return events
