"""The service's figures, read from the database: what a monitoring scrape (`/metrics`) and the admin page show.

They come from the tables, not from counters in one process, because the crawls and the sender run in other
processes (the service's crawl worker, `promowatch send` on another host) than the web site that shows them:
the database is the one place all of them write. Each figure is one grouped query; the alert latency reads
at most `LATENCY_ROWS` recent rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlmodel import Session, col

from contract.clock import utcnow
from storage.engine import get_engine
from storage.models import (
    CrawlRun,
    Notification,
    Offer,
    OfferEvent,
    SentCount,
    Subscription,
    SubscriptionChannel,
)
from storage.repository import as_utc

#: upper bounds (seconds) of the alert-latency histogram: queued (the event detected) -> sent
LATENCY_BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 6 * 3600.0, 24 * 3600.0)
#: the latency histogram covers the immediate alerts sent in this window, at most this many (the latest)
LATENCY_WINDOW = timedelta(hours=24)
LATENCY_ROWS = 50_000


@dataclass
class Figures:
    crawls: dict[tuple[str, str], int] = field(default_factory=dict)  # (operator, status) -> crawls
    last_crawl_at: dict[str, datetime] = field(default_factory=dict)  # operator -> its latest crawl's end
    last_healthy_at: dict[str, datetime] = field(default_factory=dict)
    offers: dict[str, int] = field(default_factory=dict)  # operator -> active offers
    events: dict[str, int] = field(default_factory=dict)  # kind -> events
    outbox: dict[str, int] = field(default_factory=dict)  # status -> rows
    # channel service (mailto, ntfy, ...) -> notifications sent, those the retention job deleted included
    sent: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)  # channel service -> failed tries (purged rows' too)
    dead: dict[str, int] = field(default_factory=dict)  # channel service -> rows given up
    subscriptions: dict[str, int] = field(default_factory=dict)  # active | inactive -> subscriptions
    subscribers: dict[str, int] = field(default_factory=dict)  # status (pending, active, paused, ...) -> subscriptions
    latency: list[float] = field(default_factory=list)  # seconds, queued -> sent, of recent immediate alerts

    def latency_histogram(self) -> list[tuple[float, int]]:
        """Cumulative (upper bound, count) pairs, Prometheus style; the last bound is +Inf."""
        bounds = [*LATENCY_BUCKETS, float("inf")]
        return [(b, sum(1 for s in self.latency if s <= b)) for b in bounds]


def figures(database_url: str | None = None, now: datetime | None = None) -> Figures:
    now = now or utcnow()
    out = Figures()
    with Session(get_engine(database_url)) as session:
        rows = session.execute(
            select(
                col(CrawlRun.operator), col(CrawlRun.status), func.count(), func.max(col(CrawlRun.finished_at))
            ).group_by(CrawlRun.operator, CrawlRun.status)
        )
        for operator, status, n, last in rows:
            out.crawls[(operator, status)] = n
            last = as_utc(last)
            if last is not None and (operator not in out.last_crawl_at or last > out.last_crawl_at[operator]):
                out.last_crawl_at[operator] = last
            if status == "healthy" and last is not None:
                out.last_healthy_at[operator] = last
        out.offers = _counts(session, col(Offer.operator), col(Offer.active).is_(True))
        out.events = _counts(session, col(OfferEvent.kind))
        out.outbox = _counts(session, col(Notification.status))
        by_service = session.execute(
            select(
                col(SubscriptionChannel.service),
                col(Notification.status),
                func.count(),
                func.coalesce(func.sum(col(Notification.attempts)), 0),
            )
            .join(SubscriptionChannel, col(SubscriptionChannel.id) == col(Notification.channel_id))
            .group_by(col(SubscriptionChannel.service), col(Notification.status))
        )
        for service, status, n, attempts in by_service:  # a sent row's last try was its success
            failed = int(attempts) - (n if status == "sent" else 0)
            out.failures[service] = out.failures.get(service, 0) + failed
            if status == "sent":
                out.sent[service] = n
            elif status == "dead":
                out.dead[service] = n
        purged = session.execute(  # sent rows the retention job deleted (alerts/retention.py): still sent
            select(col(SentCount.service), func.sum(col(SentCount.sent)), func.sum(col(SentCount.failures))).group_by(
                col(SentCount.service)
            )
        )
        for service, n, failed in purged:
            out.sent[service] = out.sent.get(service, 0) + int(n or 0)
            out.failures[service] = out.failures.get(service, 0) + int(failed or 0)
        active = _counts(session, col(Subscription.active))
        out.subscriptions = {("active" if flag else "inactive"): n for flag, n in active.items()}
        out.subscribers = _counts(session, col(Subscription.status))
        recent = session.execute(
            select(col(Notification.created_at), col(Notification.sent_at))
            .where(
                col(Notification.status) == "sent",
                col(Notification.digest).is_(None),
                col(Notification.sent_at) >= now - LATENCY_WINDOW,
            )
            .order_by(col(Notification.sent_at).desc())
            .limit(LATENCY_ROWS)
        )
        out.latency = [max(0.0, (as_utc(sent) - as_utc(queued)).total_seconds()) for queued, sent in recent if sent]
    return out


def _counts(session: Session, column, *where) -> dict:
    """{value of `column`: rows}, of the rows matching `where`."""
    query = select(column, func.count()).where(*where).group_by(column)
    return {value: n for value, n in session.execute(query).all()}


def data_version(database_url: str | None = None) -> tuple[int, int]:
    """(the latest crawl's id, the latest change event's id): what the offers, their history and the events
    shown anywhere depend on. A crawl stores offers and versions with its CrawlRun row, detection adds events:
    when neither id moved, nothing a page reads from them changed. One statement."""
    latest = select(
        select(func.coalesce(func.max(col(CrawlRun.id)), 0)).scalar_subquery(),
        select(func.coalesce(func.max(col(OfferEvent.id)), 0)).scalar_subquery(),
    )
    with get_engine(database_url).connect() as conn:
        crawl, event = conn.execute(latest).one()
    return int(crawl), int(event)
