"""Where the database is and how it is opened; migrations applied on first use.

PROMOWATCH_DATABASE_URL takes any SQLAlchemy URL (default: a SQLite file in the user's data directory); the only
dialect-specific code of the project is `_dialect_setup` (SQLite pragmas). Alembic is imported only when the
schema is behind, so commands start fast; a resident process (the crawl worker) sets `MIGRATE_IN_SUBPROCESS`,
so that Alembic and Mako do not stay loaded in it for as long as it lives.

The database holds channel URLs with their passwords: a SQLite file we create is 0600 (its -wal and -shm files
get its mode) and the default data folder 0700, whatever the umask. A database that cannot be used is a
`DatabaseUnavailable` whose one-line message names it (password hidden) and says what to do (`explain`); a
read-only file is opened for reading and never migrated. A process that exits closes its engines' pooled
connections itself (SQLite then folds its WAL back into the file), not whenever the collector finalises them.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import stat
import subprocess
import sys
import threading
import weakref
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.engine.url import URL

HEAD_REVISION = "0012_outbox_write_cost"
MIGRATIONS = Path(__file__).with_name("migrations")
#: migrate a database that is behind in a one-off child process rather than in this one (see the docstring)
MIGRATE_IN_SUBPROCESS = False


class DatabaseUnavailable(RuntimeError):
    """The database cannot be used. The message is one line: which database, why, what to do.
    `bad_input`: the user's setting is wrong (exit 2), rather than the database failing (exit 1)."""

    def __init__(self, message: str, *, bad_input: bool = False):
        super().__init__(message)
        self.bad_input = bad_input

    @property
    def exit_code(self) -> int:
        return 2 if self.bad_input else 1


def database_url(explicit: str | None = None) -> str:
    url = explicit or os.environ.get("PROMOWATCH_DATABASE_URL")
    if url:
        return url
    from platformdirs import user_data_dir

    folder = Path(user_data_dir("promowatch", appauthor=False))
    if not folder.is_dir():
        folder.parent.mkdir(parents=True, exist_ok=True)
        folder.mkdir(mode=0o700, exist_ok=True)  # ours alone: it holds the database
    return f"sqlite:///{folder / 'promowatch.db'}"


def shown(url: str) -> str:
    """The URL as it may be shown: the password hidden, also when it does not parse."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 — ArgumentError, ValueError: not a URL; mask what looks like userinfo
        return re.sub(r"(://[^/@:]*:)[^/@]*@", r"\1***@", url)


def sqlite_file(url: str | URL) -> Path | None:
    """The file of a SQLite URL (also `sqlite:///file:PATH?mode=ro&uri=true`); None for memory or another kind."""
    parsed = make_url(url) if isinstance(url, str) else url
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    name = parsed.database
    if parsed.query.get("uri") in ("true", "1") and name.startswith("file:"):
        name = name[len("file:") :].split("?", 1)[0]
        if name in ("", ":memory:") or parsed.query.get("mode") == "memory":
            return None
    return Path(name)


def read_only(url: str | URL) -> bool:
    """Whether this process can only read the database: a SQLite URI with `mode=ro` or `immutable=1`, or a
    file or folder it may not write (root may write anything)."""
    parsed = make_url(url) if isinstance(url, str) else url
    file = sqlite_file(parsed)
    if file is None:
        return False
    if parsed.query.get("uri") in ("true", "1") and (
        parsed.query.get("mode") == "ro" or parsed.query.get("immutable") in ("1", "true")
    ):
        return True
    folder = file.parent if str(file.parent) else Path(".")
    return (file.exists() and not os.access(file, os.W_OK)) or not os.access(folder, os.W_OK)


_DAMAGED = ("file is not a database", "database disk image is malformed", "malformed database schema")


def explain(exc: BaseException, url: str | None = None) -> DatabaseUnavailable | None:
    """`exc` as a DatabaseUnavailable if it says the database cannot be used (damaged, read-only, cannot be
    opened, unreachable, locked too long); None for any other error (a bug keeps its traceback)."""
    from sqlalchemy import exc as sa_exc

    if isinstance(exc, DatabaseUnavailable):
        return exc
    if not isinstance(exc, sa_exc.DBAPIError):
        return None
    url = url or database_url()
    file = sqlite_file(url) if _parses(url) else None
    name = f"the database file {file}" if file else f"the database {shown(url)}"
    detail = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc).splitlines()[0]
    password = make_url(url).password if _parses(url) else None
    if password:
        detail = detail.replace(str(password), "***")
    low = detail.lower()
    if any(text in low for text in _DAMAGED):
        return DatabaseUnavailable(
            f"{name} is damaged ({detail}): restore it from a backup, or move it away to start an empty one"
        )
    if "readonly database" in low or "read-only" in low:
        return _read_only_error(name)
    if "unable to open database file" in low:
        return DatabaseUnavailable(
            f"cannot open {name}: check that its folder exists and that you may read and write it", bad_input=True
        )
    if "database is locked" in low:
        return DatabaseUnavailable(f"{name} stayed locked by another process: try again when it is done")
    if isinstance(exc, sa_exc.OperationalError) and not file:  # a server: refused, unknown host, wrong password
        return DatabaseUnavailable(f"cannot use {name}: {detail}")
    return None


def _read_only_error(name: str) -> DatabaseUnavailable:
    return DatabaseUnavailable(
        f"{name} is read-only: this command writes to it; run it as the user who owns the database, "
        "or make the file and its folder writable"
    )


def _parses(url: str) -> bool:
    try:
        make_url(url)
    except Exception:  # noqa: BLE001
        return False
    return True


def _dialect_setup(engine: Engine) -> None:
    if engine.dialect.name == "sqlite":
        from storage.environment import setting

        synchronous = setting("PROMOWATCH_SQLITE_SYNCHRONOUS")  # BadEnvironment (one line) for a bad value
        writable = not read_only(engine.url)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # WAL: readers (CLI) never block the crawl's writer
            cur = dbapi_conn.cursor()
            # switching to WAL writes the file: a read-only connection reads in whatever mode the file is in
            if writable and cur.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            # NORMAL under WAL: consistent after any crash, no fsync per commit; a power cut may lose the last
            # commits (a crawl done again next cycle). FULL fsyncs every commit.
            cur.execute(f"PRAGMA synchronous={synchronous}")
            cur.close()


def _migrations_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Apply the Alembic migrations up to `revision`."""
    from alembic import command

    command.upgrade(_migrations_config(url), revision)


def revisions(url: str = "sqlite://") -> list[str]:
    """Every schema revision this version knows, oldest first."""
    from alembic.script import ScriptDirectory

    return [s.revision for s in reversed(list(ScriptDirectory.from_config(_migrations_config(url)).walk_revisions()))]


def upgrade_to(url: str, revision: str = "head") -> tuple[str | None, str, str | None]:
    """Migrate the database at `url` up to `revision` (a revision, a unique prefix of one, or "head"); return
    (revision before, the revision asked for, revision after). Never goes down: a database past `revision` is
    left as it is. An unknown revision is a DatabaseUnavailable with bad_input (it names the known ones)."""
    known = revisions(url)
    target = known[-1] if revision == "head" else None
    if target is None:
        matches = [r for r in known if r == revision] or [r for r in known if r.startswith(revision)]
        if len(matches) != 1:
            raise DatabaseUnavailable(
                f"{'unknown' if not matches else 'ambiguous'} schema revision {revision!r}; "
                f"known: {', '.join(known)} (or head)",
                bad_input=True,
            )
        target = matches[0]
    engine = _open(url)
    try:
        before = _revision_or_explain(engine, url)
        if before is not None and before not in known:
            raise _unknown_revision(url, before)
        if before is None or known.index(before) < known.index(target):
            if read_only(url):
                raise DatabaseUnavailable(
                    f"the database file {sqlite_file(url)} is read-only: run `promowatch db upgrade` as the user "
                    "who owns it"
                )
            try:
                upgrade(url, target)
            except Exception as exc:
                raise (explain(exc, url) or exc) from None
        return before, target, _revision_or_explain(engine, url)
    finally:
        engine.dispose()


def upgrade_in_subprocess(url: str, timeout: float = 600.0) -> None:
    """`upgrade(url)` in a child process with this one's import path. The URL goes through the environment,
    not the command line (where `ps` would show its password); an error names it with the password hidden."""
    import json

    code = (
        "import json, sys; sys.path[:0] = json.loads(sys.argv[1])\n"
        "from storage.engine import database_url, explain, upgrade\n"
        "try:\n"
        "    upgrade(database_url())\n"
        "except Exception as exc:\n"
        "    problem = explain(exc, database_url())\n"
        "    if problem is None:\n"
        "        raise\n"
        "    print(problem, file=sys.stderr)\n"
        "    sys.exit(3)\n"
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
    if proc.returncode == 3:
        raise DatabaseUnavailable(proc.stderr.strip().splitlines()[-1])
    if proc.returncode != 0:
        parsed = make_url(url)
        tail = proc.stderr.strip()[-2000:]
        if parsed.password:
            tail = tail.replace(str(parsed.password), "***")
        raise RuntimeError(f"migrating {shown(url)} failed (exit code {proc.returncode}): {tail}")


def current_revision(engine: Engine) -> str | None:
    if not inspect(engine).has_table("alembic_version"):
        return None
    with engine.connect() as conn:
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _revision_or_explain(engine: Engine, url: str) -> str | None:
    try:
        return current_revision(engine)
    except Exception as exc:
        raise (explain(exc, url) or exc) from None


def _unknown_revision(url: str, revision: str | None) -> DatabaseUnavailable:
    return DatabaseUnavailable(
        f"the database {shown(url)} is at schema revision {revision!r}, which this promowatch does not know "
        "(written by a newer version?): upgrade promowatch, or use a backup"
    )


#: the package to install for a driver module whose name is not its package's
_PACKAGES = {"psycopg": "'psycopg[binary]'", "psycopg2": "psycopg2-binary", "MySQLdb": "mysqlclient"}


def _open(url: str) -> Engine:
    """An engine for `url`, not migrated; DatabaseUnavailable when the URL, its folder or driver is wrong.
    A SQLite file that does not exist yet is created here, 0600."""
    from sqlalchemy import exc as sa_exc

    try:
        parsed = make_url(url)
    except (sa_exc.ArgumentError, ValueError):
        raise DatabaseUnavailable(
            f"PROMOWATCH_DATABASE_URL {shown(url)!r} is not a database URL: use e.g. "
            "sqlite:////var/lib/promowatch/promowatch.db or postgresql+psycopg://user:password@host/name",
            bad_input=True,
        ) from None
    file = sqlite_file(parsed)
    if file is not None:
        folder = file.parent if str(file.parent) else Path(".")
        if file.is_dir():
            raise DatabaseUnavailable(
                f"{file} is a folder, not a database file: set PROMOWATCH_DATABASE_URL to a file in it, "
                f"e.g. sqlite:///{file / 'promowatch.db'}",
                bad_input=True,
            )
        if not folder.is_dir():
            raise DatabaseUnavailable(
                f"the folder {folder} of the database {file} does not exist: create it (mkdir -m 700 {folder}) "
                "or set PROMOWATCH_DATABASE_URL to a file in an existing folder",
                bad_input=True,
            )
        if not file.exists():
            if read_only(parsed):
                raise DatabaseUnavailable(
                    f"the database file {file} does not exist and may not be created here (read-only): "
                    "check PROMOWATCH_DATABASE_URL",
                    bad_input=True,
                )
            try:  # created by us, 0600: SQLite would create it 0644 under the usual umask
                os.close(os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            except FileExistsError:
                pass
            except OSError as exc:
                raise DatabaseUnavailable(
                    f"cannot create the database file {file}: {exc.strerror}; check PROMOWATCH_DATABASE_URL "
                    "and the folder's permissions",
                    bad_input=True,
                ) from None
        elif not os.access(folder, os.W_OK) and not any(Path(f"{file}{s}").exists() for s in ("-wal", "-shm")):
            # SQLite must create FILE-shm to read a WAL database and may not here. With neither -wal nor -shm
            # no process has the database open, and the file alone is all of it: read it as immutable.
            query = {**parsed.query, "uri": "true", "mode": "ro", "immutable": "1"}
            parsed = parsed.set(database=f"file:{quote(str(file.resolve()))}", query=query)
    try:
        engine = create_engine(parsed, future=True)
    except sa_exc.NoSuchModuleError:
        raise DatabaseUnavailable(
            f"PROMOWATCH_DATABASE_URL {shown(url)!r}: unknown kind of database {parsed.drivername!r}; "
            "use sqlite:///PATH or postgresql+psycopg://user:password@host/name",
            bad_input=True,
        ) from None
    except ImportError as exc:
        module = exc.name or "its driver"
        hint = f" (pip install {_PACKAGES.get(module, module)})" if exc.name else ""
        raise DatabaseUnavailable(
            f"the database driver {module!r} for {shown(url)} is not installed: install it{hint}, "
            "or choose another driver in PROMOWATCH_DATABASE_URL"
        ) from None
    _dialect_setup(engine)
    return engine


def check_database(url: str | None = None) -> None:
    """Before a long job writes to it: the database opens, is migrated, is not damaged (SQLite's quick check)
    and can be written; else DatabaseUnavailable."""
    url = database_url(url)
    engine = get_engine(url)
    if engine.dialect.name != "sqlite":
        return
    if read_only(url):
        raise _read_only_error(f"the database file {sqlite_file(url)}")
    try:
        with engine.connect() as conn:
            problems = [row[0] for row in conn.execute(text("PRAGMA quick_check(5)"))]
            if problems != ["ok"]:
                raise DatabaseUnavailable(
                    f"the database file {sqlite_file(url)} is damaged ({'; '.join(problems)[:200]}): restore it "
                    "from a backup, or move it away to start an empty one"
                )
            conn.rollback()
            # a write that changes nothing, rolled back: fails on a file this process may not write
            conn.execute(text("DELETE FROM alembic_version WHERE 1 = 0"))
            conn.rollback()
    except DatabaseUnavailable:
        raise
    except Exception as exc:
        raise (explain(exc, url) or exc) from None


def exposed(url: str | None = None) -> str | None:
    """A warning when others may read the SQLite file or its -wal/-shm (a database created before files were
    made 0600, or copied with a loose umask): they hold channel URLs with passwords. None when private."""
    file = sqlite_file(database_url(url)) if _parses(database_url(url)) else None
    if file is None:
        return None
    loose = [
        f"{path} ({stat.S_IMODE(path.stat().st_mode):04o})"
        for path in (file, Path(f"{file}-wal"), Path(f"{file}-shm"))
        if path.exists() and path.stat().st_mode & 0o077
    ]
    if not loose:
        return None
    return (
        f"others may read the database, which holds channel passwords: {', '.join(loose)}; "
        f"run chmod 600 {file}* as its owner"
    )


_CREATING = threading.Lock()
_OPENED: weakref.WeakSet[Engine] = weakref.WeakSet()  # the engines `_engine` made and still in use: closed at exit


@atexit.register
def _close_at_exit() -> None:
    for engine in list(_OPENED):
        with contextlib.suppress(Exception):  # a server already gone: nothing left to close
            engine.dispose()


def get_engine(url: str | None = None) -> Engine:
    """The engine for `url` (default: PROMOWATCH_DATABASE_URL or the user's data file), migrated.
    Thread-safe: the crawl worker's reactor and its task threads may ask for it first at the same time,
    and two migrations of one database must never run at once. DatabaseUnavailable when it cannot be used."""
    with _CREATING:
        return _engine(database_url(url))


@lru_cache(maxsize=8)
def _engine(url: str) -> Engine:
    engine = _open(url)
    revision = _revision_or_explain(engine, url)
    if revision != HEAD_REVISION:
        if read_only(url):
            engine.dispose()
            raise DatabaseUnavailable(
                f"the database file {sqlite_file(url)} is read-only and its schema is at revision {revision}, "
                f"this promowatch needs {HEAD_REVISION}: run `promowatch db upgrade` as the user who owns it"
            )
        try:
            upgrade_in_subprocess(url) if MIGRATE_IN_SUBPROCESS else upgrade(url)
        except Exception as exc:
            engine.dispose()
            if "Can't locate revision" in str(exc):  # Alembic: the database is ahead of this version
                raise _unknown_revision(url, revision) from None
            raise (explain(exc, url) or exc) from None
    _OPENED.add(engine)
    return engine
