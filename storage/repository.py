"""Reads and writes of the storage layer; the only place that knows the tables' shape.

`record_crawl` writes one crawl in one transaction: the CrawlRun and, for a healthy crawl only, a batched
upsert of the offers with a new OfferVersion only where the content hash changed. It notes on the CrawlRun
(`presence`) which active offers the crawl missed and which came back, so that change detection (run
afterwards in its own transaction, possibly late) can tell `removed` and `returned` from stored state; a card
seen but dropped as invalid counts as present and keeps its last good version (`kept`, `dropped`).
Storage never decides that an offer is removed: `Offer.active` is cleared by the detector.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Sequence, overload

from sqlalchemy import BindParameter, bindparam, func, insert, select, update
from sqlmodel import Session, col

from contract.clock import utcnow
from contract.offer import DEFAULTS, content_hash
from contract.offer_query import OfferFilter, sort_offers
from storage.engine import get_engine
from storage.models import CrawlRun, Offer, OfferEvent, OfferVersion, table_of


def driver_rows(session: Session, stmt) -> Sequence:
    """The rows of `stmt` (its values written into the SQL: no parameters) as the DBAPI cursor returns them, with
    no result processing: for whole-table reads of numbers and strings (100,000 subscriptions), where
    SQLAlchemy's result rows cost three times the read."""
    conn = session.connection()
    cursor = conn.connection.cursor()
    try:
        cursor.execute(str(stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})))
        return cursor.fetchall()
    finally:
        cursor.close()


@overload
def as_utc(moment: datetime) -> datetime: ...
@overload
def as_utc(moment: None) -> None: ...
def as_utc(moment: datetime | None) -> datetime | None:
    """A stored time as an aware UTC datetime: SQLite hands timezone-aware columns back naive (they were
    written in UTC), PostgreSQL aware; every reader of a stored time goes through this."""
    if moment is None:
        return None
    return moment.astimezone(timezone.utc) if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@dataclass
class CrawlResult:
    run_id: int
    status: str
    stored: int
    new_versions: int


_RUN, _OFFER, _VERSION = table_of(CrawlRun), table_of(Offer), table_of(OfferVersion)
_IDS: BindParameter[list[int]] = bindparam("ids", expanding=True)
_INSERT_RUN, _INSERT_OFFER, _INSERT_VERSION = insert(_RUN), insert(_OFFER), insert(_VERSION)
# built once: a crawl's steady path then costs no statement construction, only execution
_EXISTING = select(
    _OFFER.c.id, _OFFER.c.offer_key, _OFFER.c.content_hash, _OFFER.c.missed_crawls, _OFFER.c.active
).where(_OFFER.c.operator == bindparam("operator"))
_SEEN = update(_OFFER).where(_OFFER.c.id.in_(_IDS)).values(last_seen=bindparam("now"), active=True, missed_crawls=0)
# an offer whose card was seen but invalid: present, so an active one's run of misses ends (nothing else changes)
_KEPT = update(_OFFER).where(_OFFER.c.id.in_(_IDS), _OFFER.c.active.is_(True)).values(missed_crawls=0)
_MISSED = update(_OFFER).where(_OFFER.c.id.in_(_IDS)).values(missed_crawls=_OFFER.c.missed_crawls + 1)
_CHANGED = (
    update(_OFFER)
    .where(_OFFER.c.id == bindparam("oid"))
    .values(
        name=bindparam("name"),
        plan_type=bindparam("plan_type"),
        price_cents=bindparam("price_cents"),
        currency=bindparam("currency"),
        data=bindparam("data", type_=_OFFER.c.data.type),
        content_hash=bindparam("content_hash"),
    )
)
_CLOSE_VERSIONS = (
    update(_VERSION)
    .where(_VERSION.c.offer_id.in_(_IDS), _VERSION.c.valid_to.is_(None))
    .values(valid_to=bindparam("now"))
)
_CURRENT_VERSION = update(_OFFER).where(_OFFER.c.id == bindparam("oid")).values(current_version_id=bindparam("vid"))


@dataclass
class _Plan:
    """What one healthy crawl will write, worked out from one SELECT before anything is written."""

    fresh: list  # (item, digest): offers never seen
    changed: list  # (offer id, item, digest): content hash differs
    seen_ids: list
    missing_ids: list
    presence: dict

    @property
    def new_versions(self) -> int:
        return len(self.fresh) + len(self.changed)


def record_crawl(
    *,
    operator: str,
    started_at: datetime,
    finish_reason: str,
    status: str,
    items: list[dict],
    items_scraped: int,
    dropped: dict,
    error: str | None,
    database_url: str | None = None,
    finished_at: datetime | None = None,
    invalid_keys: Iterable[str] = (),
    dropped_cards: list[dict] | None = None,
) -> CrawlResult:
    """Store one crawl in one transaction (SQLAlchemy Core: this runs every crawl, and the ORM's unit of
    work cost more than the writes themselves). The steady case (nothing changed) is four statements:
    the SELECT of the operator's offers, the CrawlRun INSERT, one set-wise UPDATE, the commit.

    `invalid_keys`: offer keys whose card was seen but dropped as invalid (present, left as they were);
    `dropped_cards`: the dropped cards (offer_key, name, reason, detail) to note on the CrawlRun."""
    engine = get_engine(database_url)
    now = finished_at or utcnow()
    healthy = status == "healthy"
    with engine.begin() as conn:
        plan = _plan(conn, operator, items, set(invalid_keys)) if healthy else None
        presence = plan.presence if plan else None
        if dropped_cards:
            presence = {**(presence or {}), "dropped": list(dropped_cards)}
        key = conn.execute(
            _INSERT_RUN,
            dict(
                operator=operator,
                started_at=started_at,
                finished_at=now,
                finish_reason=finish_reason,
                status=status,
                items_scraped=items_scraped,
                items_stored=len(items) if healthy else 0,
                items_dropped=sum(dropped.values()),
                dropped_reasons=dict(dropped),
                new_versions=plan.new_versions if plan else 0,
                presence=presence,
                error=error,
                detected_at=None,
            ),
        ).inserted_primary_key
        assert key is not None  # a one-row INSERT's
        run_id = key[0]
        if plan is not None:
            _write(conn, plan, operator, run_id, now)
        return CrawlResult(run_id, status, len(items) if healthy else 0, plan.new_versions if plan else 0)


def _plan(conn, operator: str, items: list[dict], invalid_keys: set[str]) -> _Plan:
    """presence: {"missed": {offer id: misses so far}, "back": {offer id: misses before}}, and
    "kept": [offer id, ...] when cards of stored offers were dropped as invalid."""
    existing = {r.offer_key: r for r in conn.execute(_EXISTING, {"operator": operator})}
    plan = _Plan([], [], [], [], {"missed": {}, "back": {}})
    for item in items:
        digest = content_hash(item)
        row = existing.get(item["offer_key"])
        if row is None:
            plan.fresh.append((item, digest))
            continue
        plan.seen_ids.append(row.id)
        if row.missed_crawls or not row.active:  # back after missing crawls: recorded, not silently reset
            plan.presence["back"][str(row.id)] = row.missed_crawls
        if row.content_hash != digest:
            plan.changed.append((row.id, item, digest))
    seen = {item["offer_key"] for item in items}
    kept = []
    for key, row in existing.items():
        if key in seen:
            continue
        if key in invalid_keys:  # seen, but its card was invalid: present, its last good version kept
            kept.append(row.id)
        else:
            plan.missing_ids.append(row.id)
            if row.active:  # an inactive (removed) offer has nothing more to report
                plan.presence["missed"][str(row.id)] = row.missed_crawls + 1
    if kept:
        plan.presence["kept"] = sorted(kept)
    return plan


def _write(conn, plan: _Plan, operator: str, run_id: int, now: datetime) -> None:
    """The plan's writes: new and changed offers row by row (with their new OfferVersion), the rest set-wise."""
    versioned = list(plan.changed)
    for item, digest in plan.fresh:
        offer_id = conn.execute(
            _INSERT_OFFER,
            dict(
                operator=operator,
                offer_key=item["offer_key"],
                name=item["name"],
                plan_type=item["plan_type"],
                price_cents=item["price_cents"],
                currency=item.get("currency") or "EUR",
                data=item,
                content_hash=digest,
                first_seen=now,
                last_seen=now,
                active=True,
                missed_crawls=0,
                current_version_id=None,
            ),
        ).inserted_primary_key[0]
        versioned.append((offer_id, item, digest))
    if plan.seen_ids:
        conn.execute(_SEEN, {"ids": plan.seen_ids, "now": now})
    if plan.changed:
        conn.execute(
            _CHANGED,
            [
                {
                    "oid": oid,
                    "name": item["name"],
                    "plan_type": item["plan_type"],
                    "price_cents": item["price_cents"],
                    "currency": item.get("currency") or "EUR",
                    "data": item,
                    "content_hash": digest,
                }
                for oid, item, digest in plan.changed
            ],
        )
    if versioned:
        conn.execute(_CLOSE_VERSIONS, {"ids": [oid for oid, _, _ in versioned], "now": now})
        for oid, item, digest in versioned:
            vid = conn.execute(
                _INSERT_VERSION,
                dict(offer_id=oid, crawl_run_id=run_id, data=item, content_hash=digest, valid_from=now, valid_to=None),
            ).inserted_primary_key[0]
            conn.execute(_CURRENT_VERSION, {"oid": oid, "vid": vid})
    if plan.missing_ids:
        conn.execute(_MISSED, {"ids": plan.missing_ids})
    if plan.presence.get("kept"):
        conn.execute(_KEPT, {"ids": plan.presence["kept"]})


def _offer_dict(o: Offer) -> dict:
    """The stored item (a field an older item lacks as its default; the currency as its column holds it)."""
    seen = {"first_seen": _iso(o.first_seen), "last_seen": _iso(o.last_seen)}
    return {**DEFAULTS, **o.data, "currency": o.currency, **seen, "missed_crawls": o.missed_crawls}


def list_offers(operator: str | None = None, active_only: bool = True, database_url: str | None = None) -> list[dict]:
    with Session(get_engine(database_url)) as session:
        query = select(Offer).order_by(col(Offer.operator), col(Offer.price_cents), col(Offer.offer_key))
        if operator:
            query = query.where(col(Offer.operator) == operator)
        if active_only:
            query = query.where(col(Offer.active).is_(True))
        return [_offer_dict(o) for o in session.execute(query).scalars()]


def find_offers(wanted: OfferFilter, sort: str = "operator", database_url: str | None = None) -> list[dict]:
    """The current offers that pass `wanted`, in `sort` order (contract.offer_query): what `promowatch offers`,
    the web's offers page, its feeds and its API list. One query (narrowed to the operator when only one is
    wanted); the filter and the order are the contract's, so every reader agrees on them."""
    only = next(iter(wanted.operators)) if len(wanted.operators) == 1 else None
    offers = list_offers(only, database_url=database_url)
    return sort_offers([i for i in offers if wanted.matches(i)], sort, wanted.rates)


def _version_dict(v: OfferVersion) -> dict:
    return {
        "version_id": v.id,
        "crawl_run_id": v.crawl_run_id,
        "valid_from": _iso(v.valid_from),
        "valid_to": _iso(v.valid_to),
        "content_hash": v.content_hash,
        "item": v.data,
    }


def _versions(session: Session, offer_id: int) -> list[dict]:
    """Every version of an offer, oldest first, in one query (ix_offer_version_offer_valid)."""
    rows = session.execute(
        select(OfferVersion)
        .where(col(OfferVersion.offer_id) == offer_id)
        .order_by(col(OfferVersion.valid_from), col(OfferVersion.id))
    ).scalars()
    return [_version_dict(v) for v in rows]


def _stored_offer(session: Session, operator: str, offer_key: str) -> Offer | None:
    return session.execute(
        select(Offer).where(col(Offer.operator) == operator, col(Offer.offer_key) == offer_key)
    ).scalar()


def offer_history(operator: str, offer_key: str, database_url: str | None = None) -> list[dict] | None:
    with Session(get_engine(database_url)) as session:
        offer = _stored_offer(session, operator, offer_key)
        return None if offer is None or offer.id is None else _versions(session, offer.id)


def offer_detail(operator: str, offer_key: str, events: int = 50, database_url: str | None = None) -> dict | None:
    """One offer as a page shows it, in three queries whatever its history: the offer (its current item, `active`),
    every version (`offer_history`'s shape) and its newest `events` change events (`event_dict`)."""
    with Session(get_engine(database_url)) as session:
        offer = _stored_offer(session, operator, offer_key)
        if offer is None or offer.id is None:
            return None
        rows = session.execute(
            select(OfferEvent)
            .where(col(OfferEvent.offer_id) == offer.id)
            .order_by(col(OfferEvent.id).desc())
            .limit(events)
        ).scalars()
        return {
            "offer": {**_offer_dict(offer), "active": offer.active},
            "versions": _versions(session, offer.id),
            "events": [event_dict(e) for e in rows],
        }


#: crawls ended by a stop of the service, not by the source: they count neither as unhealthy nor as healthy
NOT_THE_SOURCE = ("interrupted",)


def since_last_healthy(session: Session, operator: str):
    """(the id of the operator's last healthy crawl or None, a WHERE clause for its counted crawls after it):
    the unhealthy streak that `status` counts and the health check alerts on. Crawls of NOT_THE_SOURCE count
    neither way."""
    counted = (col(CrawlRun.operator) == operator) & col(CrawlRun.finish_reason).not_in(NOT_THE_SOURCE)
    last_ok = session.execute(
        select(func.max(col(CrawlRun.id))).where(counted, col(CrawlRun.status) == "healthy")
    ).scalar()
    return last_ok, counted & (col(CrawlRun.id) > (last_ok or 0))


def catalogue_sizes(operator: str, last: int = 5, database_url: str | None = None) -> tuple[int | None, list[int]]:
    """(how many offers the operator's last healthy crawl stored, None when it has had none; how many valid
    offers each of the crawls after it read, newest first, at most `last`): what a new crawl's catalogue is held
    against (spiders.crawl_rules.CatalogueShrank)."""
    with Session(get_engine(database_url)) as session:
        last_ok, after = since_last_healthy(session, operator)
        if last_ok is None:
            return None, []
        run = session.get(CrawlRun, last_ok)
        read = col(CrawlRun.items_scraped) - col(CrawlRun.items_dropped)
        since = session.execute(select(read).where(after).order_by(col(CrawlRun.id).desc()).limit(last)).scalars()
        return (run.items_stored if run else None), list(since)


def _latest_per_operator():
    """The id of each operator's latest crawl, one index lookup per operator (ix_crawl_run_operator_id) rather
    than a GROUP BY over every crawl ever stored: the operators are walked by a recursive query, each the next
    one after the last (a "loose index scan", which neither database does by itself)."""
    run = _RUN
    ops = select(func.min(run.c.operator).label("operator")).cte("ops", recursive=True)
    following = select(func.min(run.c.operator)).where(run.c.operator > ops.c.operator).scalar_subquery()
    ops = ops.union_all(select(following).where(ops.c.operator.is_not(None)))
    latest = select(func.max(run.c.id)).where(run.c.operator == ops.c.operator).scalar_subquery()
    return select(latest).where(ops.c.operator.is_not(None))


_LATEST_PER_OPERATOR = _latest_per_operator()


def last_crawls(database_url: str | None = None) -> dict[str, dict]:
    """The latest CrawlRun per operator, plus how many unhealthy crawls in a row led up to it (crawls ended
    by a service stop not counted)."""
    with Session(get_engine(database_url)) as session:
        ids = session.execute(_LATEST_PER_OPERATOR).scalars().all()
        runs = session.execute(select(CrawlRun).where(col(CrawlRun.id).in_(ids))).scalars().all()
        result = {}
        for run in runs:
            _, after = since_last_healthy(session, run.operator)
            failures = session.execute(select(func.count()).select_from(CrawlRun).where(after)).scalar()
            result[run.operator] = {
                "operator": run.operator,
                "crawl_run_id": run.id,
                "started_at": _iso(run.started_at),
                "finished_at": _iso(run.finished_at),
                "status": run.status,
                "finish_reason": run.finish_reason,
                "items_scraped": run.items_scraped,
                "items_stored": run.items_stored,
                "items_dropped": run.items_dropped,
                "dropped_reasons": run.dropped_reasons,
                "dropped_cards": (run.presence or {}).get("dropped", []),
                "new_versions": run.new_versions,
                "error": run.error,
                "consecutive_failures": failures,
            }
        return result


def crawl_run(run_id: int, database_url: str | None = None) -> dict | None:
    with Session(get_engine(database_url)) as session:
        run = session.get(CrawlRun, run_id)
        return None if run is None else run.model_dump(mode="json")


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else as_utc(moment).isoformat()


def event_dict(event) -> dict:
    """An OfferEvent as plain JSON data (what `promowatch events --json` prints)."""
    return {
        "id": event.id,
        "crawl_run_id": event.crawl_run_id,
        "offer_id": event.offer_id,
        "operator": event.operator,
        "offer_key": event.offer_key,
        "kind": event.kind,
        "created_at": _iso(event.created_at),
        "price_before": event.price_before,
        "price_after": event.price_after,
        "changes": event.changes,
        "item": event.item,
        "version_id": event.version_id,
    }


def list_events(
    operator: str | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    limit: int | None = 100,
    database_url: str | None = None,
) -> list[dict]:
    """Stored change events, newest first."""
    with Session(get_engine(database_url)) as session:
        query = select(OfferEvent).order_by(col(OfferEvent.created_at).desc(), col(OfferEvent.id).desc())
        if operator:
            query = query.where(col(OfferEvent.operator) == operator)
        if kind:
            query = query.where(col(OfferEvent.kind) == kind)
        if since is not None:
            since = since.astimezone(timezone.utc) if since.tzinfo else since.replace(tzinfo=timezone.utc)
            query = query.where(col(OfferEvent.created_at) >= since)
        if limit:
            query = query.limit(limit)
        return [event_dict(e) for e in session.execute(query).scalars()]
