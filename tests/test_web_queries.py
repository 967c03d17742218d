"""A page's cost does not grow with an offer's history: the SQL statements each page and API answer runs are
the same with 10 versions of an offer as with 100 (the chart draws every version, but from one query).

SQLAlchemy's `before_cursor_execute` event counts the statements, on a real SQLite file (tests/web_data.py).
"""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import event
from test_web import _counted, get
from web_data import GIGA, crawl, fill, with_price

from storage.engine import get_engine
from storage.repository import utcnow
from web.app import create_app

PATHS = (
    "/offers",
    f"/offers/iliad/{GIGA}",
    "/feeds/events.atom",
    "/feeds/events.atom?operator=iliad",
    "/api/v1/offers",
    f"/api/v1/offers/iliad/{GIGA}",
    "/changes?operator=iliad",
    "/operators",
)


def test_every_page_runs_the_same_statements_with_10_or_100_versions(tmp_path):
    url = f"sqlite:///{tmp_path / 'history.db'}"
    iliad = fill(url)["iliad"]
    start = utcnow() - timedelta(days=9)

    def grow(versions: int) -> None:
        """Iliad crawled until GIGA has `versions` versions: its price moves at each crawl."""
        have = len(client.get(f"/api/v1/offers/iliad/{GIGA}").json()["versions"])
        for n in range(have, versions):
            crawl(url, "iliad", with_price(iliad, GIGA, 700 + n % 2), start + timedelta(minutes=n))
        assert len(client.get(f"/api/v1/offers/iliad/{GIGA}").json()["versions"]) == versions

    engine = get_engine(url)
    statements, count = _counted(url)

    def statements_per_path() -> dict[str, int]:
        out = {}
        event.listen(engine, "before_cursor_execute", count)
        try:
            for path in PATHS:
                statements.clear()
                get(client, path)
                out[path] = len(statements)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return out

    with TestClient(create_app(url)) as client:
        grow(10)
        at_10 = statements_per_path()
        grow(100)
        at_100 = statements_per_path()
    assert at_100 == at_10
    assert at_10[f"/offers/iliad/{GIGA}"] <= 3 and at_10["/offers"] <= 2
