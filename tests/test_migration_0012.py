"""Migration 0012 on a populated database of revision 0011: outbox rows are kept; a row's channel and
subscription are one foreign key (a row naming another subscription's channel is refused); the index of sent
rows is partial; the migrated schema is the models' schema; the downgrade gives the two keys and the full index
back, rows kept."""

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel
from test_migration_0006 import _config

import storage.models  # noqa: F401  (registers the tables)
from storage.engine import HEAD_REVISION, upgrade

BEFORE = "0011_service_mail_channels"
ROW = (
    "INSERT INTO notification (id, subscription_id, channel_id, event_ids, digest, status, created_at, due_at,"
    " sent_at, attempts) VALUES (:id, :sid, :cid, '[]', 'daily:2026-11-02', :status, '2026-11-01 10:00:00',"
    " '2026-11-02 07:00:00', :sent, 0)"
)


def _engine(url: str):
    """An engine whose SQLite connections check foreign keys (as storage.engine's do)."""
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", lambda conn, _: conn.execute("PRAGMA foreign_keys=ON"))
    return engine


def _keys(engine) -> set[tuple]:
    return {
        (tuple(fk["constrained_columns"]), fk["referred_table"], tuple(fk["referred_columns"]))
        for fk in inspect(engine).get_foreign_keys("notification")
    }


def _sent_index_where(engine) -> str | None:
    (index,) = [i for i in inspect(engine).get_indexes("notification") if i["name"] == "ix_notification_status_sent"]
    options = index.get("dialect_options", {})
    where = options.get("postgresql_where", options.get("sqlite_where"))
    return None if where is None else str(where)


def test_0012_on_a_populated_0011_database(empty_db):
    command.upgrade(_config(empty_db), BEFORE)
    engine = _engine(empty_db)
    with engine.begin() as conn:
        for sid in (1, 2):
            conn.execute(
                text(
                    "INSERT INTO subscription (id, created_at, active, status, link_key, lang, digest, timezone,"
                    " rearm_hours, operators, plan_types, kinds, only_5g) VALUES (:id, '2026-11-01 10:00:00', true,"
                    " 'active', :key, 'it', 'off', 'Europe/Rome', 168, '[]', '[]', '[]', false)"
                ),
                {"id": sid, "key": f"{sid:016d}"},
            )
            conn.execute(
                text(
                    "INSERT INTO subscription_channel (id, subscription_id, url, url_masked, service, guarded)"
                    " VALUES (:id, :id, 'json://127.0.0.1:9/hook', 'json://127.0.0.1:9/hook', 'json', false)"
                ),
                {"id": sid},
            )
        conn.execute(text(ROW), {"id": 1, "sid": 1, "cid": 1, "status": "sent", "sent": "2026-11-02 07:00:01"})
        conn.execute(text(ROW), {"id": 2, "sid": 2, "cid": 2, "status": "pending", "sent": None})
    single = {
        (("subscription_id",), "subscription", ("id",)),
        (("channel_id",), "subscription_channel", ("id",)),
        (("event_id",), "offer_event", ("id",)),
    }
    assert _keys(engine) == single and _sent_index_where(engine) is None

    upgrade(empty_db)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD_REVISION
        assert conn.execute(text("SELECT id, subscription_id, channel_id FROM notification ORDER BY id")).all() == [
            (1, 1, 1),
            (2, 2, 2),
        ]
        assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []
    assert _keys(engine) == {
        (("channel_id", "subscription_id"), "subscription_channel", ("id", "subscription_id")),
        (("event_id",), "offer_event", ("id",)),
    }
    assert "sent_at IS NOT NULL" in (_sent_index_where(engine) or "")
    with pytest.raises(IntegrityError), engine.begin() as conn:  # subscription 1 with the channel of 2
        conn.execute(text(ROW), {"id": 3, "sid": 1, "cid": 2, "status": "pending", "sent": None})
    with engine.begin() as conn:  # the channel of the row's own subscription: fine
        conn.execute(text(ROW), {"id": 3, "sid": 1, "cid": 1, "status": "pending", "sent": None})

    command.downgrade(_config(empty_db), BEFORE)
    assert _keys(engine) == single and _sent_index_where(engine) is None
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM notification")).scalar() == 3
    assert "uq_subscription_channel_id_subscription" not in {
        i["name"] for i in inspect(engine).get_indexes("subscription_channel")
    }
    engine.dispose()
