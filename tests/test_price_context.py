"""Price context of price events (alerts/price_context.py) on a real SQLite file: the offer's lows in 90 days and
ever from its stored OfferVersions, "first time under N €", the change in % — one query for a whole batch — and
the lines a delivered message carries."""

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event as sa_event
from sqlmodel import Session

from alerts.price_context import context_of, price_contexts
from contract.offer import normalise
from storage.models import CrawlRun, Offer, OfferEvent, OfferVersion
from storage.repository import event_dict

AT = datetime(2026, 12, 7, 9, 0, tzinfo=timezone.utc)


def item(key: str, price: int) -> dict:
    return normalise(
        {
            "operator": "iliad",
            "offer_key": key,
            "name": f"Giga {key}",
            "url": f"https://www.iliad.it/{key}",
            "plan_type": "prepaid",
            "price_cents": price,
            "period_days": 30,
            "data_gb": 200,
        }
    )


def add_offer(engine, key: str, prices: list[tuple[int, int]], new_price: int, kind="price_drop") -> int:
    """An offer whose price was prices[i][1] from prices[i][0] days before AT to the next one, then `new_price`
    from AT (the event's version); the event id."""
    with Session(engine) as s:
        run = CrawlRun(operator="iliad", started_at=AT, finished_at=AT, finish_reason="finished", status="healthy")
        offer = Offer(
            operator="iliad", offer_key=key, name=key, plan_type="prepaid", price_cents=new_price,
            data=item(key, new_price), content_hash=key, first_seen=AT, last_seen=AT,
        )  # fmt: skip
        s.add_all([run, offer])
        s.flush()
        starts = [AT - timedelta(days=d) for d, _ in prices] + [AT]
        versions = [
            OfferVersion(
                offer_id=offer.id,
                crawl_run_id=run.id,
                data=item(key, price),
                content_hash=f"{key}{n}",
                valid_from=starts[n],
                valid_to=starts[n + 1] if n < len(prices) else None,
            )  # fmt: skip
            for n, price in enumerate([p for _, p in prices] + [new_price])
        ]
        s.add_all(versions)
        s.flush()
        ev = OfferEvent(
            crawl_run_id=run.id, offer_id=offer.id, operator="iliad", offer_key=key, kind=kind, created_at=AT,
            price_before=prices[-1][1] if prices else None, price_after=new_price, changes={},
            item=item(key, new_price), version_id=versions[-1].id,
        )  # fmt: skip
        s.add(ev)
        s.commit()
        return ev.id


@pytest.mark.parametrize(
    "price, before, history, want",
    [
        # 8,99 for 100 days, 9,99 in the last 10: 7,99 is the lowest in 90 days and ever, first time under 8 €
        (799, 999, [(200, 10, 899), (10, 0, 999)], dict(is_low_90=True, is_low_ever=True, first_under_cents=800)),
        # 9,49 after 9,99: 8,99 was seen within 90 days
        (949, 999, [(60, 10, 899), (10, 0, 999)], dict(is_low_90=False, is_low_ever=False, low_90_cents=899)),
        # 8,99 was more than 90 days ago: lowest in 90 days, not ever
        (949, 999, [(300, 120, 899), (120, 0, 999)], dict(is_low_90=True, is_low_ever=False, low_ever_cents=899)),
        # 7,50 after 7,99: not under a new round figure (7,99 < 8 € already)
        (750, 799, [(30, 0, 799)], dict(first_under_cents=None, change_cents=-49, change_percent=-6)),
        # a rise
        (1099, 999, [(30, 0, 999)], dict(is_low_90=False, change_cents=100, change_percent=10)),
        # a new offer: no history, no badge
        (799, None, [], dict(is_low_90=False, is_low_ever=False, first_under_cents=None, change_percent=None)),
    ],
)
def test_context_of(price, before, history, want):
    steps = [(AT - timedelta(days=a), AT - timedelta(days=b), c) for a, b, c in history]
    got = context_of(price, before, steps, AT)
    assert {k: got[k] for k in want} == want


def test_one_query_for_a_batch_of_events_from_stored_versions(engine):
    low = add_offer(engine, "a", [(200, 899), (10, 999)], 799)
    mid = add_offer(engine, "b", [(60, 899), (10, 999)], 949)
    new = add_offer(engine, "c", [], 599, kind="new")
    with Session(engine) as s:
        events = [event_dict(s.get(OfferEvent, i)) for i in (low, mid, new)]
    statements = []
    sa_event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with Session(engine) as s:
        got = price_contexts(s, events * 50)  # the same events for many subscribers: still one query
    assert len([q for q in statements if "offer_version" in q]) == 1
    assert got[low]["is_low_ever"] and got[low]["first_under_cents"] == 800 and got[low]["low_90_cents"] == 799
    assert not got[mid]["is_low_90"] and got[mid]["low_90_cents"] == 899 and got[mid]["change_percent"] == -5
    assert got[new]["history_since"] is None and not got[new]["is_low_ever"]  # its own version is not history
