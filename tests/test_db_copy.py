"""`promowatch db copy SRC_URL DST_URL` moves a SQLite database into PostgreSQL (or into another SQLite file)
without losing history: every row of every table arrives, checked here independently of the command (each
table's rows read back on both sides, typed, compared one by one and hashed), new rows get fresh ids after the
copy, and both URLs are shown with their password hidden. A destination that holds data is refused in one line.

The source is always a SQLite file filled through the project's own writers (crawls stored and detected) and
the models (subscriptions, channels, consents, the outbox, rate-limit hits, source health), with ids that have
gaps, None, unicode, nested JSON and times with microseconds.
"""

import hashlib
import json
import os
from datetime import datetime, timedelta, timezone

import pytest
from conftest import PROMOWATCH, SERVER, needs_server, run, store_crawl
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, SQLModel

from contract.offer import normalise
from storage.copy import copy_database
from storage.engine import HEAD_REVISION, DatabaseUnavailable, get_engine
from storage.models import (
    Notification,
    RateLimitHit,
    SentCount,
    Subscription,
    SubscriptionChannel,
    SubscriptionConsent,
)
from storage.service_models import SourceHealth

T0 = datetime(2026, 11, 3, 8, 15, 30, 123456, tzinfo=timezone.utc)
PASSWORD = "s3cr3t-Pw"


def _offer(key: str, price: int, **extra) -> dict:
    return normalise(
        {
            "operator": "iliad",
            "offer_key": key,
            "name": f"Giga {key} — «offerta» 超值",
            "url": f"https://www.iliad.it/{key}",
            "plan_type": "prepaid",
            "price_cents": price,
            "period_days": 30,
            "data_gb": 150.5,
            **extra,
        }
    )


def fill(url: str) -> None:
    """Every table of the schema with rows (some deleted again, so that the ids have gaps)."""
    engine = get_engine(url)
    keys = [f"k{n}" for n in range(30)]
    store_crawl(url, "iliad", [_offer(k, 999 + n) for n, k in enumerate(keys)], when=T0, detect=True)
    store_crawl(
        url, "iliad", [_offer(k, 899 + n) for n, k in enumerate(keys[:-3])], when=T0 + timedelta(hours=1), detect=True
    )
    store_crawl(url, "ho", [{**_offer("x", 500), "operator": "ho"}], when=T0 + timedelta(hours=2), detect=True)
    with engine.connect() as conn:
        events = list(conn.execute(text("SELECT id FROM offer_event ORDER BY id")).scalars())
    assert len(events) > 10
    with Session(engine) as s:
        for n in range(5):
            sub = Subscription(
                created_at=T0 + timedelta(minutes=n),
                lang=("it", "en", "zh")[n % 3],
                operators=["iliad", "ho"] if n % 2 else [],
                kinds=["price_drop"],
                min_gb=10.25 if n == 1 else None,
                quiet_start="22:00" if n == 2 else None,
                quiet_end="07:00" if n == 2 else None,
                stay_cheapest={"days": 10, "cards": [{"op": "airalo", "cents": 1299}]} if n == 3 else None,
                status="paused" if n == 4 else "active",
                active=n != 4,
            )
            s.add(sub)
            s.flush()
            channel = SubscriptionChannel(
                subscription_id=sub.id,
                url=f"mailto://user{n}:{PASSWORD}@example.com",
                url_masked=f"mailto://user{n}:****@example.com",
                service="mailto",
                guarded=n == 0,
            )
            s.add(channel)
            s.add(
                SubscriptionConsent(
                    subscription_id=sub.id,
                    requested_at=T0,
                    confirmed_at=T0 + timedelta(seconds=n) if n % 2 else None,
                    source="web:subscribe",
                    lang="it",
                    filters={"operators": ["iliad"], "max_price_cents": 1000, "note": 'quote " and \\ slash'},
                    channel="email: u***@example.com",
                    ip_hash="ab" * 32,
                )
            )
            s.flush()
            for m, event_id in enumerate(events[: 4 + n]):
                s.add(
                    Notification(
                        subscription_id=sub.id,
                        channel_id=channel.id,
                        event_id=event_id,
                        operator="iliad",
                        offer_key=f"k{m}",
                        kind="price_drop",
                        price_cents=899 + m,
                        status=("pending", "sent", "dead")[m % 3],
                        created_at=T0,
                        due_at=T0 + timedelta(minutes=m),
                        sent_at=T0 + timedelta(minutes=m, microseconds=7) if m % 3 == 1 else None,
                        attempts=m % 3,
                        last_error="HTTP 500 from mailto://user:****@example.com" if m % 3 == 2 else None,
                    )
                )
            s.add(
                Notification(
                    subscription_id=sub.id,
                    channel_id=channel.id,
                    event_ids=list(events[:3]),
                    digest=f"daily:2026-11-0{n + 1}",
                    created_at=T0,
                    due_at=T0,
                )
            )
        for n in range(12):
            s.add(RateLimitHit(bucket="subscribe:ip", key_hash=f"{n:064x}", at=T0 + timedelta(seconds=n)))
        s.add(SourceHealth(operator="iliad", alerting=True, since=T0))
        s.add(SentCount(day=T0.date(), service="mailto", sent=120, failures=3))  # a purged day (alerts.retention)
        s.add(SentCount(day=T0.date(), service="json", sent=7, failures=0))
        s.add(SourceHealth(operator="ho", alerting=False, since=None))
        s.commit()
    with engine.begin() as conn:  # gaps: the largest id is not the number of rows
        conn.execute(text("DELETE FROM rate_limit_hit WHERE id IN (3, 4, 12)"))
        conn.execute(text("DELETE FROM subscription_consent WHERE id = 2"))


def _value(value):
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value.isoformat(sep=" ")
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return value


def contents(url: str) -> dict[str, list[tuple]]:
    """Every table's rows in primary-key order, each value in a form both databases give alike."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            found = {}
            for table in SQLModel.metadata.sorted_tables:
                rows = conn.execute(select(table).order_by(*table.primary_key.columns)).all()
                found[table.name] = [tuple(_value(v) for v in row) for row in rows]
            return found
    finally:
        engine.dispose()


def digest(rows: list[tuple]) -> str:
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                t.name: conn.execute(text(f"SELECT count(*) FROM {t.name}")).scalar_one()
                for t in SQLModel.metadata.sorted_tables
            }
    finally:
        engine.dispose()


def assert_same(source: str, destination: str) -> dict[str, list[tuple]]:
    before, after = contents(source), contents(destination)
    assert set(before) == set(after) == {t.name for t in SQLModel.metadata.sorted_tables}
    for name in before:
        assert len(after[name]) == len(before[name]), name
        assert after[name] == before[name], name
        assert digest(after[name]) == digest(before[name]), name
    assert counts(destination) == counts(source)
    assert all(counts(source).values()), counts(source)  # every table had rows to copy
    return before


@pytest.fixture
def source(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    fill(url)
    return url


def test_sqlite_into_an_empty_sqlite_file_in_small_batches(source, tmp_path):
    destination = f"sqlite:///{tmp_path / 'new.db'}"
    seen = []
    copied = copy_database(source, destination, batch=7, progress=lambda table, rows: seen.append((table, rows)))
    rows = assert_same(source, destination)
    assert [(c.name, c.rows) for c in copied] == seen == [(name, len(rows[name])) for name in rows]
    engine = create_engine(destination)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD_REVISION
    with Session(engine) as s:  # a new row gets an id after every copied one (the source's last, 12, was deleted)
        hit = RateLimitHit(bucket="b", key_hash="h", at=T0)
        s.add(hit)
        s.commit()
        assert hit.id == max(row[0] for row in rows["rate_limit_hit"]) + 1 == 12
    engine.dispose()


def _sequences_after_the_copied_ids(url: str) -> None:
    """Every id sequence of the server database continues after the largest id copied (checked on the server)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            for table in SQLModel.metadata.sorted_tables:
                if "id" not in table.c:
                    continue
                sequence = conn.execute(text(f"SELECT pg_get_serial_sequence('{table.name}', 'id')")).scalar()
                largest = conn.execute(text(f"SELECT max(id) FROM {table.name}")).scalar()
                last, called = conn.execute(text(f"SELECT last_value, is_called FROM {sequence}")).one()
                assert called and last == largest, (table.name, last, largest)
        with Session(engine) as s:
            sub = Subscription(created_at=T0)
            s.add(sub)
            s.commit()
            assert sub.id == 6
    finally:
        engine.dispose()


@pytest.mark.slow
@needs_server("copies a SQLite database into PostgreSQL")
def test_sqlite_into_postgresql_with_the_command(source, empty_db):
    destination = make_url(empty_db).set(password=PASSWORD).render_as_string(hide_password=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMOWATCH_")}
    proc = run(PROMOWATCH + ["db", "copy", source, destination], env)
    out = proc.stdout + proc.stderr
    assert PASSWORD not in out and make_url(destination).render_as_string(hide_password=True) in out, out
    assert source in out
    rows = assert_same(source, destination)
    for name, table_rows in rows.items():
        assert f"  {name}: {len(table_rows)} row" in proc.stdout, proc.stdout
    total = sum(len(r) for r in rows.values())
    assert f"copied {total} rows in {len(rows)} tables; verified" in proc.stdout
    # a second copy into it is refused in one line: nothing is merged, nothing changed
    again = run(PROMOWATCH + ["db", "copy", source, destination], env, check=False)
    assert again.returncode == 2 and "Traceback" not in again.stderr, again.stderr
    line = again.stderr.strip()
    assert len(line.splitlines()) == 1 and "is not empty" in line and "new, empty database" in line, line
    assert PASSWORD not in again.stdout + again.stderr
    assert_same(source, destination)
    _sequences_after_the_copied_ids(destination)


@pytest.mark.slow
def test_sqlite_into_sqlite_with_the_command(source, tmp_path):
    destination = f"sqlite:///{tmp_path / 'copy.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMOWATCH_")}
    proc = run(PROMOWATCH + ["db", "copy", source, destination], env)
    assert f"copying {source} -> {destination}" in proc.stdout
    assert_same(source, destination)
    assert oct(os.stat(tmp_path / "copy.db").st_mode & 0o777) == "0o600"  # it holds the channels' passwords


def test_a_destination_with_rows_is_refused_and_left_alone(source, tmp_db):
    """The test's database (SQLite, or PostgreSQL on the server pass) migrated, with one row: refused."""
    from storage.models import CrawlRun

    with Session(get_engine(tmp_db)) as s:
        s.add(CrawlRun(operator="tim", started_at=T0, finished_at=T0, finish_reason="finished", status="healthy"))
        s.commit()
    with pytest.raises(DatabaseUnavailable) as refused:
        copy_database(source, tmp_db)
    assert refused.value.bad_input and "table crawl_run has 1 rows" in str(refused.value)
    assert counts(tmp_db)["crawl_run"] == 1 and sum(counts(tmp_db).values()) == 1


def test_into_the_tests_database_when_migrated_and_empty(source, tmp_db):
    """A destination already at the head and empty is fine (SQLite, or PostgreSQL on the server pass)."""
    copy_database(source, tmp_db)
    assert_same(source, tmp_db)
    if SERVER:
        _sequences_after_the_copied_ids(tmp_db)


def test_what_is_refused(source, tmp_path):
    from alembic import command
    from test_migrations import _config

    with pytest.raises(DatabaseUnavailable, match="does not exist"):
        copy_database(f"sqlite:///{tmp_path / 'nothing.db'}", f"sqlite:///{tmp_path / 'new.db'}")
    assert not (tmp_path / "nothing.db").exists() and not (tmp_path / "new.db").exists()
    with pytest.raises(DatabaseUnavailable, match="the same database"):
        copy_database(source, source)
    old = f"sqlite:///{tmp_path / 'behind.db'}"
    command.upgrade(_config(old), "0007_stay_subscription")
    with pytest.raises(DatabaseUnavailable, match="revision 0007_stay_subscription, not .*promowatch db upgrade"):
        copy_database(old, f"sqlite:///{tmp_path / 'new.db'}")
    assert not inspect(create_engine(f"sqlite:///{tmp_path / 'new.db'}")).get_table_names()
