"""The migrations on an empty database, on whichever database the tests run (a SQLite file; PostgreSQL with
PROMOWATCH_TEST_SERVER_URL, as `.ci/run`'s second pass does): up to the head gives the models' schema, one step
down and up again gives it back, and every step down to nothing and back up runs."""

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers the tables)
from storage.engine import HEAD_REVISION, MIGRATIONS, revisions, upgrade


def _config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _state(url: str) -> tuple[str | None, set[str], list]:
    """(revision, tables, differences between the database and the models)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
        return revision, tables, diff
    finally:
        engine.dispose()


def test_head_then_one_step_down_and_up_again(empty_db):
    known = revisions(empty_db)
    assert known[-1] == HEAD_REVISION
    upgrade(empty_db)
    revision, tables, diff = _state(empty_db)
    assert revision == HEAD_REVISION
    assert tables == {t.name for t in SQLModel.metadata.sorted_tables} | {"alembic_version"}
    assert diff == []
    command.downgrade(_config(empty_db), "-1")
    assert _state(empty_db)[0] == known[-2]
    upgrade(empty_db)
    revision, tables, diff = _state(empty_db)
    assert (revision, diff) == (HEAD_REVISION, [])


def test_every_step_down_to_nothing_and_back(empty_db):
    known = revisions(empty_db)
    upgrade(empty_db)
    for below in reversed([None, *known[:-1]]):
        command.downgrade(_config(empty_db), below or "base")
        engine = create_engine(empty_db)
        try:
            with engine.connect() as conn:
                at = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        finally:
            engine.dispose()
        assert at == below
    engine = create_engine(empty_db)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}  # nothing of ours is left
    finally:
        engine.dispose()
    upgrade(empty_db)
    revision, _, diff = _state(empty_db)
    assert (revision, diff) == (HEAD_REVISION, [])
