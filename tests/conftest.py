import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REAL_PAGES = ROOT.parent / "shared" / "real-pages"
FIXTURES = ROOT / "spiders" / "fixtures"
sys.path.insert(0, str(ROOT))


def real_page(operator: str, name: str = "mobile.html") -> Path:
    """Path of a real capture, or skip: third-party pages live outside the repository."""
    path = REAL_PAGES / operator / name
    if not path.exists():
        pytest.skip(f"real capture {path} not present (../shared/real-pages is outside the repository)")
    return path


def real_offers(operator: str, today: str) -> list[dict]:
    """The validated offers the operator's spider reads off its real capture (skips when absent)."""
    from spiders.items import normalise
    from spiders.saved_page import parse_file

    return [normalise(i) for i in parse_file(operator, real_page(operator), today=today)]


@pytest.fixture
def engine(tmp_db):
    """The migrated engine of the test's own SQLite file."""
    from storage.engine import get_engine

    return get_engine(tmp_db)


@pytest.fixture
def tmp_db(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'promowatch.db'}"
    monkeypatch.setenv("PROMOWATCH_DATABASE_URL", url)
    return url


#: the command line as a real process (`python -m promowatch.cli`), run from the checkout
PROMOWATCH = [sys.executable, "-m", "promowatch.cli"]


def run(cmd, env, timeout=120, check=True):
    """A real process from the checkout; with `check`, a non-zero exit fails the test with its output."""
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{cmd} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture
def env(tmp_path):
    """The environment of a promowatch process: its own SQLite file, a fixed crawl day, no inherited settings."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("PROMOWATCH_")}
    e["PROMOWATCH_DATABASE_URL"] = f"sqlite:///{tmp_path / 'pw.db'}"
    e["PROMOWATCH_TODAY"] = "2026-09-15"
    return e
