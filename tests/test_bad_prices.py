"""A price the page writes as "Gratis", "0,00", "€ -" or not at all, and an offer repeated on the page.

Real `promowatch crawl --fixtures` processes on a real SQLite file holding a healthy crawl of the
bundled TIM page: the bad tile is dropped and counted by reason, the crawl stays healthy (the other tiles
are still above the threshold) and nothing stored changes.
"""

import json
import os
import re
import shutil
import sys

import pytest
from conftest import FIXTURES, PROMOWATCH, run
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler
from test_bad_input import _stored

from spiders.pipelines import OfferPipeline

pytestmark = pytest.mark.slow  # real processes and servers

# the "TIM CROSS Iron 5G" tile ("4" + ",99 €"): no other tile stands in for it when it is dropped
FIRST_PRICE = re.compile(r'<strong>4</strong>(\s*<div class="ta-price__cents"><div><span>),99 €')
PRICES = {  # case -> (units, decimals written in place of "4" and ",99 €", drop reason)
    "gratis": ("Gratis", "", "no_price"),
    "zero": ("0", ",00 €", "zero_price"),
    "dash": ("€ -", "", "no_price"),
    "none": ("", "", "no_price"),
}


def _tim_dir(tmp_path, change):
    root = tmp_path / "fx"
    shutil.copytree(FIXTURES / "tim", root / "tim")
    page = root / "tim" / "mobile.html"
    text = page.read_text("utf-8")
    assert FIRST_PRICE.search(text), "the TIM fixture's CROSS Iron tile changed: update this test"
    page.write_text(change(text), "utf-8")
    return root


@pytest.fixture(scope="module")
def healthy_tim(module_db):
    """A database holding a healthy crawl of the bundled TIM page, made once by a real process, and its offers."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMOWATCH_")}
    env.update(PROMOWATCH_DATABASE_URL=module_db, PROMOWATCH_TODAY="2026-09-15")  # as conftest's `env`
    run(PROMOWATCH + ["crawl", "tim", "--offline", "--json"], env)
    before = _stored(env)
    assert before, "the healthy baseline crawl stored nothing"
    return module_db, before


@pytest.mark.parametrize("case", sorted(PRICES))
def test_bad_price_is_dropped_and_counted(case, env, tmp_path, healthy_tim, copy_of):
    units, decimals, reason = PRICES[case]
    source, before = healthy_tim
    copy_of(source)  # the test's database (env's) starts as that healthy crawl left it (checked at the end)
    folder = _tim_dir(
        tmp_path, lambda t: FIRST_PRICE.sub(lambda m: f"<strong>{units}</strong>{m.group(1)}{decimals}", t, count=1)
    )
    row = json.loads(run(PROMOWATCH + ["crawl", "tim", "--fixtures", str(folder), "--json"], env).stdout)[0]
    assert row["status"] == "healthy" and row["dropped"] == {reason: 1} and row["new_versions"] == 0, row
    assert _stored(env) == before


def test_tile_repeated_on_page_is_one_offer(env, tmp_path):
    first = json.loads(run(PROMOWATCH + ["crawl", "tim", "--offline", "--json"], env).stdout)[0]
    before = _stored(env)
    start = '<div class="tm-tile tm-tile--offerta'

    def repeat_first_tile(text):
        i = text.index(start)
        j = text.index(start, i + 1)
        return text[:j] + text[i:j] + text[j:]

    folder = _tim_dir(tmp_path, repeat_first_tile)
    row = json.loads(run(PROMOWATCH + ["crawl", "tim", "--fixtures", str(folder), "--json"], env).stdout)[0]
    assert row["status"] == "healthy" and row["offers"] == first["offers"] and row["new_versions"] == 0, row
    assert _stored(env) == before


def test_pipeline_drops_a_repeated_offer_key():
    crawler = get_crawler(settings_dict={})
    pipeline = OfferPipeline(crawler)
    item = dict(
        operator="iliad",
        offer_key="giga-150",
        name="Giga 150",
        url="https://www.iliad.it/x",
        plan_type="prepaid",
        price_cents=999,
        period_days=30,
    )
    pipeline.process_item(dict(item))
    with pytest.raises(DropItem, match="duplicate_offer_key"):
        pipeline.process_item(dict(item))
    with pytest.raises(DropItem, match="no_price"):
        pipeline.process_item({**item, "offer_key": "other", "price_cents": None})
    assert crawler.stats.get_value("promowatch/dropped/duplicate_offer_key") == 1
    assert crawler.stats.get_value("promowatch/dropped/no_price") == 1
    assert [o["offer_key"] for o in pipeline.items] == ["giga-150"]


SCRAPY = [sys.executable, "-m", "scrapy", "crawl"]
ILIAD_PRICE = {"voce": 'price="599"', "domotica": 'price="249"'}  # one card each (Domotica's price is repeated)


def _iliad_dir(tmp_path, *keys):
    """The bundled Iliad page with the price attribute of these offers' cards unreadable (no digits)."""
    root = tmp_path / "-".join(keys)
    shutil.copytree(FIXTURES / "iliad", root / "iliad")
    page = root / "iliad" / "mobile.html"
    text = page.read_text("utf-8")
    for key in keys:
        assert ILIAD_PRICE[key] in text, "the Iliad fixture changed: update this test"
        text = text.replace(ILIAD_PRICE[key], 'price="n.d."', 1)
    page.write_text(text, "utf-8")
    return root


@pytest.mark.slow
def test_invalid_card_keeps_its_offer_and_the_crawl_names_it(env, tmp_path):
    """Scrapy and promowatch crawls of a page on which one card is invalid, twice in a row, then valid again:
    every crawl healthy and naming the card, its offer present with its last good version, no event at all.
    Two invalid cards of seven are more than the share a healthy crawl may drop: partial."""
    run(PROMOWATCH + ["crawl", "iliad", "--offline", "--json"], env)
    before = _stored(env)
    one_bad = _iliad_dir(tmp_path, "voce")
    for _ in range(2):
        proc = run(SCRAPY + ["iliad"], {**env, "PROMOWATCH_FIXTURES_DIR": str(one_bad)})
        assert "iliad crawl healthy: 6 offers" in proc.stderr and "dropped 1 of 7 cards: voce (no_price)" in proc.stderr
        assert "Traceback" not in proc.stderr
        status = {r["operator"]: r for r in json.loads(run(PROMOWATCH + ["status", "--json"], env).stdout)}
        assert status["iliad"]["status"] == "healthy" and "voce (no_price)" in status["iliad"]["error"]
    row = json.loads(run(PROMOWATCH + ["crawl", "iliad", "--fixtures", str(one_bad), "--json"], env).stdout)[0]
    assert row["status"] == "healthy" and row["error"] == "dropped 1 of 7 cards: voce (no_price)", row
    assert [(c["offer_key"], c["reason"]) for c in row["dropped_cards"]] == [("voce", "no_price")]
    table = run(PROMOWATCH + ["crawl", "iliad", "--fixtures", str(one_bad)], env).stdout
    assert "voce (no_price)" in table
    run(PROMOWATCH + ["crawl", "iliad", "--offline", "--json"], env)
    assert _stored(env) == before
    assert json.loads(run(PROMOWATCH + ["events", "--json"], env).stdout) == []
    assert len(json.loads(run(PROMOWATCH + ["history", "iliad", "voce", "--json"], env).stdout)) == 1
    # two cards of seven invalid: partial, both named, nothing changes
    proc = run(
        PROMOWATCH + ["crawl", "iliad", "--fixtures", str(_iliad_dir(tmp_path, "voce", "domotica")), "--json"],
        env,
        check=False,
    )
    row = json.loads(proc.stdout)[0]
    assert proc.returncode == 1 and row["status"] == "partial", row
    assert row["error"] == "dropped 2 of 7 cards (more than 20% invalid): voce (no_price), domotica (no_price)"
    assert _stored(env) == before and json.loads(run(PROMOWATCH + ["events", "--json"], env).stdout) == []
