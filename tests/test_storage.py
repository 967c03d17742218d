"""Storage on a real SQLite file: history, no new version for identical content, unhealthy crawls change nothing."""

import os
import sqlite3

import processes
import pytest
from conftest import PROMOWATCH, ROOT
from sqlalchemy import func, select
from sqlmodel import Session

from contract.clock import utcnow
from contract.offer import normalise
from storage.engine import HEAD_REVISION, current_revision, get_engine
from storage.models import OfferVersion
from storage.repository import last_crawls, list_offers, offer_history, record_crawl


def item(key, price, **extra):
    return normalise(
        dict(
            operator="iliad",
            offer_key=key,
            name=key.title(),
            url="https://www.iliad.it/o",
            plan_type="prepaid",
            price_cents=price,
            period_days=30,
            **extra,
        )
    )


def crawl(items, status="healthy", **kw):
    return record_crawl(
        operator="iliad",
        started_at=utcnow(),
        finish_reason="finished",
        status=status,
        items=items,
        items_scraped=len(items),
        dropped=kw.pop("dropped", {}),
        error=kw.pop("error", None),
    )


def versions(url):
    with Session(get_engine(url)) as s:
        return s.execute(select(func.count()).select_from(OfferVersion)).scalar()


def test_migrated_on_first_use(tmp_db):
    assert current_revision(get_engine(tmp_db)) == HEAD_REVISION


def test_versions_only_on_change(tmp_db):
    assert crawl([item("a", 999), item("b", 699)]).new_versions == 2
    assert crawl([item("a", 999), item("b", 699)]).new_versions == 0
    assert crawl([item("a", 899), item("b", 699)]).new_versions == 1
    assert versions(tmp_db) == 3
    hist = offer_history("iliad", "a")
    assert [v["item"]["price_cents"] for v in hist] == [999, 899]
    assert hist[0]["valid_to"] == hist[1]["valid_from"] and hist[1]["valid_to"] is None


def test_unhealthy_crawl_changes_no_offer(tmp_db):
    crawl([item("a", 999), item("b", 699)])
    before = list_offers()
    for status in ("failed", "blocked", "partial"):
        result = crawl([item("a", 1)], status=status, error="boom")
        assert result.stored == 0 and result.new_versions == 0
    assert list_offers() == before
    assert versions(tmp_db) == 2
    status = last_crawls()["iliad"]
    assert status["status"] == "partial" and status["consecutive_failures"] == 3 and status["error"] == "boom"


def test_missing_offer_is_counted_not_deleted(tmp_db):
    crawl([item("a", 999), item("b", 699)])
    crawl([item("a", 999)])
    offers = {o["offer_key"]: o for o in list_offers()}
    assert offers["b"]["missed_crawls"] == 1 and offers["a"]["missed_crawls"] == 0


@pytest.mark.parametrize(("setting", "expected"), [(None, 1), ("full", 2), ("EXTRA", 3)])
def test_sqlite_synchronous_setting(tmp_path, monkeypatch, setting, expected):
    """PRAGMA synchronous: NORMAL (1) by default under WAL, FULL (2) / EXTRA (3) on request."""
    from sqlalchemy import text

    if setting:
        monkeypatch.setenv("PROMOWATCH_SQLITE_SYNCHRONOUS", setting)
    else:
        monkeypatch.delenv("PROMOWATCH_SQLITE_SYNCHRONOUS", raising=False)
    with get_engine(f"sqlite:///{tmp_path / f'sync-{expected}.db'}").connect() as conn:
        assert conn.execute(text("PRAGMA synchronous")).scalar() == expected
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_sqlite_synchronous_refuses_unknown_value(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMOWATCH_SQLITE_SYNCHRONOUS", "OFF")
    with pytest.raises(ValueError, match="PROMOWATCH_SQLITE_SYNCHRONOUS"):
        get_engine(f"sqlite:///{tmp_path / 'off.db'}")


def test_a_resident_process_migrates_in_a_child_and_never_loads_alembic(tmp_path):
    """The crawl worker's way (MIGRATE_IN_SUBPROCESS): the database is migrated to the head by a one-off child
    process, and Alembic is never imported in the process itself."""
    import json
    import subprocess
    import sys

    from conftest import ROOT

    code = f"""
import json, sys
sys.path.insert(0, {str(ROOT)!r})
import storage.engine as e
e.MIGRATE_IN_SUBPROCESS = True
revision = e.current_revision(e.get_engine({f"sqlite:///{tmp_path / 'pw.db'}"!r}))
print(json.dumps({{"revision": revision, "alembic": "alembic" in sys.modules}}))
"""
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out == {"revision": HEAD_REVISION, "alembic": False}


def test_a_failed_migration_in_a_child_is_a_clear_error_without_the_password():
    import pytest as _pytest

    from storage.engine import upgrade_in_subprocess

    with _pytest.raises(RuntimeError) as failed:  # nothing listens on port 9 (or no PostgreSQL driver)
        upgrade_in_subprocess("postgresql://promo:s3cr3t-pw@127.0.0.1:9/promo", timeout=60)
    message = str(failed.value)
    # without the PostgreSQL driver the child fails to import it; with it, the connection is refused: both name
    # the database with its password hidden
    assert message.startswith(
        (
            "migrating postgresql://promo:***@127.0.0.1:9/promo failed (exit code 1): ",
            "cannot use the database postgresql://promo:***@127.0.0.1:9/promo: ",
        )
    ), message
    assert "s3cr3t-pw" not in message


@pytest.mark.slow
def test_a_command_that_exits_leaves_its_sqlite_file_whole(tmp_path):
    """The engine's connections are closed at exit, so SQLite folds the WAL back into the file: a copy of the
    file alone (a backup tool, a user's cp) holds what the command wrote. Run from the suite's warm zygote,
    where the collector never finalises the pool at exit: only the explicit close does it."""
    path = tmp_path / "whole.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMOWATCH_")}
    env["PROMOWATCH_DATABASE_URL"] = f"sqlite:///{path}"
    done = processes.run(PROMOWATCH + ["subscribe", "--channel", "json://127.0.0.1:9/hook"], env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert not path.with_name("whole.db-wal").exists()
    with sqlite3.connect(f"file:{path}?immutable=1", uri=True) as conn:  # the file alone, no WAL read
        assert conn.execute("SELECT count(*) FROM subscription").fetchone() == (1,)
    conn.close()
