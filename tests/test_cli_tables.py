"""What a person reads in `promowatch`'s tables: they fit 80 and 160 columns without cutting a price, a URL or
a key; offers show their key and `history` takes it or the offer's name; times name their zone; the 5G mark
is explained. Real `promowatch` processes on a real SQLite file holding the bundled pages' offers."""

import json
import os
import re
import sys

import processes
import pytest
from conftest import ROOT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    """One offline crawl of every operator, then Iliad's GIGA 200 withdrawn and back (two imports)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('tables') / 'promowatch.db'}"
    env = _env(url)
    _run(env, "crawl", "--offline", "--json")
    items = json.loads(_run(env, "parse", "iliad", ROOT / "spiders/fixtures/iliad/mobile.html", "--json").stdout)
    folder = tmp_path_factory.mktemp("items")
    (folder / "without.json").write_text(json.dumps([i for i in items if i["offer_key"] != "giga200"]), "utf-8")
    (folder / "with.json").write_text(json.dumps(items), "utf-8")
    for name in ("without", "without", "with"):  # removed after 2 missed healthy crawls, then returned
        _run(env, "import", folder / f"{name}.json")
    return url


def _env(url, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMOWATCH_") and k not in ("COLUMNS", "TZ")}
    return {**env, "PROMOWATCH_DATABASE_URL": url, "PROMOWATCH_TODAY": "2026-09-15", **extra}


def _run(env, *args, code=0):
    proc = processes.run(
        [sys.executable, "-m", "promowatch", *map(str, args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == code, f"{args} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def _table(db, width, *args, **env):
    out = _run(_env(db, COLUMNS=str(width), **env), *args).stdout
    assert max(len(line) for line in out.splitlines()) <= width, out
    assert "…" not in out, out
    return out


def _column(out: str, n: int) -> str:
    """Column `n` of a table, its lines joined without spaces: a key folded over lines reads whole."""
    return "".join(line.split("│")[1:-1][n].strip() for line in out.splitlines() if line.startswith("│"))


@pytest.mark.parametrize("width", [80, 160])
def test_offers_fit_and_never_cut_a_price(db, width):
    offers = json.loads(_run(_env(db), "offers", "--json").stdout)
    out = _table(db, width, "offers")
    for o in offers:
        price = f"{o['price_cents'] / 100:.2f} {'€' if o['currency'] == 'EUR' else o['currency']}".replace(".", ",")
        assert re.search(rf"│\s+{re.escape(price)} │", out), f"{price} of {o['offer_key']} not whole"
    headers = [h.strip() for h in next(line for line in out.splitlines() if "offer / key" in line).split("┃")[1:-1]]
    keys = _column(out, headers.index("offer / key"))
    for o in offers:
        assert o["offer_key"] in keys, o["offer_key"]
    assert "GB" in out and "per" in out


def test_gb_with_a_decimal_comma_and_periods_in_words(db):
    out = _table(db, 160, "offers", "--operator", "windtre")
    start = next(line for line in out.splitlines() if "│ Start" in line)
    assert "0,5" in start and "4 weeks" in start and "4,99 €" in start
    assert "every 1 days" not in out


def test_the_capped_5g_mark_is_explained(db):
    out = _table(db, 160, "offers", "--operator", "windtre")
    assert "yes*" in out and "5G yes* = 5G at a capped speed" in out
    plain = _table(db, 160, "offers", "--operator", "iliad")
    assert "yes*" not in plain and "capped" not in plain


@pytest.mark.parametrize("width", [80, 160])
def test_operators_never_cut_a_url(db, width):
    rows = json.loads(_run(_env(db), "operators", "--json").stdout)
    out = _table(db, width, "operators")
    for r in rows:
        assert r["offers_page"] in out, r["offers_page"]
    assert ("┃ network" in out) is (width == 160)
    assert ("columns hidden (network" in out) is (width == 80)


@pytest.mark.parametrize("width", [80, 160])
@pytest.mark.parametrize("command", [["events"], ["status"], ["history", "iliad", "giga200"]])
def test_times_name_their_zone(db, width, command):
    utc = _table(db, width, *command, TZ="UTC")
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", utc), utc
    rome = _table(db, width, *command, TZ="Europe/Rome")
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d CET", rome), rome


@pytest.mark.parametrize("typed", ["giga200", "GIGA 200", "giga 200", "Giga200"])
def test_history_takes_the_key_or_the_name(db, typed):
    out = _table(db, 160, "history", "ILIAD", typed)
    assert "iliad / giga200" in out


def test_history_shows_when_an_offer_was_withdrawn_and_came_back(db):
    out = _table(db, 160, "history", "iliad", "giga200", TZ="UTC")
    assert "not offered" in out and "removed → returned" in out
    assert out.index("not offered") < out.rindex("now")


@pytest.mark.parametrize(
    "typed, want",
    [
        ("giga", "matches 3 offers of iliad; give the key: giga120 (GIGA 120), giga200 (GIGA 200), giga500"),
        ("giga2000", "no offer 'giga2000' of iliad; close keys: giga200"),
        ("flsh180", "close keys: flash180"),
        ("zzzz", "see `promowatch offers --operator iliad`"),
    ],
)
def test_history_without_a_unique_match_says_what_to_type(db, typed, want):
    proc = _run(_env(db), "history", "iliad", typed, code=1)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and want in lines[0], proc.stderr


@pytest.mark.parametrize(
    "changes, want",
    [
        ({"data_gb": [1.5, 2.0]}, "data_gb: 1,5 → 2"),
        ({"activation_cents": [999, 0]}, "activation_cents: 9,99 € → 0,00 €"),
        ({"period_days": [30, 1]}, "period_days: month → day"),
        ({"data_5g": [False, True]}, "data_5g: no → yes"),
        ({"promo_until": [None, "2026-10-08"]}, "promo_until: — → 2026-10-08"),
    ],
)
def test_event_changes_read_like_the_offers_table(changes, want):
    from promowatch.cli_events import _change_text

    assert _change_text(changes) == want


@pytest.mark.parametrize("width", [80, 160])
def test_subscribers_fit(db, width):
    channel = "json://user:s3cretpw@127.0.0.1:8080/a/rather/long/hook/path/for/a/narrow/terminal"
    env = _env(db)
    _run(env, "subscribe", "--channel", channel, "--operator", "iliad", "--operator", "very", "--max-price", "9,99")
    out = _table(db, width, "subscribers")
    assert "s3cretpw" not in out
    assert "json://user:****@127.0.0.1:8080/a/rather/long/hook/path/for/a/narrow/terminal" in _column(out, -1)
    assert "≤ 9,99 €" in out


def test_subscription_filters_read_like_the_offers_table():
    from promowatch.cli_subscriptions import _filters_text

    none = dict(operators=[], plan_types=[], kinds=[], only_5g=False, origin=None)
    none |= dict(max_price_cents=None, min_gb=None, max_eur_per_gb_cents=None, max_year_cents=None)
    assert _filters_text({**none, "min_gb": 1.5}) == "≥ 1,5 GB"
    assert _filters_text({**none, "max_price_cents": 999, "max_eur_per_gb_cents": 5.0}) == "≤ 9,99 €\n≤ 0,05 €/GB"


# --- issue #15: keys and URLs never wrap, hidden columns are named, notifications, status, crawl ----------


def _lines_with(out: str, text: str) -> list[str]:
    return [line for line in out.splitlines() if text in line]


@pytest.mark.parametrize("width", [80, 160])
def test_offer_keys_are_never_split_over_lines(db, width):
    offers = json.loads(_run(_env(db), "offers", "--json").stdout)
    out = _table(db, width, "offers")
    for o in offers:
        assert re.search(rf"(?<![\w-]){re.escape(o['offer_key'])}(?![\w-])", out), f"{o['offer_key']} split"
    assert "existing_customer" in out or width == 80  # the wide table's "who" column, whole
    if width == 80:
        flat = " ".join(out.split())
        assert re.search(r"\d+ columns hidden \([^)]*€/GB[^)]*\): widen the terminal or use --json", flat), out


@pytest.mark.parametrize("width", [80, 160])
def test_parse_keys_are_never_split(width):
    page = ROOT / "spiders/fixtures/fastweb/mobile.html"
    items = json.loads(_run(_env("sqlite:///unused.db"), "parse", "fastweb", page, "--json").stdout)
    out = _run(_env("sqlite:///unused.db", COLUMNS=str(width)), "parse", "fastweb", page).stdout
    assert max(len(line) for line in out.splitlines()) <= width
    for it in items:
        assert _lines_with(out, it["offer_key"]), f"{it['offer_key']} split\n{out}"


@pytest.mark.parametrize("width", [80, 160])
def test_subscriber_channel_urls_stay_on_one_line(db, width):
    _run(_env(db), "subscribe", "--channel", "json://127.0.0.1:18765/hook", "--operator", "iliad")
    out = _table(db, width, "subscribers")
    assert _lines_with(out, "json://127.0.0.1:18765/hook"), out


@pytest.fixture(scope="module")
def failed_db(tmp_path_factory):
    """A failed Lycamobile crawl (its saved page missing), the others healthy: errors that name a URL."""
    url = f"sqlite:///{tmp_path_factory.mktemp('failed') / 'promowatch.db'}"
    folder = tmp_path_factory.mktemp("fixtures")
    (folder / "lyca").mkdir()
    (folder / "lyca" / "index.json").write_text("{}", "utf-8")
    crawl = {
        w: _run(_env(url, COLUMNS=str(w)), "crawl", "--fixtures", folder, "lyca", "iliad", code=1).stdout
        for w in (80, 160)
    }
    return url, crawl


@pytest.mark.parametrize("width", [80, 160])
def test_status_keeps_a_failed_operators_reason(failed_db, width):
    url, _ = failed_db
    out = _run(_env(url, COLUMNS=str(width)), "status").stdout
    assert max(len(line) for line in out.splitlines()) <= width
    (lyca,) = _lines_with(out, "lyca ")
    assert "no saved page" in lyca, out
    if width == 80:
        assert re.search(r"columns hidden \(dropped, [^)]*next run\)", " ".join(out.split())), out


@pytest.mark.parametrize("width", [80, 160])
def test_crawl_table_never_cuts_a_url(failed_db, width):
    _, crawl = failed_db
    out = crawl[width]
    assert max(len(line) for line in out.splitlines()) <= width
    assert "…" not in out, out
    assert _lines_with(out, "https://www.lycamobile.it/"), out


@pytest.fixture(scope="module")
def outbox_db(tmp_path_factory):
    """Notifications to a channel that refuses connections (long error texts) and one that answers."""
    from servers import HttpServer, free_port

    url = f"sqlite:///{tmp_path_factory.mktemp('outbox') / 'promowatch.db'}"
    env = _env(url)
    folder = tmp_path_factory.mktemp("items")
    item = {
        "operator": "iliad",
        "url": "https://www.iliad.it/x",
        "plan_type": "prepaid",
        "period_days": 30,
    }
    with HttpServer() as server:
        down = f"json://user:s3cretpw@127.0.0.1:{free_port()}/a/long/hook/path"
        _run(env, "subscribe", "--channel", down, "--channel", server.url("/ok"))
        for n, price in enumerate([999, 899]):
            items = [{**item, "offer_key": "giga-150-existing-customers", "name": "Giga 150", "price_cents": price}]
            (folder / f"{n}.json").write_text(json.dumps(items), "utf-8")
            _run(env, "import", folder / f"{n}.json")
        _run(env, "send", code=1)
    return url, down.replace("s3cretpw", "****")


NOTIFICATION_HEADERS = ("id", "subscription", "channel", "kind", "offer", "status", "attempts", "due / sent")


@pytest.mark.parametrize("width", [80, 100, 160])
def test_notifications_fit_with_whole_headers_and_urls(outbox_db, width):
    url, down = outbox_db
    out = _run(_env(url, COLUMNS=str(width)), "notifications").stdout
    flat = " ".join(out.split())
    assert max(len(line) for line in out.splitlines()) <= width, out
    assert "s3cretpw" not in out
    assert _lines_with(out, down), out  # the channel URL on one line
    for header in (*NOTIFICATION_HEADERS, "last error"):  # each header whole, or named as hidden
        shown = re.search(rf"┃ +{re.escape(header)} +┃", out)
        hidden = re.search(rf"columns? hidden \([^)]*\b{re.escape(header)}\b", flat)
        assert bool(shown) != bool(hidden), (header, out)
    full = json.loads(_run(_env(url), "notifications", "--json").stdout)
    (error,) = [r["last_error"] for r in full if r["last_error"]]
    assert len(error) > 40 and error not in out and error in json.dumps(full)
    if width >= 100:  # the error's first words, visibly shortened, on the row's one line
        (row,) = _lines_with(out, down)
        assert re.search(r"│ connection[^│]*… +│$", row), out
    if width == 160:
        assert "hidden" not in out


@pytest.mark.parametrize("width", [80, 160])
def test_run_once_cycle_table_keeps_urls_whole_and_says_when_no_admin_channel_is_configured(monkeypatch, width):
    """`run --once`'s cycle report as printed (the report itself is what a real cycle returns)."""
    from rich.console import Console

    from promowatch import cli_service
    from promowatch.crawl_worker import CrawlOutcome
    from scheduler import CycleReport

    error = "HTTP error 503×1: https://www.lycamobile.it/it/offerte-mobile-5g/ answered 503 Service Unavailable"
    report = CycleReport(
        crawls=[
            CrawlOutcome("iliad", "healthy", 1, offers=7, new_versions=1, events=1, seconds=0.4),
            CrawlOutcome("lyca", "failed", 2, error=error, seconds=0.2),
        ],
        send={"sent": 0, "failed": 0, "dead": 0, "skipped": 0},
        health=[{"kind": "alert", "title": "Lycamobile: page broken", "delivered": 0, "failed": []}],
    )
    screen = Console(width=width, record=True, force_terminal=False)
    monkeypatch.setattr(cli_service, "console", screen)
    cli_service._print_cycle(report)
    out = screen.export_text()
    assert max(len(line.rstrip()) for line in out.splitlines()) <= width, out
    assert "…" not in out and _lines_with(out, "https://www.lycamobile.it/it/offerte-mobile-5g/"), out
    assert "no admin channel is configured ([health] admin_channels)" in " ".join(out.split())
    assert "channel(s)" not in out
    assert "7 offers, 1 event" in out and "1 events" not in out
