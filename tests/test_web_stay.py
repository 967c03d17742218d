"""The stay page read as a traveller would: the ranking of `promowatch stay` (contract.stay.stay_costs on the same
stored offers and the same stay), in Italian, English and Chinese; bad input is the form again with one line
(400); scraped markup in an offer's name is shown as text.

FastAPI's TestClient on a real SQLite file filled as a crawl is (spiders.crawl_rules.store_crawl).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timezone

import pytest
from fastapi.testclient import TestClient

from contract.offer import normalise
from contract.stay import Stay, eur_only, read_stay, stay_costs
from spiders.crawl_rules import CrawlFacts, CrawlItems, store_crawl
from storage.repository import list_offers
from web.app import create_app
from web.i18n import WORDS

SCRIPT = "<script>alert(1)</script> Giga"
OFFERS = {
    "iliad": [
        {"offer_key": "giga-150", "name": SCRIPT, "price_cents": 999, "data_gb": 150, "data_5g": True}
        | {"activation_cents": 999},
    ],
    "very": [
        {"offer_key": "180-nuovi", "price_cents": 699, "data_gb": 180, "eligibility": "new_number"},
        {"offer_key": "180-da-iliad", "price_cents": 599, "data_gb": 180, "eligibility": "portability"}
        | {"eligible_from": ["iliad"]},
    ],
    "tim": [
        {"offer_key": "tourist-esim", "plan_type": "tourist", "price_cents": 1499, "period_days": 15, "data_gb": 15}
        | {"sim_cents": 500, "esim": True},
        {"offer_key": "tourist-30", "plan_type": "tourist", "price_cents": 2499, "data_gb": 20},
    ],
    "airalo": [
        {"offer_key": "10gb-30d", "plan_type": "esim_trip", "price_cents": 1800, "data_gb": 10, "topup": True},
        {"offer_key": "20gb-30d", "plan_type": "esim_trip", "price_cents": 2600, "data_gb": 20, "topup": True},
    ],
    "breeze": [
        {"offer_key": "10gb-30d", "plan_type": "esim_trip", "price_cents": 1299, "currency": "USD", "data_gb": 10},
    ],
}
QUERIES = [
    ("days=10&gb=20&arrive=2026-12-20", Stay(10, 20.0, arrive=date(2026, 12, 20))),
    ("days=10&gb=20&from=iliad&arrive=2026-12-20", Stay(10, 20.0, origin="iliad", arrive=date(2026, 12, 20))),
    ("days=45&gb=100&5g=1&arrive=2026-12-20", Stay(45, 100.0, only_5g=True, arrive=date(2026, 12, 20))),
    ("days=10&gb=5&esim_only=1&arrive=2026-12-20", Stay(10, 5.0, esim_only=True, arrive=date(2026, 12, 20))),
]


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('stay') / 'promowatch.db'}"
    for operator, raws in OFFERS.items():
        crawl = CrawlItems(operator)
        for raw in raws:
            crawl.add(
                normalise(
                    {
                        "operator": operator,
                        "name": raw["offer_key"].replace("-", " ").title(),
                        "url": f"https://example.test/{operator}/{raw['offer_key']}",
                        "plan_type": "prepaid",
                        "period_days": 30,
                        **raw,
                    }
                )
            )
        facts = CrawlFacts("import", crawl, 1)
        store_crawl(facts, operator=operator, started_at=datetime.now(timezone.utc), database_url=url)
    return url


@pytest.fixture(scope="module")
def client(url):
    with TestClient(create_app(url)) as c:
        yield c


def get(client, path, lang="en", status=200):
    response = client.get(path, headers={"Accept-Language": lang})
    assert response.status_code == status, (path, response.status_code, response.text[:500])
    return response.text


def _ranked(html: str) -> list[tuple[str, str]]:
    """(first offer link, total cell) of each ranked row, in order."""
    table = html.split('<table class="stay">', 1)[1].split("</table>", 1)[0]
    rows = []
    for row in table.split("<tr")[2:]:
        link = re.search(r'href="(/offers/[^"]+)"', row).group(1)
        total = re.sub(r"<[^>]+>", " ", row.split('<td class="num">')[2].split("</td>")[0]).split()
        rows.append((link, " ".join(total)))
    return rows


@pytest.mark.parametrize("query, wanted", QUERIES, ids=[q for q, _ in QUERIES])
def test_the_ranking_is_stay_costs_on_the_same_offers(client, url, query, wanted):
    assert read_stay(*_fields(query), known_operators=None) == wanted
    costs = stay_costs(list_offers(database_url=url), wanted, to_eur=eur_only)
    assert costs.ranked, query  # a ranking to compare, not an empty one
    html = get(client, f"/stay?{query}")
    expected = [
        (f"/offers/{c.operator}/{c.plans[0]['offer_key']}", f"€{c.total_eur_cents / 100:,.2f}") for c in costs.ranked
    ]
    assert _ranked(html) == expected
    assert f"{WORDS['en']['stay_left_out']}: <strong>{len(costs.excluded)}</strong>" in html
    for card in costs.ranked:
        for phrase in card.included + card.watch:
            assert phrase.replace("'", "&#39;") in html


def _fields(query: str):
    given = dict(p.split("=") for p in query.split("&"))
    return (
        given["days"],
        given.get("gb"),
        given.get("5g") == "1",
        given.get("from"),
        given.get("esim_only") == "1",
        given.get("arrive"),
    )


def test_a_price_without_a_rate_is_listed_apart(client, url):
    html = get(client, "/stay?days=10&gb=5&arrive=2026-12-20")
    assert WORDS["en"]["stay_apart"] in html
    apart = html.split(WORDS["en"]["stay_apart"], 1)[1]
    assert "/offers/breeze/10gb-30d" in apart and re.search(r"US\$\s?12\.99|\$12\.99", apart)
    assert "/offers/breeze/" not in html.split(WORDS["en"]["stay_apart"], 1)[0]


@pytest.mark.parametrize("lang", ["it", "en", "zh"])
def test_each_language_renders_the_page_and_its_nav_entry(client, lang):
    words = WORDS[lang]
    html = get(client, "/stay?days=10&gb=20&arrive=2026-12-20", lang=lang)
    for key in ("stay_title", "stay_total", "stay_included", "stay_watch", "stay_left_out"):
        assert words[key] in html, key
    assert f'<a href="/stay" aria-current="page">{words["nav_stay"]}</a>' in html
    assert f'<a href="/stay">{words["nav_stay"]}</a>' in get(client, "/operators", lang=lang)
    money = "9,99\xa0€" if lang == "it" else "€9.99"
    assert money in html  # Iliad's activation, written the reader's way


def test_the_empty_form_is_shown_without_a_ranking(client):
    html = get(client, "/stay")
    assert 'name="days"' in html and '<table class="stay">' not in html and "problem" not in html


@pytest.mark.parametrize(
    "query, problem",
    [
        ("days=0", "days 0: give the days of your stay, a whole number from 1 to 366"),
        ("days=ten", "days ten: give the days of your stay"),
        ("days=400&gb=2", "days 400: give the days"),
        ("days=5&gb=lots", "gb &#39;lots&#39; is not a number of GB"),
        ("days=5&arrive=2026-13-01", "arrive &#39;2026-13-01&#39; is not a day: use YYYY-MM-DD"),
        ("days=5&from=nowhere", "unknown from operator &#39;nowhere&#39;"),
        ("days=5&from=%3Cscript%3E", "&lt;script&gt;"),
    ],
)
def test_bad_input_is_the_form_again_with_one_line(client, query, problem):
    html = get(client, f"/stay?{query}", status=400)
    assert problem in html
    assert html.count('class="problem"') == 1 and 'name="days"' in html and "Traceback" not in html
    assert '<table class="stay">' not in html and "<script" not in html


def test_markup_in_an_offer_name_is_text(client):
    html = get(client, "/stay?days=10&gb=20&arrive=2026-12-20")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Giga" in html
    assert "<script" not in html


def test_with_the_configured_rates_a_dollar_price_is_ranked_in_euro(url, monkeypatch):
    from conftest import ROOT

    from storage.environment import configured_rates

    monkeypatch.setenv("PROMOWATCH_RATES_FILE", str(ROOT / "tests" / "data" / "ecb" / "eurofxref-daily.xml"))
    rates = configured_rates()
    wanted = Stay(10, 5.0, arrive=date(2026, 12, 20))
    costs = stay_costs(list_offers(database_url=url), wanted, to_eur=rates.to_eur_cents, rate_day=rates.day.isoformat())
    assert not costs.apart and any(c.currency == "USD" for c in costs.ranked)
    with TestClient(create_app(url)) as client:
        html = get(client, "/stay?days=10&gb=5&arrive=2026-12-20")
    assert WORDS["en"]["stay_apart"] not in html
    expected = [(f"/offers/{c.operator}/{c.plans[0]['offer_key']}", c.total_eur_cents) for c in costs.ranked]
    assert [link for link, _ in _ranked(html)] == [link for link, _ in expected]
    usd = next(c for c in costs.ranked if c.currency == "USD")
    assert f"€{usd.total_eur_cents / 100:,.2f}" in html and f"converted at the rate of {rates.day.isoformat()}" in html
