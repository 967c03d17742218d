"""Travel eSIMs end to end without processes: the offer contract's new fields, the euro rates, stable plan keys,
the catalogue's eSIM entries, comparison in euro, and an old database migrating to offers with a currency."""

import json
from pathlib import Path

import pytest
from conftest import FIXTURES

from contract.catalogue import CATALOGUE_FILE, FactsError, load
from contract.offer import ESIM_PLAN_TYPES, InvalidOffer, content_hash, normalise
from contract.offer_query import OfferFilter, eur_cents, eur_per_gb_cents, sort_offers, twelve_month_cents
from contract.rates import BadRates, Rates
from spiders.saved_page import index_beside, parse_file

ECB = Path(__file__).parent / "data" / "ecb" / "eurofxref-daily.xml"
PROVIDERS = [op for op, entry in load().items() if entry["kind"] == "travel_esim"]


def plan(**extra):
    return {
        "operator": "breeze",
        "offer_key": "1gb-7d",
        "name": "Breeze Italy 1GB",
        "url": "https://breezesim.com/products/esim-italy",
        "plan_type": "esim_trip",
        "price_cents": 399,
        "period_days": 7,
        "data_gb": 1,
        **extra,
    }


# --- the offer contract --------------------------------------------------------------------------------------

BAD = [
    ({"currency": "usd$"}, "bad_currency"),
    ({"currency": "EURO"}, "bad_currency"),
    ({"currency": 978}, "bad_currency"),
    ({"fair_use_gb_per_day": -1}, "bad_fair_use_gb_per_day"),
    ({"fair_use_gb_per_day": "3"}, "bad_fair_use_gb_per_day"),
    ({"throttled_kbps": 1.5}, "bad_throttled_kbps"),
    ({"throttled_kbps": -512}, "bad_throttled_kbps"),
    ({"hotspot": "yes"}, "bad_hotspot"),
    ({"topup": 1}, "bad_topup"),
    ({"hotspot_gb": float("nan")}, "bad_hotspot_gb"),
    ({"networks": "TIM"}, "bad_networks"),
    ({"networks": ["TIM", "Orange"]}, "bad_networks"),
    ({"plan_type": "esim"}, "bad_plan_type"),
]


@pytest.mark.parametrize("extra, reason", BAD, ids=[b[1] + ":" + repr(b[0]) for b in BAD])
def test_bad_travel_fields_are_refused_with_a_reason(extra, reason):
    with pytest.raises(InvalidOffer) as exc:
        normalise(plan(**extra))
    assert exc.value.reason == reason


def test_travel_fields_are_normalised():
    item = normalise(
        plan(
            currency=" usd ",
            networks=["Wind Tre", "ILIAD", "Vodafone Italy", "windtre"],
            fair_use_gb_per_day=3,
            throttled_kbps=1000,
            hotspot=True,
            hotspot_gb=1,
            topup=False,
            tier=" Essential ",
        )
    )
    assert item["currency"] == "USD"
    assert item["networks"] == ["Vodafone", "WindTre", "Iliad"]  # one spelling each, in a fixed order
    assert (item["fair_use_gb_per_day"], item["throttled_kbps"], item["hotspot_gb"]) == (3.0, 1000, 1.0)
    assert (item["hotspot"], item["topup"], item["tier"], item["esim"]) == (True, False, "Essential", True)
    assert set(ESIM_PLAN_TYPES) == {"esim_trip", "esim_subscription"}


def test_defaults_leave_a_sim_offer_as_it_was():
    sim = {
        "operator": "iliad",
        "offer_key": "giga150",
        "name": "Giga 150",
        "url": "https://www.iliad.it/",
        "plan_type": "prepaid",
        "price_cents": 999,
        "period_days": 30,
    }
    item = normalise(sim)
    assert (item["currency"], item["networks"], item["esim"], item["tier"]) == ("EUR", [], None, None)
    # the hash of an offer stored before the later fields existed (travel fields, flags): the item without them
    from contract.offer import LATER_DEFAULTS

    assert {"currency", "networks", "tier", "flags"} <= set(LATER_DEFAULTS)
    old = {k: v for k, v in item.items() if k not in LATER_DEFAULTS}
    legacy = json.dumps(old, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    import hashlib

    assert content_hash(item) == hashlib.sha256(legacy.encode()).hexdigest()
    assert content_hash(normalise({**sim, "currency": "USD"})) != content_hash(item)


def test_a_changed_travel_field_is_a_change():
    from alerts.detect import diff

    before = normalise(plan(networks=["TIM"]))
    assert diff(before, normalise(plan(networks=["TIM", "Iliad"]))) == {"networks": [["TIM"], ["TIM", "Iliad"]]}
    stored_before_the_fields = {k: v for k, v in normalise(plan()).items() if k != "currency"}
    assert diff(stored_before_the_fields, normalise(plan())) == {}  # a missing field is its default, EUR


# --- the euro rates ------------------------------------------------------------------------------------------


def test_rates_from_the_ecb_file():
    rates = Rates.load(ECB)
    assert str(rates.day) == "2026-12-04"
    assert rates.to_eur_cents(1160, "USD") == 1000
    assert rates.to_eur_cents(399, "usd") == 344  # 3.99 / 1.16 = 3.4397 -> 3.44
    assert rates.to_eur_cents(17250, "JPY") == 10000  # yen have no minor unit
    assert rates.to_eur_cents(999, "EUR") == 999
    assert rates.to_eur_cents(999, "XAU") is None


@pytest.mark.parametrize(
    "text, message",
    [
        ("not xml", "not the ECB reference rates XML"),
        ("<Envelope/>", "found 0 days"),
        (ECB.read_text().replace("rate='1.1600'", "rate='many'"), "not a date or a number"),
        (ECB.read_text().replace("rate='1.1600'", "rate='0'"), "no usable rate"),
    ],
)
def test_a_bad_rates_file_is_one_line(text, message):
    with pytest.raises(BadRates, match=message):
        Rates.from_ecb_xml(text)


def test_the_environment_names_a_bad_rates_file(tmp_path):
    from storage.environment import BadEnvironment, check_environment, configured_rates

    assert configured_rates({}) is None
    assert configured_rates({"PROMOWATCH_RATES_FILE": str(ECB)}).day.isoformat() == "2026-12-04"
    with pytest.raises(BadEnvironment, match="PROMOWATCH_RATES_FILE"):
        check_environment({"PROMOWATCH_RATES_FILE": str(tmp_path / "missing.xml")})
    broken = tmp_path / "rates.xml"
    broken.write_text("<html>error</html>")
    with pytest.raises(BadEnvironment, match="PROMOWATCH_RATES_FILE=.*found 0 days"):
        configured_rates({"PROMOWATCH_RATES_FILE": str(broken)})


# --- comparison in euro, never mixed --------------------------------------------------------------------------


def test_a_dollar_price_is_compared_only_through_a_rate():
    rates = Rates.load(ECB)
    usd = normalise(plan(currency="USD", price_cents=1160, data_gb=10))
    eur = normalise(plan(operator="kolet", offer_key="10gb-30d", price_cents=1100, data_gb=10, period_days=30))
    assert eur_cents(usd) is None and eur_cents(usd, rates) == 1000 and eur_cents(eur) == 1100
    assert eur_per_gb_cents(usd) is None and eur_per_gb_cents(usd, rates) == 100.0
    assert not OfferFilter(max_price_cents=1050).matches(usd)  # no rate: it cannot be said to cost less
    assert OfferFilter(max_price_cents=1050, rates=rates).matches(usd)
    assert not OfferFilter(max_price_cents=1050, rates=rates).matches(eur)
    assert OfferFilter(plan_types={"esim_trip"}).matches(usd)
    assert [i["operator"] for i in sort_offers([eur, usd], "price", rates)] == ["breeze", "kolet"]
    assert [i["operator"] for i in sort_offers([usd, eur], "price")] == ["kolet", "breeze"]  # unknown last


def test_a_trip_plan_is_bought_once_a_subscription_every_period():
    assert twelve_month_cents(normalise(plan(price_cents=2900, period_days=10))) == 2900
    assert twelve_month_cents(normalise(plan(plan_type="esim_subscription", price_cents=900, period_days=30))) == 10800


# --- the providers' spiders ----------------------------------------------------------------------------------


def test_at_least_seven_providers_each_with_a_spider_and_a_fixture():
    from spiders.registry import OPERATORS

    assert len(PROVIDERS) >= 7
    assert {"airalo", "holafly", "ubigi", "breeze", "yesim", "kolet", "nomad"} <= set(PROVIDERS)
    assert set(PROVIDERS) <= set(OPERATORS)


def _fixture_offers(op: str, page: Path) -> list[dict]:
    url, pages = index_beside(page)
    return [normalise(i) for i in parse_file(op, page, url=url, today="2026-09-15", pages=pages)]


@pytest.mark.parametrize("op", PROVIDERS)
def test_plans_are_esim_types_with_a_currency_and_stable_unique_keys(op, tmp_path):
    [expected] = sorted((FIXTURES / op).glob("*.expected.json"))
    page = expected.with_name(expected.name.removesuffix(".expected.json"))
    offers = _fixture_offers(op, page)
    assert offers and all(o["plan_type"] in ESIM_PLAN_TYPES and o["esim"] for o in offers)
    assert all(o["currency"] in ("EUR", "USD") for o in offers)
    assert all(o["data_unlimited"] or o["data_gb"] for o in offers)
    keys = [o["offer_key"] for o in offers]
    assert len(set(keys)) == len(keys)
    # every price changed on the page: the same keys (data + days + tier), other prices
    copy = tmp_path / op
    copy.mkdir()
    for f in page.parent.iterdir():
        text = f.read_text("utf-8")
        if f == page:
            for o in offers:
                text = text.replace(f"{o['price_cents'] / 100:.2f}", f"{o['price_cents'] / 100 + 0.01:.2f}")
        (copy / f.name).write_text(text, "utf-8")
    again = _fixture_offers(op, copy / page.name)
    assert [o["offer_key"] for o in again] == keys


def test_unlimited_plans_carry_the_fair_use_the_facts_confirm():
    offers = {o["offer_key"]: o for o in _fixture_offers("airalo", FIXTURES / "airalo" / "countries-italy.json")}
    assert (offers["unlimited-10d"]["fair_use_gb_per_day"], offers["unlimited-10d"]["throttled_kbps"]) == (3.0, 1000)
    assert offers["unlimited-10d"]["price_cents"] == 2900 and offers["unlimited-10d"]["currency"] == "EUR"
    assert offers["10gb-30d"]["fair_use_gb_per_day"] is None
    nomad = {o["offer_key"]: o for o in _fixture_offers("nomad", FIXTURES / "nomad" / "italy-esim.html")}
    assert nomad["unlimited-10d"]["fair_use_gb_per_day"] == 2.0 and nomad["unlimited-10d"]["throttled_kbps"] is None
    assert nomad["10gb-30d-pass"]["plan_type"] == "esim_subscription"
    assert nomad["20gb-30d"]["price_cents"] == 2150  # the sale price of the map, not the struck-through one
    breeze = _fixture_offers("breeze", FIXTURES / "breeze" / "esim-italy.json")
    assert {o["currency"] for o in breeze} == {"USD"}
    esimio = {o["offer_key"]: o for o in _fixture_offers("esimio", FIXTURES / "esimio" / "esim-italy.html")}
    assert esimio["unlimited-7d"]["data_unlimited"] and esimio["unlimited-7d"]["price_cents"] == 2200
    assert esimio["20gb-30d"]["price_cents"] == 2490  # the price paid, not originalPrice


# --- the catalogue's eSIM entries ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("networks", ["wind"], "networks="),
        ("networks", "iliad", "must be a list"),
        ("hotspot", "yes", "hotspot="),
        ("fair_use_gb_per_day", -3, "a number"),
        ("throttled_kbps", 1.5, "a number"),
        ("pay_from_abroad", ["bitcoin"], "pay_from_abroad="),
        ("kind", "esim_shop", "kind="),
    ],
)
def test_a_broken_esim_entry_is_refused(tmp_path, key, value, message):
    data = json.loads(CATALOGUE_FILE.read_text("utf-8"))
    data["operators"]["airalo"][key] = value
    broken = tmp_path / "facts.json"
    broken.write_text(json.dumps(data), "utf-8")
    with pytest.raises(FactsError, match=message):
        load.__wrapped__(broken)


def test_an_esim_entry_needs_its_terms_and_an_operator_has_none(tmp_path):
    data = json.loads(CATALOGUE_FILE.read_text("utf-8"))
    del data["operators"]["airalo"]["hotspot"]
    path = tmp_path / "facts.json"
    path.write_text(json.dumps(data), "utf-8")
    with pytest.raises(FactsError, match=r"airalo: unknown keys \[\], missing keys \['hotspot'\]"):
        load.__wrapped__(path)
    data = json.loads(CATALOGUE_FILE.read_text("utf-8"))
    data["operators"]["tim"]["networks"] = ["tim"]
    path.write_text(json.dumps(data), "utf-8")
    with pytest.raises(FactsError, match=r"tim: unknown keys \['networks'\]"):
        load.__wrapped__(path)


# --- an old database migrates without loss ---------------------------------------------------------------------


def test_an_old_database_migrates_to_euro_offers_without_a_change(tmp_db, engine):
    from datetime import datetime, timezone

    from alembic import command
    from alembic.config import Config
    from sqlalchemy import inspect, text

    from alerts.detect import detect_crawl
    from contract.offer import LATER_DEFAULTS
    from spiders.crawl_rules import CrawlFacts, CrawlItems, store_crawl
    from storage.engine import HEAD_REVISION, MIGRATIONS, upgrade
    from storage.repository import list_offers

    def crawl(items, day):
        items_ = CrawlItems("iliad")
        for i in items:
            items_.add(i)
        at = datetime.fromisoformat(day).replace(tzinfo=timezone.utc)
        return store_crawl(CrawlFacts("finished", items_, 1), operator="iliad", started_at=at, database_url=tmp_db)

    sims = [
        {
            "offer_key": k,
            "name": k,
            "url": "https://www.iliad.it/",
            "plan_type": "prepaid",
            "price_cents": p,
            "period_days": 30,
        }
        for k, p in (("giga150", 999), ("giga250", 1199), ("voce", 499))
    ]
    crawl(sims, "2026-09-14T12:00:00")
    first = crawl([{**sims[0], "price_cents": 899}, *sims[1:]], "2026-09-15T12:00:00")
    detect_crawl(first.run_id, tmp_db)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", tmp_db)
    command.downgrade(cfg, "0005_notification_failure_kind")
    assert "currency" not in {c["name"] for c in inspect(engine).get_columns("offer")}
    with engine.begin() as conn:  # the items as the old version stored them: without the travel fields
        for table in ("offer", "offer_version"):
            for row_id, data in conn.execute(text(f"SELECT id, data FROM {table}")).all():
                data = json.loads(data) if isinstance(data, str) else data
                old = json.dumps({k: v for k, v in data.items() if k not in LATER_DEFAULTS})
                conn.execute(text(f"UPDATE {table} SET data = :d WHERE id = :i"), {"d": old, "i": row_id})
        before = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in ("offer", "offer_version")}
    upgrade(tmp_db)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD_REVISION
        assert {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in before} == before
        assert conn.execute(text("SELECT DISTINCT currency FROM offer")).scalars().all() == ["EUR"]
    offers = {o["offer_key"]: o for o in list_offers("iliad", database_url=tmp_db)}
    assert offers["giga150"]["price_cents"] == 899 and offers["giga150"]["currency"] == "EUR"
    assert offers["voce"]["networks"] == [] and offers["voce"]["fair_use_gb_per_day"] is None
    again = crawl([{**sims[0], "price_cents": 899}, *sims[1:]], "2026-09-16T12:00:00")
    assert again.healthy and again.new_versions == 0  # the stored hashes still hold
    assert detect_crawl(again.run_id, tmp_db) == []
    cheaper = crawl([{**sims[0], "price_cents": 799}, *sims[1:]], "2026-09-17T12:00:00")
    assert [(e["offer_key"], e["kind"], e["changes"]) for e in detect_crawl(cheaper.run_id, tmp_db)] == [
        ("giga150", "price_drop", {})
    ]
    nomad = CrawlItems("nomad")  # the widened plan_type column takes the longest type (PostgreSQL checks it)
    nomad.add(plan(offer_key="10gb-30d-pass", plan_type="esim_subscription", period_days=30, data_gb=10))
    at = datetime(2026, 9, 17, 12, tzinfo=timezone.utc)
    assert store_crawl(CrawlFacts("finished", nomad, 1), operator="nomad", started_at=at, database_url=tmp_db).healthy
    assert [o["plan_type"] for o in list_offers("nomad", database_url=tmp_db)] == ["esim_subscription"]


def test_a_shrunken_catalogue_is_partial_against_the_last_healthy_crawl(tmp_db, engine):
    from datetime import datetime, timezone

    from spiders.crawl_rules import CrawlFacts, CrawlItems, store_crawl

    def crawl(n, day):
        items = CrawlItems("airalo")
        for i in range(n):
            items.add(plan(operator="airalo", offer_key=f"{i + 1}gb-7d", name=f"{i + 1} GB", data_gb=i + 1))
        at = datetime.fromisoformat(day).replace(tzinfo=timezone.utc)
        return store_crawl(CrawlFacts("finished", items, 1), operator="airalo", started_at=at, database_url=tmp_db)

    assert crawl(18, "2026-09-14T12:00:00").status == "healthy"
    shrunk = crawl(9, "2026-09-15T12:00:00")
    assert (shrunk.status, shrunk.error) == ("partial", "only 9 offers, the previous healthy crawl had 18")
    assert shrunk.stored == 0  # nothing removed on its word
    assert crawl(10, "2026-09-16T12:00:00").status == "healthy"  # still against 18: more than half
    assert crawl(5, "2026-09-17T12:00:00").status == "partial"  # against the last healthy one, 10
    assert crawl(5, "2026-09-18T12:00:00").status == "partial"
    assert crawl(5, "2026-09-19T12:00:00").status == "healthy"  # read three times in a row: the site's own size


@pytest.mark.parametrize("op", PROVIDERS)
def test_a_changed_answer_gives_no_plan_rather_than_wrong_ones(op, tmp_path):
    bodies = ["<html><body>Access denied</body></html>"]
    if op in ("airalo", "breeze", "kolet"):  # the JSON endpoints: JSON of another shape too
        bodies.append('{"unexpected": {"shape": []}}')
    for body in bodies:
        page = tmp_path / "page"
        page.write_text(body)
        assert parse_file(op, page) == []


def test_crawls_ask_for_euro_where_the_site_allows_it():
    from spiders.registry import spider_class

    def first_request(op):
        return next(iter(spider_class(op)()._start_requests()))

    airalo = first_request("airalo")
    assert airalo.headers[b"Accept-Currency"] == b"EUR" and airalo.headers[b"x-client-version"] == b"version2"
    assert first_request("yesim").headers[b"Cookie"] == b"currency=EUR"
    assert first_request("ubigi").url.endswith("&wmc-currency=EUR")
    assert first_request("holafly").url.endswith("?currency=EUR")
    assert first_request("breeze").url.endswith("?currency=USD")  # only USD pinning is confirmed for the shop
    assert b"Cookie" not in first_request("tim").headers  # the operators' requests are as they were
