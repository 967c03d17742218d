"""A database for the web tests: every operator's bundled offers (the fixture folders' expected items, stored
through storage.repository.record_crawl and alerts.detect as a crawl would), with history.

Iliad's crawls are dated: the baseline 100 days ago, GIGA 200 up from 9,99 € to 11,99 € 60 days ago and
down to 7,99 € 10 days ago (a 90-day low), and a new offer whose name and notes are markup
(`<script>alert(1)</script>`) that every page must show as text.
"""

from __future__ import annotations

import json
from datetime import timedelta

from conftest import FIXTURES, store_crawl

from contract.clock import utcnow
from contract.offer import normalise

SCRIPT_NAME = "<script>alert(1)</script>"
SCRIPT_KEY = "script-offer"
GIGA = "giga200"


def fixture_items() -> dict[str, list[dict]]:
    """operator -> the offers its bundled pages hold (what the offline crawl stores: one offer per key)."""
    out: dict[str, dict[str, dict]] = {}
    for path in sorted(FIXTURES.glob("*/*.expected.json")):
        for item in json.loads(path.read_text("utf-8")):
            out.setdefault(item["operator"], {}).setdefault(item["offer_key"], normalise(item))
    return {op: list(items.values()) for op, items in out.items()}


def crawl(url: str, operator: str, items: list[dict], when) -> None:
    store_crawl(url, operator, items, when, detect=True)


def with_price(items: list[dict], key: str, cents: int) -> list[dict]:
    return [{**i, "price_cents": cents} if i["offer_key"] == key else i for i in items]


def fill(url: str) -> dict[str, list[dict]]:
    now = utcnow()
    stored = fixture_items()
    for operator, items in stored.items():
        crawl(url, operator, items, now - timedelta(days=100))
    iliad = stored["iliad"]
    script = normalise(
        {
            **next(i for i in iliad if i["offer_key"] == GIGA),
            "offer_key": SCRIPT_KEY,
            "name": SCRIPT_NAME,
            "notes": '<img src=x onerror="alert(2)">',
        }
    )
    crawl(url, "iliad", with_price(iliad, GIGA, 1199), now - timedelta(days=60))
    crawl(url, "iliad", with_price(iliad, GIGA, 799) + [script], now - timedelta(days=10))
    stored["iliad"] = with_price(iliad, GIGA, 799) + [script]
    return stored
