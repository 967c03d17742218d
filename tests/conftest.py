import os
import sys
from pathlib import Path

import processes
import pytest

ROOT = Path(__file__).resolve().parents[1]
REAL_PAGES = ROOT.parent / "shared" / "real-pages"
FIXTURES = ROOT / "spiders" / "fixtures"
sys.path.insert(0, str(ROOT))


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: starts processes or servers (deselect with -m 'not slow')")
    config.addinivalue_line(
        "markers",
        "dialect_neutral: takes a database only so that its processes never touch a default one, and is refused "
        "or answered before any query (usage errors, bad variables, pages that cannot be parsed): not repeated in "
        "the server pass",
    )


#: a test whose fixtures include one of these takes a database, which is on the server in the server pass
DATABASE_FIXTURES = {"tmp_db", "empty_db", "module_db", "_server_admin"}


def pytest_collection_modifyitems(config, items):
    """The server pass (PROMOWATCH_TEST_SERVER_URL set) runs the tests that take a database, or whose module
    reads that variable itself, unless marked `dialect_neutral`; the others never query the server and would
    repeat the SQLite pass to the byte, so they are deselected there (counted in pytest's summary line as
    deselected)."""
    if not os.environ.get("PROMOWATCH_TEST_SERVER_URL"):
        return
    keep, repeat, reads = [], [], {}
    for item in items:
        path = str(item.path)
        if path not in reads:  # a test module that reads the variable itself (e.g. EXPLAIN plans, several senders)
            reads[path] = "PROMOWATCH_TEST_SERVER_URL" in item.path.read_text(encoding="utf-8")
        takes_database = bool(DATABASE_FIXTURES & set(getattr(item, "fixturenames", ())))
        neutral = item.get_closest_marker("dialect_neutral") is not None
        (keep if (takes_database or reads[path]) and not neutral else repeat).append(item)
    if repeat:
        config.hook.pytest_deselected(items=repeat)
        items[:] = keep


def real_page(operator: str, name: str = "mobile.html") -> Path:
    """Path of a real capture, or skip: third-party pages live outside the repository."""
    path = REAL_PAGES / operator / name
    if not path.exists():
        pytest.skip(f"real capture {path} not present (../shared/real-pages is outside the repository)")
    return path


def real_offers(operator: str, today: str) -> list[dict]:
    """The validated offers the operator's spider reads off its real capture (skips when absent)."""
    from contract.offer import normalise
    from spiders.saved_page import parse_file

    return [normalise(i) for i in parse_file(operator, real_page(operator), today=today)]


def store_crawl(url: str, operator: str, items: list[dict], when=None, detect: bool = False) -> int:
    """A healthy crawl of `items` (offer items, normalised) stored as a spider's would be, at `when` (default now);
    with `detect`, its change events detected too. The crawl's id."""
    from contract.clock import utcnow
    from storage.repository import record_crawl

    result = record_crawl(
        operator=operator,
        started_at=when or utcnow(),
        finished_at=when,
        finish_reason="finished",
        status="healthy",
        items=items,
        items_scraped=len(items),
        dropped={},
        error=None,
        database_url=url,
    )
    if detect:
        from alerts.detect import detect_after_crawl

        detect_after_crawl(result.run_id, url)
    return result.run_id


@pytest.fixture
def engine(tmp_db):
    """The migrated engine of the test's own database."""
    from storage.engine import get_engine

    return get_engine(tmp_db)


SERVER = os.environ.get("PROMOWATCH_TEST_SERVER_URL")


def needs_server(reason: str):
    """A mark for a test that needs a server database (PROMOWATCH_TEST_SERVER_URL): skipped on SQLite only."""
    return pytest.mark.skipif(not SERVER, reason=f"needs a database server (PROMOWATCH_TEST_SERVER_URL): {reason}")


@pytest.fixture(scope="session")
def _server_admin():
    """An AUTOCOMMIT engine on the test server's maintenance database (CREATE/DROP DATABASE), one per worker."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    admin = create_engine(SERVER, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    yield admin
    admin.dispose()


#: what a server database's schema is made of (columns, indexes, constraints, sequences), to tell whether a test
#: left it as the migrations made it
_SCHEMA = """
SELECT md5(string_agg(part, ';' ORDER BY part)) FROM (
  SELECT table_name || '.' || column_name || ':' || data_type || ':' || is_nullable || ':'
         || coalesce(column_default, '') AS part FROM information_schema.columns WHERE table_schema = 'public'
  UNION ALL SELECT indexdef FROM pg_indexes WHERE schemaname = 'public'
  UNION ALL SELECT conrelid::regclass || ':' || conname || ':' || pg_get_constraintdef(oid) FROM pg_constraint
            WHERE connamespace = 'public'::regnamespace
  UNION ALL SELECT 'sequence ' || sequencename FROM pg_sequences WHERE schemaname = 'public'
) AS schema
"""


class _ServerDatabases:
    """The databases of one test worker on the test server: a template migrated to the head once, and the
    databases the tests used, each given to the next test only after it is made as new again.

    CREATE DATABASE (8 MB copied, WAL-logged) and DROP DATABASE cost ~0.5 s each on the CI machine, ~1 s a test
    over hundreds of tests; emptying a used database costs ~0.05 s. A database is reused only when its schema is
    still exactly the template's (revision and fingerprint: a test that migrated it down and not back, or changed
    it, gets it dropped); then every other connection to it is ended, every row deleted and every id sequence
    restarted, so the next test sees what a fresh copy of the template would give it."""

    def __init__(self, admin):
        from storage.engine import upgrade

        self.admin = admin
        self.free: list[str] = []
        self.template = self.create()
        upgrade(self.template)  # Alembic disposes its engine: no connection left on the template
        self.schema = self._schema(self.template)

    def create(self, template: str | None = None) -> str:
        """A new database on the test server (a copy of `template` when given); its URL."""
        import uuid

        from sqlalchemy import text
        from sqlalchemy.engine import make_url

        name = f"pw_{uuid.uuid4().hex[:12]}"
        clause = f' TEMPLATE "{make_url(template).database}"' if template else ""
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"{clause}'))
            # a commit waits for no disk flush (SQLite's synchronous=NORMAL under WAL does not either): the same
            # visibility, locks and isolation, only a server crash could lose the last commits of a test
            conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
        return make_url(SERVER).set(database=name).render_as_string(hide_password=False)

    def take(self) -> str:
        return self.free.pop() if self.free else self.create(self.template)

    def give_back(self, url: str) -> None:
        """Empty the used database for the next test, or drop it when the test changed its schema."""
        from sqlalchemy import text
        from sqlalchemy.engine import make_url

        from storage.engine import HEAD_REVISION, _engine

        _engine.cache_clear()  # the test's engines go; their connections are ended below
        with self.admin.connect() as conn:
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": make_url(url).database},
            )
        try:
            if self._schema(url) != self.schema or self._revision(url) != HEAD_REVISION:
                raise LookupError("the schema is not the template's")
            self._empty(url)
        except Exception:  # noqa: BLE001 — whatever the test left, the database is not reused
            self.drop(url)
        else:
            self.free.append(url)

    def replace(self, url: str, source: str) -> None:
        """Make the database at `url` a copy of `source` (same name: the URL stays valid)."""
        from sqlalchemy import text
        from sqlalchemy.engine import make_url

        from storage.engine import _engine

        _engine.cache_clear()  # no pooled connection of this process left on either database
        name, template = make_url(url).database, make_url(source).database
        with self.admin.connect() as conn:
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": template}
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
            conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))

    def drop(self, url: str) -> None:
        from sqlalchemy import text
        from sqlalchemy.engine import make_url

        from storage.engine import _engine

        _engine.cache_clear()  # close pooled connections before the drop
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))

    def close(self) -> None:
        for url in [*self.free, self.template]:
            self.drop(url)

    @staticmethod
    def _connect(url: str):
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        return create_engine(url, poolclass=NullPool)

    def _schema(self, url: str) -> str:
        from sqlalchemy import text

        engine = self._connect(url)
        try:
            with engine.connect() as conn:
                return conn.execute(text(_SCHEMA)).scalar_one()
        finally:
            engine.dispose()

    def _revision(self, url: str) -> str | None:
        from sqlalchemy import text

        engine = self._connect(url)
        try:
            with engine.connect() as conn:
                return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        finally:
            engine.dispose()

    def _empty(self, url: str) -> None:
        from sqlalchemy import text
        from sqlmodel import SQLModel

        import storage.models  # noqa: F401  (registers the tables)

        engine = self._connect(url)
        try:
            with engine.begin() as conn:
                for table in reversed(SQLModel.metadata.sorted_tables):  # children before parents
                    conn.execute(table.delete())
                sequences = conn.execute(text("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'"))
                for (name,) in sequences.all():
                    conn.execute(text(f'ALTER SEQUENCE "{name}" RESTART'))
        finally:
            engine.dispose()


@pytest.fixture(scope="session")
def _migrated_template(tmp_path_factory, request):
    """A database migrated to the head once per test session (per xdist worker), from which every `tmp_db`
    starts instead of running every migration again: on SQLite a file that each test copies, on a server a
    `_ServerDatabases`. The migrations themselves are tested on an `empty_db` (tests/test_migrations.py)."""
    if not SERVER:
        import sqlite3

        from storage.engine import upgrade

        path = tmp_path_factory.mktemp("template") / "promowatch.db"
        upgrade(f"sqlite:///{path}")
        with sqlite3.connect(path) as conn:  # everything in the main file: a copy of it alone is the database
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        yield path
        return
    databases = _ServerDatabases(request.getfixturevalue("_server_admin"))
    try:
        yield databases
    finally:
        databases.close()


@pytest.fixture
def tmp_db(tmp_path, monkeypatch, _migrated_template):
    """A fresh database of the test's own, migrated to the head: a SQLite file (a copy of the template), or with
    PROMOWATCH_TEST_SERVER_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/postgres) a database on that
    server, as the migrations left it (see `_ServerDatabases`)."""
    if not SERVER:
        import shutil

        path = tmp_path / "promowatch.db"
        shutil.copyfile(_migrated_template, path)
        os.chmod(path, 0o600)  # as promowatch creates its files
        url = f"sqlite:///{path}"
        monkeypatch.setenv("PROMOWATCH_DATABASE_URL", url)
        yield url
        return
    url = _migrated_template.take()
    monkeypatch.setenv("PROMOWATCH_DATABASE_URL", url)
    yield url
    _migrated_template.give_back(url)


@pytest.fixture(scope="module")
def module_db(tmp_path_factory, _migrated_template):
    """A migrated database that a module's fixture fills once (say a healthy crawl of every operator), for its
    tests to start from: each takes its own copy with `copy_of` and never writes this one."""
    if not SERVER:
        import shutil

        path = tmp_path_factory.mktemp("module_db") / "promowatch.db"
        shutil.copyfile(_migrated_template, path)
        os.chmod(path, 0o600)
        yield f"sqlite:///{path}"
        return
    url = _migrated_template.create(_migrated_template.template)
    yield url
    _migrated_template.drop(url)


@pytest.fixture
def copy_of(tmp_db, _migrated_template):
    """`copy_of(source)` makes the test's database (`tmp_db`, same URL) a copy of `source`, a `module_db` once
    filled: the file copied on SQLite (its WAL checkpointed into it first), CREATE DATABASE ... TEMPLATE on a
    server. Costs a file copy or ~1 s, where filling it again costs processes."""

    def copy(source: str) -> str:
        if not SERVER:
            import shutil
            import sqlite3

            from sqlalchemy.engine import make_url

            source_path, path = make_url(source).database, make_url(tmp_db).database
            with sqlite3.connect(source_path) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.close()
            shutil.copyfile(source_path, path)
        else:
            _migrated_template.replace(tmp_db, source)
        return tmp_db

    return copy


@pytest.fixture
def empty_db(tmp_path, monkeypatch, request):
    """Like `tmp_db`, but empty: no table, no schema revision (for the migrations' own tests)."""
    if not SERVER:
        url = f"sqlite:///{tmp_path / 'empty.db'}"
        monkeypatch.setenv("PROMOWATCH_DATABASE_URL", url)
        yield url
        return
    databases = request.getfixturevalue("_migrated_template")
    url = databases.create()
    monkeypatch.setenv("PROMOWATCH_DATABASE_URL", url)
    yield url
    databases.drop(url)


#: the command line as a real process (`python -m promowatch.cli`), run from the checkout
PROMOWATCH = [sys.executable, "-m", "promowatch.cli"]


def promowatch_without(module: str) -> list[str]:
    """The command line as a real process in which `module` cannot be imported, as if it were not installed
    (None in sys.modules: Python's documented way to make an import raise ModuleNotFoundError naming it)."""
    code = (
        f"import runpy, sys; sys.modules[{module!r}] = None; "
        "runpy.run_module('promowatch.cli', run_name='__main__', alter_sys=True)"
    )
    return [sys.executable, "-c", code]


def run(cmd, env, timeout=120, check=True):
    """A real process from the checkout; with `check`, a non-zero exit fails the test with its output."""
    proc = processes.run(cmd, cwd=ROOT, env=env, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{cmd} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture
def env(tmp_db):
    """The environment of a promowatch process: its own database (tmp_db), a fixed crawl day, no inherited settings."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("PROMOWATCH_")}
    e["PROMOWATCH_DATABASE_URL"] = tmp_db
    e["PROMOWATCH_TODAY"] = "2026-09-15"
    return e


@pytest.fixture(autouse=True)
def _terminal_width_not_inherited(monkeypatch):
    """Table widths are chosen by each test (COLUMNS in its env), never inherited: pytest-xdist's workers carry
    COLUMNS=80, a terminal carries its own."""
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.delenv("LINES", raising=False)
