"""Health of the sources: one alert to the admin channels when an operator's page keeps failing, one recovery.

After `threshold` (default 3) unhealthy crawls of an operator in a row, the admin channels ([health] in the
config) get ONE alert: since when, what status and why. The next healthy crawl brings ONE recovery message;
nothing in between. The streak is derived from the stored CrawlRun rows each time, so it is right whoever
stored the crawls. What was already said is one row per operator in `source_health`: in the same transactions
and backups as the crawls, claimed (compare and set) before sending, so a restart or a concurrent check never
repeats an alert (if no channel accepted it, the claim is undone). Crawls interrupted by a service stop count
neither way. Admin URLs are shown masked only (alerts/masking.py).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlmodel import Session, col

from storage.engine import get_engine
from storage.models import CrawlRun
from storage.repository import as_utc, since_last_healthy
from storage.service_models import SourceHealth

log = logging.getLogger(__name__)

_LOCK = threading.Lock()


@dataclass
class HealthMessage:
    operator: str
    kind: str  # alert | recovery
    title: str
    body: str
    delivered: int  # channels that accepted it
    failed: list  # masked "url: reason" of the channels that did not
    crawl_run_id: int

    def as_dict(self) -> dict:
        return asdict(self)


_utc = as_utc  # stored times come back naive from SQLite


def _when(moment: datetime | None) -> str:
    return _utc(moment).strftime("%Y-%m-%d %H:%M UTC") if moment else "?"


def reason(run: CrawlRun) -> str:
    """Why a crawl was unhealthy, in a few words an admin can act on."""
    error = (run.error or "").lower()
    if run.status == "blocked":
        return "blocked (a block or captcha page answered)"
    if run.finish_reason in ("worker_killed", "closespider_timeout") or "time limit" in error:
        return "hung (the crawl ran past its time limit)"
    if run.finish_reason in ("worker_crashed", "crawl_crashed"):
        return "crawl crashed"
    if "http error" in error:
        return "HTTP error"
    if "download errors" in error or "no saved page" in error:
        return "the page could not be fetched"
    if run.status == "partial" and "invalid)" in error:
        return "too many offers failed validation (layout changed?)"
    if run.status == "partial" and "only" in error and "offers" in error:
        return "too few offers"
    if "layout changed" in error or (run.status == "failed" and run.items_stored == 0 and run.items_scraped == 0):
        return "layout changed (no offer found on the page)"
    if run.items_dropped and not run.items_stored:
        return "layout changed (every offer failed validation)"
    return run.status


@dataclass
class Streak:
    count: int  # unhealthy crawls in a row up to the latest (0: the latest counted crawl is healthy)
    first: CrawlRun | None  # the first unhealthy crawl of the streak
    last: CrawlRun | None  # the latest counted crawl
    last_healthy: CrawlRun | None
    statuses: dict


def streak(session: Session, operator: str) -> Streak:
    last_ok_id, after = since_last_healthy(session, operator)
    count = session.execute(select(func.count()).select_from(CrawlRun).where(after)).scalar() or 0
    first = last = None
    statuses: dict = {}
    if count:
        first = session.execute(select(CrawlRun).where(after).order_by(col(CrawlRun.id)).limit(1)).scalar()
        last = session.execute(select(CrawlRun).where(after).order_by(col(CrawlRun.id).desc()).limit(1)).scalar()
        statuses = dict(
            session.execute(
                select(col(CrawlRun.status), func.count()).where(after).group_by(col(CrawlRun.status))
            ).all()
        )
    last_ok = session.get(CrawlRun, last_ok_id) if last_ok_id else None
    return Streak(count, first, last or last_ok, last_ok, statuses)


def _name(operator: str) -> str:
    try:
        from alerts.render import operator_name

        return operator_name(operator)
    except Exception:  # noqa: BLE001 — the slug will do
        return operator


def alert_text(operator: str, s: Streak) -> tuple[str, str]:
    name = _name(operator)
    last, first = s.last, s.first
    assert last is not None and first is not None  # an unhealthy streak has crawls
    why = reason(last)
    title = f"promowatch: {name} ({operator}) unhealthy: {why}"
    lines = [
        f"The offers page of {name} ({operator}) has failed {s.count} crawls in a row.",
        f"Unhealthy since: {_when(first.started_at)} (crawl #{first.id})",
        f"Last crawl: #{last.id} at {_when(last.finished_at)}, status {last.status}: {why}",
        f"Error: {last.error or '-'}",
        "Statuses in this streak: " + ", ".join(f"{k} x{v}" for k, v in sorted(s.statuses.items())),
        f"Last healthy crawl: {_when(s.last_healthy.finished_at) if s.last_healthy else 'never'}",
        "Its stored offers are kept unchanged until a healthy crawl; no removal is reported meanwhile.",
        "You will get one message when it is healthy again, nothing in between.",
    ]
    return title, "\n".join(lines)


def recovery_text(operator: str, state: SourceHealth, run: CrawlRun) -> tuple[str, str]:
    name = _name(operator)
    since = _utc(state.since)
    lasted = _utc(run.finished_at) - since if since else None
    title = f"promowatch: {name} ({operator}) healthy again"
    lines = [
        f"The offers page of {name} ({operator}) is healthy again: crawl #{run.id} at {_when(run.finished_at)} "
        f"stored {run.items_stored} offers.",
        f"It was unhealthy since {_when(since)}" + (f" ({_span(lasted.total_seconds())})." if lasted else "."),
    ]
    return title, "\n".join(lines)


def _span(seconds: float) -> str:
    hours, minutes = divmod(int(seconds) // 60, 60)
    days, hours = divmod(hours, 24)
    return " ".join(p for p in (f"{days} d" if days else "", f"{hours} h" if hours else "", f"{minutes} min") if p)


def mask(url: str) -> str:
    """An Apprise URL with its secrets hidden, for logs (the one masking of the project: alerts/masking.py)."""
    from alerts.masking import mask_url

    return mask_url(url)


def notify(channels: tuple[str, ...] | list[str], title: str, body: str, failure: bool) -> tuple[int, list[str]]:
    """Send one message to each admin channel: (how many accepted it, masked failures). While a channel is in
    use, every log record of the process (Apprise's, urllib3's at DEBUG) has its secrets masked."""
    import apprise

    from alerts.masking import in_use

    delivered, failed = 0, []
    for url in channels:
        masked = mask(url)
        with in_use(url, masked):
            ok, failed_reason = _notify_one(apprise, url, title, body, failure)
        if ok:
            delivered += 1
            log.info("health: sent %r to %s", title, masked)
        else:
            failed.append(f"{masked}: {failed_reason}")
            log.warning("health: could not send %r to %s", title, masked)
    return delivered, failed


def _notify_one(apprise, url: str, title: str, body: str, failure: bool) -> tuple[bool, str]:
    apobj = apprise.Apprise()
    if not apobj.add(url):
        return False, "Apprise cannot use this URL"
    try:
        ok = apobj.notify(
            title=title,
            body=body,
            body_format=apprise.NotifyFormat.TEXT,
            notify_type=apprise.NotifyType.FAILURE if failure else apprise.NotifyType.SUCCESS,
        )
    except Exception as exc:  # noqa: BLE001 — a plugin error must not stop the check
        return False, f"{type(exc).__name__}"
    return bool(ok), "Apprise reported a failure"


def check(
    operators: list[str] | None = None,
    *,
    threshold: int = 3,
    channels: tuple[str, ...] | list[str] = (),
    database_url: str | None = None,
) -> list[HealthMessage]:
    """Look at each operator's latest crawls; send the alerts and recoveries due. What was sent."""
    if operators is None:
        from spiders.registry import OPERATORS

        operators = list(OPERATORS)
    engine = get_engine(database_url)
    sent: list[HealthMessage] = []
    with _LOCK:
        for op in operators:
            message = _check_one(engine, op, max(1, threshold), tuple(channels))
            if message is not None:
                sent.append(message)
    return sent


def _check_one(engine, op: str, threshold: int, channels: tuple[str, ...]) -> HealthMessage | None:
    with Session(engine) as session:
        s = streak(session, op)
        state = session.get(SourceHealth, op)
        if state is None:
            if s.count < threshold:
                return None
            session.add(SourceHealth(operator=op, alerting=False))
            session.commit()
            state = session.get_one(SourceHealth, op)
        run: CrawlRun | None
        claim: dict[str, Any]
        undo: dict[str, Any]
        if not state.alerting and s.count >= threshold:
            kind, title_body, run = "alert", alert_text(op, s), s.last
            assert run is not None and s.first is not None  # an unhealthy streak has crawls
            claim = {
                "alerting": True,
                "since": s.first.started_at,
                "alert_run_id": run.id,
                "alerted_at": datetime.now(timezone.utc),
                "recovery_run_id": None,
                "recovered_at": None,
            }
            undo = {"alerting": False}
            was = False
        elif (
            state.alerting
            and s.count == 0
            and s.last_healthy is not None
            and (s.last_healthy.id or 0) > (state.alert_run_id or 0)
        ):
            kind, title_body, run = "recovery", recovery_text(op, state, s.last_healthy), s.last_healthy
            claim = {"alerting": False, "recovery_run_id": run.id, "recovered_at": datetime.now(timezone.utc)}
            undo = {"alerting": True, "recovery_run_id": None, "recovered_at": None}
            was = True
        else:
            return None
        run_id = run.id
        assert run_id is not None  # a stored crawl
        claimed = cast(
            CursorResult,  # what an UPDATE gives; Session.execute is typed for any statement
            session.execute(
                update(SourceHealth)
                .where(col(SourceHealth.operator) == op, col(SourceHealth.alerting).is_(was))
                .values(**claim)
            ),
        ).rowcount
        session.commit()
    if not claimed:
        return None  # someone else said it
    title, body = title_body
    if channels:
        delivered, failed = notify(channels, title, body, failure=kind == "alert")
    else:
        delivered, failed = 0, []
        log.warning("health (no admin channel configured): %s\n%s", title, body)
    if channels and not delivered:  # nobody heard it: try again at the next check
        with Session(engine) as session:
            session.execute(
                update(SourceHealth)
                .where(col(SourceHealth.operator) == op)
                .values(**undo, last_error="; ".join(failed)[:2000])
            )
            session.commit()
    elif failed:
        with Session(engine) as session:
            session.execute(
                update(SourceHealth).where(col(SourceHealth.operator) == op).values(last_error="; ".join(failed)[:2000])
            )
            session.commit()
    if channels:  # without any, the warning above said so (and what the message was)
        (log.warning if kind == "alert" else log.info)(
            "health: %s %s for %s (crawl #%d), %d of %d admin channel%s reached",
            kind,
            "sent" if delivered else "NOT sent",
            op,
            run_id,
            delivered,
            len(channels),
            "" if len(channels) == 1 else "s",
        )
    return HealthMessage(op, kind, title, body, delivered, failed, run_id)


def health_rows(database_url: str | None = None) -> dict[str, dict]:
    """Each operator's stored alert state (for `status`)."""
    with Session(get_engine(database_url)) as session:
        return {
            h.operator: {
                "alerting": h.alerting,
                "since": h.since.isoformat() if h.since else None,
                "alerted_at": h.alerted_at.isoformat() if h.alerted_at else None,
            }
            for h in session.execute(select(SourceHealth)).scalars()
        }
