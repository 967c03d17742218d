# ruff: noqa: E501  (the expected sentences, one per line)
"""A filter the site cannot read, as a visitor sees it: on the offers page and the changes page the form comes back
(400) with what was typed and one line in the page's language (it, en, zh), the field marked; the Atom feed
answers one plain-text line in the feed's language; the JSON API keeps its English `detail` for programs.

Every code of web/query.py BadQuery x every language, the expected words written out here (not read from
web/i18n.py), so a missing or wrong translation fails. FastAPI's TestClient on a real database filled by
tests/web_data.py: a SQLite file, or a new database on PROMOWATCH_TEST_SERVER_URL (PostgreSQL).
"""

from __future__ import annotations

import os
import re
import uuid

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from web_data import fill

from contract.stay import StayInputError, read_stay
from web.app import create_app
from web.i18n import QUERY_ERRORS
from web.query import CODES

LANGS = ("it", "en", "zh")


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    server = os.environ.get("PROMOWATCH_TEST_SERVER_URL")
    if not server:
        url = f"sqlite:///{tmp_path_factory.mktemp('query_errors') / 'promowatch.db'}"
        fill(url)
        with TestClient(create_app(url)) as c:
            yield c
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from storage.engine import _engine

    name = f"pw_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    try:
        fill(url)
        with TestClient(create_app(url)) as c:
            yield c
    finally:
        _engine.cache_clear()  # close pooled connections before the drop
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def get(client, path, lang="en", status=400):
    response = client.get(path, headers={"Accept-Language": lang}, follow_redirects=False)
    assert response.status_code == status, (path, response.status_code, response.text[:500])
    return response


#: (page, query, field marked, code, it, en, zh)
CASES = [
    ("/offers", "operator=nokia", "operator", "unknown_operator",
     "Operatore sconosciuto: «nokia». Sceglilo dall'elenco.",
     "Unknown operator “nokia”: choose one from the list.",
     "未知运营商“nokia”：请从列表中选择。"),
    ("/offers", "from=xyz", "from", "unknown_operator",
     "Operatore sconosciuto in «Sono cliente di»: «xyz». Sceglilo dall'elenco.",
     "Unknown operator “xyz” in “I am with”: choose one from the list.",
     "“我目前的运营商”中的运营商“xyz”未知：请从列表中选择。"),
    ("/offers", "plan_type=free", "plan_type", "unknown_choice",
     "«free» non è tra le scelte di «Tipo»: scegline una dall'elenco.",
     "“free” is not one of the choices for “Type”: choose one from the list.",
     "“free”不是“类型”的可选项：请从列表中选择。"),
    ("/offers", "who=kids", "who", "unknown_choice",
     "«kids» non è tra le scelte di «Per chi»: scegline una dall'elenco.",
     "“kids” is not one of the choices for “For”: choose one from the list.",
     "“kids”不是“适用人群”的可选项：请从列表中选择。"),
    ("/offers", "sort=random", "sort", "unknown_choice",
     "«random» non è tra le scelte di «Ordina per»: scegline una dall'elenco.",
     "“random” is not one of the choices for “Sort by”: choose one from the list.",
     "“random”不是“排序”的可选项：请从列表中选择。"),
    ("/offers", "max_price=abc", "max_price", "not_amount",
     "«abc» non è un importo in euro: scrivi ad esempio 9,99 o 10 (al massimo due decimali).",
     "“abc” is not an amount in euro: write e.g. 9.99 or 10 (at most two decimals).",
     "“abc”不是有效的欧元金额：请填写例如 9.99 或 10（最多两位小数）。"),
    ("/offers", "min_gb=-1", "min_gb", "not_gb",
     "«-1» non è un numero di GB: scrivi ad esempio 10 o 1,5.",
     "“-1” is not a number of GB: write e.g. 10 or 1.5.",
     "“-1”不是有效的流量数值：请填写 GB 数，例如 10 或 1.5。"),
    ("/changes", "operator=nokia", "operator", "unknown_operator",
     "Operatore sconosciuto: «nokia». Sceglilo dall'elenco.",
     "Unknown operator “nokia”: choose one from the list.",
     "未知运营商“nokia”：请从列表中选择。"),
    ("/changes", "kind=gone", "kind", "unknown_choice",
     "«gone» non è tra le scelte di «Tipo di cambiamento»: scegline una dall'elenco.",
     "“gone” is not one of the choices for “Kind of change”: choose one from the list.",
     "“gone”不是“变化类型”的可选项：请从列表中选择。"),
    ("/changes", "since=yesterday", "since", "not_a_day",
     "«yesterday» non è una data: usa AAAA-MM-GG, ad esempio 2026-09-15.",
     "“yesterday” is not a day: use YYYY-MM-DD, e.g. 2026-09-15.",
     "“yesterday”不是有效日期：请按 YYYY-MM-DD 格式填写，例如 2026-09-15。"),
    ("/changes", "since=0001-01-01", "since", "day_out_of_range",
     "«0001-01-01» è una data troppo lontana nel passato o nel futuro: scrivine una come 2026-09-15.",
     "“0001-01-01” is too far in the past or the future: write a day such as 2026-09-15.",
     "“0001-01-01”超出可用的日期范围：请填写例如 2026-09-15 这样的日期。"),
]  # fmt: skip
HEADINGS = {"it": "Filtro non valido", "en": "Invalid filter", "zh": "筛选条件无效"}
TITLES = {"/offers": {"it": "Offerte attuali", "en": "Current offers", "zh": "当前优惠"}}


def _expected(case, lang: str) -> str:
    return dict(zip(LANGS, case[4:], strict=True))[lang]


def _problem(page: str) -> str:
    return re.search(r'<p class="problem" role="alert">(.*?)</p>', page, re.S).group(1)


def test_the_table_has_every_code_on_each_page_and_every_language_words_every_code():
    assert {c[3] for c in CASES} == set(CODES)
    assert {c[3] for c in CASES if c[0] == "/offers"} >= {"unknown_operator", "unknown_choice", "not_amount", "not_gb"}
    assert {c[3] for c in CASES if c[0] == "/changes"} >= {"unknown_operator", "unknown_choice", "not_a_day"}
    for lang in LANGS:
        assert set(CODES) <= set(QUERY_ERRORS[lang])
        assert set(QUERY_ERRORS[lang]) == set(QUERY_ERRORS["it"])


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("case", CASES, ids=[f"{c[0][1:]}-{c[1]}" for c in CASES])
def test_a_bad_filter_is_the_form_again_with_one_line_in_the_page_language(client, case, lang):
    path, query, field, _code = case[:4]
    page = get(client, f"{path}?{query}", lang=lang).text
    assert f'<html lang="{lang}">' in page
    assert _problem(page) == f"<strong>{HEADINGS[lang]}</strong><br>{escape(_expected(case, lang))}"
    assert re.search(rf'name="{field}"[^>]*aria-invalid="true"', page)
    assert page.count('aria-invalid="true"') == 1
    assert f'<form class="filters" method="get" action="{path}"' in page
    # no results, no feed or alert of a filter not read
    assert '<table class="' not in page and 'class="summary"' not in page and 'rel="alternate"' not in page
    if field in ("max_price", "min_gb", "since"):  # what was typed is in its field again, to be corrected
        typed = query.split("=", 1)[1]
        assert re.search(rf'name="{field}"[^>]*value="{re.escape(typed)}"', page)
    if lang != "en":  # nothing of the English lines (the page's, the API's) on an Italian or Chinese page
        api = f"/api/v1/{'offers' if path == '/offers' else 'events'}?{query}"
        english = get(client, api).json()["detail"]
        assert escape(_expected(case, "en")) not in page and escape(english) not in page
        assert not re.search(r"\b(is not|unknown|write|choose)\b", _problem(page))


@pytest.mark.parametrize("lang", LANGS)
def test_the_other_filters_typed_stay_in_the_form(client, lang):
    page = get(client, "/offers?operator=Iliad&max_price=abc&min_gb=10&5g=1&sort=year&who=tourist", lang=lang).text
    assert '<option value="iliad" selected>' in page
    assert '<option value="year" selected>' in page and '<option value="tourist" selected>' in page
    assert re.search(r'name="min_gb"[^>]*value="10"', page) and re.search(r'name="5g" value="1" checked', page)
    changes = get(client, "/changes?operator=Iliad&kind=new&since=someday", lang=lang).text
    assert '<option value="iliad" selected>' in changes and '<option value="new" selected>' in changes


SCRIPT = "<script>alert(1)</script>"


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(
    "path",
    [
        "/offers?max_price=",
        "/offers?min_gb=",
        "/offers?operator=",
        "/offers?from=",
        "/offers?sort=",
        "/changes?operator=",
        "/changes?kind=",
        "/changes?since=",
    ],
)
def test_what_was_typed_is_quoted_and_escaped(client, path, lang):
    page = get(client, path + SCRIPT.replace("<", "%3C").replace(">", "%3E"), lang=lang).text
    assert SCRIPT not in page and "<script" not in page
    quotes = {"it": "«{}»", "en": "“{}”", "zh": "“{}”"}[lang]
    assert quotes.format("&lt;script&gt;alert(1)&lt;/script&gt;") in _problem(page)


def test_a_long_value_is_shortened_in_the_line(client):
    page = get(client, "/offers?max_price=" + "9" * 30 + "x" * 70, lang="en").text
    assert _problem(page).split("<br>")[1].startswith("“" + "9" * 30 + "x" * 9 + "…” is not an amount")


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("case", [c for c in CASES if c[0] == "/offers"], ids=lambda c: c[1])
def test_the_feed_answers_a_bad_query_in_its_language(client, case, lang):
    """A feed reader sends no language: the URL's `lang` says, else the visitor's Accept-Language."""
    for path, header in ((f"/feeds/events.atom?{case[1]}&lang={lang}", "en"), (f"/feeds/events.atom?{case[1]}", lang)):
        response = get(client, path, lang=header)
        assert response.text == _expected(case, lang) + "\n"
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
        assert response.headers["content-language"] == lang
        assert response.headers["x-content-type-options"] == "nosniff"


#: the JSON API's English line, unchanged: it is for programs
API = [
    ("/api/v1/offers?max_price=abc", "max_price 'abc' is not an amount in euro: write an amount of zero or more with at most two decimals, e.g. 9,99 or 9.99 or 10"),
    ("/api/v1/offers?min_gb=-1", "min_gb '-1' is not a number of GB: write a number of GB of zero or more, e.g. 10 or 1,5"),
    ("/api/v1/offers?plan_type=free", "plan_type 'free' is not a plan type; one of "),
    ("/api/v1/offers?sort=random", "sort 'random' is not known; one of price, "),
    ("/api/v1/offers?who=kids", "who 'kids' is not known; one of tourist, foreign_born"),
    ("/api/v1/offers?who=tourist&who=kids", "who 'kids' is not known; one of tourist, foreign_born"),
    ("/api/v1/offers?operator=nokia", "unknown operator 'nokia'"),
    ("/api/v1/offers?from=xyz", "unknown 'from' operator 'xyz'"),
    ("/api/v1/events?kind=gone", "kind 'gone' is not known; one of new, "),
    ("/api/v1/events?since=yesterday", "since 'yesterday' is not a day: write YYYY-MM-DD, e.g. 2026-09-15"),
    ("/api/v1/events?since=0001-01-01", "since '0001-01-01' is too far in the past or the future: write a day such as 2026-09-15"),
    ("/api/v1/events?since=9999-12-31T23:59-05:00", "since '9999-12-31T23:59-05:00' is too far in the past or the future"),
]  # fmt: skip


@pytest.mark.parametrize("lang", ("it", "zh"))
@pytest.mark.parametrize("path, detail", API)
def test_the_api_keeps_its_english_detail(client, path, detail, lang):
    response = get(client, path, lang=lang)
    assert response.headers["content-type"] == "application/json"
    assert response.json()["detail"].startswith(detail)


#: the stay form (web/stay.py): an arrival its costs cannot count from (year 1, 9999) was a 500
STAY = [
    ("9999-12-31", {
        "it": "«9999-12-31» è fuori dall'intervallo: scrivi una data dal 2000-01-01 al 2099-12-31.",
        "en": "“9999-12-31” is out of range: give a day from 2000-01-01 to 2099-12-31.",
        "zh": "“9999-12-31”超出范围：请填写 2000-01-01 至 2099-12-31 之间的日期。",
    }),
    ("0001-01-01", {
        "it": "«0001-01-01» è fuori dall'intervallo: scrivi una data dal 2000-01-01 al 2099-12-31.",
        "en": "“0001-01-01” is out of range: give a day from 2000-01-01 to 2099-12-31.",
        "zh": "“0001-01-01”超出范围：请填写 2000-01-01 至 2099-12-31 之间的日期。",
    }),
]  # fmt: skip


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("arrive, words", STAY, ids=[s[0] for s in STAY])
def test_a_stay_arriving_out_of_range_is_one_line_in_the_page_language(client, arrive, words, lang):
    page = get(client, f"/stay?days=10&gb=5&arrive={arrive}", lang=lang).text
    assert _problem(page) == escape(words[lang])
    assert get(client, "/stay?days=10&gb=5&arrive=2099-12-31", lang=lang, status=200)


def test_the_command_says_the_same_range_in_english():
    with pytest.raises(
        StayInputError, match=r"^--arrive '9999-12-31' is out of range: give a day from 2000-01-01 to 2099-12-31$"
    ):
        read_stay("10", arrive="9999-12-31", prefix="--")
