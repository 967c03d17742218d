"""SQLModel tables. Times are timezone-aware UTC datetimes."""

from __future__ import annotations

import secrets
from datetime import date, datetime
from typing import Optional

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    inspect,
    text,
)
from sqlmodel import Field, SQLModel


class CrawlRun(SQLModel, table=True):
    __tablename__ = "crawl_run"
    __table_args__ = (
        Index("ix_crawl_run_operator_started", "operator", "started_at"),
        # migration 0009: an operator's latest crawls (last_crawls, health streaks, detection)
        Index("ix_crawl_run_operator_id", "operator", "id"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    operator: str = Field(max_length=32)
    started_at: datetime
    finished_at: datetime
    finish_reason: str = Field(max_length=64)
    status: str = Field(max_length=16)  # healthy | blocked | partial | failed
    items_scraped: int = 0
    items_stored: int = 0
    items_dropped: int = 0
    dropped_reasons: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    new_versions: int = 0
    error: Optional[str] = Field(default=None, sa_column=Column(Text))
    # healthy crawls only: {"missed": {offer_id: consecutive misses incl. this one}, "back": {offer_id: misses before}}
    presence: Optional[dict] = Field(default=None, sa_column=Column(JSON))
    detected_at: Optional[datetime] = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class Offer(SQLModel, table=True):
    __tablename__ = "offer"
    __table_args__ = (UniqueConstraint("operator", "offer_key", name="uq_offer_operator_key"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    operator: str = Field(max_length=32, index=True)
    offer_key: str = Field(max_length=200)
    name: str = Field(max_length=300)
    plan_type: str = Field(max_length=24)
    price_cents: int  # minor units of `currency`
    currency: str = Field(default="EUR", sa_column=Column(String(3), nullable=False, server_default="EUR"))
    data: dict = Field(sa_column=Column(JSON, nullable=False))  # the current item, all fields
    content_hash: str = Field(max_length=64)
    first_seen: datetime
    last_seen: datetime
    active: bool = True
    missed_crawls: int = 0  # consecutive healthy crawls it was absent from
    current_version_id: Optional[int] = None


class OfferVersion(SQLModel, table=True):
    __tablename__ = "offer_version"
    __table_args__ = (Index("ix_offer_version_offer_valid", "offer_id", "valid_from"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    offer_id: int = Field(foreign_key="offer.id")
    crawl_run_id: int = Field(foreign_key="crawl_run.id")
    data: dict = Field(sa_column=Column(JSON, nullable=False))
    content_hash: str = Field(max_length=64)
    valid_from: datetime
    valid_to: Optional[datetime] = None


class OfferEvent(SQLModel, table=True):
    """What one healthy crawl changed about one offer (alerts/detect writes it; at most one per offer per crawl)."""

    __tablename__ = "offer_event"
    __table_args__ = (
        UniqueConstraint("crawl_run_id", "offer_id", name="uq_offer_event_run_offer"),
        Index("ix_offer_event_created", "created_at"),
        Index("ix_offer_event_operator_created", "operator", "created_at"),
        Index("ix_offer_event_kind_created", "kind", "created_at"),
        Index("ix_offer_event_offer", "offer_id", "id"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    crawl_run_id: int = Field(foreign_key="crawl_run.id")
    offer_id: int = Field(foreign_key="offer.id")
    operator: str = Field(max_length=32)
    offer_key: str = Field(max_length=200)
    kind: str = Field(max_length=16)  # new | returned | price_drop | price_rise | changed | removed | expiring
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    price_before: Optional[int] = None
    price_after: Optional[int] = None
    changes: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))  # field -> [before, after]
    item: dict = Field(sa_column=Column(JSON, nullable=False))  # the offer as it now is (last seen, for removed)
    version_id: Optional[int] = Field(default=None, foreign_key="offer_version.id")


class Subscription(SQLModel, table=True):
    """A subscriber's wishes: language, digest, quiet hours, and the filters an event's offer must pass.

    List filters are empty for "any". Channel URLs (with their secrets) live in SubscriptionChannel.
    Life cycle (alerts/subscriptions.py): `status` pending (asked for on the web, not confirmed) -> active
    <-> paused -> unsubscribed; `active` is true exactly when the status is active (matching and the sender
    read that one indexed flag). `link_key` goes into every signed link of the subscription, so that a link
    never acts on another subscription that later gets the same id.
    """

    __tablename__ = "subscription"
    __table_args__ = (
        Index("ix_subscription_active", "active"),
        Index("ix_subscription_status_created", "status", "created_at"),
        # migration 0009: the saved stays (few among many) and the long re-arm windows the retention job keeps
        Index("ix_subscription_stay_days", "stay_days"),
        Index("ix_subscription_rearm_hours", "rearm_hours"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    active: bool = True
    status: str = Field(default="active", sa_column=Column(String(12), nullable=False, default="active"))
    confirmed_at: Optional[datetime] = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    link_key: str = Field(
        default_factory=lambda: new_link_key(),
        sa_column=Column(String(16), nullable=False, default=lambda: new_link_key()),
    )
    lang: str = Field(default="it", max_length=8)  # it | en | zh
    digest: str = Field(default="off", max_length=8)  # off | daily | weekly
    timezone: str = Field(default="Europe/Rome", max_length=64)  # for quiet hours and digest times
    quiet_start: Optional[str] = Field(default=None, max_length=5)  # "22:00" local time; None = no quiet hours
    quiet_end: Optional[str] = Field(default=None, max_length=5)  # "07:00"
    rearm_hours: int = 168  # the same offer+kind alerts again only after this long, or when its price moves
    operators: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    plan_types: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    kinds: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    max_price_cents: Optional[int] = None
    min_gb: Optional[float] = None
    only_5g: bool = False
    origin: Optional[str] = Field(default=None, max_length=32)  # "--from iliad": only offers a customer of it can take
    max_eur_per_gb_cents: Optional[float] = None
    max_year_cents: Optional[int] = None  # price x periods + activation + SIM over 12 months
    # a saved stay (`promowatch stay --days N --gb G`): the subscription is told when the cheapest card for it
    # changes (alerts/stay_alerts.py), not about single offers' events; `stay_cheapest` is the card last told
    stay_days: Optional[int] = None
    stay_gb: Optional[float] = None
    stay_cheapest: Optional[dict] = Field(default=None, sa_column=Column(JSON, nullable=True))


def new_link_key() -> str:
    return secrets.token_hex(8)


class SubscriptionConsent(SQLModel, table=True):
    """What a subscriber agreed to and how (shown on their manage page): when, which filters and channel (the
    channel masked), from which form, the IP only as a keyed hash (HMAC with the service secret)."""

    __tablename__ = "subscription_consent"

    id: Optional[int] = Field(default=None, primary_key=True)
    subscription_id: int = Field(foreign_key="subscription.id", index=True)
    requested_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    confirmed_at: Optional[datetime] = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    source: str = Field(max_length=64)  # the form or command it came from, e.g. "web:subscribe"
    lang: str = Field(max_length=8)
    filters: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    channel: str = Field(sa_column=Column(Text, nullable=False))  # masked, e.g. "email: m***@example.com"
    ip_hash: Optional[str] = Field(default=None, max_length=64)


class RateLimitHit(SQLModel, table=True):
    """One counted request (subscribe per IP, per channel address); `key_hash` is an HMAC, never the address."""

    __tablename__ = "rate_limit_hit"
    __table_args__ = (Index("ix_rate_limit_hit_bucket_key_at", "bucket", "key_hash", "at"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    bucket: str = Field(max_length=32)
    key_hash: str = Field(max_length=64)
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class SubscriptionChannel(SQLModel, table=True):
    """One Apprise URL of a subscription. `url` holds secrets: show `url_masked` (Apprise privacy mode) only."""

    __tablename__ = "subscription_channel"
    # migration 0009: the duplicate check of a new subscription looks its URLs up; a hash index on PostgreSQL,
    # where a B-tree refuses values over ~2.7 kB (a URL has no length limit)
    __table_args__ = (
        Index("ix_subscription_channel_url", "url", postgresql_using="hash"),
        # migration 0012: what the outbox's one foreign key to its channel and subscription refers to
        Index("uq_subscription_channel_id_subscription", "id", "subscription_id", unique=True),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    subscription_id: int = Field(foreign_key="subscription.id", index=True)
    url: str = Field(sa_column=Column(Text, nullable=False))
    url_masked: str = Field(sa_column=Column(Text, nullable=False))
    service: str = Field(max_length=32)  # the URL's schema: mailto, json, tgram, ...
    # a host the subscriber typed (webhook, own ntfy/Bark server): sent to public addresses only, no redirects
    guarded: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, default=False, server_default="0"))


class Notification(SQLModel, table=True):
    """The transactional outbox: one row per channel x event (or x digest), written with the events.

    status: pending -> sending (claimed, `claimed_at` set) -> sent | pending again (failed: `attempts`+1, `due_at`
    pushed back) -> dead (attempt limit reached, `last_error` kept, masked). A `sending` row whose claim is older
    than the lease is reclaimable after a crash. `failure_kind` names the last failure; a failure after the
    request went out (no answer: it may have arrived) counts in `ambiguous_failures`, retried rarely.
    A digest row collects events: `event_ids` lists them and `event_id` is None.
    """

    __tablename__ = "notification"
    __table_args__ = (
        UniqueConstraint("channel_id", "event_id", name="uq_notification_channel_event"),
        Index("ix_notification_status_due", "status", "due_at"),
        Index("ix_notification_debounce", "subscription_id", "operator", "offer_key", "kind", "created_at"),
        # the alert-latency figure (recently sent) and the retention job (sent long ago): migration 0009; of sent
        # rows only (migration 0012: a row is written unsent, so a fan-out's rows do not enter it)
        Index(
            "ix_notification_status_sent",
            "status",
            "sent_at",
            postgresql_where=text("sent_at IS NOT NULL"),
            sqlite_where=text("sent_at IS NOT NULL"),
        ),
        # migration 0012: one key for the channel and its subscription, checked once per row, not twice (the
        # check per row of each foreign key is the largest cost of writing an outbox row on PostgreSQL); it
        # also holds that the row's subscription is its channel's
        ForeignKeyConstraint(
            ["channel_id", "subscription_id"],
            ["subscription_channel.id", "subscription_channel.subscription_id"],
            name="fk_notification_channel_subscription",
        ),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    subscription_id: int
    channel_id: int
    event_id: Optional[int] = Field(default=None, foreign_key="offer_event.id")
    event_ids: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))  # digest rows
    digest: Optional[str] = Field(default=None, max_length=32)  # e.g. "daily:2026-12-02"; None = one event
    operator: Optional[str] = Field(default=None, max_length=32)
    offer_key: Optional[str] = Field(default=None, max_length=200)
    kind: Optional[str] = Field(default=None, max_length=16)
    price_cents: Optional[int] = None  # the offer's price when alerted (debounce: re-arms when it moves)
    status: str = Field(default="pending", max_length=8)  # pending | sending | sent | dead
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    due_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    claimed_at: Optional[datetime] = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    sent_at: Optional[datetime] = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    attempts: int = 0
    last_error: Optional[str] = Field(default=None, sa_column=Column(Text))  # masked: never a channel secret
    # the last failure's kind (alerts.deliver.KINDS: refused, dns, http, timeout_after_send, ...); None once sent
    failure_kind: Optional[str] = Field(default=None, max_length=24)
    # tries that may have delivered (sent, no answer): they get the long back-off and the smaller cap
    ambiguous_failures: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))


class SentCount(SQLModel, table=True):
    """How many sent notifications the retention job (alerts/retention.py) deleted, per UTC day of sending and
    channel service, and their failed tries before the success: the figures of sends (storage/figures.py) add
    them to the rows still stored, so a purge does not lower them."""

    __tablename__ = "notification_sent_count"

    day: date = Field(sa_column=Column(Date, primary_key=True))
    service: str = Field(sa_column=Column(String(32), primary_key=True))
    sent: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))
    failures: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))


from storage.service_models import SourceHealth  # noqa: E402,F401  (the service's tables)


def table_of(model: type[SQLModel]) -> Table:
    """A table class's Core `Table` (its `__table__`, which SQLModel's typing does not declare), for the
    prebuilt Core statements of the hot paths."""
    return inspect(model).local_table
