"""Price context of a price event (camelcamelcamel's "good deal"): how the new price compares with the offer's own
history — its lowest in the last 90 days and ever, whether it is the first time under a round euro figure.

Computed when messages are prepared (alerts.deliver), for all the events of a batch in one query over
OfferVersion, so a price change sent to many subscribers costs one read, not one per subscriber. The history is
what was stored before the event: every version's price held from its `valid_from` to its `valid_to` (the
event's time for one still valid). 12-month cost and €/GB need no history: the renderer takes them from the item
(contract.offer_query).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterable

from sqlalchemy import select
from sqlmodel import Session, col

from storage.models import OfferVersion
from storage.repository import as_utc

#: the window of "lowest in 90 days"
WINDOW = timedelta(days=90)
#: the events whose message is about a price
PRICE_KINDS = ("price_drop", "price_rise", "new", "returned")
_IN = 500


def _moment(value) -> datetime | None:
    if value is None:
        return None
    return as_utc(value if isinstance(value, datetime) else datetime.fromisoformat(str(value)))


def context_of(price: int, before: int | None, history: Iterable[tuple[datetime, datetime, int]], at: datetime) -> dict:
    """The context of `price` at `at` given the earlier prices `history` ((start, end, cents) each): the lows
    include the new price; `low_90`/`low_ever` say whether it is below every earlier price of the window / ever
    (an offer without earlier prices has no badge); `under` the round euros it is for the first time under."""
    steps = list(history)
    earlier_90 = [c for start, end, c in steps if end >= at - WINDOW]
    earlier = [c for _, _, c in steps]
    threshold = (price // 100 + 1) * 100
    return {
        "low_90_cents": min(earlier_90 + [price]),
        "low_ever_cents": min(earlier + [price]),
        "is_low_90": bool(earlier_90) and price < min(earlier_90),
        "is_low_ever": bool(earlier) and price < min(earlier),
        "first_under_cents": threshold if earlier and min(earlier) >= threshold else None,
        "change_cents": price - before if before is not None else None,
        "change_percent": round((price - before) * 100 / before) if before else None,
        "history_since": min((start for start, _, _ in steps), default=None),
    }


def price_contexts(session: Session, events: list[dict]) -> dict[int, dict]:
    """event id -> its price context, for the price events among `events` (event_dict shape, with offer_id)."""
    wanted = [e for e in events if e.get("kind") in PRICE_KINDS and e.get("offer_id") is not None]
    offer_ids = sorted({e["offer_id"] for e in wanted})
    versions: dict[int, list[tuple[int, datetime, datetime | None, int]]] = {}
    for start in range(0, len(offer_ids), _IN):
        rows = session.execute(
            select(
                col(OfferVersion.offer_id),
                col(OfferVersion.id),
                col(OfferVersion.valid_from),
                col(OfferVersion.valid_to),
                col(OfferVersion.data),
            )
            .where(col(OfferVersion.offer_id).in_(offer_ids[start : start + _IN]))
            .order_by(col(OfferVersion.offer_id), col(OfferVersion.valid_from), col(OfferVersion.id))
        )
        for offer_id, version_id, valid_from, valid_to, data in rows:
            versions.setdefault(offer_id, []).append(
                (version_id, as_utc(valid_from), _moment(valid_to), int(data["price_cents"]))
            )
    out = {}
    for event in wanted:
        at = _moment(event.get("created_at"))
        price = event.get("price_after")
        if at is None or price is None:
            continue
        history = [
            (start, min(end or at, at), cents)
            for version_id, start, end, cents in versions.get(event["offer_id"], ())
            if start < at and version_id != event.get("version_id")
        ]
        out[event["id"]] = context_of(price, event.get("price_before"), history, at)
    return out
