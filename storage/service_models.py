"""Tables of the long-running service (scheduler.py, promowatch/health.py); imported by storage/models.py."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import Column, DateTime, Text
from sqlmodel import Field, SQLModel


class SourceHealth(SQLModel, table=True):
    """Per operator, whether the admins have an open "source unhealthy" alert (promowatch/health.py).

    Everything else about health (the unhealthy streak, since when, why) is derived from CrawlRun rows; this
    row only remembers what was already said, so a restart neither repeats the alert nor forgets the recovery.
    """

    __tablename__ = "source_health"

    operator: str = Field(primary_key=True, max_length=32)
    alerting: bool = False  # an alert was sent and no recovery message yet
    since: Optional[datetime] = Field(default=None, sa_column=Column(DateTime(timezone=True)))  # streak start
    alert_run_id: Optional[int] = None  # the CrawlRun that completed the streak (alert) ...
    recovery_run_id: Optional[int] = None  # ... and the healthy one that ended it (recovery)
    alerted_at: Optional[datetime] = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    recovered_at: Optional[datetime] = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    last_error: Optional[str] = Field(default=None, sa_column=Column(Text))  # delivery failure, masked
