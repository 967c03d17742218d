"""`promowatch stay` as a real process on a real SQLite file filled by `promowatch import`: the ranking as JSON
and as the table a traveller reads, --from opening porting-only offers, bad input in one line."""

import json
import os

import processes
import pytest
from conftest import PROMOWATCH, ROOT

from contract.offer import OPERATORS, PLAN_TYPES

pytestmark = pytest.mark.slow  # real processes

LOCAL = {
    "iliad": [
        {"offer_key": "giga-150", "price_cents": 999, "data_gb": 150, "data_5g": True, "activation_cents": 999},
    ],
    "very": [
        {"offer_key": "180-nuovi", "price_cents": 699, "data_gb": 180, "eligibility": "new_number"},
        {"offer_key": "180-da-iliad", "price_cents": 599, "data_gb": 180, "eligibility": "portability"}
        | {"eligible_from": ["iliad", "postemobile"]},
    ],
    "ho": [
        {"offer_key": "150-passa", "price_cents": 799, "data_gb": 150, "activation_cents": 299}
        | {"eligibility": "portability", "eligible_from": ["iliad", "very"]},
    ],
    "tim": [
        {"offer_key": "tourist-30", "plan_type": "tourist", "price_cents": 2499, "data_gb": 20, "data_5g": True},
        {"offer_key": "tourist-esim", "plan_type": "tourist", "price_cents": 1499, "period_days": 15, "data_gb": 15}
        | {"sim_cents": 500, "esim": True},
        {"offer_key": "welcome-mondo", "price_cents": 999, "data_gb": 100, "sim_cents": 1000}
        | {"eligibility": "foreign_born"},
    ],
}


def item(operator, raw):
    return {
        "operator": operator,
        "name": raw["offer_key"].replace("-", " ").title(),
        "url": f"https://example.test/{operator}/{raw['offer_key']}",
        "plan_type": "prepaid",
        "period_days": 30,
        **raw,
    }


def run(*args, check=True, columns=None):
    env = {k: v for k, v in os.environ.items() if k != "PROMOWATCH_LOG_LEVEL"}  # tmp_db set the database URL
    if columns:
        env["COLUMNS"] = str(columns)
    proc = processes.run(PROMOWATCH + list(args), cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture
def stored(tmp_db, tmp_path):
    """The offers above imported one operator at a time, as crawls."""

    def store(offers: dict[str, list[dict]]):
        for operator, raws in offers.items():
            path = tmp_path / f"{operator}.json"
            path.write_text(json.dumps([item(operator, r) for r in raws]))
            assert json.loads(run("import", str(path), "--json").stdout)["status"] == "healthy"

    store(LOCAL)
    return store


def ranking(*args):
    data = json.loads(run("stay", *args, "--json").stdout)
    return [(c["key"], c["total_eur_cents"]) for c in data["ranked"]], {e["key"]: e["code"] for e in data["excluded"]}


def test_ten_days_twenty_gb_ranked_with_what_is_left_out(stored):
    ranked, left_out = ranking("--days", "10", "--gb", "20", "--arrive", "2026-12-20")
    assert ranked == [
        ("very:180-nuovi", 699),
        ("iliad:giga-150", 1998),
        ("tim:welcome-mondo", 1999),
        ("tim:tourist-30", 2499),
    ]
    assert left_out == {
        "very:180-da-iliad": "porting_only",
        "ho:150-passa": "porting_only",
        "tim:tourist-esim": "too_little_data",
    }


def test_from_iliad_opens_its_porting_offers(stored):
    ranked, left_out = ranking("--days", "10", "--gb", "20", "--arrive", "2026-12-20", "--from", "Iliad")
    assert [k for k, _ in ranked][:3] == ["very:180-da-iliad", "very:180-nuovi", "ho:150-passa"]
    assert ("ho:150-passa", 799 + 299) in ranked and left_out == {"tim:tourist-esim": "too_little_data"}


def test_forty_five_days_and_filters(stored):
    ranked, left_out = ranking("--days", "45", "--gb", "100", "--arrive", "2026-12-20")
    assert ranked == [("very:180-nuovi", 1398), ("iliad:giga-150", 2997), ("tim:welcome-mondo", 2998)]
    assert left_out["tim:tourist-30"] == "too_short"
    ranked, left_out = ranking("--days", "10", "--arrive", "2026-12-20", "--5g", "--esim-only")
    assert ranked == [] and left_out["tim:tourist-esim"] == "not_5g" and left_out["iliad:giga-150"] == "not_esim"


def test_the_table_a_traveller_reads(stored):
    out = run("stay", "--days", "10", "--gb", "20", "--arrive", "2026-12-20", columns=150).stdout
    assert "10 days, 20 GB, arriving 2026-12-20: 4 cards, cheapest first" in out
    lines = out.splitlines()
    first = next(n for n, line in enumerate(lines) if "180 Nuovi" in line)
    assert "6,99 €" in lines[first] and "new numbers only" in lines[first]
    assert "180 GB for 30 days" in lines[first]
    assert "SIM and activation 9,99\u00a0€" in out and "19,98 €" in out and "codice" in out
    assert "left out: porting only 2, too little data 1 (--json lists each with its reason)" in out
    narrow = run("stay", "--days", "10", "--gb", "20", "--arrive", "2026-12-20", columns=70).stdout
    assert "6,99 €" in narrow and "hidden" in narrow  # the total is never the column left out


def test_nothing_stored_says_so(tmp_db):
    proc = run("stay", "--days", "10")
    assert "0 cards" in proc.stdout and "no card covers this stay" in proc.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--days", "0"], "--days 0: give the days of your stay, a whole number from 1 to 366"),
        (["--days", "400"], "--days 400: give the days"),
        (["--days", "ten"], "--days ten"),
        ([], "missing option '--days'"),
        (["--days", "5", "--gb", "lots"], "--gb 'lots' is not a number of GB"),
        (["--days", "5", "--gb", "-3"], "--gb '-3' is not a number of GB"),
        (["--days", "5", "--arrive", "2026-13-01"], "--arrive '2026-13-01' is not a day: use YYYY-MM-DD"),
        (["--days", "5", "--from", "nowhere"], "unknown --from operator 'nowhere'"),
    ],
)
def test_bad_input_is_one_line(tmp_db, args, message):
    proc = run("stay", *args, check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


@pytest.mark.skipif(
    "esim_trip" not in PLAN_TYPES or "airalo" not in OPERATORS,
    reason="needs the travel-eSIM contract (plan type esim_trip, provider airalo) to import eSIM plans",
)
def test_travel_esims_beside_local_sims(stored):
    stored(
        {
            "airalo": [
                {"offer_key": "20gb-15d", "plan_type": "esim_trip", "currency": "USD", "price_cents": 2500}
                | {"period_days": 15, "data_gb": 20, "topup": True},
            ],
            "kolet": [
                {"offer_key": "10gb-30d", "plan_type": "esim_trip", "price_cents": 1799, "data_gb": 10, "topup": True},
            ],
        }
    )
    data = json.loads(run("stay", "--days", "10", "--gb", "20", "--arrive", "2026-12-20", "--json").stdout)
    ranked = [(c["key"], c["total_eur_cents"]) for c in data["ranked"]]
    assert ("kolet:10gb-30d+10gb-30d", 3598) in ranked
    assert [(c["key"], c["total_cents"], c["currency"]) for c in data["apart"]] == [("airalo:20gb-15d", 2500, "USD")]
