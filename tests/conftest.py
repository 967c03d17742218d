import os
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


@pytest.fixture
def tmp_db(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'promowatch.db'}"
    monkeypatch.setenv("PROMOWATCH_DATABASE_URL", url)
    return url
