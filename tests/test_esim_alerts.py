"""A travel eSIM's price drop reaches the subscriber who filters on eSIMs, through the real command line: the
Airalo fixture's plans imported twice with `promowatch import`, `promowatch send` to a JSON webhook on
127.0.0.1 (Apprise's json://), and a SIM subscriber who hears nothing of it."""

import json
import os
import sys

import processes
import pytest
from conftest import FIXTURES, ROOT
from servers import HttpServer

pytestmark = pytest.mark.slow  # real processes and servers


def run(*args, env=None):
    env = {**{k: v for k, v in os.environ.items() if k != "PROMOWATCH_LOG_LEVEL"}, **(env or {})}
    proc = processes.run(
        [sys.executable, "-m", "promowatch", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, f"{args} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def test_an_airalo_price_drop_reaches_the_esim_subscriber_only(tmp_db, tmp_path):
    page = FIXTURES / "airalo" / "countries-italy.json"
    plans = json.loads(run("parse", "airalo", str(page), "--json").stdout)
    assert len(plans) >= 8 and {p["plan_type"] for p in plans} == {"esim_trip"}
    baseline, cheaper = tmp_path / "1.json", tmp_path / "2.json"
    baseline.write_text(json.dumps(plans))
    dropped = [{**p, "price_cents": 2500} if p["offer_key"] == "unlimited-10d" else p for p in plans]
    cheaper.write_text(json.dumps(dropped))
    with HttpServer() as hooks:
        run("subscribe", "--channel", hooks.url("/esim"), "--plan-type", "esim_trip", "--lang", "en")
        run("subscribe", "--channel", hooks.url("/sim"), "--plan-type", "prepaid", "--lang", "en")
        first = json.loads(run("import", str(baseline), "--json").stdout)
        assert first["status"] == "healthy" and first["events"] == []
        second = json.loads(run("import", str(cheaper), "--json").stdout)
        assert [(e["offer_key"], e["kind"]) for e in second["events"]] == [("unlimited-10d", "price_drop")]
        run("send")
        [got] = hooks.wait_for(1, timeout=30)
    assert got["path"] == "/esim" and len(hooks.received) == 1  # the prepaid subscriber hears nothing
    title, body = got["json"]["title"], got["json"]["message"]
    assert "€29.00" in title and "€25.00" in title, title
    assert "(travel eSIM)" in body and "Mamma Mia - Unlimited - 10 Days" in body, body


def test_offers_show_a_dollar_price_as_dollars_and_its_euro_only_with_a_rate(tmp_db, tmp_path):
    page = FIXTURES / "breeze" / "esim-italy.json"
    items = tmp_path / "breeze.json"
    items.write_text(run("parse", "breeze", str(page), "--json").stdout)
    run("import", str(items))
    wide = {"COLUMNS": "200"}
    plain = run("offers", "--operator", "breeze", "--plan-type", "esim_trip", env=wide).stdout
    assert "3,99 USD" in plain and "no € rate" in plain and "≈" not in plain
    assert "PROMOWATCH_RATES_FILE" in plain
    rates = {**wide, "PROMOWATCH_RATES_FILE": str(ROOT / "tests" / "data" / "ecb" / "eurofxref-daily.xml")}
    priced = run("offers", "--operator", "breeze", env=rates).stdout
    assert "3,99 USD" in priced and "≈ 3,44 €" in priced and "ECB reference rates of 2026-12-04" in priced
    listed = json.loads(run("offers", "--operator", "breeze", "--json", env=rates).stdout)
    one = next(o for o in listed if o["offer_key"] == "1gb-7d")
    assert (one["price_cents"], one["currency"], one["price_eur_cents"], one["eur_rates_day"]) == (
        399,
        "USD",
        344,
        "2026-12-04",
    )
    cheap = json.loads(run("offers", "--max-price", "4", "--json", env=rates).stdout)
    assert {o["offer_key"] for o in cheap} == {"1gb-7d"}  # 4,99 USD ≈ 4,30 € is over 4 €
    assert json.loads(run("offers", "--max-price", "4", "--json").stdout) == []  # no rate: not comparable
    operators = run("operators", env={"COLUMNS": "250"}).stdout
    breeze = next(line for line in operators.splitlines() if line.startswith("│ Breeze"))
    assert "travel eSIM" in breeze and "USD" in breeze
