"""A consistent copy of a SQLite database taken while the service keeps writing to it.

Copying the file (cp) while a crawl commits can give a torn copy, and misses what still sits in the -wal file.
SQLite's online backup API (`sqlite3.Connection.backup`) copies the pages as of one read transaction: under WAL the
writers are not held up, and the copy is the database as it was at one commit. The copy is written beside its
destination, checked (`PRAGMA integrity_check`), made 0600 (it holds channel passwords) and then renamed into
place, so a half-written backup never carries the final name. A PostgreSQL database is backed up with pg_dump.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from storage.engine import DatabaseUnavailable, read_only, shown, sqlite_file


@dataclass(frozen=True)
class Backup:
    file: Path
    pages: int
    revision: str | None
    size: int


def pg_dump_hint(url: str) -> str:
    """How to back up a server database instead (the URL shown with its password hidden)."""
    parsed = make_url(url)
    conninfo = URL.create(
        parsed.get_backend_name(), parsed.username, None, parsed.host, parsed.port, parsed.database
    ).render_as_string()
    return (
        f"promowatch db backup copies SQLite databases only; back up {shown(url)} with PostgreSQL's own tool: "
        f"pg_dump --format=custom --file=promowatch.dump '{conninfo}' (password from PGPASSWORD or ~/.pgpass; "
        "restore into an empty database with pg_restore --dbname=URL promowatch.dump)"
    )


def backup_sqlite(url: str, destination: Path) -> Backup:
    """Back the SQLite database at `url` up into the new file `destination` (which must not exist yet).
    DatabaseUnavailable (one line) for a server database, a missing source or an existing destination."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        raise DatabaseUnavailable(pg_dump_hint(url), bad_input=True)
    source = sqlite_file(parsed)
    if source is None:
        raise DatabaseUnavailable(
            f"the database {shown(url)} is in memory: there is no file to back up", bad_input=True
        )
    if not source.is_file():
        raise DatabaseUnavailable(
            f"the database file {source} does not exist: check PROMOWATCH_DATABASE_URL", bad_input=True
        )
    destination = Path(destination)
    if destination.exists():
        raise DatabaseUnavailable(
            f"the backup file {destination} already exists: choose a new name (a backup never overwrites)",
            bad_input=True,
        )
    folder = destination.parent if str(destination.parent) else Path(".")
    if not folder.is_dir():
        raise DatabaseUnavailable(
            f"the folder {folder} of the backup file does not exist: create it first", bad_input=True
        )
    # read-only sources (mode=ro, a file we may not write) are opened read-only: a backup never writes the source
    src_uri = f"file:{source.resolve()}" + ("?mode=ro" if read_only(parsed) else "")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".part", dir=folder)  # 0600
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        src = sqlite3.connect(src_uri, uri=True, timeout=30)
        try:
            dst = sqlite3.connect(tmp)
            try:
                # all pages in one step: one read transaction, so one consistent state (a stepped backup restarts
                # whenever another connection writes, and may never finish under a busy crawl)
                src.backup(dst, pages=-1)
                pages = dst.execute("PRAGMA page_count").fetchone()[0]
                problems = [row[0] for row in dst.execute("PRAGMA integrity_check(5)")]
                if problems != ["ok"]:
                    raise DatabaseUnavailable(
                        f"the backup of {source} failed its integrity check ({'; '.join(problems)[:200]}): "
                        "the source may be damaged; run `promowatch db upgrade` on it to see"
                    )
                revision = _revision(dst)
                dst.execute("PRAGMA journal_mode=DELETE")  # a backup is one self-contained file
            finally:
                dst.close()
        finally:
            src.close()
        os.replace(tmp, destination)
    except sqlite3.DatabaseError as exc:
        raise DatabaseUnavailable(f"cannot back up the database file {source}: {exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return Backup(file=destination, pages=pages, revision=revision, size=destination.stat().st_size)


def _revision(conn: sqlite3.Connection) -> str | None:
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError:  # not a promowatch database yet (no migration ran)
        return None
    return row[0] if row else None
