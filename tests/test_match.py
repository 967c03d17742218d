"""Matching events to subscriptions and the outbox rows it writes, on a real SQLite file.

Filter semantics are table-driven (tests/data/match/*.json: a subscription's filters + an event -> match or
not, and why), checked on both the index and the one-pair definition. The rest runs real crawls through
record_crawl + detect_crawl: rows written with the events (or neither), debounce, quiet hours, digests,
inactive subscriptions.
"""

import json
import logging
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlmodel import Session

from alerts import detect, match, outbox, subscription_index
from alerts.detect import detect_after_crawl, detect_crawl
from alerts.match import subscription_matches
from alerts.outbox import quiet_until, schedule
from alerts.subscription_index import SubscriptionIndex
from alerts.subscriptions import store_subscriptions, subscription_spec
from contract.offer import normalise
from storage.engine import get_engine
from storage.models import CrawlRun, Notification, OfferEvent, Subscription
from storage.repository import record_crawl

CASE_FILES = sorted((Path(__file__).parent / "data" / "match").glob("*.json"))
CASES = [(f.stem, case) for f in CASE_FILES for case in json.loads(f.read_text("utf-8"))["cases"]]
BASE_ITEM = {
    "operator": "iliad",
    "offer_key": "giga-150",
    "name": "Giga 150",
    "url": "https://example.it/giga-150",
    "plan_type": "prepaid",
    "price_cents": 999,
    "period_days": 30,
    "data_gb": 100.0,
    "data_unlimited": False,
    "data_5g": False,
    "eligibility": "all",
    "eligible_from": [],
}
SUB_DEFAULTS = {
    "digest": "off",
    "timezone": "Europe/Rome",
    "quiet_start": None,
    "quiet_end": None,
    "rearm_hours": 168,
    "operators": [],
    "plan_types": [],
    "kinds": [],
    "max_price_cents": None,
    "min_gb": None,
    "only_5g": False,
    "origin": None,
    "max_eur_per_gb_cents": None,
    "max_year_cents": None,
}
URL = "json://user:pw@127.0.0.1:8080/hook"


def sub_row(sid, **filters):
    return {"id": sid, **SUB_DEFAULTS, **filters}


def case_event(case):
    return case["event"].get("kind", "new"), {**BASE_ITEM, **case["event"].get("item", {})}


# --- the filters, table-driven ----------------------------------------------------------------------------


@pytest.mark.parametrize("case", [c for _, c in CASES], ids=[f"{stem}: {c['why']}" for stem, c in CASES])
def test_filter_case(case):
    sub = sub_row(1, **case["subscription"])
    kind, item = case_event(case)
    assert subscription_matches(sub, kind, item) is case["match"], case["why"]
    assert SubscriptionIndex([sub]).match([(kind, item)]) == ([[0]] if case["match"] else [[]]), case["why"]


def test_all_cases_in_one_index_agree_with_the_definition():
    subs = [sub_row(n, **case["subscription"]) for n, (_, case) in enumerate(CASES)]
    events = [case_event(case) for _, case in CASES]
    got = SubscriptionIndex(subs).match(events)
    for (kind, item), positions in zip(events, got, strict=False):
        assert positions == [p for p, s in enumerate(subs) if subscription_matches(s, kind, item)]
    assert any(len(p) > 1 for p in got)  # the index is shared, not one subscription per event


def random_subscription(rng, sid):
    ops = ["iliad", "ho", "very", "tim", "kena"]
    pick = lambda values, p: rng.sample(values, rng.randint(1, 2)) if rng.random() < p else []  # noqa: E731
    return sub_row(
        sid,
        operators=pick(ops, 0.5),
        plan_types=pick(["prepaid", "data_only", "tourist"], 0.3),
        kinds=pick(list(detect.KINDS), 0.5),
        max_price_cents=rng.choice([None, 499, 699, 799, 999, 1299]),
        min_gb=rng.choice([None, 0, 50, 100, 150.5, 300]),
        only_5g=rng.random() < 0.3,
        origin=rng.choice([None, None, "iliad", "tim"]),
        max_eur_per_gb_cents=rng.choice([None, None, 3.0, 5.0, 9.99]),
        max_year_cents=rng.choice([None, None, 9000, 12000]),
    )


def random_item(rng, n):
    unlimited = rng.random() < 0.1
    return {
        **BASE_ITEM,
        "operator": rng.choice(["iliad", "ho", "very", "tim", "kena"]),
        "offer_key": f"o{n}",
        "plan_type": rng.choice(["prepaid", "prepaid", "data_only", "tourist", "voice_only"]),
        "price_cents": rng.choice([499, 699, 799, 999, 1299, 1999]),
        "period_days": rng.choice([28, 30]),
        "data_gb": None if unlimited or rng.random() < 0.1 else rng.choice([50.0, 100.0, 150.5, 200.0, 300.0]),
        "data_unlimited": unlimited,
        "data_5g": rng.random() < 0.5,
        "eligibility": rng.choice(["all", "all", "portability", "new_number"]),
        "eligible_from": rng.choice([[], [], ["iliad"], ["tim", "vodafone"]]),
        "activation_cents": rng.choice([None, 0, 999]),
    }


def test_random_subscriptions_and_events_agree_with_the_definition():
    rng = random.Random(7)
    subs = [random_subscription(rng, n) for n in range(400)]
    events = [(rng.choice(detect.KINDS), random_item(rng, n)) for n in range(150)]
    got = SubscriptionIndex(subs).match(events)
    want = [[p for p, s in enumerate(subs) if subscription_matches(s, kind, item)] for kind, item in events]
    assert got == want
    assert 0 < sum(map(len, got)) < len(subs) * len(events)  # neither nothing nor everything


@pytest.mark.parametrize("n, density", [(1, 1.0), (9, 0.5), (4096, 0.001), (4096, 0.05), (4096, 0.5), (100_003, 0.01)])
def test_bit_positions_read_back(n, density):
    rng = random.Random(n)
    positions = sorted({0, n - 1} | set(rng.sample(range(n), int(n * density))))
    assert subscription_index._positions(subscription_index._bitset(positions, (n + 7) // 8), n) == positions
    assert subscription_index._positions(0, n) == []


def test_no_subscriptions():
    assert SubscriptionIndex([]).match([("new", BASE_ITEM)]) == [[]]


# --- times ----------------------------------------------------------------------------------------------------

ROME = "Europe/Rome"


def utc(text):
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "now, quiet, tz, due",
    [
        ("2026-12-02T22:30", ("22:00", "07:00"), ROME, "2026-12-03T06:00"),  # 23:30 CET -> 07:00 CET next day
        ("2026-12-02T02:00", ("22:00", "07:00"), ROME, "2026-12-02T06:00"),  # 03:00 CET, after midnight
        ("2026-12-02T20:59", ("22:00", "07:00"), ROME, "2026-12-02T20:59"),  # 21:59 CET: not quiet yet
        ("2026-12-02T06:00", ("22:00", "07:00"), ROME, "2026-12-02T06:00"),  # exactly 07:00: quiet is over
        ("2026-07-01T21:30", ("22:00", "07:00"), ROME, "2026-07-02T05:00"),  # 23:30 CEST -> 07:00 CEST
        ("2026-12-02T03:00", ("09:00", "18:00"), "Asia/Shanghai", "2026-12-02T10:00"),  # 11:00 CST -> 18:00 CST
        ("2026-12-02T12:00", None, ROME, "2026-12-02T12:00"),
    ],
)
def test_quiet_hours_due_at(now, quiet, tz, due):
    sub = sub_row(1, timezone=tz, quiet_start=quiet and quiet[0], quiet_end=quiet and quiet[1])
    assert schedule(sub, utc(now)) == (None, utc(due))


def test_quiet_until_is_none_outside():
    local = utc("2026-12-02T12:00").astimezone(outbox._zone(ROME))
    assert quiet_until(local, "22:00", "07:00") is None and quiet_until(local, None, None) is None


@pytest.mark.parametrize(
    "digest, now, tz, quiet, key, due",
    [
        (
            "daily",
            "2026-12-02T10:00",
            ROME,
            None,
            "daily:2026-12-03",
            "2026-12-03T07:00",
        ),  # 11:00 CET -> tomorrow 08:00
        ("daily", "2026-12-02T06:59", ROME, None, "daily:2026-12-02", "2026-12-02T07:00"),  # 07:59 CET -> today 08:00
        ("daily", "2026-12-02T07:00", ROME, None, "daily:2026-12-03", "2026-12-03T07:00"),  # 08:00 sharp: next one
        ("daily", "2026-12-02T23:30", ROME, None, "daily:2026-12-03", "2026-12-03T07:00"),  # 00:30 CET on the 3rd
        ("daily", "2026-07-01T10:00", ROME, None, "daily:2026-07-02", "2026-07-02T06:00"),  # summer time
        (
            "daily",
            "2026-12-02T10:00",
            ROME,
            ("07:00", "09:00"),
            "daily:2026-12-03",
            "2026-12-03T08:00",
        ),  # quiet at 08:00
        ("weekly", "2026-12-02T10:00", ROME, None, "weekly:2026-12-07", "2026-12-07T07:00"),  # Wednesday -> Monday
        ("weekly", "2026-12-07T06:00", ROME, None, "weekly:2026-12-07", "2026-12-07T07:00"),  # Monday 07:00 CET
        ("weekly", "2026-12-07T07:00", ROME, None, "weekly:2026-12-14", "2026-12-14T07:00"),  # Monday 08:00: next week
        ("daily", "2026-12-02T10:00", "America/New_York", None, "daily:2026-12-02", "2026-12-02T13:00"),  # 05:00 EST
    ],
)
def test_digest_period_and_send_time(digest, now, tz, quiet, key, due):
    sub = sub_row(1, digest=digest, timezone=tz, quiet_start=quiet and quiet[0], quiet_end=quiet and quiet[1])
    assert schedule(sub, utc(now)) == (key, utc(due))


def test_send_times_are_module_constants():
    assert (outbox.DAILY_AT.hour, outbox.WEEKLY_AT.hour, outbox.WEEKLY_ON) == (8, 8, 0)


# --- on a database, through detection ---------------------------------------------------------------------


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


def crawl(items, at, operator="iliad", monkeypatch=None):
    """Store a healthy crawl finished at `at` (UTC ISO) and detect it with the clock at `at`."""
    moment = utc(at)
    run_id = record_crawl(
        operator=operator,
        started_at=moment,
        finished_at=moment,
        finish_reason="finished",
        status="healthy",
        items=[item(operator, **i) for i in items],
        items_scraped=len(items),
        dropped={},
        error=None,
    ).run_id
    monkeypatch.setattr(detect, "utcnow", lambda: moment)
    return detect_crawl(run_id)


def subscribe(channels=1, active=True, **options):
    urls = [f"{URL}{n}" for n in range(channels)]
    (sid,) = store_subscriptions([subscription_spec(urls, **options)])
    if not active:
        with Session(get_engine()) as s, s.begin():
            s.execute(update(Subscription).where(Subscription.id == sid).values(active=False))
    return sid


def notifications(**where):
    with Session(get_engine()) as s:
        query = select(Notification).order_by(Notification.id)
        for column, value in where.items():
            query = query.where(getattr(Notification, column) == value)
        return s.execute(query).scalars().all()


def rows_of(sid):
    return [(n.offer_key, n.kind, n.price_cents) for n in notifications(subscription_id=sid)]


@pytest.fixture(params=["by_chunks", "whole_table"])
def both_reads(request, monkeypatch):
    """Queueing's reads both ways: IN (...) lists of ids, and (a fan-out past WHOLE_TABLE_FROM subscriptions) one
    statement over the table with the other ids dropped in Python; the rows written must not differ."""
    if request.param == "whole_table":
        monkeypatch.setattr(outbox, "WHOLE_TABLE_FROM", 0)
    return request.param


@pytest.mark.usefixtures("both_reads")
def test_detection_writes_one_row_per_matching_channel_and_event(tmp_db, monkeypatch):
    cheap = subscribe(channels=2, operators=["iliad"], max_price="9,99")
    other_operator = subscribe(operators=["ho"])
    drops = subscribe(kinds=["price_drop"])
    gone = subscribe(active=False)
    big = subscribe(min_gb=100)
    assert (
        crawl(
            [{"offer_key": "a", "price_cents": 999, "data_gb": 50}, {"offer_key": "b", "price_cents": 1299}],
            "2026-12-02T10:00",
            monkeypatch=monkeypatch,
        )
        == []
    )  # baseline: no events, no rows
    assert notifications() == []
    events = crawl(
        [
            {"offer_key": "a", "price_cents": 899, "data_gb": 50},
            {"offer_key": "b", "price_cents": 1299},
            {"offer_key": "c", "price_cents": 499, "data_gb": 200},
        ],
        "2026-12-02T11:00",
        monkeypatch=monkeypatch,
    )
    ids = {e["offer_key"]: e["id"] for e in events}
    assert sorted((e["offer_key"], e["kind"]) for e in events) == [("a", "price_drop"), ("c", "new")]
    rows = notifications()
    got = sorted((n.subscription_id, n.channel_id, n.event_id, n.kind, n.price_cents) for n in rows)
    with Session(get_engine()) as s:
        from storage.models import SubscriptionChannel

        channel = dict(s.execute(select(SubscriptionChannel.id, SubscriptionChannel.subscription_id)).all())
    chans = lambda sid: sorted(c for c, owner in channel.items() if owner == sid)  # noqa: E731
    want = sorted(
        [(cheap, c, ids["a"], "price_drop", 899) for c in chans(cheap)]
        + [(cheap, c, ids["c"], "new", 499) for c in chans(cheap)]
        + [(drops, chans(drops)[0], ids["a"], "price_drop", 899), (big, chans(big)[0], ids["c"], "new", 499)]
    )
    assert got == want
    assert not [n for n in rows if n.subscription_id in (other_operator, gone)]
    for n in rows:
        assert (n.status, n.attempts, n.digest, n.event_ids, n.operator) == ("pending", 0, None, [], "iliad")
        assert outbox._utc(n.due_at) == outbox._utc(n.created_at) == utc("2026-12-02T11:00")


def test_a_failing_match_writes_neither_events_nor_notifications(tmp_db, monkeypatch, caplog):
    sid = subscribe()
    crawl([{"offer_key": "a", "price_cents": 999}], "2026-12-02T10:00", monkeypatch=monkeypatch)
    run_id = record_crawl(
        operator="iliad",
        started_at=utc("2026-12-02T11:00"),
        finished_at=utc("2026-12-02T11:00"),
        finish_reason="finished",
        status="healthy",
        items=[item(offer_key="a", price_cents=899)],
        items_scraped=1,
        dropped={},
        error=None,
    ).run_id

    def boom(*args, **kwargs):
        raise RuntimeError("outbox on fire")

    with monkeypatch.context() as patch, caplog.at_level(logging.ERROR, logger="alerts.detect"):
        patch.setattr(match, "queue", boom)
        assert detect_after_crawl(run_id) is None
    assert "stays pending" in caplog.text
    with Session(get_engine()) as s:
        assert s.get(CrawlRun, run_id).detected_at is None
        assert s.execute(select(func.count()).select_from(OfferEvent)).scalar() == 0
    assert notifications() == []
    events = detect_after_crawl(run_id)  # the next attempt does both
    assert [e["kind"] for e in events] == ["price_drop"]
    assert [(n.subscription_id, n.event_id) for n in notifications()] == [(sid, events[0]["id"])]


@pytest.mark.usefixtures("both_reads")
def test_debounce_same_price_again_price_moves_and_rearm(tmp_db, monkeypatch):
    sid = subscribe(kinds=["price_drop", "price_rise"], rearm_hours=24)
    t0 = datetime(2026, 12, 2, 10, tzinfo=timezone.utc)
    at = lambda hours: (t0 + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M")  # noqa: E731
    steps = [
        (0, 999, None),
        (1, 899, ("a", "price_drop", 899)),
        (2, 999, ("a", "price_rise", 999)),
        (3, 899, None),  # the same drop to 8,99 again within 24 h: held back
        (4, 999, None),  # the same rise to 9,99 again: held back
        (5, 799, ("a", "price_drop", 799)),  # the price moved: alerts
        (26, 999, ("a", "price_rise", 999)),
    ]  # 25 h after the last rise alert: re-armed
    want = []
    for hours, price, expected in steps:
        events = crawl([{"offer_key": "a", "price_cents": price}], at(hours), monkeypatch=monkeypatch)
        assert len(events) == (0 if hours == 0 else 1)
        if expected:
            want.append(expected)
        assert rows_of(sid) == want, f"after hour {hours}"


@pytest.mark.usefixtures("both_reads")
def test_debounce_counts_events_in_digests(tmp_db, monkeypatch):
    sid = subscribe(digest="daily", kinds=["price_drop", "price_rise"])
    crawl([{"offer_key": "a", "price_cents": 999}], "2026-12-02T09:00", monkeypatch=monkeypatch)
    crawl([{"offer_key": "a", "price_cents": 899}], "2026-12-02T10:00", monkeypatch=monkeypatch)
    crawl([{"offer_key": "a", "price_cents": 999}], "2026-12-02T11:00", monkeypatch=monkeypatch)
    again = crawl([{"offer_key": "a", "price_cents": 899}], "2026-12-02T12:00", monkeypatch=monkeypatch)
    (row,) = notifications(subscription_id=sid)
    assert again[0]["id"] not in row.event_ids and len(row.event_ids) == 2


@pytest.mark.usefixtures("both_reads")
def test_changed_at_the_same_price_is_debounced(tmp_db, monkeypatch):
    sid = subscribe(kinds=["changed"])
    crawl([{"offer_key": "a", "price_cents": 999, "data_gb": 100}], "2026-12-02T09:00", monkeypatch=monkeypatch)
    crawl([{"offer_key": "a", "price_cents": 999, "data_gb": 150}], "2026-12-02T10:00", monkeypatch=monkeypatch)
    crawl([{"offer_key": "a", "price_cents": 999, "data_gb": 200}], "2026-12-02T11:00", monkeypatch=monkeypatch)
    assert rows_of(sid) == [("a", "changed", 999)]


@pytest.mark.usefixtures("both_reads")
def test_quiet_hours_push_due_at(tmp_db, monkeypatch):
    quiet = subscribe(quiet="22:00-07:00")
    loud = subscribe()
    crawl([{"offer_key": "a", "price_cents": 999}], "2026-12-02T20:00", monkeypatch=monkeypatch)
    crawl([{"offer_key": "a", "price_cents": 899}], "2026-12-02T22:30", monkeypatch=monkeypatch)  # 23:30 in Rome
    (q,) = notifications(subscription_id=quiet)
    (n,) = notifications(subscription_id=loud)
    assert outbox._utc(q.due_at) == utc("2026-12-03T06:00") and outbox._utc(q.created_at) == utc("2026-12-02T22:30")
    assert outbox._utc(n.due_at) == utc("2026-12-02T22:30")


@pytest.mark.usefixtures("both_reads")
def test_digest_rows_collect_events(tmp_db, monkeypatch):
    daily = subscribe(channels=2, digest="daily", quiet="07:30-08:30")
    weekly = subscribe(digest="weekly", tz="Asia/Shanghai")
    crawl(
        [{"offer_key": "a", "price_cents": 999}, {"offer_key": "b", "price_cents": 699}],
        "2026-12-02T08:00",
        monkeypatch=monkeypatch,
    )
    first = crawl(
        [{"offer_key": "a", "price_cents": 899}, {"offer_key": "b", "price_cents": 599}],
        "2026-12-02T10:00",
        monkeypatch=monkeypatch,
    )
    second = crawl(
        [
            {"offer_key": "a", "price_cents": 899},
            {"offer_key": "b", "price_cents": 599},
            {"offer_key": "c", "price_cents": 499},
        ],
        "2026-12-02T15:00",
        monkeypatch=monkeypatch,
    )
    ids = [e["id"] for e in first + second]
    rows = notifications(subscription_id=daily)
    assert len(rows) == 2 and len({n.channel_id for n in rows}) == 2  # one digest row per channel
    for n in rows:
        assert (n.digest, n.event_id, n.status, n.kind) == ("daily:2026-12-03", None, "pending", None)
        assert n.price_cents is None
        assert sorted(n.event_ids) == sorted(ids)
        assert outbox._utc(n.due_at) == utc("2026-12-03T07:30")  # 08:00 Rome is in quiet hours until 08:30
    (w,) = notifications(subscription_id=weekly)
    assert w.digest == "weekly:2026-12-07" and outbox._utc(w.due_at) == utc("2026-12-07T00:00")  # Mon 08:00 CST
    assert sorted(w.event_ids) == sorted(ids)
    # after the daily send time in Rome (08:00 CET = 07:00 UTC), events go to the next day's digest
    third = crawl(
        [
            {"offer_key": "a", "price_cents": 799},
            {"offer_key": "b", "price_cents": 599},
            {"offer_key": "c", "price_cents": 499},
        ],
        "2026-12-03T07:05",
        monkeypatch=monkeypatch,
    )
    later = [n for n in notifications(subscription_id=daily) if n.digest == "daily:2026-12-04"]
    assert len(later) == 2 and all(n.event_ids == [third[0]["id"]] for n in later)
    # a digest already claimed by the sender is not appended to: a new row opens for the same period
    with Session(get_engine()) as s, s.begin():
        s.execute(update(Notification).where(Notification.digest == "daily:2026-12-04").values(status="sending"))
    fourth = crawl(
        [
            {"offer_key": "a", "price_cents": 699},
            {"offer_key": "b", "price_cents": 599},
            {"offer_key": "c", "price_cents": 499},
        ],
        "2026-12-03T09:00",
        monkeypatch=monkeypatch,
    )
    fresh = [n for n in notifications(subscription_id=daily, status="pending") if n.digest == "daily:2026-12-04"]
    assert len(fresh) == 2 and all(n.event_ids == [fourth[0]["id"]] for n in fresh)


def test_inactive_subscription_gets_nothing(tmp_db, monkeypatch):
    sid = subscribe()
    crawl([{"offer_key": "a", "price_cents": 999}], "2026-12-02T10:00", monkeypatch=monkeypatch)
    with Session(get_engine()) as s, s.begin():
        s.get(Subscription, sid).active = False
    assert crawl([{"offer_key": "a", "price_cents": 899}], "2026-12-02T11:00", monkeypatch=monkeypatch)
    assert notifications() == []


@pytest.mark.usefixtures("both_reads")
def test_removed_event_is_matched_on_the_last_item(tmp_db, monkeypatch):
    sid = subscribe(kinds=["removed"], max_price="9,99", min_gb=100)
    pricey = subscribe(kinds=["removed"], max_price="5")
    crawl(
        [{"offer_key": "a", "price_cents": 999, "data_gb": 150}, {"offer_key": "b", "price_cents": 499}],
        "2026-12-02T10:00",
        monkeypatch=monkeypatch,
    )
    crawl([{"offer_key": "b", "price_cents": 499}], "2026-12-02T11:00", monkeypatch=monkeypatch)
    (removed,) = crawl([{"offer_key": "b", "price_cents": 499}], "2026-12-02T12:00", monkeypatch=monkeypatch)
    assert removed["kind"] == "removed"
    assert rows_of(sid) == [("a", "removed", 999)] and rows_of(pricey) == []


@pytest.fixture(params=["native", "executemany"])
def write_path(request, monkeypatch):
    """The database's own bulk write (COPY on PostgreSQL), or the driver's executemany on any database."""
    if request.param == "executemany":
        monkeypatch.setattr(outbox, "copies", lambda dialect: False)
    return request.param


@pytest.mark.usefixtures("write_path")
def test_bulk_insert_raises_sqlalchemy_errors(tmp_db, monkeypatch):
    """A row the outbox refuses (the same channel and event twice) fails the whole bulk write with SQLAlchemy's
    IntegrityError, whether the rows went by COPY (PostgreSQL) or executemany: detection's transaction rolls back."""
    from sqlalchemy.exc import IntegrityError

    sid = subscribe()
    crawl([{"offer_key": "a", "price_cents": 999}], "2026-12-02T10:00", monkeypatch=monkeypatch)
    (event,) = crawl([{"offer_key": "a", "price_cents": 899}], "2026-12-02T11:00", monkeypatch=monkeypatch)
    (row,) = notifications()
    at = utc("2026-12-02T11:00")
    again = (sid, row.channel_id, event["id"], "iliad", "a", "price_drop", 899, at, at)
    with Session(get_engine()) as s, s.begin(), pytest.raises(IntegrityError):
        outbox.bulk_insert(s, outbox.SINGLE, [again], {"event_ids": [], "status": "pending", "attempts": 0})
    assert len(notifications()) == 1


@pytest.mark.usefixtures("write_path")
def test_bulk_insert_writes_what_it_is_given(tmp_db, monkeypatch):
    """Every column as given, JSON lists included (digest rows), on either write path."""
    sid = subscribe(channels=2)
    crawl([{"offer_key": "a", "price_cents": 999}], "2026-12-02T10:00", monkeypatch=monkeypatch)
    with Session(get_engine()) as s:
        from storage.models import SubscriptionChannel

        channels = list(s.execute(select(SubscriptionChannel.id).order_by(SubscriptionChannel.id)).scalars())
    at, due = utc("2026-12-02T11:00"), utc("2026-12-03T07:00")
    rows = [
        (sid, channels[0], [3, 1], "daily:2026-12-03", at, due),
        (sid, channels[1], [], "daily:2026-12-03", at, due),
    ]
    constants = {"event_id": None, "operator": None, "offer_key": None, "kind": None, "price_cents": None}
    with Session(get_engine()) as s, s.begin():
        outbox.bulk_insert(s, outbox.DIGEST, rows, constants | {"status": "pending", "attempts": 0})
    got = [
        (n.subscription_id, n.channel_id, n.event_ids, n.digest, outbox._utc(n.created_at), outbox._utc(n.due_at))
        for n in notifications()
    ]
    assert got == [
        (sid, channels[0], [3, 1], "daily:2026-12-03", at, due),
        (sid, channels[1], [], "daily:2026-12-03", at, due),
    ]
    assert all((n.status, n.attempts, n.event_id, n.operator) == ("pending", 0, None, None) for n in notifications())
