"""`promowatch subscribe / unsubscribe / subscribers` as real processes on a real SQLite file; secrets never shown.

Ends with the whole path from the command line: subscribe, `promowatch import` twice, the outbox rows."""

import json
import os
import sys

import processes
import pytest
from conftest import ROOT
from sqlalchemy import create_engine, inspect, text

pytestmark = pytest.mark.slow  # real processes and servers

SECRET_URLS = {
    "json://user:s3cretpw@127.0.0.1:8080/hook": "s3cretpw",
    "tgram://123456:ABCDEF-token/987": "ABCDEF-token",
}


def run(*args, check=True):
    env = {k: v for k, v in os.environ.items() if k != "PROMOWATCH_LOG_LEVEL"}  # tmp_db set the database URL
    proc = processes.run(
        [sys.executable, "-m", "promowatch", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def assert_no_secret(*texts):
    for output in texts:
        for secret in SECRET_URLS.values():
            assert secret not in output


def db_rows(tmp_db, sql):
    """Rows of a plain SQL query, read without the project's engine (any database the test runs on)."""
    engine = create_engine(tmp_db)
    try:
        with engine.connect() as con:
            return [tuple(r) for r in con.execute(text(sql)).fetchall()]
    finally:
        engine.dispose()


def stored_subscriptions(tmp_db):
    """How many subscriptions the database holds (a refused subscription may not even create the tables)."""
    if tmp_db.startswith("sqlite:///") and not os.path.exists(tmp_db.removeprefix("sqlite:///")):
        return 0
    engine = create_engine(tmp_db)
    try:
        if not inspect(engine).has_table("subscription"):
            return 0
    finally:
        engine.dispose()
    return db_rows(tmp_db, "SELECT count(*) FROM subscription")[0][0]


def test_subscribe_prints_the_id_and_masked_channels_and_stores_the_filters(tmp_db):
    channels = [a for url in SECRET_URLS for a in ("--channel", url)]
    out = run("subscribe", *channels, "--operator", "iliad", "--operator", "ho", "--max-price", "9,99")
    assert "subscription 1: 2 channels" in out.stdout
    assert "json://user:****@127.0.0.1:8080/hook" in out.stdout and "tgram://" in out.stdout
    assert_no_secret(out.stdout, out.stderr)
    data = json.loads(
        run(
            "subscribe",
            "--channel",
            "mailto://me:hunter22@example.com",
            "--lang",
            "en",
            "--digest",
            "weekly",
            "--tz",
            "Europe/London",
            "--plan-type",
            "prepaid",
            "--kind",
            "price_drop",
            "--kind",
            "new",
            "--max-price",
            "7,99 €",
            "--min-gb",
            "100",
            "--5g",
            "--from",
            "iliad",
            "--max-eur-per-gb",
            "0,05",
            "--max-year-cost",
            "120",
            "--quiet",
            "22:30-7:00",
            "--rearm-hours",
            "24",
            "--json",
        ).stdout
    )
    assert data["id"] == 2 and [c["service"] for c in data["channels"]] == ["mailto"]
    assert "hunter22" not in json.dumps(data)
    assert {
        k: data[k]
        for k in (
            "lang",
            "digest",
            "timezone",
            "plan_types",
            "kinds",
            "max_price_cents",
            "min_gb",
            "only_5g",
            "origin",
            "max_eur_per_gb_cents",
            "max_year_cents",
            "quiet_start",
            "quiet_end",
            "rearm_hours",
            "operators",
            "active",
        )
    } == {
        "lang": "en",
        "digest": "weekly",
        "timezone": "Europe/London",
        "plan_types": ["prepaid"],
        "kinds": ["price_drop", "new"],
        "max_price_cents": 799,
        "min_gb": 100.0,
        "only_5g": True,
        "origin": "iliad",
        "max_eur_per_gb_cents": 5.0,
        "max_year_cents": 12000,
        "quiet_start": "22:30",
        "quiet_end": "07:00",
        "rearm_hours": 24,
        "operators": [],
        "active": True,
    }
    # the real URLs are stored (the sender needs them), beside their masked form
    assert sorted(u for (u,) in db_rows(tmp_db, "SELECT url FROM subscription_channel")) == sorted(
        [*SECRET_URLS, "mailto://me:hunter22@example.com"]
    )


def test_subscribers_never_show_a_secret(tmp_db):
    run("subscribe", *[a for url in SECRET_URLS for a in ("--channel", url)], "--quiet", "22:00-07:00")
    table = run("subscribers")
    listed = run("subscribers", "--json")
    assert_no_secret(table.stdout, table.stderr, listed.stdout, listed.stderr)
    (sub,) = json.loads(listed.stdout)
    assert [c["url_masked"].split("?")[0] for c in sub["channels"]] == [
        "json://user:****@127.0.0.1:8080/hook",
        "tgram://1...n/987/",
    ]
    assert "json://user:****@127.0.0.1:8080/hook" in table.stdout and "22:00-07:00" in table.stdout


def test_a_bad_url_refuses_the_whole_subscription(tmp_db):
    proc = run(
        "subscribe",
        "--channel",
        "json://user:s3cretpw@127.0.0.1:8080/hook",
        "--channel",
        "nosuchservice://admin:s3cretpw@host/ABCDEF-token",
        check=False,
    )
    assert proc.returncode == 2
    assert "channel 2" in proc.stderr and "nosuchservice://a...n:s...w@h...t/A...n" in proc.stderr
    assert "nothing stored" in proc.stderr
    assert_no_secret(proc.stdout, proc.stderr)
    assert json.loads(run("subscribers", "--json").stdout) == []
    assert stored_subscriptions(tmp_db) == 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["--operator", "nokia"], "unknown operator 'nokia'"),
        (["--from", "nokia"], "unknown operator for --from 'nokia'"),
        (["--plan-type", "family"], "unknown plan type: family"),
        (["--kind", "cheaper"], "unknown event kind: cheaper"),
        (["--lang", "fr"], "unknown language 'fr'"),
        (["--digest", "hourly"], "unknown digest 'hourly'"),
        (["--tz", "Europe/Atlantis"], "unknown time zone 'Europe/Atlantis'"),
        (["--quiet", "22-07"], "is not HH:MM-HH:MM"),
        (["--quiet", "24:00-07:00"], "hours 00-23"),
        (["--max-price", "cheap"], "--max-price 'cheap' is not an amount"),
        (["--max-eur-per-gb", "0,005"], "at most two decimals"),
    ],
)
def test_invalid_options_are_refused(tmp_db, args, message):
    proc = run("subscribe", "--channel", "json://user:s3cretpw@127.0.0.1:8080/hook", *args, check=False)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "nothing stored" in proc.stderr
    assert_no_secret(proc.stdout, proc.stderr)
    assert stored_subscriptions(tmp_db) == 0


def test_unsubscribe(tmp_db):
    run("subscribe", "--channel", "json://user:s3cretpw@127.0.0.1:8080/hook")
    assert "deactivated" in run("unsubscribe", "1").stdout
    assert "already inactive" in run("unsubscribe", "1").stdout
    missing = run("unsubscribe", "42", check=False)
    assert missing.returncode == 1 and "no subscription 42" in missing.stderr
    assert [s["active"] for s in json.loads(run("subscribers", "--json").stdout)] == [False]


def test_subscribe_then_import_queues_the_right_rows(tmp_db, tmp_path):
    def offer(key, price, **extra):
        return {
            "operator": "iliad",
            "offer_key": key,
            "name": key.upper(),
            "url": f"https://www.iliad.it/{key}",
            "plan_type": "prepaid",
            "price_cents": price,
            "period_days": 30,
            **extra,
        }

    run(
        "subscribe",
        "--channel",
        "json://user:s3cretpw@127.0.0.1:8080/hook",
        "--channel",
        "json://u:p@127.0.0.1/two",
        "--max-price",
        "9,99",
        "--kind",
        "price_drop",
        "--kind",
        "new",
    )
    run("subscribe", "--channel", "json://u:p@127.0.0.1/three", "--operator", "ho")
    run("subscribe", "--channel", "json://u:p@127.0.0.1/four")
    run("unsubscribe", "3")
    for n, items in enumerate(
        [[offer("a", 999), offer("b", 1299)], [offer("a", 899), offer("b", 1399), offer("c", 499)]]
    ):
        path = tmp_path / f"{n}.json"
        path.write_text(json.dumps(items))
        run("import", str(path))
    events = {e["offer_key"]: (e["id"], e["kind"]) for e in json.loads(run("events", "--json").stdout)}
    assert {key: kind for key, (_, kind) in events.items()} == {"a": "price_drop", "b": "price_rise", "c": "new"}
    rows = db_rows(
        tmp_db,
        "SELECT subscription_id, channel_id, event_id, kind, price_cents, status "
        "FROM notification ORDER BY subscription_id, channel_id, event_id",
    )
    want = sorted(
        (1, channel, events[key][0], events[key][1], price, "pending")
        for key, price in (("a", 899), ("c", 499))
        for channel in (1, 2)
    )
    assert rows == want  # b rose (and costs 13,99 €): not for 1; 2 wants ho; 3 is unsubscribed


# --- issue #15: out-of-range numbers, repeated channels ----------------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        (["--rearm-hours", "99999999999"], "--rearm-hours 99999999999 is out of range: write 1 to 8760 hours"),
        (["--rearm-hours", "100000000"], "--rearm-hours 100000000 is out of range"),
        (["--rearm-hours", "8761"], "--rearm-hours 8761 is out of range"),
        (["--rearm-hours", "0"], "--rearm-hours 0 is out of range"),
        (["--rearm-hours", "-1"], "--rearm-hours -1 is out of range"),
        (["--min-gb", "nan"], "--min-gb 'nan' is not a number of GB"),
        (["--min-gb", "inf"], "--min-gb 'inf' is not a number of GB"),
        (["--min-gb", "-Infinity"], "--min-gb '-Infinity' is not a number of GB"),
        (["--min-gb", "-1"], "--min-gb '-1' is not a number of GB"),
        (["--min-gb", "1e3"], "--min-gb '1e3' is not a number of GB"),
        (["--max-price", "-1"], "--max-price '-1' is not an amount"),
        (["--max-price", "nan"], "--max-price 'nan' is not an amount"),
        (["--max-eur-per-gb", "inf"], "--max-eur-per-gb 'inf' is not an amount"),
        (["--max-year-cost", "1e9"], "--max-year-cost '1e9' is not an amount"),
        (["--quiet", "99:99-07:00"], "hours 00-23"),
    ],
)
def test_out_of_range_numbers_are_refused_in_one_line(tmp_db, args, message):
    proc = run("subscribe", "--channel", "json://127.0.0.1:18765/y", *args, check=False)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "nothing stored" in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert stored_subscriptions(tmp_db) == 0


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "1e3"])
def test_offers_refuses_the_same_gb_values_with_the_same_parser(tmp_db, value):
    proc = run("offers", "--min-gb", value, check=False)
    assert proc.returncode == 2 and f"--min-gb {value!r} is not a number of GB" in proc.stderr, proc.stderr


@pytest.mark.parametrize("value, stored", [("1,5", 1.5), ("10", 10.0), ("0", 0.0), ("2.25", 2.25)])
def test_min_gb_accepts_decimal_comma_and_point(tmp_db, value, stored):
    data = json.loads(run("subscribe", "--channel", "json://127.0.0.1:18765/y", "--min-gb", value, "--json").stdout)
    assert data["min_gb"] == stored
    json.loads(run("subscribers", "--json").stdout)  # strictly valid JSON


def _iliad(key, price):
    return {
        "operator": "iliad",
        "offer_key": key,
        "name": key.upper(),
        "url": f"https://www.iliad.it/{key}",
        "plan_type": "prepaid",
        "price_cents": price,
        "period_days": 30,
    }


@pytest.fixture(scope="module")
def two_subscriptions(module_db):
    """A database with two subscriptions made by real `subscribe` processes (once; each test takes a copy)."""
    for channel in ("json://127.0.0.1:18765/y", "json://127.0.0.1:18765/z"):
        proc = processes.run(
            [sys.executable, "-m", "promowatch", "subscribe", "--channel", channel],
            cwd=ROOT,
            env={**os.environ, "PROMOWATCH_DATABASE_URL": module_db},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
    return module_db


@pytest.mark.parametrize("stored_hours", [99999999999, 100000000, 0, -5])
def test_a_stored_out_of_range_rearm_never_blocks_detection(tmp_db, tmp_path, two_subscriptions, copy_of, stored_hours):
    """A row written before the bound existed (or by hand) is clamped where it is used."""
    if stored_hours > 2**31 - 1 and not tmp_db.startswith("sqlite"):
        pytest.skip("PostgreSQL's integer column cannot hold it: only SQLite can store such a row")
    copy_of(two_subscriptions)
    engine = create_engine(tmp_db)
    with engine.begin() as con:
        con.execute(text("UPDATE subscription SET rearm_hours = :h WHERE id = 1"), {"h": stored_hours})
    engine.dispose()
    for n, items in enumerate([[_iliad("a", 999)], [_iliad("a", 899), _iliad("b", 499)]]):
        path = tmp_path / f"{n}.json"
        path.write_text(json.dumps(items))
        proc = run("import", str(path), check=False)
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    kinds = sorted(e["kind"] for e in json.loads(run("events", "--json").stdout))
    assert kinds == ["new", "price_drop"]
    assert db_rows(
        tmp_db, "SELECT subscription_id, count(*) FROM notification GROUP BY subscription_id ORDER BY subscription_id"
    ) == [
        (1, 2),
        (2, 2),
    ]


@pytest.mark.slow
def test_a_repeated_channel_is_stored_once_and_gets_one_message(tmp_db, tmp_path):
    from servers import HttpServer

    with HttpServer() as server:
        url = server.url("/d")
        same = url.replace("json://127.0.0.1", "JSON://127.0.0.1") + "/"
        out = run("subscribe", "--channel", url, "--channel", url, "--channel", same)
        assert "subscription 1: 1 channel (2 repeated URLs left out)" in out.stdout
        assert db_rows(tmp_db, "SELECT count(*) FROM subscription_channel") == [(1,)]
        for n, items in enumerate([[_iliad("a", 999)], [_iliad("a", 899)]]):
            path = tmp_path / f"{n}.json"
            path.write_text(json.dumps(items))
            run("import", str(path))
        sent = run("send", check=False)
        assert sent.returncode == 0, sent.stdout + sent.stderr
        server.wait_for(1, timeout=10)
        import time

        time.sleep(0.5)  # a second copy, if any, would have arrived by now
        assert len(server.received) == 1
