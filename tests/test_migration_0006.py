"""Migration 0006 on a populated database of revision 0005: the operator's subscriptions become active and
confirmed (an inactive one unsubscribed), each gets its own link key, channels are not guarded, outbox rows
are kept; the migrated schema is the models' schema; the downgrade gives the rows back."""

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlmodel import SQLModel

from storage.engine import HEAD_REVISION, MIGRATIONS, upgrade


def _config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def test_0006_on_a_populated_0005_database(empty_db):
    command.upgrade(_config(empty_db), "0005_notification_failure_kind")
    engine = create_engine(empty_db)
    with engine.begin() as conn:
        for sid, active in ((1, True), (2, False), (3, True)):
            conn.execute(
                text(
                    "INSERT INTO subscription (id, created_at, active, lang, digest, timezone, rearm_hours, operators,"
                    " plan_types, kinds, only_5g) VALUES (:id, '2026-11-01 10:00:00', :active, 'it', 'off',"
                    " 'Europe/Rome', 168, '[]', '[]', '[]', false)"
                ),
                {"id": sid, "active": active},
            )
            conn.execute(
                text(
                    "INSERT INTO subscription_channel (id, subscription_id, url, url_masked, service)"
                    " VALUES (:id, :id, 'json://127.0.0.1:9/hook', 'json://127.0.0.1:9/hook', 'json')"
                ),
                {"id": sid},
            )
        conn.execute(
            text(
                "INSERT INTO notification (subscription_id, channel_id, event_ids, status, created_at, due_at,"
                " attempts, ambiguous_failures) VALUES (1, 1, '[]', 'sent', '2026-11-02 10:00:00',"
                " '2026-11-02 10:00:00', 1, 0)"
            )
        )
    upgrade(empty_db)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD_REVISION
        rows = conn.execute(
            text("SELECT id, status, active, confirmed_at, created_at, link_key FROM subscription ORDER BY id")
        ).all()
        assert [(r.id, r.status, bool(r.active)) for r in rows] == [
            (1, "active", True),
            (2, "unsubscribed", False),
            (3, "active", True),
        ]
        assert all(r.confirmed_at == r.created_at for r in rows)
        keys = [r.link_key for r in rows]
        assert all(len(k) == 16 for k in keys) and len(set(keys)) == 3
        assert conn.execute(text("SELECT count(*) FROM subscription_channel WHERE guarded")).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM notification")).scalar() == 1
        assert conn.execute(text("SELECT count(*) FROM subscription_consent")).scalar() == 0
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert [d for d in diff if "subscription" in repr(d) or "rate_limit" in repr(d)] == []

    command.downgrade(_config(empty_db), "0005_notification_failure_kind")
    columns = {c["name"] for c in inspect(engine).get_columns("subscription")}
    assert not columns & {"status", "confirmed_at", "link_key"}
    assert not {"subscription_consent", "rate_limit_hit"} & set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM subscription")).scalar() == 3
    engine.dispose()
