"""Events x subscriptions -> Notification rows (the outbox), written in the detector's transaction.

`match_events(session, events, now)` is called by `alerts.detect._detect_one` right after the events are
flushed, so events and their notifications are committed together or not at all.

What matches (one definition): an event passes a subscription when its kind is one of the subscription's
`kinds` (empty = any) and its offer item passes `subscription_filter(sub)`, an
`contract.offer_query.OfferFilter` (operators, plan types, max price, min GB, 5G, origin via can_take_from,
€/GB via eur_per_gb_cents, 12-month cost via twelve_month_cents). The item is the event's `item`: the offer
as it now is, for `removed` its last item. `subscription_matches` applies that definition to one pair.

This module keeps that definition and the entry point; the work is split by concern, imported one way (this
module imports them, they never import it):
  - `alerts.subscription_index`: how it is fast (the bit-set index built per call, the one read of every
    active subscription);
  - `alerts.outbox`: what is written (debounce, quiet hours, digest rows, batched Notification inserts).
Their names stay importable from here, as before the split.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from datetime import datetime
from typing import Mapping

from sqlmodel import Session

from alerts.outbox import (
    CHUNK,
    DAILY_AT,
    SCHEDULE,
    WEEKLY_AT,
    WEEKLY_ON,
    Queued,
    _append_to_digests,
    _channels,
    _chunks,
    _hm,
    _last_alerts,
    _new_rows,
    _next_send,
    _settings,
    _utc,
    _zone,
    event_price,
    queue,
    quiet_until,
    schedule,
)
from alerts.subscription_index import (
    _BIT,
    _LISTS,
    _ZERO_ONE,
    FILTERS,
    SubscriptionIndex,
    Subscriptions,
    _bit_range,
    _bitset,
    _groups,
    _Listed,
    _parse_list,
    _positions,
    _Threshold,
    list_value,
    load_subscriptions,
)
from contract.offer_query import OfferFilter
from storage.models import OfferEvent

#: every name this module had before the split (private ones included: tests and benchmarks use some)
__all__ = [
    "CHUNK",
    "DAILY_AT",
    "FILTERS",
    "SCHEDULE",
    "WEEKLY_AT",
    "WEEKLY_ON",
    "_BIT",
    "_LISTS",
    "_ZERO_ONE",
    "Queued",
    "SubscriptionIndex",
    "Subscriptions",
    "_Listed",
    "_Threshold",
    "_append_to_digests",
    "_bit_range",
    "_bitset",
    "_channels",
    "_chunks",
    "_groups",
    "_hm",
    "_last_alerts",
    "_new_rows",
    "_next_send",
    "_parse_list",
    "_positions",
    "_settings",
    "_utc",
    "_zone",
    "event_price",
    "gc_paused",
    "list_value",
    "load_subscriptions",
    "match_events",
    "queue",
    "quiet_until",
    "schedule",
    "subscription_filter",
    "subscription_matches",
]


# --- the definition, one pair at a time ---------------------------------------------------------------------


def subscription_filter(sub: Mapping) -> OfferFilter:
    """The offer filter of a subscription (a mapping with the Subscription columns)."""
    return OfferFilter(
        operators=set(sub.get("operators") or ()),
        plan_types=set(sub.get("plan_types") or ()),
        max_price_cents=sub.get("max_price_cents"),
        min_gb=sub.get("min_gb"),
        only_5g=bool(sub.get("only_5g")),
        origin=sub.get("origin"),
        max_eur_per_gb_cents=sub.get("max_eur_per_gb_cents"),
        max_year_cents=sub.get("max_year_cents"),
    )


def subscription_matches(sub: Mapping, kind: str, item: dict) -> bool:
    """Does an event of `kind` about the offer `item` concern the subscription `sub`?"""
    kinds = sub.get("kinds") or ()
    return (not kinds or kind in kinds) and subscription_filter(sub).matches(item)


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
        matches = SubscriptionIndex(subs).match([(e.kind, e.item) for e in events])
        return queue(session, events, matches, subs, now).total
