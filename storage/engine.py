"""Where the database is and how it is opened; migrations applied on first use.

PROMOWATCH_DATABASE_URL takes any SQLAlchemy URL; the default is a SQLite file in the user's data
directory. The only dialect-specific code of the project lives in `_dialect_setup` (SQLite pragmas).
Alembic is imported only when the schema is behind, so commands start fast. A resident process (the crawl
worker) sets `MIGRATE_IN_SUBPROCESS`: its migration then runs in a one-off child process, so that Alembic and
Mako (about 12 MiB) do not stay loaded in it for as long as it lives.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from functools import lru_cache
from pathlib import Path

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Engine

HEAD_REVISION = "0005_notification_failure_kind"
MIGRATIONS = Path(__file__).with_name("migrations")
#: migrate a database that is behind in a one-off child process rather than in this one (see the docstring)
MIGRATE_IN_SUBPROCESS = False


def database_url(explicit: str | None = None) -> str:
    url = explicit or os.environ.get("PROMOWATCH_DATABASE_URL")
    if url:
        return url
    from platformdirs import user_data_dir

    folder = Path(user_data_dir("promowatch", appauthor=False))
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'promowatch.db'}"


def _dialect_setup(engine: Engine) -> None:
    if engine.dialect.name == "sqlite":
        synchronous = os.environ.get("PROMOWATCH_SQLITE_SYNCHRONOUS", "NORMAL").upper()
        if synchronous not in ("NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"PROMOWATCH_SQLITE_SYNCHRONOUS must be NORMAL, FULL or EXTRA, not {synchronous!r}")

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # WAL: readers (CLI) never block the crawl's writer
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            # NORMAL under WAL: consistent after any crash, no fsync per commit; a power cut may lose the last
            # commits (a crawl done again next cycle). FULL fsyncs every commit.
            cur.execute(f"PRAGMA synchronous={synchronous}")
            cur.close()


def upgrade(url: str, revision: str = "head") -> None:
    """Apply the Alembic migrations up to `revision`."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(cfg, revision)


def upgrade_in_subprocess(url: str, timeout: float = 600.0) -> None:
    """`upgrade(url)` in a child process with this one's import path. The URL goes through the environment,
    not the command line (where `ps` would show its password); an error names it with the password hidden."""
    import json

    from sqlalchemy.engine import make_url

    code = (
        "import json, sys; sys.path[:0] = json.loads(sys.argv[1]); "
        "from storage.engine import database_url, upgrade; upgrade(database_url())"
    )
    env = {**os.environ, "PROMOWATCH_DATABASE_URL": url}
    proc = subprocess.run(
        [sys.executable, "-c", code, json.dumps([p for p in sys.path if p])],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        parsed = make_url(url)
        shown, tail = parsed.render_as_string(hide_password=True), proc.stderr.strip()[-2000:]
        if parsed.password:
            tail = tail.replace(str(parsed.password), "***")
        raise RuntimeError(f"migrating {shown} failed (exit code {proc.returncode}): {tail}")


def current_revision(engine: Engine) -> str | None:
    if not inspect(engine).has_table("alembic_version"):
        return None
    with engine.connect() as conn:
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


_CREATING = threading.Lock()


def get_engine(url: str | None = None) -> Engine:
    """The engine for `url` (default: PROMOWATCH_DATABASE_URL or the user's data file), migrated.
    Thread-safe: the crawl worker's reactor and its task threads may ask for it first at the same time,
    and two migrations of one database must never run at once."""
    with _CREATING:
        return _engine(database_url(url))


@lru_cache(maxsize=8)
def _engine(url: str) -> Engine:
    engine = create_engine(url, future=True)
    _dialect_setup(engine)
    if current_revision(engine) != HEAD_REVISION:
        upgrade_in_subprocess(url) if MIGRATE_IN_SUBPROCESS else upgrade(url)
    return engine
