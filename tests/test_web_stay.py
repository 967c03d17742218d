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

from alerts.render import stay_left_out, stay_phrases
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
        for phrase in stay_phrases("en", card.included + card.watch):
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
    "query, it, en, zh",
    [
        (
            "days=0",
            "«0»: scrivi i giorni del soggiorno, un numero intero da 1 a 366.",
            "“0”: give the days of your stay, a whole number from 1 to 366.",
            "“0”：请填写逗留天数，1 到 366 之间的整数。",
        ),
        (
            "days=ten",
            "«ten»: scrivi i giorni del soggiorno, un numero intero da 1 a 366.",
            "“ten”: give the days of your stay, a whole number from 1 to 366.",
            "“ten”：请填写逗留天数，1 到 366 之间的整数。",
        ),
        (
            "days=5&gb=lots",
            "«lots» non è un numero di GB: scrivi ad esempio 20 o 1,5.",
            "“lots” is not a number of GB: write e.g. 20 or 1.5.",
            "“lots”不是有效的流量数值：请填写 GB 数，例如 20 或 1.5。",
        ),
        (
            "days=5&arrive=2026-13-01",
            "«2026-13-01» non è una data: usa AAAA-MM-GG, ad esempio 2026-09-15.",
            "“2026-13-01” is not a day: use YYYY-MM-DD, e.g. 2026-09-15.",
            "“2026-13-01”不是有效日期：请按 YYYY-MM-DD 格式填写，例如 2026-09-15。",
        ),
        (
            "days=5&from=nowhere",
            "Operatore sconosciuto: «nowhere». Sceglilo dall'elenco.",
            "Unknown operator “nowhere”: choose one from the list.",
            "未知运营商“nowhere”：请从列表中选择。",
        ),
        (
            "days=5&from=%3Cscript%3E",
            "Operatore sconosciuto: «<script>». Sceglilo dall'elenco.",
            "Unknown operator “<script>”: choose one from the list.",
            "未知运营商“<script>”：请从列表中选择。",
        ),
    ],
)
@pytest.mark.parametrize("lang", ["it", "en", "zh"])
def test_bad_input_is_the_form_again_with_one_line(client, query, lang, it, en, zh):
    from markupsafe import escape

    html = get(client, f"/stay?{query}", lang=lang, status=400)
    assert escape({"it": it, "en": en, "zh": zh}[lang]) in html
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
    converted = f"converted at the rate of {rates.day.day} {rates.day.strftime('%B %Y')}"
    assert f"€{usd.total_eur_cents / 100:,.2f}" in html and converted in html


@pytest.mark.parametrize("lang", ["it", "en", "zh"])
def test_what_is_included_to_watch_and_left_out_in_the_readers_language(client, url, lang):
    """Every phrase of the page (included, watch, each left-out offer's reason, the reasons' kinds) is the one
    alerts/templates/<lang>/_stay.j2 words; in it and zh none of the English ones appears."""
    from markupsafe import escape

    wanted = Stay(10, 20.0, arrive=date(2026, 12, 20))
    costs = stay_costs(list_offers(database_url=url), wanted, to_eur=eur_only)
    html = get(client, "/stay?days=10&gb=20&arrive=2026-12-20", lang=lang)
    phrases = [p for c in costs.ranked + costs.apart for p in c.included + c.watch] + [e.reason for e in costs.excluded]
    assert {p["code"] for p in phrases} >= {"data_for", "new_numbers", "porting_needed", "too_little_data_pack"}
    for text in stay_phrases(lang, phrases):
        assert escape(text) in html, text
    for e in costs.excluded:
        assert escape(stay_left_out(lang, e.code)) in html
    if lang != "en":
        for text, own in zip(stay_phrases("en", phrases), stay_phrases(lang, phrases), strict=True):
            assert text == own or escape(text) not in html, text  # "5G", "hotspot 5 GB": the same words
    expected = {
        "it": ("solo per nuovi numeri", "15 GB nel pacchetto, al tuo soggiorno servono 20 GB"),
        "en": ("new numbers only", "15 GB for the pack, your stay needs 20 GB"),
        "zh": ("仅限新号码", "套餐含 15 GB，您的行程需要 20 GB"),
    }[lang]
    assert all(text in html for text in expected)
