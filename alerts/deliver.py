"""Delivery: the transactional outbox's sender (design.md, "alerts/ deliver").

`send_due` works in three steps, so that nothing is lost whenever the process dies:

1. **claim** — one short transaction: the due rows (``pending`` with ``due_at <= now``, plus ``sending`` rows
   whose claim is older than the lease, i.e. a sender died between claiming and recording) are selected and
   moved to ``sending`` with ``claimed_at = now`` by ``UPDATE ... WHERE id IN (...) AND <still due>``. The
   re-check makes a row move only once even without row locks (SQLite): when the UPDATE moves fewer rows than
   were selected, another sender took some, and the claim is rolled back and tried again. On PostgreSQL the
   SELECT also takes ``FOR UPDATE SKIP LOCKED`` (`_lock_for_claim`, the one dialect switch), so senders on
   several hosts take disjoint rows without waiting for each other.
2. **send** — outside any transaction, concurrently on a pool of ``concurrency`` threads; each worker renders
   the row's message (alerts.render, the subscriber's language and time zone; a digest row all its events) and
   builds its own ``apprise.Apprise()`` with the one channel URL, so each channel gets its own result. The
   failure reason is what Apprise logged for that call, masked: `AppriseResult.logs()` on Apprise 2 (kept per
   call, so concurrent sends do not mix their reasons, which the process-wide `apprise.LogCapture` would),
   `apprise.LogCapture` for why a URL cannot be loaded and on Apprise 1.
3. **record** — each row in its own small transaction as its send finishes: ``sent`` (``sent_at``), or a failure
   (``attempts + 1``, ``due_at = now + 60 s x 2^(attempts-1)`` capped at 6 h, ``last_error`` masked, back to
   ``pending``), or ``dead`` once ``attempts`` reaches ``max_attempts``. A failure is recorded only by the
   current claimer (``status = 'sending' AND claimed_at = <its claim>``); ``sent`` is never overwritten.

A row claimed but never recorded (crash, kill) is claimed again after the lease; that is the only way a message
can go out twice. ``sent`` and ``dead`` rows are never sent again.

Secrets: channel URLs carry passwords and tokens. Everything this module logs, returns or stores shows the
masked URL (`mask_url`: Apprise's privacy mode) and passes through `mask_text`, which replaces the raw URL and
every secret part of it. While a URL is in use, a logging filter on Apprise's and urllib3's loggers masks their
records too, so a DEBUG log of the process does not carry the secret either. The masking lives in
alerts.masking; its names are re-exported here.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import and_, or_, select, update
from sqlmodel import Session

from alerts.masking import (  # noqa: F401 - re-exported: alerts.deliver's names as before the split
    _ANY_URL,
    _HEADER_ARG,
    _PART,
    _masking,
    _MaskingFilter,
    _raw_forms,
    _scheme_only,
    _secrets,
    mask_text,
    mask_url,
)
from storage.engine import get_engine
from storage.models import Notification, OfferEvent, Subscription, SubscriptionChannel
from storage.repository import as_utc, event_dict, utcnow

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())  # a library: the application decides where records go

LEASE = timedelta(minutes=10)  # a `sending` row older than this was left by a dead sender
BACKOFF_BASE = timedelta(seconds=60)
BACKOFF_CAP = timedelta(hours=6)
MAX_ATTEMPTS = 6
STATUSES = ("pending", "sending", "sent", "dead")
ERROR_CHARS = 1000
CLAIM_TRIES = 10

_IN = 500  # ids per IN (...) list


# --------------------------------------------------------------------------------------------- sending


@dataclass
class Outcome:
    ok: bool
    error: str | None = None  # masked
    permanent: bool = False  # retrying cannot help (the URL is unusable)


class UnusableURL(ValueError):
    """Apprise cannot use this channel URL; the message is masked."""


def _apprise():
    """Apprise, imported on the first send: a sender with nothing due (most of its runs) never loads it."""
    import apprise

    return apprise


def _apprise2() -> bool:
    return int(_apprise().__version__.split(".")[0]) >= 2


@lru_cache(maxsize=1)
def _asset():
    """Apprise 2 runs a service with a time budget in its shared pool (os.cpu_count() + 4 workers: on a small
    machine that, not `concurrency`, would bound every sender). Without the budget the send runs in the calling
    thread, our pool bounds it, and its wait is bounded by the plugin's own socket timeouts (seconds, retries
    off), well inside the lease. One asset (settings only) serves every send."""
    apprise = _apprise()
    return apprise.AppriseAsset(service_timeout=0) if _apprise2() else apprise.AppriseAsset()


def _load(url: str, masked: str | None = None):
    """An Apprise object holding only `url`, or UnusableURL with Apprise's reason (masked)."""
    apprise = _apprise()
    apobj = apprise.Apprise(asset=_asset())
    if apobj.add(url) and len(apobj) == 1:
        return apobj
    masked = masked or mask_url(url)
    with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:  # again, for the reason
        apprise.Apprise(asset=_asset()).add(url)
    reason = "; ".join(line for line in captured.getvalue().splitlines() if line.strip())
    # Apprise's reason quotes the URL half-masked ("p...3"): show no URL but the scheme-only form
    reason = _ANY_URL.sub(lambda m: _scheme_only(m.group(0)), mask_text(reason, url, masked)) if reason else ""
    raise UnusableURL(f"Apprise cannot use the channel URL {masked}: {reason or 'unknown service or missing parts'}")


def deliver(url: str, title: str, body: str, masked: str | None = None) -> Outcome:
    """Send one message to one channel URL; never raises."""
    masked = masked or mask_url(url)
    with _masking.active(url, masked):
        try:
            apobj = _load(url, masked)
        except UnusableURL as exc:
            return Outcome(False, str(exc)[:ERROR_CHARS], permanent=True)
        apprise = _apprise()
        try:
            if _apprise2():  # the call's own log entries: isolated from the other threads' sends
                result = apobj.notify(body=body, title=title, body_format=apprise.NotifyFormat.TEXT)
                ok = bool(result)
                lines = [] if ok else [entry.message for entry in result.logs()]
            else:  # pragma: no cover - Apprise 1.x: process-wide capture
                with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:
                    ok = apobj.notify(body=body, title=title, body_format=apprise.NotifyFormat.TEXT)
                lines = captured.getvalue().splitlines()
        except Exception as exc:  # a plugin bug must not take the batch down
            ok, lines = False, [f"{type(exc).__name__}: {exc}"]
    if ok:
        return Outcome(True)
    reason = "; ".join(dict.fromkeys(line.strip() for line in lines if line.strip())) or "Apprise reported a failure"
    return Outcome(False, mask_text(reason, url, masked)[:ERROR_CHARS])


# --------------------------------------------------------------------------------------------- the outbox


@dataclass
class _Job:
    id: int
    attempts: int
    claimed_at: datetime
    url: str = ""
    masked: str = ""
    lang: str = "it"
    tz: str = "Europe/Rome"
    events: list = field(default_factory=list)  # event dicts: one, or a digest's
    digest: str | None = None  # the digest key: render all `events` as one digest
    skip: str | None = None  # nothing to send (subscription gone): recorded dead, not a failure


@dataclass
class SendReport:
    claimed: int = 0
    reclaimed: int = 0  # of which were left `sending` by a sender that died (lease expired)
    sent: int = 0
    failed: int = 0  # will be retried
    dead: int = 0
    skipped: int = 0  # the subscription or channel is gone: marked dead, not sent
    seconds: float = 0.0
    rows: list = field(default_factory=list)  # per row: id, status, attempts, due_at, error (masked)

    @property
    def ok(self) -> bool:
        return not (self.failed or self.dead)

    def as_dict(self) -> dict:
        return asdict(self)


_utc = as_utc  # stored times come back naive from SQLite


def backoff(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed attempt: 60 s, 120 s, 240 s, ... at most 6 h."""
    return min(BACKOFF_BASE * 2 ** max(attempts - 1, 0), BACKOFF_CAP)


def _lock_for_claim(query, engine):
    """The one dialect switch of delivery: on PostgreSQL concurrent senders skip each other's locked rows."""
    if engine.dialect.name == "postgresql":
        return query.with_for_update(skip_locked=True)
    return query


def _due(now: datetime, lease: timedelta):
    N = Notification
    return or_(
        and_(N.status == "pending", N.due_at <= now),
        and_(N.status == "sending", or_(N.claimed_at.is_(None), N.claimed_at <= now - lease)),
    )


def claim_due(engine, now: datetime, limit: int, lease: timedelta = LEASE) -> tuple[list[int], int]:
    """Claim up to `limit` due rows (oldest due first) in one short transaction: (their ids, how many reclaimed).

    The UPDATE re-checks that each row is still due; when another sender moved one of them in between (no row
    locks: SQLite), the transaction is rolled back and the claim tried again, so a row is claimed by exactly
    one sender and the ids returned are exactly the rows this call moved.
    """
    N = Notification
    due = _due(now, lease)
    for _ in range(CLAIM_TRIES):
        with Session(engine) as session, session.begin():
            query = select(N.id, N.status).where(due).order_by(N.due_at, N.id).limit(limit)
            found = session.execute(_lock_for_claim(query, engine)).all()
            if not found:
                return [], 0
            ids = [r.id for r in found]
            moved = session.execute(
                update(N)
                .where(N.id.in_(ids), due)
                .values(status="sending", claimed_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount
            if moved == len(ids):
                return ids, sum(1 for r in found if r.status == "sending")
            session.rollback()  # another sender took some of them first: look again
    log.warning("outbox: could not claim rows after %d tries (other senders busy); nothing claimed", CLAIM_TRIES)
    return [], 0


def _by_id(session: Session, model, ids) -> dict:
    ids, out = sorted(set(ids)), {}
    for start in range(0, len(ids), _IN):
        chunk = ids[start : start + _IN]
        out.update((row.id, row) for row in session.execute(select(model).where(model.id.in_(chunk))).scalars())
    return out


def _prepare(engine, ids: list[int]) -> list[_Job]:
    """Read the claimed rows with their channels, subscriptions and events (in a few queries)."""
    with Session(engine) as session:
        rows = _by_id(session, Notification, ids)
        channels = _by_id(session, SubscriptionChannel, [n.channel_id for n in rows.values()])
        subs = _by_id(session, Subscription, [n.subscription_id for n in rows.values()])
        wanted = [i for n in rows.values() for i in ([n.event_id] if n.event_id is not None else n.event_ids or [])]
        events = {i: event_dict(e) for i, e in _by_id(session, OfferEvent, wanted).items()}
    jobs = []
    for nid in ids:
        n = rows[nid]
        job = _Job(n.id, n.attempts, _utc(n.claimed_at))
        jobs.append(job)
        channel, sub = channels.get(n.channel_id), subs.get(n.subscription_id)
        if channel is None or sub is None or not sub.active or channel.subscription_id != sub.id:
            job.skip = "subscription or channel no longer active: not sent"
            continue
        job.url, job.masked = channel.url, mask_url(channel.url)  # not url_masked: that may show header values
        job.lang, job.tz = sub.lang, sub.timezone
        if n.event_id is not None and not n.digest:
            job.events = [events[n.event_id]] if n.event_id in events else []
        else:
            job.digest = n.digest or "daily"
            job.events = sorted(
                (events[i] for i in dict.fromkeys(n.event_ids or []) if i in events),
                key=lambda e: (e["created_at"] or "", e["id"]),
            )
        if not job.events:
            job.skip = "its event(s) no longer exist: not sent"
    return jobs


def _render_and_send(job: _Job) -> Outcome:
    """A worker's part: render the row's message in the subscriber's language and time zone, send it."""
    from alerts import render  # Jinja2 and the templates, loaded on the first message to send

    try:
        if job.digest:
            message = render.render_digest(job.events, job.lang, job.tz, job.digest)
        else:
            message = render.render_event(job.events[0], job.lang, job.tz)
    except Exception as exc:  # a rendering bug: a failure of this row, retried (maybe after a fix)
        return Outcome(
            False, mask_text(f"render failed: {type(exc).__name__}: {exc}", job.url, job.masked)[:ERROR_CHARS]
        )
    return deliver(job.url, message.title, message.body, job.masked)


def _record(engine, job: _Job, outcome: Outcome, at: datetime, max_attempts: int, report: SendReport) -> None:
    """The result of one row, in its own transaction."""
    N = Notification
    attempts = job.attempts + (0 if job.skip else 1)
    if outcome.ok:
        values = dict(status="sent", sent_at=at, claimed_at=None, attempts=attempts, last_error=None)
        guard = N.status != "sent"  # a late success of a stale claim still counts; never touches a sent row
    elif job.skip:
        values = dict(status="dead", claimed_at=None, last_error=job.skip)
        guard = and_(N.status == "sending", N.claimed_at == job.claimed_at)
    else:
        dead = outcome.permanent or attempts >= max_attempts
        values = dict(
            status="dead" if dead else "pending", claimed_at=None, attempts=attempts, last_error=outcome.error
        )
        if not dead:
            values["due_at"] = at + backoff(attempts)
        guard = and_(N.status == "sending", N.claimed_at == job.claimed_at)  # only the current claimer
    with engine.begin() as conn:
        changed = conn.execute(update(N).where(N.id == job.id, guard).values(**values)).rowcount
    status = values["status"]
    if not changed:
        log.warning(
            "notification %s: result %s not recorded, the row was claimed again or already sent", job.id, status
        )
        status = "superseded"
    elif job.skip:
        report.skipped += 1
    elif status == "sent":
        report.sent += 1
    elif status == "dead":
        report.dead += 1
        log.error("notification %s to %s is dead after %d attempt(s): %s", job.id, job.masked, attempts, outcome.error)
    else:
        report.failed += 1
        log.warning(
            "notification %s to %s failed (attempt %d, next at %s): %s",
            job.id,
            job.masked,
            attempts,
            values["due_at"].isoformat(timespec="seconds"),
            outcome.error,
        )
    report.rows.append(
        {
            "id": job.id,
            "channel": job.masked,
            "status": status,
            "attempts": attempts,
            "due_at": values["due_at"].isoformat() if "due_at" in values else None,
            "error": values.get("last_error"),
        }
    )


def send_due(
    database_url: str | None = None,
    now: datetime | None = None,
    limit: int = 500,
    concurrency: int = 8,
    max_attempts: int = MAX_ATTEMPTS,
    lease: timedelta = LEASE,
) -> SendReport:
    """Claim the due outbox rows, send them (at most `concurrency` at a time), record each result."""
    started = time.perf_counter()
    engine = get_engine(database_url)
    fixed = _utc(now)
    clock = (lambda: fixed) if fixed is not None else utcnow
    report = SendReport()
    ids, report.reclaimed = claim_due(engine, clock(), limit, lease)
    report.claimed = len(ids)
    if not ids:
        report.seconds = time.perf_counter() - started
        return report
    jobs = _prepare(engine, ids)
    ready = [j for j in jobs if not j.skip]
    for job in jobs:
        if job.skip:
            _record(engine, job, Outcome(False), clock(), max_attempts, report)
    if ready:
        with ThreadPoolExecutor(
            max_workers=max(1, min(concurrency, len(ready))), thread_name_prefix="promowatch-send"
        ) as pool:
            futures = {pool.submit(_render_and_send, j): j for j in ready}
            for future in as_completed(futures):
                _record(engine, futures[future], future.result(), clock(), max_attempts, report)
    report.rows.sort(key=lambda r: r["id"])
    report.seconds = time.perf_counter() - started
    log.info(
        "outbox: %d claimed (%d reclaimed), %d sent, %d failed, %d dead, %d skipped in %.2f s",
        report.claimed,
        report.reclaimed,
        report.sent,
        report.failed,
        report.dead,
        report.skipped,
        report.seconds,
    )
    return report


def send_test(url: str, lang: str = "it") -> Outcome:
    """Send the test message to one URL. UnusableURL (masked) when Apprise cannot use it."""
    masked = mask_url(url)
    with _masking.active(url, masked):
        _load(url)  # raises UnusableURL
    from alerts.render import render_test

    message = render_test(lang)
    return deliver(url, message.title, message.body, masked)


def list_notifications(
    status: str | None = None, limit: int | None = 100, database_url: str | None = None
) -> list[dict]:
    """Outbox rows, newest first, with the channel's masked URL (never the raw one)."""
    N, C = Notification, SubscriptionChannel
    query = select(N, C.url, C.service).join(C, C.id == N.channel_id, isouter=True).order_by(N.id.desc())
    if status:
        query = query.where(N.status == status)
    if limit:
        query = query.limit(limit)

    def iso(moment):
        return _utc(moment).isoformat() if moment else None

    with Session(get_engine(database_url)) as session:
        return [
            {
                "id": n.id,
                "subscription_id": n.subscription_id,
                "channel_id": n.channel_id,
                "channel": mask_url(url) if url else None,
                "service": service,
                "kind": n.kind,
                "operator": n.operator,
                "offer_key": n.offer_key,
                "event_id": n.event_id,
                "event_ids": list(n.event_ids or []),
                "digest": n.digest,
                "price_cents": n.price_cents,
                "status": n.status,
                "attempts": n.attempts,
                "created_at": iso(n.created_at),
                "due_at": iso(n.due_at),
                "claimed_at": iso(n.claimed_at),
                "sent_at": iso(n.sent_at),
                "last_error": n.last_error,
            }
            for n, url, service in session.execute(query)
        ]
