"""Events x subscriptions -> Notification rows (the outbox), written in the detector's transaction.

This module keeps the one definition of a match and the entry point. `subscription_matches`: an event passes
a subscription when its kind is one of the subscription's `kinds` (empty = any) and its item (the offer as it
now is; for `removed`, its last item) passes the subscription's `contract.offer_query.OfferFilter`.
`match_events` runs right after the detector flushes the events, so events and their notifications are
committed together or not at all. How matching is fast is `alerts.subscription_index`; what is written is
`alerts.outbox` (this module imports them, never the reverse: import their names from there).
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from datetime import datetime
from typing import Mapping

from sqlmodel import Session

from alerts.outbox import queue
from alerts.subscription_index import SubscriptionIndex, load_subscriptions
from contract.offer_query import OfferFilter
from contract.rates import Rates
from storage.environment import configured_rates_or_none
from storage.models import OfferEvent

# --- the definition, one pair at a time ---------------------------------------------------------------------


def subscription_filter(sub: Mapping, rates: Rates | None = None) -> OfferFilter:
    """The offer filter of a subscription (a mapping with the Subscription columns); `rates`: the euro rates a
    price in another currency is compared through."""
    return OfferFilter(
        operators=set(sub.get("operators") or ()),
        plan_types=set(sub.get("plan_types") or ()),
        max_price_cents=sub.get("max_price_cents"),
        min_gb=sub.get("min_gb"),
        only_5g=bool(sub.get("only_5g")),
        origin=sub.get("origin"),
        max_eur_per_gb_cents=sub.get("max_eur_per_gb_cents"),
        max_year_cents=sub.get("max_year_cents"),
        rates=rates,
    )


def subscription_matches(sub: Mapping, kind: str, item: dict, rates: Rates | None = None) -> bool:
    """Does an event of `kind` about the offer `item` concern the subscription `sub`?"""
    kinds = sub.get("kinds") or ()
    return (not kinds or kind in kinds) and subscription_filter(sub, rates).matches(item)


# --- the entry point -----------------------------------------------------------------------------------------


@contextmanager
def gc_paused():
    """The cyclic garbage collector off while rows, bit positions and outbox rows are made by the hundred thousand
    (none of them cyclic): each of its passes would walk them all again. It is back on afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def match_events(session: Session, events: list[OfferEvent], now: datetime) -> int:
    """Queue the notifications `events` (flushed OfferEvent rows) cause; the number of channel x event alerts
    queued (single rows plus events appended to digest rows). Runs in the caller's transaction."""
    if not events:
        return 0
    with gc_paused():
        subs = load_subscriptions(session)
        if not subs:
            return 0
        matches = SubscriptionIndex(subs, configured_rates_or_none()).match([(e.kind, e.item) for e in events])
        return queue(session, events, matches, subs, now).total
