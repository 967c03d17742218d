"""Change detection on a real SQLite file: data-driven crawl sequences (tests/data/detect/*.json), idempotence,
recovery of a crawl stored but never detected, and the schema."""

import json
import logging
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from alerts import detect
from alerts.detect import detect_after_crawl, detect_crawl, detect_pending
from contract.offer import InvalidOffer, normalise
from spiders.crawl_rules import CrawlFacts, CrawlItems, crawl_status
from storage.engine import get_engine
from storage.models import CrawlRun, Offer, OfferEvent, OfferVersion
from storage.repository import list_events, record_crawl

CASES = sorted((Path(__file__).parent / "data" / "detect").glob("*.json"))


def item(operator="iliad", **fields):
    key = fields["offer_key"]
    return normalise(
        {
            "operator": operator,
            "name": key.upper(),
            "url": f"https://example.it/{key}",
            "plan_type": "prepaid",
            "period_days": 30,
            **fields,
        }
    )


def store(items, operator="iliad", status="healthy", day="2026-09-15", url=None):
    at = datetime.fromisoformat(day).replace(hour=12, tzinfo=timezone.utc)
    return record_crawl(
        operator=operator,
        started_at=at,
        finished_at=at,
        finish_reason="finished",
        status=status,
        items=[item(operator, **i) for i in items],
        items_scraped=len(items),
        dropped={},
        error=None if status == "healthy" else "boom",
        database_url=url,
    ).run_id


def card(operator="iliad", **fields):
    """A card as a spider yields it: the fields given (any of them may be invalid), defaults for the rest."""
    key = fields.get("offer_key")
    name = key.upper() if isinstance(key, str) else "NO KEY"
    return {
        "operator": operator,
        "name": name,
        "url": f"https://example.it/{key}",
        "plan_type": "prepaid",
        "period_days": 30,
        **fields,
    }


def store_cards(cards, operator="iliad", status=None, day="2026-09-15"):
    """One crawl of these cards through the rules every crawl and import uses (spiders/crawl_rules.py); its
    status is the one those rules decide unless the case forces one (a failed crawl, a block page)."""
    crawl = CrawlItems()
    for c in cards:
        try:
            crawl.add(card(operator, **c))
        except InvalidOffer:
            pass
    decided, error = crawl_status(CrawlFacts("finished", crawl, 1))
    at = datetime.fromisoformat(day).replace(hour=12, tzinfo=timezone.utc)
    result = record_crawl(
        operator=operator,
        started_at=at,
        finished_at=at,
        finish_reason="finished",
        status=status or decided,
        items=crawl.items,
        items_scraped=crawl.seen,
        dropped=crawl.dropped,
        error=error if status is None else "boom",
        invalid_keys=crawl.seen_invalid_keys,
        dropped_cards=crawl.cards,
    )
    return result.run_id, decided


def stored_offers(operator="iliad"):
    """offer_key -> (price of the current version, versions, missed crawls, active)."""
    with Session(get_engine()) as s:
        offers = s.execute(select(Offer).where(Offer.operator == operator)).scalars().all()
        return {
            o.offer_key: (
                s.get(OfferVersion, o.current_version_id).data["price_cents"],
                s.execute(select(func.count()).where(OfferVersion.offer_id == o.id)).scalar(),
                o.missed_crawls,
                o.active,
            )
            for o in offers
        }


def inactive(url, operator=None):
    with Session(get_engine(url)) as s:
        query = select(Offer.offer_key).where(Offer.active.is_(False))
        if operator:
            query = query.where(Offer.operator == operator)
        return sorted(s.execute(query).scalars())


def essentials(events):
    return [
        (e["crawl_run_id"], e["operator"], e["offer_key"], e["kind"], e["price_before"], e["price_after"], e["changes"])
        for e in events
    ]


@pytest.mark.parametrize("case_file", CASES, ids=[c.stem for c in CASES])
def test_case(tmp_db, case_file):
    case = json.loads(case_file.read_text())
    removed_after = case.get("removed_after", 2)
    for n, crawl in enumerate(case["crawls"]):
        operator = crawl.get("operator", "iliad")
        run_id, decided = store_cards(
            crawl["items"], operator=operator, status=crawl.get("status"), day=crawl.get("day", "2026-09-15")
        )
        if "status" not in crawl:  # else the case forces an unhealthy crawl (failed, blocked, partial)
            assert decided == crawl.get("decided", "healthy"), f"crawl {n}: status {decided}"
        events = detect_crawl(run_id, removed_after=removed_after)
        assert all(e["crawl_run_id"] == run_id for e in events)
        got = sorted((e["offer_key"], e["kind"]) for e in events)
        want = sorted((e["offer_key"], e["kind"]) for e in crawl["events"])
        assert got == want, f"crawl {n}: {events}"
        by_key = {e["offer_key"]: e for e in events}
        for expected in crawl["events"]:
            actual = by_key[expected["offer_key"]]
            for field, value in expected.items():
                assert actual[field] == value, f"crawl {n}, {expected['offer_key']}.{field}: {actual[field]!r}"
            assert actual["item"]["offer_key"] == expected["offer_key"] and actual["version_id"]
        if "inactive" in crawl:
            assert inactive(None, operator) == sorted(crawl["inactive"]), f"crawl {n}"
        with Session(get_engine()) as s:
            run = s.get(CrawlRun, run_id)
            assert (run.detected_at is not None) == (run.status == "healthy")
            dropped = [(c["offer_key"], c["reason"]) for c in (run.presence or {}).get("dropped", [])]
        assert dropped == [tuple(d) for d in crawl.get("dropped", [])], f"crawl {n}"
        if "offers" in crawl:  # offer_key -> [current version's price, versions, missed crawls, active]
            assert stored_offers(operator) == {k: tuple(v) for k, v in crawl["offers"].items()}, f"crawl {n}"


def test_detection_is_idempotent(tmp_db):
    base = store([{"offer_key": "a", "price_cents": 999}])
    assert detect_crawl(base) == [] and detect_crawl(base) == []
    run_id = store([{"offer_key": "a", "price_cents": 899}, {"offer_key": "b", "price_cents": 500}])
    events = detect_crawl(run_id)
    assert sorted(e["kind"] for e in events) == ["new", "price_drop"]
    assert detect_crawl(run_id) == [] and detect_pending() == []
    assert len(list_events()) == 2


def test_one_event_per_offer_per_crawl_is_a_constraint(tmp_db):
    store([{"offer_key": "a", "price_cents": 999}])
    run_id = store([{"offer_key": "a", "price_cents": 899}])
    (event,) = detect_crawl(run_id)
    with Session(get_engine()) as s, pytest.raises(IntegrityError):
        with s.begin():
            s.add(
                OfferEvent(
                    crawl_run_id=run_id,
                    offer_id=event["offer_id"],
                    operator="iliad",
                    offer_key="a",
                    kind="changed",
                    created_at=datetime.now(timezone.utc),
                    item={},
                )
            )


SEQUENCE = [  # price drop, removal over two crawls, return, a new offer
    [
        {"offer_key": "a", "price_cents": 999},
        {"offer_key": "b", "price_cents": 699},
        {"offer_key": "c", "price_cents": 499},
    ],
    [{"offer_key": "a", "price_cents": 899}, {"offer_key": "b", "price_cents": 699}],
    [{"offer_key": "a", "price_cents": 899}, {"offer_key": "b", "price_cents": 699}],
    [
        {"offer_key": "a", "price_cents": 899},
        {"offer_key": "b", "price_cents": 699},
        {"offer_key": "c", "price_cents": 499},
        {"offer_key": "d", "price_cents": 1299},
    ],
]


def test_crash_between_store_and_detect_is_recovered(tmp_path):
    normal, crashed = (f"sqlite:///{tmp_path / name}.db" for name in ("normal", "crashed"))
    expected = []
    for items in SEQUENCE:
        expected += detect_crawl(store(items, url=normal), database_url=normal)
    # the same crawls, but the process died after storing crawls 1-3 each time: nothing detected then
    runs = [store(items, url=crashed) for items in SEQUENCE[:3]]
    with Session(get_engine(crashed)) as s:
        assert all(s.get(CrawlRun, r).detected_at is None for r in runs)
    recovered = detect_crawl(store(SEQUENCE[3], url=crashed), database_url=crashed)
    assert essentials(recovered) == essentials(expected)
    assert [e["kind"] for e in expected] == ["price_drop", "removed", "returned", "new"]
    assert inactive(normal) == inactive(crashed) == []


def test_detect_pending_alone(tmp_db):
    base = store([{"offer_key": "a", "price_cents": 999}])
    second = store([{"offer_key": "a", "price_cents": 1099}])
    events = detect_pending()
    assert [(e["crawl_run_id"], e["kind"]) for e in events] == [(second, "price_rise")]
    with Session(get_engine()) as s:
        assert s.get(CrawlRun, base).detected_at is not None
    assert detect_pending() == []


def test_detection_error_keeps_the_crawl_pending(tmp_db, monkeypatch, caplog):
    store([{"offer_key": "a", "price_cents": 999}])
    detect_pending()
    run_id = store([{"offer_key": "a", "price_cents": 899}])

    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    with monkeypatch.context() as patch, caplog.at_level(logging.ERROR, logger="alerts.detect"):
        patch.setattr(detect, "_events", boom)
        assert detect_after_crawl(run_id) is None
    assert "stays pending" in caplog.text
    with Session(get_engine()) as s:
        assert s.get(CrawlRun, run_id).detected_at is None
        assert s.execute(select(func.count()).select_from(OfferEvent)).scalar() == 0
    later = store([{"offer_key": "a", "price_cents": 899}, {"offer_key": "b", "price_cents": 100}])
    events = detect_after_crawl(later)
    assert [(e["crawl_run_id"], e["kind"]) for e in events] == [(run_id, "price_drop"), (later, "new")]


def test_thresholds_from_environment(monkeypatch):
    assert detect.thresholds() == {"removed_after": 2, "expiring_days": 3}
    monkeypatch.setenv("PROMOWATCH_REMOVED_AFTER", "4")
    monkeypatch.setenv("PROMOWATCH_EXPIRING_DAYS", "7")
    assert detect.thresholds() == {"removed_after": 4, "expiring_days": 7}


def test_storage_records_presence_and_does_not_reset_a_removed_offer_silently(tmp_db):
    store([{"offer_key": "a", "price_cents": 999}, {"offer_key": "b", "price_cents": 699}])
    runs = [store([{"offer_key": "a", "price_cents": 999}]) for _ in range(2)]
    with Session(get_engine()) as s:
        ids = dict(s.execute(select(Offer.offer_key, Offer.id)).all())
        b = str(ids["b"])
        assert [s.get(CrawlRun, r).presence for r in runs] == [
            {"missed": {b: 1}, "back": {}},
            {"missed": {b: 2}, "back": {}},
        ]
    detect_pending()
    assert inactive(tmp_db) == ["b"]
    again = store([{"offer_key": "a", "price_cents": 999}])  # an inactive offer still missing: nothing to note
    back = store([{"offer_key": "a", "price_cents": 999}, {"offer_key": "b", "price_cents": 699}])
    with Session(get_engine()) as s:
        assert s.get(CrawlRun, again).presence == {"missed": {}, "back": {}}
        assert s.get(CrawlRun, back).presence == {"missed": {}, "back": {b: 3}}
        failed = s.get(CrawlRun, store([], status="failed"))
        assert failed.presence is None


def test_events_listing_filters(tmp_db):
    store([{"offer_key": "a", "price_cents": 999}])
    store([{"offer_key": "a", "price_cents": 999}], operator="ho")
    store([{"offer_key": "a", "price_cents": 899}, {"offer_key": "b", "price_cents": 100}])
    store([{"offer_key": "a", "price_cents": 699}], operator="ho")
    detect_pending()
    assert len(list_events()) == 3
    assert [e["offer_key"] for e in list_events(operator="iliad", kind="new")] == ["b"]
    assert [e["operator"] for e in list_events(kind="price_drop")] == ["ho", "iliad"]  # newest first
    assert len(list_events(limit=1)) == 1
    assert list_events(since=datetime(2999, 1, 1)) == []
    assert len(list_events(since=datetime(2000, 1, 1, tzinfo=timezone.utc))) == 3


def test_upgrade_from_0001_keeps_history_as_baseline(tmp_db):
    from alembic import command
    from alembic.config import Config

    from storage.engine import MIGRATIONS, upgrade

    store([{"offer_key": "a", "price_cents": 999}])
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", tmp_db)
    command.downgrade(cfg, "0001_initial")  # a database as it was before change events
    upgrade(tmp_db)
    with Session(get_engine()) as s:
        assert s.get(CrawlRun, 1).detected_at is not None  # old crawls count as detected
    events = detect_crawl(store([{"offer_key": "a", "price_cents": 899}]))
    assert [e["kind"] for e in events] == ["price_drop"]
