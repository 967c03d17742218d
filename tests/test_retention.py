"""The outbox's retention (alerts/retention.py) on the test's database (SQLite file, or PostgreSQL with
PROMOWATCH_TEST_SERVER_URL): old sent notifications go, counted so the figures and /metrics of sends stay
the same; pending, sending and dead rows and the offers' history stay; a row inside its subscription's
re-arm window stays (debounce still sees it); batches are bounded; two purgers at once count each row once."""

import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from sqlmodel import Session
from test_deliver import add_event, add_subscriber

from alerts.retention import purge_sent
from promowatch.service_config import ConfigError, parse_config
from storage.engine import get_engine
from storage.figures import figures
from storage.models import CrawlRun, Notification, Offer, OfferEvent, OfferVersion, SentCount, Subscription

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def add_row(engine, sub, channel, status="sent", days_ago=100, attempts=1, event_id=None, now=NOW) -> int:
    """An outbox row created, due and (when sent) sent `days_ago` days before `now`."""
    at = now - timedelta(days=days_ago)
    with Session(engine) as s:
        event = s.get(OfferEvent, event_id) if event_id else None
        n = Notification(
            subscription_id=sub,
            channel_id=channel,
            event_id=event_id,
            operator=event.operator if event else None,
            offer_key=event.offer_key if event else None,
            kind=event.kind if event else "test",
            price_cents=event.price_after if event else None,
            status=status,
            created_at=at,
            due_at=at,
            sent_at=at + timedelta(seconds=3) if status == "sent" else None,
            attempts=attempts,
        )
        s.add(n)
        s.commit()
        return n.id


def count(engine, model, *where) -> int:
    with Session(engine) as s:
        return s.execute(select(func.count()).select_from(model).where(*where)).scalar()


def history(engine) -> tuple:
    return tuple(count(engine, m) for m in (CrawlRun, Offer, OfferVersion, OfferEvent))


@pytest.fixture
def outbox(tmp_db):
    """Two subscribers (a JSON and an email channel); old and recent rows of every status."""
    engine = get_engine(tmp_db)
    add_event(engine, key="giga-1")
    (s1, [json_ch]), (s2, [mail_ch]) = (
        add_subscriber(engine, "json://127.0.0.1:9/hook"),
        add_subscriber(engine, "mailto://u:p@127.0.0.1:9?to=a@example.org"),
    )
    rows = {
        "old_sent": [add_row(engine, s1, json_ch, days_ago=d, attempts=1 + d % 3) for d in (91, 100, 200, 365)]
        + [add_row(engine, s2, mail_ch, days_ago=120, attempts=2)],
        "recent_sent": [add_row(engine, s1, json_ch, days_ago=d) for d in (1, 30, 89)],
        "kept": [
            add_row(engine, s1, json_ch, status="pending", days_ago=200, attempts=3),
            add_row(engine, s2, mail_ch, status="dead", days_ago=300, attempts=6),
            add_row(engine, s1, json_ch, status="sending", days_ago=150),
        ],
    }
    return tmp_db, engine, rows


def test_old_sent_rows_go_counted_and_everything_else_stays(outbox):
    url, engine, rows = outbox
    before, kept_history = figures(url, now=NOW), history(engine)
    report = purge_sent(90, url, now=NOW)
    assert (report.purged, report.finished, report.kept_for_rearm) == (5, True, 0)
    with Session(engine) as s:
        left = set(s.execute(select(Notification.id)).scalars())
    assert left == set(rows["recent_sent"] + rows["kept"])
    after = figures(url, now=NOW)
    assert (after.sent, after.failures, after.dead) == (before.sent, before.failures, before.dead)
    assert after.sent == {"json": 7, "mailto": 1} and after.failures == {"json": 10, "mailto": 7}
    assert after.outbox == {"sent": 3, "pending": 1, "dead": 1, "sending": 1}  # what the table holds now
    assert history(engine) == kept_history
    with Session(engine) as s:
        counted = {(c.day.isoformat(), c.service): (c.sent, c.failures) for c in s.execute(select(SentCount)).scalars()}
    days = {d: (NOW - timedelta(days=d)).date().isoformat() for d in (91, 100, 120, 200, 365)}
    assert counted == {
        (days[91], "json"): (1, 1),
        (days[100], "json"): (1, 1),
        (days[200], "json"): (1, 2),
        (days[365], "json"): (1, 2),
        (days[120], "mailto"): (1, 1),
    }
    assert purge_sent(90, url, now=NOW).purged == 0  # nothing left to do: idempotent


def test_metrics_show_the_same_sends_after_a_purge(outbox):
    from web.metrics import FiguresCollector

    url, engine, rows = outbox

    def sent_samples():
        families = {f.name: f for f in FiguresCollector(url).collect()}
        return {
            name: {s.labels["service"]: s.value for s in families[name].samples if s.name.endswith("_total")}
            for name in ("promowatch_notifications_sent", "promowatch_notification_failures")
        }

    before = sent_samples()
    assert purge_sent(90, url, now=NOW).purged == 5
    assert sent_samples() == before


def test_batches_are_bounded_and_counts_add_up(outbox):
    url, engine, rows = outbox
    first = purge_sent(90, url, now=NOW, batch=2, max_batches=2)
    assert (first.purged, first.batches, first.finished) == (4, 2, False)
    second = purge_sent(90, url, now=NOW, batch=2)
    assert (second.purged, second.finished) == (1, True)
    with Session(engine) as s:
        assert s.execute(select(func.sum(SentCount.sent))).scalar() == 5
    assert count(engine, Notification, Notification.status == "sent") == 3


def test_a_row_inside_a_long_rearm_window_stays_and_debounce_still_sees_it(tmp_db):
    from alerts.outbox import _last_alerts

    engine = get_engine(tmp_db)
    event_id = add_event(engine, key="giga-2", after=799)
    (short, [ch1]), (long, [ch2]) = (
        add_subscriber(engine, "json://127.0.0.1:9/a"),
        add_subscriber(engine, "json://127.0.0.1:9/b"),
    )
    with Session(engine) as s:
        s.get(Subscription, long).rearm_hours = 24 * 200  # alerted again only after 200 days
        s.commit()
    gone = add_row(engine, short, ch1, days_ago=120, event_id=event_id)
    kept = add_row(engine, long, ch2, days_ago=120, event_id=event_id)
    report = purge_sent(90, tmp_db, now=NOW)
    assert (report.purged, report.kept_for_rearm) == (1, 1)
    with Session(engine) as s:
        assert s.get(Notification, gone) is None and s.get(Notification, kept) is not None
        last = _last_alerts(s, [short, long], ["iliad"], {"giga-2"}, NOW - timedelta(days=200))
    assert (
        set(last) == {(long, "iliad", "giga-2", "price_drop")}
        and last[(long, "iliad", "giga-2", "price_drop")][1] == 799
    )
    add_row(engine, long, ch2, days_ago=230)  # out of its window too: goes
    assert purge_sent(90, tmp_db, now=NOW).purged == 1
    assert count(engine, Notification) == 1


def test_two_purgers_at_once_count_each_row_once(tmp_db):
    engine = get_engine(tmp_db)
    subs = [add_subscriber(engine, f"json://127.0.0.1:9/{i}") for i in range(4)]
    for i in range(120):
        sub, [channel] = subs[i % 4]
        add_row(engine, sub, channel, days_ago=100 + i % 30, attempts=1)
    reports, errors = [], []

    def purge():
        try:
            reports.append(purge_sent(90, tmp_db, now=NOW, batch=7, max_seconds=60))
        except Exception as exc:  # noqa: BLE001 — reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=purge) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == [] and not any(t.is_alive() for t in threads)
    leftover = purge_sent(90, tmp_db, now=NOW)  # a purger that gave up after races leaves the rest to the next run
    assert sum(r.purged for r in reports) + leftover.purged == 120
    with Session(engine) as s:
        assert s.execute(select(func.sum(SentCount.sent))).scalar() == 120
    assert count(engine, Notification) == 0


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="keep_days"):
        purge_sent(0)
    with pytest.raises(ValueError, match="batch"):
        purge_sent(90, batch=0)


def test_the_retention_settings_and_job():
    import scheduler

    config = parse_config({"retention": {"keep_sent_days": 30, "interval": "6h", "batch": 200}}, "c.toml", ["iliad"])
    assert (config.retention.keep_sent_days, config.retention.interval, config.retention.batch) == (30, 21600.0, 200)
    specs = {s.id: s for s in scheduler.job_specs(config, {}, NOW, sender_available=False)}
    assert specs["retention"].trigger.interval == timedelta(hours=6)
    assert specs["retention"].next_run_time == NOW + scheduler.RETENTION_DELAY
    assert parse_config({}, "c.toml", ["iliad"]).retention.keep_sent_days == 90
    off = parse_config({"retention": {"keep_sent_days": 0}}, "c.toml", ["iliad"])
    assert "retention" not in {s.id for s in scheduler.job_specs(off, {}, NOW, sender_available=False)}
    for bad, says in (
        ({"keep_sent_days": -1}, "c.toml: [retention] keep_sent_days: expected a whole number of at least 0"),
        ({"keep_sent_days": "90"}, "[retention] keep_sent_days"),
        ({"keep": 90}, "unknown key 'keep' in [retention]"),
        ({"batch": 0}, "[retention] batch"),
    ):
        with pytest.raises(ConfigError) as exc:
            parse_config({"retention": bad}, "c.toml", ["iliad"])
        assert says in str(exc.value)


def test_the_worker_task_runs_the_purge(tmp_db):
    from contract.clock import utcnow
    from promowatch.worker_child import run_task

    engine = get_engine(tmp_db)
    sub, [channel] = add_subscriber(engine, "json://127.0.0.1:9/hook")
    old, recent = (add_row(engine, sub, channel, days_ago=d, now=utcnow()) for d in (200, 1))
    data = run_task("purge_sent", {"keep_days": 90, "batch": 100, "database_url": tmp_db})
    assert (data["purged"], data["finished"]) == (1, True)
    with Session(engine) as s:
        assert s.get(Notification, old) is None and s.get(Notification, recent) is not None


def test_0009_on_a_populated_0008_database(tmp_db):
    """Migration 0009 keeps every row, gives the models' schema (table and indexes), and goes back down."""
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import create_engine, inspect, text
    from sqlmodel import SQLModel
    from test_migration_0006 import _config

    from storage.engine import HEAD_REVISION, upgrade

    command.upgrade(_config(tmp_db), "0008_offer_currency")
    engine = create_engine(tmp_db)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO subscription (id, created_at, active, status, link_key, lang, digest, timezone,"
                " rearm_hours, operators, plan_types, kinds, only_5g) VALUES (1, '2026-11-01 10:00:00', true,"
                " 'active', 'abcdef0123456789', 'it', 'off', 'Europe/Rome', 168, '[]', '[]', '[]', false)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO subscription_channel (id, subscription_id, url, url_masked, service, guarded)"
                " VALUES (1, 1, 'json://127.0.0.1:9/hook', 'json://127.0.0.1:9/hook', 'json', false)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO notification (subscription_id, channel_id, event_ids, status, created_at, due_at,"
                " sent_at, attempts, ambiguous_failures) VALUES (1, 1, '[]', 'sent', '2026-01-02 10:00:00',"
                " '2026-01-02 10:00:00', '2026-01-02 10:00:05', 1, 0)"
            )
        )
    upgrade(tmp_db)
    names = ("ix_notification_status_sent", "ix_crawl_run_operator_id", "ix_subscription_channel_url")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD_REVISION
        assert conn.execute(text("SELECT count(*) FROM notification")).scalar() == 1
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []
    indexes = {
        i["name"] for t in ("notification", "crawl_run", "subscription_channel") for i in inspect(engine).get_indexes(t)
    }
    assert set(names) <= indexes
    purge_sent(90, tmp_db, now=NOW)  # the new table takes the count
    with engine.connect() as conn:
        assert conn.execute(text("SELECT sent FROM notification_sent_count")).scalar() == 1
    command.downgrade(_config(tmp_db), "0008_offer_currency")
    inspector = inspect(engine)
    assert "notification_sent_count" not in inspector.get_table_names()
    indexes = {
        i["name"] for t in ("notification", "crawl_run", "subscription_channel") for i in inspector.get_indexes(t)
    }
    assert not set(names) & indexes
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM subscription_channel")).scalar() == 1
    engine.dispose()


@pytest.mark.slow  # a real crawl worker process
def test_the_service_runs_the_job_in_its_crawl_worker(tmp_db):
    import scheduler
    from contract.clock import utcnow
    from promowatch.crawl_worker import CrawlWorker

    engine = get_engine(tmp_db)
    sub, [channel] = add_subscriber(engine, "json://127.0.0.1:9/hook")
    old, recent = (add_row(engine, sub, channel, days_ago=d, now=utcnow()) for d in (40, 10))
    config = parse_config({"retention": {"keep_sent_days": 30, "batch": 10}}, "c.toml", ["iliad"])
    worker = CrawlWorker(database_url=tmp_db)
    try:
        service = scheduler.Service(config, database_url=tmp_db, worker=worker)
        report = service.purge_sent()
    finally:
        worker.shutdown(grace=5)
    assert report is not None and (report["purged"], report["finished"]) == (1, True)
    with Session(engine) as s:
        assert s.get(Notification, old) is None and s.get(Notification, recent) is not None
        assert s.execute(select(func.sum(SentCount.sent))).scalar() == 1


@pytest.mark.slow  # real processes
def test_purge_sent_on_the_command_line(tmp_db, env):
    import json

    from conftest import PROMOWATCH, run

    from contract.clock import utcnow

    engine = get_engine(tmp_db)
    sub, [channel] = add_subscriber(engine, "json://127.0.0.1:9/hook")
    for d in (50, 40, 10):
        add_row(engine, sub, channel, days_ago=d, now=utcnow())
    add_row(engine, sub, channel, status="dead", days_ago=60, now=utcnow())
    first = run([*PROMOWATCH, "purge-sent", "--older-than-days", "45", "--json"], env)
    assert json.loads(first.stdout)["purged"] == 1
    second = run([*PROMOWATCH, "purge-sent", "--older-than-days", "30"], env)
    assert "1 sent notification older than 30 days deleted" in second.stdout
    assert count(engine, Notification) == 2  # the recent sent one and the dead one
    bad = run([*PROMOWATCH, "purge-sent", "--older-than-days", "0"], env, check=False)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "--older-than-days" in bad.stderr
