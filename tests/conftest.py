import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REAL_PAGES = ROOT.parent / "shared" / "real-pages"
FIXTURES = ROOT / "spiders" / "fixtures"
sys.path.insert(0, str(ROOT))


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: starts processes or servers (deselect with -m 'not slow')")


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
    """The migrated engine of the test's own SQLite file."""
    from storage.engine import get_engine

    return get_engine(tmp_db)


@pytest.fixture
def tmp_db(tmp_path, monkeypatch):
    """A fresh database of the test's own: a SQLite file, or with PROMOWATCH_TEST_SERVER_URL (e.g.
    postgresql+psycopg://postgres@127.0.0.1:55432/postgres) a new database on that server, dropped after."""
    server = os.environ.get("PROMOWATCH_TEST_SERVER_URL")
    if not server:
        url = f"sqlite:///{tmp_path / 'promowatch.db'}"
        monkeypatch.setenv("PROMOWATCH_DATABASE_URL", url)
        yield url
        return
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"pw_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    monkeypatch.setenv("PROMOWATCH_DATABASE_URL", url)
    yield url
    from storage.engine import _engine

    _engine.cache_clear()  # close pooled connections before the drop
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


#: the command line as a real process (`python -m promowatch.cli`), run from the checkout
PROMOWATCH = [sys.executable, "-m", "promowatch.cli"]


def run(cmd, env, timeout=120, check=True):
    """A real process from the checkout; with `check`, a non-zero exit fails the test with its output."""
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
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
