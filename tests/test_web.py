"""The site read as a person and a program would: every page in Italian, English and Chinese, the offers filters
(the same as `promowatch offers`), an offer's price history, what changed, operators, Atom feeds, the JSON API,
/healthz; scraped markup shown as text everywhere; security headers; a page's queries do not grow with history.

FastAPI's TestClient on a real SQLite file filled through storage.repository and alerts.detect (tests/web_data.py).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from web_data import GIGA, SCRIPT_KEY, SCRIPT_NAME, crawl, fill, with_price

from contract.clock import utcnow
from contract.offer import ELIGIBILITY, OPERATORS
from contract.offer_query import can_take_from, twelve_month_cents
from storage.engine import get_engine
from web.app import create_app
from web.i18n import WORDS, choose, from_accept_language
from web.security import CSP

LANGS = ("it", "en", "zh")
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('web') / 'promowatch.db'}"
    stored = fill(url)
    return url, stored


@pytest.fixture(scope="module")
def client(site):
    with TestClient(create_app(site[0])) as c:
        yield c


def get(client, path, lang="en", status=200, **headers):
    response = client.get(path, headers={"Accept-Language": lang, **headers}, follow_redirects=False)
    assert response.status_code == status, (path, response.status_code, response.text[:500])
    return response


PAGES = [
    ("/offers", "offers_title"),
    ("/", "offers_title"),
    ("/offers?operator=iliad&plan_type=prepaid&max_price=12&min_gb=10&5g=1&sort=year", "offers_title"),
    ("/offers?from=iliad&sort=eur-per-gb", "offers_title"),
    ("/offers?who=tourist", "offers_title"),
    (f"/offers/iliad/{GIGA}", "price_history"),
    ("/changes", "changes_title"),
    ("/changes?operator=iliad&kind=price_drop&since=2020-01-01", "changes_title"),
    ("/operators", "operators_title"),
]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("path, heading", PAGES)
def test_every_page_in_every_language(client, path, heading, lang):
    response = get(client, path, lang=lang)
    html = response.text
    assert f'<html lang="{lang}">' in html
    assert WORDS[lang][heading] in html
    assert WORDS[lang]["nav_changes"] in html and WORDS[lang]["times_in"] in html
    assert response.headers["content-language"] == lang
    assert response.headers["content-type"].startswith("text/html")
    for other in LANGS:  # the switch names every language, the current one not as a link
        assert (f'href="/lang/{other}?next=' in html) == (other != lang)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(
    "path, status, text",
    [
        ("/offers/iliad/no-such-offer", 404, "not_found"),
        ("/nowhere", 404, "not_found"),
        ("/offers?max_price=abc", 400, "bad_input"),
    ],
)
def test_error_pages_in_every_language(client, path, status, text, lang):
    html = get(client, path, lang=lang, status=status).text
    assert WORDS[lang][text] in html and f'<html lang="{lang}">' in html


def test_the_words_of_every_language_are_the_same_keys():
    assert set(WORDS["it"]) == set(WORDS["en"]) == set(WORDS["zh"])
    assert all(v.strip() for words in WORDS.values() for v in words.values())
    assert WORDS["zh"]["colon"] == "："  # Chinese punctuation is full width


@pytest.mark.parametrize(
    "header, lang",
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ("en-GB,en;q=0.9", "en"),
        ("fr-FR, de;q=0.9, en;q=0.5, it;q=0.4", "en"),
        ("it;q=0.2, zh;q=0.8", "zh"),
        ("fr, de", None),
        ("", None),
        ("en;q=0, zh;q=0.1", "zh"),
        ("*", None),
        ("en;q=abc, it", "it"),
    ],
)
def test_accept_language(header, lang):
    assert from_accept_language(header) == lang


def test_the_cookie_comes_before_the_header_and_italian_last():
    assert choose("zh", "en") == "zh"
    assert choose("xx", "en") == "en"
    assert choose(None, "fr") == "it"


def test_the_language_switch_keeps_the_choice_in_a_safe_cookie_and_returns_to_the_page(site):
    with TestClient(create_app(site[0])) as c:
        response = get(c, "/lang/zh?next=%2Foffers%3Fsort%3Dyear%26operator%3Diliad", lang="en", status=303)
        assert response.headers["location"] == "/offers?sort=year&operator=iliad"
        cookie = response.headers["set-cookie"].lower()
        assert cookie.startswith("lang=zh;") and "httponly" in cookie and "samesite=lax" in cookie
        assert "secure" not in cookie  # plain HTTP on loopback; over HTTPS the cookie is Secure
        page = get(c, "/offers?sort=year&operator=iliad", lang="en")  # the cookie wins over Accept-Language
        assert '<html lang="zh">' in page.text and WORDS["zh"]["offers_title"] in page.text
    with TestClient(create_app(site[0]), base_url="https://promowatch.example") as c:
        assert "; secure" in get(c, "/lang/en", status=303).headers["set-cookie"].lower()


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"]
)
def test_the_language_switch_never_redirects_elsewhere(site, target):
    with TestClient(create_app(site[0])) as c:
        response = c.get("/lang/en", params={"next": target}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/"


def _api(client, query=""):
    return get(client, f"/api/v1/offers{query}").json()["offers"]


def _rows(html: str) -> int:
    return len(re.findall(r"<tr>\s*<td>", html))


FILTERS = [
    ("?operator=iliad", lambda i: i["operator"] == "iliad"),
    ("?operator=Iliad&operator=ho.%20Mobile", lambda i: i["operator"] in ("iliad", "ho")),
    ("?plan_type=data_only", lambda i: i["plan_type"] == "data_only"),
    # a price in another currency (a travel eSIM in USD) is compared only through a rate: none is configured here
    ("?max_price=9,99", lambda i: i["currency"] == "EUR" and i["price_cents"] <= 999),
    ("?max_price=7.5", lambda i: i["currency"] == "EUR" and i["price_cents"] <= 750),
    ("?min_gb=100", lambda i: i.get("data_unlimited") or (i.get("data_gb") or 0) >= 100),
    ("?5g=1", lambda i: i["data_5g"]),
    ("?from=iliad", lambda i: can_take_from(i, "iliad")),
    ("?who=tourist", lambda i: i["plan_type"] == "tourist"),
    ("?who=foreign_born", lambda i: i["eligibility"] == "foreign_born"),
    ("?operator=&plan_type=&max_price=&min_gb=&from=&who=&sort=", lambda i: True),  # the empty form
]


@pytest.mark.parametrize("query, wanted", FILTERS, ids=[q for q, _ in FILTERS])
def test_the_offers_filters_are_the_commands(client, site, query, wanted):
    stored = [i for items in site[1].values() for i in items]
    expected = sorted(i["offer_key"] + "@" + i["operator"] for i in stored if wanted(i))
    assert expected, f"the test data has no offer for {query}"
    api = _api(client, query)
    assert sorted(i["offer_key"] + "@" + i["operator"] for i in api) == expected
    html = get(client, f"/offers{query}").text
    assert _rows(html) == len(expected) and f"<strong>{len(expected)}</strong>" in html


@pytest.mark.parametrize(
    "sort, key",
    [
        ("price", lambda i: i["price_cents"]),
        ("year", lambda i: i["twelve_month_cents"]),
        ("eur-per-gb", None),
        ("operator", lambda i: i["operator"]),
    ],
)
def test_the_offers_sort(client, sort, key):
    offers = _api(client, f"?sort={sort}")
    euro = [i for i in offers if i["currency"] == "EUR"]  # no rate configured: other currencies come last
    if sort == "operator":
        euro = offers
    assert offers[: len(euro)] == euro
    if key is not None:
        assert [key(i) for i in euro] == sorted(key(i) for i in euro)
    else:  # per 30 days, monthly plans with data: cheapest GB first
        monthly = [i["eur_per_gb_cents"] for i in euro if i["period_days"] == 30 and i["data_gb"]]
        assert monthly == sorted(monthly)
    html = get(client, f"/offers?sort={sort}").text
    names = re.findall(r'<a href="/offers/([^"]+)">', html)
    assert names[:5] == [f"{i['operator']}/{i['offer_key']}" for i in offers[:5]]


def test_the_form_shows_the_filters_it_was_given_and_shares_them(client):
    html = get(client, "/offers?operator=iliad&max_price=12&5g=1&sort=year&who=foreign_born").text
    assert '<option value="iliad" selected>' in html
    assert 'name="max_price" inputmode="decimal" size="6" value="12.00"' in html
    assert 'name="5g" value="1" checked' in html and '<option value="year" selected>' in html
    shared = "operator=iliad&amp;max_price=12.00&amp;5g=1&amp;who=foreign_born"
    assert f'href="/feeds/events.atom?{shared}&amp;lang=en"' in html and f'href="/subscribe?{shared}"' in html


def test_each_row_says_who_can_take_it_and_the_activation_fee(client):
    html = get(client, "/offers?operator=iliad&sort=price", lang="en").text
    row = next(r for r in html.split("<tr>") if f'/offers/iliad/{GIGA}"' in r)
    assert "anyone" in row and "€9.99" in row  # activation 9,99 €, price 7,99 €
    assert "€7.99" in row
    it = get(client, "/offers?operator=iliad&sort=price", lang="it").text
    row = next(r for r in it.split("<tr>") if f'/offers/iliad/{GIGA}"' in r)
    assert "7,99\xa0€" in row and "tutti" in row


@pytest.mark.parametrize(
    "query, problem",
    [
        ("max_price=abc", "max_price 'abc' is not an amount in euro"),
        ("min_gb=-1", "min_gb '-1' is not a number of GB"),
        ("operator=nokia", "unknown operator 'nokia'"),
        ("plan_type=free", "plan_type 'free' is not a plan type"),
        ("sort=random", "sort 'random' is not known"),
        ("from=xyz", "unknown 'from' operator 'xyz'"),
        ("who=kids", "who 'kids' is not known"),
    ],
)
def test_a_bad_filter_is_one_line_on_the_page_and_in_the_api(client, query, problem):
    """The API's English line; the page's and the feed's words in every language: test_web_query_errors.py."""
    html = get(client, f"/offers?{query}", status=400).text
    assert html.count('class="problem"') == 1
    assert problem in get(client, f"/api/v1/offers?{query}", status=400).json()["detail"]
    assert len(get(client, f"/feeds/events.atom?{query}", status=400).text.splitlines()) == 1


def test_an_offer_page_has_every_field_its_history_and_its_events(client, site):
    html = get(client, f"/offers/iliad/{GIGA}", lang="en").text
    history = get(client, f"/api/v1/offers/iliad/{GIGA}").json()
    assert len(history["versions"]) == 3
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert svg.count("<circle") == 3 and 'class="price" d="M' in svg
    assert "€11.99" in svg and "€7.99" in svg  # the axis: the highest and the lowest price
    assert "Lowest price in the last 90 days: <strong>€7.99</strong>" in html
    assert "Lowest in 90 days" in html
    assert "price drop" in html and "price rise" in html  # its events, newest first
    assert html.index("price drop") < html.index("price rise")
    for label in ("Activation fee", "EU roaming data", "Who can get it", "Promotion end", "Notes", "eSIM"):
        assert f"<dt>{label}</dt>" in html
    assert re.search(r"\d{1,2}:\d{2} CES?T", html), "times in Europe/Rome, 24-hour (en_GB), the zone named"


def test_no_badge_when_the_price_never_moved_and_the_low_is_its_price(client, site):
    other = next(i for i in site[1]["iliad"] if i["offer_key"] not in (GIGA, SCRIPT_KEY))
    html = get(client, f"/offers/iliad/{other['offer_key']}", lang="en").text
    assert "Lowest in 90 days" not in html
    assert html.count("<circle") == 1


def test_tell_me_when_cheaper_carries_the_offers_filters(client):
    html = get(client, f"/offers/iliad/{GIGA}").text
    link = re.search(r'<a class="button" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    parts = urlsplit(link)
    assert parts.path == "/subscribe"
    assert parse_qs(parts.query) == {
        "operator": ["iliad"],
        "plan_type": ["prepaid"],
        "max_price": ["7.98"],
        "min_gb": ["200"],
        "5g": ["1"],
    }


def test_an_offer_can_be_reached_by_the_operators_name(client):
    assert "GIGA 200" in get(client, f"/offers/Iliad/{GIGA}").text


def test_what_changed_filters_by_operator_kind_and_day(client):
    all_events = get(client, "/api/v1/events?limit=1000").json()
    assert {e["kind"] for e in all_events} >= {"price_drop", "price_rise", "new"}
    html = get(client, "/changes?operator=iliad&kind=price_drop", lang="en").text
    assert _rows(html) == sum(1 for e in all_events if e["operator"] == "iliad" and e["kind"] == "price_drop") == 1
    tomorrow = (utcnow() + timedelta(days=2)).date().isoformat()
    assert _rows(get(client, f"/changes?since={tomorrow}").text) == 0
    assert "“yesterday” is not a day" in get(client, "/changes?since=yesterday", status=400).text
    assert "“gone” is not one of the choices" in get(client, "/changes?kind=gone", status=400).text


def test_operators_show_traveller_facts_and_crawl_health(client):
    html = get(client, "/operators", lang="en").text
    assert _rows(html) == len(OPERATORS)
    row = next(r for r in html.split("<tr>") if "/offers?operator=tim" in r)
    assert "healthy" in row and "MyTIM" in row and "app, website" in row
    api = get(client, "/api/v1/operators").json()
    assert [o["operator"] for o in api] == list(OPERATORS)
    assert all(o["last_crawl"]["status"] == "healthy" for o in api)


@pytest.mark.parametrize("lang, money", [("it", "7,99\xa0€"), ("en", "€7.99"), ("zh", "€7.99")])
def test_money_is_written_the_readers_way(client, lang, money):
    assert money in get(client, f"/offers/iliad/{GIGA}", lang=lang).text


def test_markup_in_scraped_text_is_shown_as_text_everywhere(client):
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    for path in ("/offers", "/offers?operator=iliad", f"/offers/iliad/{SCRIPT_KEY}", "/changes"):
        html = get(client, path).text
        assert escaped in html, path
        assert "<script" not in html and "<img" not in html, path
    html = get(client, f"/offers/iliad/{SCRIPT_KEY}").text
    assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in html
    feed = get(client, "/feeds/events.atom?operator=iliad")
    assert b"<script" not in feed.content and b"&lt;script&gt;alert(1)" in feed.content
    titles = [e.findtext(f"{ATOM}title") for e in ET.fromstring(feed.content).iter(f"{ATOM}entry")]
    assert any(SCRIPT_NAME in t for t in titles)  # the text itself, as text
    api = get(client, f"/api/v1/offers/iliad/{SCRIPT_KEY}")
    assert api.headers["content-type"] == "application/json" and api.headers["x-content-type-options"] == "nosniff"
    assert api.json()["offer"]["name"] == SCRIPT_NAME


def test_security_headers_on_every_kind_of_response(client):
    for path, status in (
        ("/offers", 200),
        ("/api/v1/offers", 200),
        ("/feeds/events.atom", 200),
        ("/nowhere", 404),
        ("/static/style.css", 200),
        ("/healthz", 200),
    ):
        headers = get(client, path, status=status).headers
        assert headers["content-security-policy"] == CSP
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
    assert "script-src" not in CSP and "'unsafe-inline'" not in CSP and "default-src 'none'" in CSP


def test_nothing_is_fetched_from_elsewhere(client):
    for path in ("/offers", f"/offers/iliad/{GIGA}", "/changes", "/operators"):
        html = get(client, path).text
        assert not re.search(r"<(script|img|iframe)\b", html)
        assert re.findall(r'<link [^>]*href="([^"]+)"', html)[0] == "/static/style.css"
        assert all(h.startswith("/") for h in re.findall(r'<link [^>]*href="([^"]+)"', html))
    css = get(client, "/static/style.css").text
    assert "url(" not in css and "@import" not in css


def test_the_feed_is_atom_for_any_filter_of_the_offers_page(client):
    for query, wanted in (
        ("", lambda e: True),
        ("?operator=iliad", lambda e: e["operator"] == "iliad"),
        ("?max_price=8&operator=iliad", lambda e: e["item"]["price_cents"] <= 800),
    ):
        response = get(client, f"/feeds/events.atom{query}", lang="zh")
        assert response.headers["content-type"].startswith("application/atom+xml")
        root = ET.fromstring(response.content)
        assert root.tag == f"{ATOM}feed" and root.findtext(f"{ATOM}id") and root.findtext(f"{ATOM}updated")
        entries = list(root.iter(f"{ATOM}entry"))
        events = [e for e in get(client, "/api/v1/events?limit=1000").json() if wanted(e)][:50]
        assert len(entries) == len(events) > 0
        for entry, ev in zip(entries, events, strict=True):
            assert entry.findtext(f"{ATOM}id").endswith(f"/events/{ev['id']}")
            assert entry.findtext(f"{ATOM}title") and entry.find(f"{ATOM}content").get("type") == "text"
            assert datetime.fromisoformat(entry.findtext(f"{ATOM}updated")).utcoffset() == timedelta(0)
    zh = ET.fromstring(get(client, "/feeds/events.atom?operator=iliad&who=", lang="zh").content)
    assert "最新变化" in zh.findtext(f"{ATOM}title")
    asked = ET.fromstring(get(client, "/feeds/events.atom?operator=iliad&lang=it", lang="zh").content)
    assert asked.findtext(f"{ATOM}title") == "promowatch: Cosa è cambiato"  # the URL's language wins
    assert "Prezzo" in asked.find(f"{ATOM}entry").findtext(f"{ATOM}content")
    link = next(e.get("href") for e in asked.iter(f"{ATOM}link") if e.get("rel") == "self")
    assert link.endswith("/feeds/events.atom?operator=iliad&lang=it")


def test_the_api_speaks_cents_and_utc(client):
    offers = _api(client, "?operator=iliad")
    giga = next(o for o in offers if o["offer_key"] == GIGA)
    assert giga["price_cents"] == 799 and isinstance(giga["activation_cents"], int)
    assert giga["twelve_month_cents"] == twelve_month_cents(giga)
    history = get(client, f"/api/v1/offers/iliad/{GIGA}").json()
    assert [v["item"]["price_cents"] for v in history["versions"]] == [999, 1199, 799]
    for moment in [giga["first_seen"], giga["last_seen"], *(v["valid_from"] for v in history["versions"])]:
        assert datetime.fromisoformat(moment).utcoffset() == timedelta(0)
    assert [e["kind"] for e in history["events"]][:2] == ["price_drop", "price_rise"]
    assert get(client, "/api/v1/offers/iliad/nothing", status=404).json()["detail"]
    assert get(client, "/api/v1/events?kind=gone", status=400).json()["detail"].startswith("kind 'gone'")
    assert get(client, "/api/v1/events?limit=0", status=400).json()["detail"]
    schema = get(client, "/api/v1/openapi.json").json()
    assert {"/api/v1/offers", "/api/v1/offers/{operator}/{offer_key}", "/api/v1/events", "/api/v1/operators"} <= set(
        schema["paths"]
    )
    assert "price_cents" in schema["components"]["schemas"]["Offer"]["properties"]


def test_healthz_says_the_database_answers_and_how_old_each_crawl_is(client, tmp_path):
    assert client.head("/healthz").status_code == 200
    body = get(client, "/healthz").json()
    assert body["database"] == "ok" and set(body["operators"]) == set(OPERATORS)
    assert 10 * 86400 - 60 <= body["operators"]["iliad"]["age_seconds"] <= 10 * 86400 + 600
    assert body["operators"]["tim"]["status"] == "healthy"
    (tmp_path / "not-a-db").write_text("this is not a database", "utf-8")
    with TestClient(create_app(f"sqlite:///{tmp_path / 'not-a-db'}")) as broken:
        down = broken.get("/healthz")
    assert down.status_code == 503 and down.json()["database"] == "unreachable" and down.json()["error"]


def _counted(url):
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    return statements, count


def test_a_page_reads_the_same_number_of_rows_sets_whatever_the_history(tmp_path, monkeypatch):
    """No N+1: an offer's page is three queries with 3 versions or 40; the offers page one (each plus the
    page cache's data version, web/cache.py, read at every request here)."""
    monkeypatch.setattr("web.cache.VERSION_TTL", 0.0)
    url = f"sqlite:///{tmp_path / 'history.db'}"
    stored = fill(url)
    engine = get_engine(url)
    statements, count = _counted(url)
    event.listen(engine, "before_cursor_execute", count)
    try:
        with TestClient(create_app(url)) as c:

            def queries(path):
                statements.clear()
                get(c, path)
                return len(statements)

            offer_before, list_before = queries(f"/offers/iliad/{GIGA}"), queries("/offers")
            event.remove(engine, "before_cursor_execute", count)
            start = utcnow() - timedelta(days=9)
            for n in range(37):
                crawl(url, "iliad", with_price(stored["iliad"], GIGA, 700 + n % 5), start + timedelta(hours=n))
            event.listen(engine, "before_cursor_execute", count)
            assert len(get(c, f"/api/v1/offers/iliad/{GIGA}").json()["versions"]) >= 30
            assert queries(f"/offers/iliad/{GIGA}") == offer_before <= 4
            assert queries("/offers") == list_before <= 2
    finally:
        if event.contains(engine, "before_cursor_execute", count):
            event.remove(engine, "before_cursor_execute", count)


def test_json_of_an_offer_is_what_the_command_line_prints(client, site):
    from storage.repository import offer_history

    api = get(client, f"/api/v1/offers/iliad/{GIGA}").json()
    assert api["versions"] == json.loads(json.dumps(offer_history("iliad", GIGA, database_url=site[0])))
    assert set(ELIGIBILITY) >= {o["eligibility"] for o in _api(client)}


@pytest.mark.parametrize("lang, label", [("it", "Avvisami"), ("en", "Get alerts"), ("zh", "订阅提醒")])
def test_every_page_leads_to_the_subscribe_form(client, lang, label):
    for path in ("/offers", "/changes", "/operators"):
        assert f'<a href="/subscribe">{label}</a>' in get(client, path, lang=lang).text


def test_a_price_in_dollars_is_shown_in_dollars(tmp_path):
    """A travel eSIM sold only in USD keeps its currency on the pages (never a € sign on dollar cents)."""
    from fastapi.testclient import TestClient

    from contract.offer import normalise
    from spiders.crawl_rules import CrawlFacts, CrawlItems, store_crawl
    from web.app import create_app

    url = f"sqlite:///{tmp_path / 'usd.db'}"
    crawl = CrawlItems("breeze")
    crawl.add(
        normalise(
            {
                "operator": "breeze",
                "offer_key": "10gb-30d",
                "name": "Italy 10 GB",
                "url": "https://breezesim.com/products/esim-italy",
                "plan_type": "esim_trip",
                "price_cents": 1299,
                "currency": "USD",
                "period_days": 30,
                "data_gb": 10,
            }
        )
    )
    store_crawl(
        CrawlFacts("import", crawl, 1), operator="breeze", started_at=datetime.now(timezone.utc), database_url=url
    )
    with TestClient(create_app(url)) as usd:
        for path in ("/offers", "/offers/breeze/10gb-30d"):
            text = get(usd, path).text
            assert re.search(r"US\$\s?12\.99|\$12\.99", text), path
            assert "€12.99" not in text and "€ 12.99" not in text
