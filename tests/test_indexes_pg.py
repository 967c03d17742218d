"""Every query the service and the web run on their hot paths uses an index on PostgreSQL: no sequential scan of a
big table, checked with `EXPLAIN (FORMAT JSON)` over a database the size of a grown service: 100,000
subscriptions (one channel each), a year of hourly crawls of 15 operators (131,400 crawls), 600 offers with a
version and a change event every two days (about 110,000 each), 500,000 sent notifications and a pending,
dead and digest share.

The statements explained are the ones the code sends: each hot path is run for real (the offer page's
`offer_detail`, the sender's `claim_due`, matching an event to the subscriptions and queueing it in a rolled-back
transaction, /metrics' `figures`, ...) while a SQLAlchemy cursor hook records what it executes; each SELECT,
UPDATE and DELETE recorded is explained with its own parameters. The data is made by the server (INSERT ...
SELECT generate_series), then VACUUM ANALYZE: the whole setup takes seconds.

Reads that are whole-table by design are left out (WHOLE_TABLE), with why: loading the active subscriptions
for matching (every active one is read: a sequential scan is the best plan; it is sent through a raw cursor, not
recorded), the figures' outbox counts by status and channel service (/metrics, admin), an aggregate over every
stored row whose cost the retention of sent rows bounds (alerts/retention.py), and the figures' crawl counts
per operator and status, an aggregate over every crawl ever stored (PostgreSQL prefers a parallel sequential
scan to any index for it).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

SERVER = os.environ.get("PROMOWATCH_TEST_SERVER_URL", "")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not SERVER.startswith("postgresql"),
        reason="EXPLAIN plans are PostgreSQL's: set PROMOWATCH_TEST_SERVER_URL to a PostgreSQL server",
    ),
]

SUBSCRIPTIONS = 100_000
OPERATORS = 15
HOURS = 365 * 24
OFFERS_PER_OPERATOR = 40
VERSIONS_PER_OFFER = 122  # one every 72 h over the year
SENT = 300_000
START = datetime(2025, 12, 7, tzinfo=timezone.utc)
NOW = START + timedelta(days=365)
#: tables that grow with subscribers or with time: never read whole on a hot path
BIG = {
    "crawl_run",
    "offer_version",
    "offer_event",
    "subscription",
    "subscription_channel",
    "subscription_consent",
    "notification",
}
SETUP_SECONDS = 240  # the bound of the data's making (about 40 s on a loaded 2-core machine)
STATEMENT_SECONDS = 120  # the bound of every statement in the grown database, the bulk inserts included


def _operators() -> list[str]:
    from contract.offer import OPERATORS as ALL

    return list(ALL[:OPERATORS])


def _item(operator: str, k: int) -> dict:
    from contract.offer import normalise

    return normalise(
        {
            "operator": operator,
            "offer_key": f"plan-{k}",
            "name": f"Plan {k}",
            "url": f"https://{operator}.example/offers/{k}",
            "plan_type": "prepaid",
            "price_cents": 499 + 50 * k,
            "period_days": 30,
            "data_gb": float(10 * k),
            "data_5g": k % 2 == 0,
        }
    )


def _fill(url: str) -> None:
    """The grown database, made by the server."""
    from contract.offer import content_hash

    ops = _operators()
    engine = create_engine(url)
    start = START.isoformat()
    with engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
        if conn.exec_driver_sql("SHOW is_superuser").scalar() == "on":
            # the rows are consistent by construction: the foreign keys' triggers need not run row by row
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        conn.execute(
            text(
                "INSERT INTO crawl_run (id, operator, started_at, finished_at, finish_reason, status, items_scraped,"
                " items_stored, items_dropped, dropped_reasons, new_versions, presence, detected_at)"
                " SELECT h * :n + o, (CAST(:ops AS text[]))[o], CAST(:start AS timestamptz) + h * interval '1 hour'"
                " + o * interval '1 minute',"
                " CAST(:start AS timestamptz) + h * interval '1 hour' + o * interval '2 min',"
                " 'finished', CASE WHEN (h * 7 + o) % 97 = 0 THEN 'failed' ELSE 'healthy' END, 40, 40, 0, '{}',"
                ' CASE WHEN h % 48 = 0 THEN 40 ELSE 0 END, \'{"missed": {}, "back": {}}\','
                " CAST(:start AS timestamptz) + h * interval '1 hour' + o * interval '3 min'"
                " FROM generate_series(0, :hours - 1) h, generate_series(1, :n) o"
            ),
            {"n": OPERATORS, "ops": ops, "start": start, "hours": HOURS},
        )
        offers = [
            {
                "id": (o - 1) * OFFERS_PER_OPERATOR + k,
                "operator": op,
                "offer_key": f"plan-{k}",
                "name": f"Plan {k}",
                "plan_type": "prepaid",
                "price_cents": 499 + 50 * k,
                "data": json.dumps(_item(op, k)),
                "hash": content_hash(_item(op, k)),
            }
            for o, op in enumerate(ops, 1)
            for k in range(1, OFFERS_PER_OPERATOR + 1)
        ]
        conn.execute(
            text(
                "INSERT INTO offer (id, operator, offer_key, name, plan_type, price_cents, currency, data,"
                " content_hash, first_seen, last_seen, active, missed_crawls)"
                " VALUES (:id, :operator, :offer_key, :name, :plan_type, :price_cents, 'EUR', CAST(:data AS json),"
                " :hash, CAST(:start AS timestamptz),"
                " CAST(:now AS timestamptz), true, 0)"
            ),
            [{**o, "start": start, "now": NOW.isoformat()} for o in offers],
        )
        conn.execute(
            text(
                "INSERT INTO offer_version (id, offer_id, crawl_run_id, data, content_hash, valid_from, valid_to)"
                " SELECT (f.id - 1) * :v + v + 1, f.id, v * 72 * :n + ((f.id - 1) / :per) + 1, f.data,"
                " md5(f.id || '-' || v), CAST(:start AS timestamptz) + v * interval '72 hours',"
                " CASE WHEN v < :v - 1 THEN CAST(:start AS timestamptz) + (v + 1) * interval '72 hours' END"
                " FROM offer f, generate_series(0, :v - 1) v"
            ),
            {"v": VERSIONS_PER_OFFER, "n": OPERATORS, "per": OFFERS_PER_OPERATOR, "start": start},
        )
        conn.execute(text("UPDATE offer SET current_version_id = id * :v"), {"v": VERSIONS_PER_OFFER})
        conn.execute(
            text(
                "INSERT INTO offer_event (id, crawl_run_id, offer_id, operator, offer_key, kind, created_at,"
                " price_before, price_after, changes, item, version_id)"
                " SELECT v.id, v.crawl_run_id, f.id, f.operator, f.offer_key,"
                " (ARRAY['price_drop', 'price_rise', 'changed'])[v.id % 3 + 1], v.valid_from + interval '5 min',"
                " f.price_cents + 100, f.price_cents, '{}', f.data, v.id"
                " FROM offer_version v JOIN offer f ON f.id = v.offer_id WHERE v.valid_from > (SELECT min(valid_from)"
                " FROM offer_version)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO subscription (id, created_at, active, status, confirmed_at, link_key, lang, digest,"
                " timezone, quiet_start, quiet_end, rearm_hours, operators, plan_types, kinds, max_price_cents,"
                " min_gb, only_5g, stay_days, stay_gb)"
                " SELECT i, CAST(:start AS timestamptz) + (i % 365) * interval '1 day',"
                " i % 50 <> 0 AND i % 997 <> 0, CASE WHEN i % 997 = 0 THEN 'pending' WHEN i % 50 = 0 THEN 'paused'"
                " ELSE 'active' END, CAST(:start AS timestamptz) + (i % 365) * interval '1 day',"
                " substr(md5(i::text), 1, 16), (ARRAY['it', 'en', 'zh'])[i % 3 + 1],"
                " CASE WHEN i % 10 = 0 THEN 'daily' ELSE 'off' END, 'Europe/Rome', NULL, NULL, 168,"
                " json_build_array((CAST(:ops AS text[]))[i % :n + 1]), '[]', '[]',"
                " CASE WHEN i % 4 = 0 THEN 2000 END, NULL, false,"
                " CASE WHEN i % 1000 = 0 THEN 10 END, CASE WHEN i % 1000 = 0 THEN 5.0 END"
                " FROM generate_series(1, :subs) i"
            ),
            {"start": start, "ops": ops, "n": OPERATORS, "subs": SUBSCRIPTIONS},
        )
        conn.execute(
            text(
                "INSERT INTO subscription_consent (subscription_id, requested_at, confirmed_at, source, lang, filters,"
                " channel, ip_hash) SELECT i, CAST(:start AS timestamptz), CAST(:start AS timestamptz),"
                " 'web:subscribe', 'it', '{}', 'json: 127.0.0.1/***', md5(i::text) FROM generate_series(1, :subs, 5) i"
            ),
            {"start": start, "subs": SUBSCRIPTIONS},
        )
        conn.execute(
            text(
                "INSERT INTO subscription_channel (id, subscription_id, url, url_masked, service, guarded)"
                " SELECT i, i, 'json://127.0.0.1:9/hook/' || i, 'json://127.0.0.1:9/hook/' || i, 'json', false"
                " FROM generate_series(1, :subs) i"
            ),
            {"subs": SUBSCRIPTIONS},
        )
        # sent alerts over the year: subscription n % SUBS, the k-th event of a spread (channel x event unique)
        conn.execute(
            text(
                "INSERT INTO notification (subscription_id, channel_id, event_id, event_ids, digest, operator,"
                " offer_key, kind, price_cents, status, created_at, due_at, claimed_at, sent_at, attempts,"
                " ambiguous_failures)"
                " SELECT s.sid, s.sid, e.id, '[]', NULL, e.operator, e.offer_key, e.kind, e.price_after, 'sent',"
                " CAST(:start AS timestamptz) + n * (interval '365 days' / :sent),"
                " CAST(:start AS timestamptz) + n * (interval '365 days' / :sent), NULL,"
                " CAST(:start AS timestamptz) + n * (interval '365 days' / :sent) + interval '2 s', 1 + n % 3 / 2, 0"
                " FROM generate_series(0, :sent - 1) n"
                " CROSS JOIN LATERAL (SELECT n % :subs + 1 AS sid, n / :subs AS k) s"
                " JOIN offer_event e ON e.id = ((s.k * 7919 + 11) % 600) * :v + 2 + s.k"
            ),
            {"start": start, "sent": SENT, "subs": SUBSCRIPTIONS, "v": VERSIONS_PER_OFFER},
        )
        # due now (pending), given up (dead), claimed (sending), and the daily digests of the digest subscribers
        conn.execute(
            text(
                "INSERT INTO notification (subscription_id, channel_id, event_id, event_ids, digest, operator,"
                " offer_key, kind, price_cents, status, created_at, due_at, claimed_at, sent_at, attempts,"
                " ambiguous_failures, last_error, failure_kind)"
                " SELECT n, n, e.id, '[]', NULL, e.operator, e.offer_key, e.kind, e.price_after,"
                " CASE WHEN n % 7 = 0 THEN 'dead' WHEN n % 11 = 0 THEN 'sending' ELSE 'pending' END,"
                " CAST(:now AS timestamptz) - interval '1 hour', CAST(:now AS timestamptz) - n * interval '1 s',"
                " CASE WHEN n % 11 = 0 THEN CAST(:now AS timestamptz) - interval '1 min' END, NULL,"
                " CASE WHEN n % 7 = 0 THEN 6 ELSE 0 END, 0, CASE WHEN n % 7 = 0 THEN 'HTTP 500' END,"
                " CASE WHEN n % 7 = 0 THEN 'http' END"
                " FROM generate_series(1, 3000) n JOIN offer_event e ON e.id = 600 * :v - n % 100"
            ),
            {"now": NOW.isoformat(), "v": VERSIONS_PER_OFFER},
        )
        conn.execute(
            text(
                "INSERT INTO notification (subscription_id, channel_id, event_id, event_ids, digest, status,"
                " created_at, due_at, sent_at, attempts, ambiguous_failures)"
                " SELECT s.id, s.id, NULL, json_build_array(d % 5000 + 2, d % 7000 + 3),"
                " 'daily:' || to_char(CAST(:start AS timestamptz) + d * interval '1 day', 'YYYY-MM-DD'), 'sent',"
                " CAST(:start AS timestamptz) + d * interval '1 day',"
                " CAST(:start AS timestamptz) + d * interval '1 day' + interval '8 hours',"
                " CAST(:start AS timestamptz) + d * interval '1 day' + interval '8 hours 1 min', 1, 0"
                " FROM subscription s, generate_series(358, 364) d WHERE s.digest = 'daily'"
            ),
            {"start": start},
        )
        for table in ("crawl_run", "offer", "offer_version", "offer_event", "subscription", "subscription_channel"):
            conn.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
    engine.dispose()


@pytest.fixture(scope="module")
def grown():
    """A database of its own on the server, migrated and filled; dropped after the module."""
    from storage.engine import _engine, get_engine, upgrade

    name = f"pw_explain_{uuid.uuid4().hex[:10]}"
    admin = create_engine(SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        conn.execute(text(f"ALTER DATABASE \"{name}\" SET statement_timeout = '{STATEMENT_SECONDS}s'"))
    url = make_url(SERVER).set(database=name).render_as_string(hide_password=False)
    try:
        started = time.monotonic()
        upgrade(url)
        _fill(url)
        took = time.monotonic() - started
        assert took < SETUP_SECONDS, f"making the grown database took {took:.0f} s"
        print(f"\ngrown database made in {took:.1f} s")
        yield url, get_engine(url)
    finally:
        _engine.cache_clear()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def recorded(engine):
    """The statements (and their parameters) `engine` executes meanwhile, as sent to the driver."""
    seen: list[tuple[str, object]] = []

    def hook(conn, cursor, statement, parameters, context, executemany):
        verb = statement.lstrip().split(None, 1)[0].upper()
        if not executemany and verb in ("SELECT", "UPDATE", "DELETE", "WITH"):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", hook)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", hook)


def _nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)


def seq_scans(engine, statements) -> list[str]:
    """Each sequential scan of a BIG table in the plans of `statements`: 'table in: statement'."""
    found, explained = [], set()
    with engine.connect() as conn:
        for statement, parameters in statements:
            if statement in explained:
                continue
            explained.add(statement)
            plan = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters).scalar()
            plan = json.loads(plan) if isinstance(plan, str) else plan
            for node in _nodes(plan[0]["Plan"]):
                if node["Node Type"] == "Seq Scan" and node.get("Relation Name") in BIG:
                    found.append(f"{node['Relation Name']} in: {' '.join(statement.split())[:400]}")
        conn.rollback()
    return found


# --- the hot paths, each run for real ---------------------------------------------------------------------------


def _claim(url, engine):
    from alerts.deliver import _prepare, claim_due, leased

    ids, _ = claim_due(engine, NOW, 500)
    assert len(ids) == 500
    _prepare(engine, ids)
    leased(engine, NOW)


def _match_an_event(url, engine):
    from sqlmodel import Session, select

    from alerts.match import match_events
    from storage.models import OfferEvent

    with Session(engine) as session:
        events = list(session.exec(select(OfferEvent).order_by(OfferEvent.id.desc()).limit(1)))  # type: ignore
        queued = match_events(session, events, NOW)
        session.rollback()
    assert queued > 1000  # one operator's subscribers: thousands of rows, digests among them


def _offer_pages(url, engine):
    from contract.offer_query import OfferFilter
    from storage.repository import find_offers, offer_detail, offer_history

    op = _operators()[3]
    assert offer_detail(op, "plan-7", database_url=url) is not None
    assert offer_history(op, "plan-7", database_url=url)
    assert find_offers(OfferFilter(operators={op}), "price", url)
    assert find_offers(OfferFilter(), "price", url)


def _events(url, engine):
    from storage.repository import list_events

    op = _operators()[5]
    assert len(list_events(limit=100, database_url=url)) == 100
    assert list_events(operator=op, limit=500, database_url=url)  # a feed of one operator
    assert list_events(kind="price_drop", limit=100, database_url=url)
    assert list_events(operator=op, kind="changed", limit=100, database_url=url)
    assert list_events(since=NOW - timedelta(days=7), limit=100, database_url=url)


def _crawl_health(url, engine):
    from promowatch import health
    from storage.figures import data_version
    from storage.repository import catalogue_sizes, last_crawls

    assert len(last_crawls(url)) == OPERATORS
    health.check(_operators(), threshold=3, channels=(), database_url=url)
    catalogue_sizes(_operators()[0], database_url=url)
    data_version(url)


def _detect_statements(url, engine):
    from alerts import detect

    op, last = _operators()[2], HOURS * OPERATORS
    with engine.connect() as conn:
        conn.execute(detect._LATEST, {"operator": op})
        conn.execute(detect._PENDING_OF, {"operator": op, "run": last})
        conn.execute(detect._EARLIER, {"operator": op, "run": last})
        conn.execute(detect._CURRENT, {"operator": op})
        conn.execute(detect._FACTS, {"run": last})


def _outbox_reads(url, engine):
    from alerts.deliver import list_notifications
    from storage.figures import figures

    assert list_notifications("dead", 100, url)
    assert list_notifications(None, 100, url)
    f = figures(url, now=NOW)
    assert f.sent["json"] >= SENT


def _subscriber_paths(url, engine):
    from alerts.stay_alerts import watch_stays
    from alerts.subscriptions import find_duplicate, manage_view, purge_pending

    purge_pending(url, NOW)
    manage_view(4242, url)
    spec = {"subscription": {"lang": "it"}, "channels": [{"url": "json://127.0.0.1:9/hook/4242"}]}
    find_duplicate(spec, url)
    watch_stays(url, NOW)


def _retention(url, engine):
    from alerts.retention import purge_sent

    report = purge_sent(90, url, now=NOW, batch=1000, max_batches=2)
    assert report.purged == 2000


def _crawl_and_detect(url, engine):
    """A crawl that lowers one price: stored, its change detected, the event matched and queued (committed: the
    last of the paths)."""
    from alerts.detect import detect_after_crawl
    from storage.repository import record_crawl

    op = _operators()[1]
    items = [_item(op, k) for k in range(1, OFFERS_PER_OPERATOR + 1)]
    items[4] = {**items[4], "price_cents": items[4]["price_cents"] - 100}
    result = record_crawl(
        operator=op,
        started_at=NOW,
        finished_at=NOW + timedelta(minutes=1),
        finish_reason="finished",
        status="healthy",
        items=items,
        items_scraped=len(items),
        dropped={},
        error=None,
        database_url=url,
    )
    events = detect_after_crawl(result.run_id, url)
    assert events is not None and [e["kind"] for e in events] == ["price_drop"]


HOT_PATHS = {
    "claim due rows, read them for sending, leased count (sender)": _claim,
    "match an event and queue its alerts: re-arm lookup, digests, channels (after a crawl)": _match_an_event,
    "offer page, offer history, offers page (web, CLI)": _offer_pages,
    "events timeline and feeds (web, API, CLI)": _events,
    "last crawl per operator, health streak, catalogue size, data version (healthz, status, health)": _crawl_health,
    "change detection's prebuilt statements": _detect_statements,
    "admin dead list, outbox list, figures (/metrics, admin)": _outbox_reads,
    "subscribe duplicate check, manage page, pending purge, saved stays": _subscriber_paths,
    "retention purge (alerts/retention.py)": _retention,
    "a crawl stored, its change detected, matched and queued (every crawl)": _crawl_and_detect,
}
#: statements read whole tables by design (see the module docstring): (table, a part of the statement)
WHOLE_TABLE = [
    ("crawl_run", "GROUP BY crawl_run.operator, crawl_run.status"),
    ("notification", "GROUP BY notification.status"),
    ("notification", "GROUP BY subscription_channel.service, notification.status"),
]


@pytest.mark.parametrize("path", list(HOT_PATHS))
def test_no_sequential_scan_on_a_hot_path(grown, path):
    url, engine = grown
    with recorded(engine) as statements:
        HOT_PATHS[path](url, engine)
    assert statements, "the hot path ran no statement"
    scans = [s for s in seq_scans(engine, statements) if not any(t in s and part in s for t, part in WHOLE_TABLE)]
    assert scans == []
