"""Migration 0007 on a populated database of revision 0006: existing subscriptions watch no stay (the stay
columns null), the migrated schema is the models' schema, the downgrade keeps the subscriptions."""

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlmodel import SQLModel
from test_migration_0006 import _config

from storage.engine import HEAD_REVISION, upgrade


def test_0007_on_a_populated_0006_database(empty_db):
    command.upgrade(_config(empty_db), "0006_subscription_lifecycle")
    engine = create_engine(empty_db)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO subscription (id, created_at, active, status, link_key, lang, digest, timezone,"
                " rearm_hours, operators, plan_types, kinds, only_5g) VALUES (1, '2026-11-01 10:00:00', true,"
                " 'active', 'abcdef0123456789', 'it', 'off', 'Europe/Rome', 168, '[]', '[]', '[]', false)"
            )
        )
    upgrade(empty_db)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD_REVISION
        row = conn.execute(text("SELECT stay_days, stay_gb, stay_cheapest FROM subscription")).one()
        assert tuple(row) == (None, None, None)
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert [d for d in diff if "subscription" in repr(d)] == []
    command.downgrade(_config(empty_db), "0006_subscription_lifecycle")
    assert not {"stay_days", "stay_gb", "stay_cheapest"} & {
        c["name"] for c in inspect(engine).get_columns("subscription")
    }
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM subscription")).scalar() == 1
    engine.dispose()
