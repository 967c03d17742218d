"""Saved stays: a subscription with `stay_days` (and `stay_gb`) is told when the cheapest card for that stay
changes — another card, or the same at another total — not about every offer event.

The ranking is contract/stay.py's, the same `promowatch stay` prints, over the offers on sale now (the stay's
arrival is today, so ended promotions are out). It runs after a healthy crawl that raised events, in its own
transaction: the new cheapest card is stored on the subscription and a message queued to each channel at once
(the outbox carries it like a confirmation). A subscription's first look is its baseline: nothing is sent.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session, col

from alerts.subscriptions import queue_message
from contract.clock import utcnow
from contract.stay import Stay, eur_only, stay_costs
from storage.engine import get_engine
from storage.models import Offer, Subscription

log = logging.getLogger(__name__)


def cheapest_card(items: list[dict], stay: Stay) -> dict | None:
    """The cheapest card of the stay's ranking as a subscription keeps it (None: no card covers the stay)."""
    ranked = stay_costs(items, stay, to_eur=eur_only).ranked
    if not ranked:
        return None
    card = ranked[0].as_dict()
    return {k: card[k] for k in ("key", "operator", "name", "total_eur_cents", "included", "watch")}


def _same(before: dict | None, after: dict | None) -> bool:
    def told(card):
        return None if card is None else (card.get("key"), card.get("total_eur_cents"))

    return told((before or {}).get("card")) == told(after)


def watch_stays(database_url: str | None = None, now: datetime | None = None) -> int:
    """Compare each active stay subscription's cheapest card with the one it was last told; store the new one
    and queue its message. The number of messages queued."""
    now = now or utcnow()
    queued = 0
    with Session(get_engine(database_url)) as session, session.begin():
        subs = session.scalars(
            select(Subscription).where(col(Subscription.active).is_(True), col(Subscription.stay_days).is_not(None))
        ).all()
        if not subs:
            return 0
        items = [o.data for o in session.scalars(select(Offer).where(col(Offer.active).is_(True)))]
        for sub in subs:
            stay = Stay(int(sub.stay_days or 1), float(sub.stay_gb or 0.0), sub.only_5g, sub.origin)
            card = cheapest_card(items, stay)
            baseline = sub.stay_cheapest is None
            if not baseline and _same(sub.stay_cheapest, card):
                continue
            was = None if baseline else (sub.stay_cheapest or {}).get("card")
            sub.stay_cheapest = {"card": card, "was": was, "at": now.isoformat()}
            if not baseline:
                queued += queue_message(session, int(sub.id or 0), "stay", now)
    if queued:
        log.info("saved stays: %d messages queued (the cheapest card changed)", queued)
    return queued
