"""SQLModel tables. Times are timezone-aware UTC datetimes."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


class CrawlRun(SQLModel, table=True):
    __tablename__ = "crawl_run"
    __table_args__ = (Index("ix_crawl_run_operator_started", "operator", "started_at"),)

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


class Offer(SQLModel, table=True):
    __tablename__ = "offer"
    __table_args__ = (UniqueConstraint("operator", "offer_key", name="uq_offer_operator_key"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    operator: str = Field(max_length=32, index=True)
    offer_key: str = Field(max_length=200)
    name: str = Field(max_length=300)
    plan_type: str = Field(max_length=16)
    price_cents: int
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
