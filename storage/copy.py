"""Copy a whole promowatch database to another URL (SQLite into PostgreSQL, or any supported kind to another).

Growing past one machine means moving the SQLite file's history into a server without losing a row. The copy
reads a consistent state of the source (a SQLite source through an online backup to a private temporary file, a
server inside one REPEATABLE READ transaction), writes into a destination that is migrated to the head and empty
(a non-empty one is refused: nothing is merged), table after table in foreign-key order in batches, all in one
destination transaction (a failure leaves it empty), then moves PostgreSQL's id sequences past the copied ids.
It verifies what it wrote: per table, the row count and a hash of every row's content, on both sides.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import Table, func, inspect, select, text
from sqlalchemy.engine import Connection, Engine, make_url

from storage.engine import (
    HEAD_REVISION,
    DatabaseUnavailable,
    _open,
    current_revision,
    explain,
    shown,
    sqlite_file,
    upgrade,
)

BATCH = 2000


@dataclass(frozen=True)
class TableCopy:
    name: str
    rows: int
    digest: str


def tables() -> list[Table]:
    """Every table of the schema, parents before the tables whose foreign keys point at them."""
    from sqlmodel import SQLModel

    import storage.models  # noqa: F401  (registers the tables)

    return list(SQLModel.metadata.sorted_tables)


def copy_database(
    source_url: str,
    destination_url: str,
    batch: int = BATCH,
    progress: Callable[[str, int], None] | None = None,
) -> list[TableCopy]:
    """Copy every row of the database at `source_url` into the empty database at `destination_url` (migrated to
    the head first); `progress(table, rows)` after each table. The per-table counts and content hashes, equal on
    both sides. DatabaseUnavailable (one line, URLs masked) when either side cannot be used or the destination
    holds data."""
    if _same(source_url, destination_url):
        raise DatabaseUnavailable(
            f"the source and the destination are the same database {shown(source_url)}", bad_input=True
        )
    with _snapshot(source_url) as src_conn:
        _check_source(src_conn, source_url)
        dst = _destination(destination_url)
        try:
            copied = _copy(src_conn, dst, destination_url, batch, progress)
            with dst.connect() as dst_conn:
                written = [_summary(dst_conn, table) for table in tables()]
        except DatabaseUnavailable:
            raise
        except Exception as exc:
            raise (explain(exc, destination_url) or exc) from None
        finally:
            dst.dispose()
    for read, wrote in zip(copied, written, strict=True):
        if read != wrote:
            raise DatabaseUnavailable(
                f"the copy of table {read.name} into {shown(destination_url)} differs from the source "
                f"({read.rows} rows read, {wrote.rows} found after the copy): do not use the destination"
            )
    return copied


def _same(a: str, b: str) -> bool:
    fa, fb = sqlite_file(a), sqlite_file(b)
    if fa is not None and fb is not None:
        return fa.resolve() == fb.resolve()
    return make_url(a).render_as_string(hide_password=True) == make_url(b).render_as_string(hide_password=True)


@contextmanager
def _snapshot(url: str) -> Iterator[Connection]:
    """An open connection reading one consistent state of the source database."""
    file = sqlite_file(url) if make_url(url).get_backend_name() == "sqlite" else None
    if make_url(url).get_backend_name() == "sqlite":
        if file is None or not file.is_file():
            raise DatabaseUnavailable(
                f"the source database {shown(url)} does not exist: give the URL of an existing database",
                bad_input=True,
            )
        from storage.backup import backup_sqlite

        with tempfile.TemporaryDirectory(prefix="promowatch-copy-") as folder:  # 0700: the copy holds passwords
            snapshot = Path(folder) / "snapshot.db"
            backup_sqlite(url, snapshot)
            engine = _open(f"sqlite:///{snapshot}")
            try:
                with engine.connect() as conn:
                    yield conn
            finally:
                engine.dispose()
        return
    engine = _open(url)
    try:
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
            with conn.begin():
                yield conn
    except DatabaseUnavailable:
        raise
    except Exception as exc:
        problem = explain(exc, url)
        if problem is None:
            raise
        raise problem from None
    finally:
        engine.dispose()


def _check_source(conn: Connection, url: str) -> None:
    revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar() if _has_version(conn) else None
    if revision != HEAD_REVISION:
        raise DatabaseUnavailable(
            f"the source database {shown(url)} is at schema revision {revision or '(empty)'}, not {HEAD_REVISION}: "
            "upgrade it first (promowatch db upgrade, with PROMOWATCH_DATABASE_URL set to it)",
            bad_input=True,
        )


def _has_version(conn: Connection) -> bool:
    return inspect(conn).has_table("alembic_version")


def _destination(url: str) -> Engine:
    """The destination engine, migrated to the head; refused when any table of it holds a row."""
    engine = _open(url)
    try:
        present = set(inspect(engine).get_table_names())
        with engine.connect() as conn:
            for table in tables():
                if table.name in present:
                    rows = conn.execute(select(func.count()).select_from(table)).scalar_one()
                    if rows:
                        raise DatabaseUnavailable(
                            f"the destination database {shown(url)} is not empty (table {table.name} has {rows} "
                            "rows): copy into a new, empty database",
                            bad_input=True,
                        )
        if current_revision(engine) != HEAD_REVISION:
            upgrade(url)
    except DatabaseUnavailable:
        engine.dispose()
        raise
    except Exception as exc:
        engine.dispose()
        raise (explain(exc, url) or exc) from None
    return engine


def _copy(
    src: Connection, dst: Engine, dst_url: str, batch: int, progress: Callable[[str, int], None] | None
) -> list[TableCopy]:
    copied = []
    with dst.begin() as out:
        for table in tables():
            digest = hashlib.sha256()
            rows = 0
            result = src.execution_options(yield_per=batch).execute(_ordered(table))
            for part in result.partitions(batch):
                values = [_fit(table, dict(row._mapping)) for row in part]
                out.execute(table.insert(), values)
                for row in values:
                    digest.update(row_bytes(table, row))
                rows += len(values)
            copied.append(TableCopy(table.name, rows, digest.hexdigest()))
            if progress is not None:
                progress(table.name, rows)
        if dst.dialect.name == "postgresql":
            _reset_sequences(out)
    return copied


def _ordered(table: Table):
    return select(table).order_by(*table.primary_key.columns)


def _fit(table: Table, row: dict) -> dict:
    """A row as the destination stores it: a time read naive from SQLite into a timezone-aware column is UTC."""
    for column in table.columns:
        value = row.get(column.name)
        if isinstance(value, datetime) and value.tzinfo is None and getattr(column.type, "timezone", False):
            row[column.name] = value.replace(tzinfo=timezone.utc)
    return row


def _reset_sequences(conn: Connection) -> None:
    """Each serial id's sequence continues after the largest id copied (an empty table starts at 1)."""
    for table in tables():
        for column in table.primary_key.columns:
            if column.autoincrement is True or (column.autoincrement == "auto" and _integer(column)):
                name = table.name
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', '{column.name}'), "
                        f"COALESCE(MAX({column.name}), 1), MAX({column.name}) IS NOT NULL) FROM {name}"
                    )
                )


def _integer(column) -> bool:
    try:
        return column.type.python_type is int
    except NotImplementedError:
        return False


def _summary(conn: Connection, table: Table) -> TableCopy:
    digest = hashlib.sha256()
    rows = 0
    for part in conn.execution_options(yield_per=BATCH).execute(_ordered(table)).partitions(BATCH):
        for row in part:
            digest.update(row_bytes(table, dict(row._mapping)))
            rows += 1
    return TableCopy(table.name, rows, digest.hexdigest())


def row_bytes(table: Table, row: dict) -> bytes:
    """A row's content in a form equal on every database: times as UTC, JSON with sorted keys."""
    values = []
    for column in table.columns:
        value = row.get(column.name)
        if isinstance(value, datetime):
            if value.tzinfo is not None:
                value = value.astimezone(timezone.utc).replace(tzinfo=None)
            value = value.isoformat()
        values.append(value)
    return (json.dumps(values, sort_keys=True, default=str, ensure_ascii=False) + "\n").encode()
