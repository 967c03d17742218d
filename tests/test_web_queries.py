"""A page's cost does not grow with an offer's history: the SQL statements each page and API answer runs are
the same with 10 versions of an offer as with 100 (the chart draws every version, but from one query). And
the page cache (web/cache.py) answers again from memory until a crawl or its events change the data, then
shows the new data as soon as it reads the data version again (at most once a `VERSION_TTL`; these tests read
it at every request unless they test that).

SQLAlchemy's `before_cursor_execute` event counts the statements, on a real SQLite file (tests/web_data.py).
"""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from test_web import _counted, get
from web_data import GIGA, crawl, fill, with_price

from storage.engine import get_engine
from storage.repository import utcnow
from web.app import create_app


@pytest.fixture(autouse=True)
def version_every_request(monkeypatch):
    monkeypatch.setattr("web.cache.VERSION_TTL", 0.0)


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
    assert at_10[f"/offers/iliad/{GIGA}"] <= 4 and at_10["/offers"] <= 2  # each + the cache's data version


def test_the_page_cache_answers_until_the_data_changes(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cache.db'}"
    iliad = fill(url)["iliad"]
    engine = get_engine(url)
    statements, count = _counted(url)
    monkeypatch.setenv("PROMOWATCH_ADMIN_TOKEN", "admin-token-0123456789")
    with TestClient(create_app(url)) as client:

        def fetch(path, lang="en", status=200, **headers):
            statements.clear()
            event.listen(engine, "before_cursor_execute", count)
            try:
                response = get(client, path, lang, status, **headers)
            finally:
                event.remove(engine, "before_cursor_execute", count)
            return response, len(statements)

        offer = f"/offers/iliad/{GIGA}"
        first, made = fetch(offer)
        again, served = fetch(offer)
        assert again.text == first.text and made > 1 and served == 1  # only the data version was read
        assert again.headers["content-security-policy"] == first.headers["content-security-policy"]
        italian, _ = fetch(offer, lang="it")
        assert italian.headers["content-language"] == "it" and "Storico del prezzo" in italian.text
        assert "7,99" in italian.text and "€7.99" in first.text
        chinese, _ = fetch(offer, lang="en", cookie="lang=zh")
        assert chinese.headers["content-language"] == "zh"

        crawl(url, "iliad", with_price(iliad, GIGA, 555), utcnow())  # a crawl: the data version moves
        after, made_again = fetch(offer)
        assert made_again == made and "€5.55" in after.text and '"price_cents":555' in fetch("/api/v1/offers")[0].text
        assert "5.55" not in first.text

        for path in ("/healthz", "/metrics"):  # never kept: read afresh every time
            assert fetch(path)[1] > 1 and fetch(path)[1] > 1
        basic = "Basic " + base64.b64encode(b"admin:admin-token-0123456789").decode()
        admin, reads = fetch("/admin", authorization=basic)
        assert reads > 1 and fetch("/admin", authorization=basic)[1] == reads
        assert fetch("/admin", status=401)[0].status_code == 401  # a kept admin page would be a leak


def test_the_page_cache_keeps_a_bounded_number_of_answers(tmp_path, monkeypatch):
    import web.cache

    url = f"sqlite:///{tmp_path / 'bounded.db'}"
    fill(url)
    monkeypatch.setattr(web.cache, "MAX_ENTRIES", 3)
    app = create_app(url)
    with TestClient(app) as client:
        for n in range(6):  # a visitor can make any number of distinct URLs
            get(client, f"/offers?max_price={10 + n}")
        layer = app.middleware_stack
        while not isinstance(layer, web.cache.PageCache):
            layer = layer.app
        assert [key[3] for key in layer.answers] == [b"max_price=13", b"max_price=14", b"max_price=15"]
        assert layer.size == sum(len(a.body) for a in layer.answers.values())
        newest = layer.answers[next(reversed(layer.answers))]
        monkeypatch.setattr(web.cache, "MAX_BYTES", len(newest.body))  # room for one such page
        get(client, "/offers?max_price=12")  # fewer offers than max_price=15: a smaller page
        assert [key[3] for key in layer.answers] == [b"max_price=12"] and layer.size <= web.cache.MAX_BYTES


def test_the_data_version_is_read_at_most_once_a_ttl_and_a_crawl_shows_after_it(tmp_path, monkeypatch):
    monkeypatch.setattr("web.cache.VERSION_TTL", 3600.0)  # no timing here: the TTL is set past or before the test
    url = f"sqlite:///{tmp_path / 'cache.db'}"
    iliad = fill(url)["iliad"]
    engine = get_engine(url)
    statements, count = _counted(url)
    offer = f"/offers/iliad/{GIGA}"
    with TestClient(create_app(url)) as client:
        first = get(client, offer, "en")
        event.listen(engine, "before_cursor_execute", count)
        try:
            assert get(client, offer, "en").text == first.text and not statements  # within the TTL: no read
            crawl(url, "iliad", with_price(iliad, GIGA, 555), utcnow())
            statements.clear()
            assert "€5.55" not in get(client, offer, "en").text and not statements  # still the kept answer
            monkeypatch.setattr("web.cache.VERSION_TTL", 0.0)  # the TTL has run out
            assert "€5.55" in get(client, offer, "en").text and len(statements) > 1  # version read, page made
        finally:
            event.remove(engine, "before_cursor_execute", count)


def test_a_missing_answer_is_made_once_for_the_requests_waiting_for_it(tmp_path):
    """20 requests at once for a page not kept yet: one makes it, the others wait for it and get the same
    answer (each made it again before, and each worker process of several does it once per page and minute)."""
    import asyncio

    import httpx

    url = f"sqlite:///{tmp_path / 'stampede.db'}"
    fill(url)
    engine = get_engine(url)
    statements, count = _counted(url)
    app = create_app(url)
    offer = f"/offers/iliad/{GIGA}"

    async def at_once(host: str, n: int) -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{host}") as client:
            return await asyncio.gather(*(client.get(offer, headers={"Accept-Language": "en"}) for _ in range(n)))

    event.listen(engine, "before_cursor_execute", count)
    try:
        statements.clear()
        (alone,) = asyncio.run(at_once("a.example", 1))  # one request: the statements of one answer made
        made = len(statements)
        statements.clear()
        together = asyncio.run(at_once("b.example", 20))  # another host: another key, not kept yet
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert made > 2 and alone.status_code == 200
    assert [r.status_code for r in together] == [200] * 20 and len({r.text for r in together}) == 1
    # each request read the data version (VERSION_TTL 0 here); the page itself was made once
    assert len(statements) == 20 + made - 1, len(statements)
