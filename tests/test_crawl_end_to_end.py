"""Real processes on a real SQLite file: `promowatch crawl --offline` and `scrapy crawl <op>` share one path."""

import json
import sys

import pytest
from conftest import FIXTURES, PROMOWATCH, run

pytestmark = pytest.mark.slow  # real processes and servers


def test_offline_crawl_twice_adds_no_version(env):
    first = json.loads(run(PROMOWATCH + ["crawl", "--offline", "--json"], env).stdout)
    from spiders.registry import OPERATORS

    assert {r["operator"] for r in first} == set(OPERATORS)
    assert all(r["status"] == "healthy" and r["offers"] > 0 and r["new_versions"] == r["offers"] for r in first), first
    second = json.loads(run(PROMOWATCH + ["crawl", "--offline", "--json"], env).stdout)
    assert all(r["status"] == "healthy" and r["new_versions"] == 0 for r in second), second
    offers = json.loads(run(PROMOWATCH + ["offers", "--json"], env).stdout)
    assert len(offers) == sum(r["offers"] for r in first)
    status = {r["operator"]: r for r in json.loads(run(PROMOWATCH + ["status", "--json"], env).stdout)}
    assert status["iliad"]["status"] == "healthy" and status["iliad"]["consecutive_failures"] == 0
    key = offers[0]["offer_key"]
    history = json.loads(run(PROMOWATCH + ["history", offers[0]["operator"], key, "--json"], env).stdout)
    assert len(history) == 1 and history[0]["valid_to"] is None
    # every operator's tourist packs where it sells them; what an Iliad customer can take by porting
    tourist = {o["operator"] for o in offers if o["plan_type"] == "tourist"}
    assert {"tim", "vodafone", "windtre"} <= tourist
    porting = json.loads(run(PROMOWATCH + ["offers", "--from", "iliad", "--json"], env).stdout)
    assert all(
        o["operator"] != "iliad" and o["eligibility"] not in ("new_number", "existing_customer") for o in porting
    )
    targeted = {o["operator"] for o in porting if "iliad" in o["eligible_from"] and o["eligibility"] == "portability"}
    assert {"very", "ho", "kena"} <= targeted


def test_scrapy_crawl_stores_into_the_same_database(env):
    env["PROMOWATCH_FIXTURES_DIR"] = str(FIXTURES)
    proc = run([sys.executable, "-m", "scrapy", "crawl", "iliad"], env)
    env.pop("PROMOWATCH_FIXTURES_DIR")
    status = {r["operator"]: r for r in json.loads(run(PROMOWATCH + ["status", "--json"], env).stdout)}
    assert status["iliad"]["status"] == "healthy", proc.stderr[-2000:]
    offers = json.loads(run(PROMOWATCH + ["offers", "--operator", "iliad", "--json"], env).stdout)
    assert len(offers) == status["iliad"]["items_stored"] > 0
    # the same page through `promowatch crawl` now finds nothing new
    again = json.loads(run(PROMOWATCH + ["crawl", "iliad", "--offline", "--json"], env).stdout)
    assert again[0]["new_versions"] == 0


def test_parse_prints_items_without_database(env, tmp_path):
    page = FIXTURES / "vodafone" / "mobile.html"
    env["PROMOWATCH_DATABASE_URL"] = f"sqlite:///{tmp_path / 'never.db'}"
    items = json.loads(
        run(PROMOWATCH + ["parse", "vodafone", str(page), "--json", "--today", "2026-09-15"], env).stdout
    )
    assert items and all(i["operator"] == "vodafone" and isinstance(i["price_cents"], int) for i in items)
    assert not (tmp_path / "never.db").exists()


def test_unknown_operator_is_a_clear_error(env):
    proc = run(PROMOWATCH + ["crawl", "acme", "--offline"], env, check=False)
    assert proc.returncode == 2 and "unknown operator" in proc.stderr


def test_parse_follows_saved_detail_pages_from_the_index(env):
    """1Mobile's list page lacks some figures; `parse` answers its detail requests from index.json beside it."""
    page = FIXTURES / "unomobile" / "per-tutti.html"
    items = json.loads(
        run(PROMOWATCH + ["parse", "unomobile", str(page), "--json", "--today", "2026-09-15"], env).stdout
    )
    want = json.loads((FIXTURES / "unomobile" / "per-tutti.html.expected.json").read_text("utf-8"))
    assert [i["offer_key"] for i in items] == [w["offer_key"] for w in want]


def test_operators_lists_every_operator_with_its_facts(env):
    from contract.offer import OPERATORS

    rows = json.loads(run(PROMOWATCH + ["operators", "--json"], env).stdout)
    assert [r["operator"] for r in rows] == list(OPERATORS)
    assert all(r["spider"] and r["start_urls"] and r["min_offers"] >= 1 for r in rows)
    assert {r["operator"]: r["host_network"] for r in rows}["ho"] == "vodafone"
    table = run(PROMOWATCH + ["operators"], env).stdout
    assert "not confirmed" in table and "MyTIM" in table


def test_cookies_are_off_unless_asked_for(env):
    """No cookies by default: Scrapy's CookiesMiddleware is not even loaded (its module imports tldextract and
    requests); PROMOWATCH_COOKIES=1 turns it on. Scrapy logs the downloader middlewares a crawl runs with."""
    env.update(PROMOWATCH_FIXTURES_DIR=str(FIXTURES), PROMOWATCH_LOG_LEVEL="INFO")
    off = run([sys.executable, "-m", "scrapy", "crawl", "iliad"], env)
    assert "Enabled downloader middlewares" in off.stderr and "CookiesMiddleware" not in off.stderr
    env["PROMOWATCH_COOKIES"] = "1"
    on = run([sys.executable, "-m", "scrapy", "crawl", "iliad"], env)
    assert "scrapy.downloadermiddlewares.cookies.CookiesMiddleware" in on.stderr


def test_an_offline_crawl_loads_no_download_handler(env):
    """Offline, the fixtures answer every request: Scrapy's HTTP(S) handlers (and their TLS stack) stay unloaded.
    A live crawl's settings keep them."""
    code = (
        "import json, sys; from promowatch.crawling import BUNDLED_FIXTURES, project_settings, run_crawls; "
        "crawled = run_crawls(['iliad'], project_settings(BUNDLED_FIXTURES)); "
        "print(json.dumps([crawled['iliad'].stored.status, "
        "'scrapy.core.downloader.handlers.http11' in sys.modules]))"
    )
    status, loaded = json.loads(run([sys.executable, "-c", code], env).stdout.splitlines()[-1])
    assert status == "healthy" and loaded is False
    code = (
        "import json; from promowatch.crawling import project_settings; "
        "print(json.dumps(project_settings().getwithbase('DOWNLOAD_HANDLERS').get('https')))"
    )
    assert "HTTP11DownloadHandler" in json.loads(run([sys.executable, "-c", code], env).stdout.splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("folder", ["missing", "a-file"])
@pytest.mark.parametrize("command", ["scrapy", "promowatch", "run --once"])
def test_fixtures_dir_that_is_no_folder_refuses_to_start(env, tmp_path, folder, command):
    """PROMOWATCH_FIXTURES_DIR naming no folder: one line, exit 2, no crawl run recorded (no failed crawl that
    would count toward the operator's health streak)."""
    (tmp_path / "a-file").write_text("not a folder")
    cmd = {
        "scrapy": [sys.executable, "-m", "scrapy", "crawl", "iliad"],
        "promowatch": PROMOWATCH + ["crawl", "iliad"],
        "run --once": PROMOWATCH + ["run", "--once"],
    }[command]
    proc = run(cmd, {**env, "PROMOWATCH_FIXTURES_DIR": str(tmp_path / folder)}, check=False)
    assert proc.returncode == 2, proc.stderr
    assert f"PROMOWATCH_FIXTURES_DIR={tmp_path / folder}: no such folder" in proc.stderr
    assert "Traceback" not in proc.stderr and "ERROR" not in proc.stderr
    status = {r["operator"]: r for r in json.loads(run(PROMOWATCH + ["status", "--json"], env).stdout)}
    assert status["iliad"]["status"] == "never crawled"
