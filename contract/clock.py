"""The one clock: times are stored and compared in UTC, so every room reads "now" from here.

It sits in the bottom room because storage, alerts and the crawl worker all need it, and the crawl worker's
parent (the scheduler process) must not import storage to get it.
"""

from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    """Now, as an aware UTC datetime."""
    return datetime.now(timezone.utc)
