"""The site in a real browser, as a person uses it: Debian's chromium driven by Playwright against a real
`promowatch web` process on a free loopback port, on a database filled by the real offline crawl and a
`promowatch import` (a price drop, and an offer whose name is a script tag).

Browse the offers, filter them with the form, open an offer and see its SVG chart, switch the language; no
script ever runs (no dialog opens) and the Content-Security-Policy is never violated. Where chromium or
Playwright is missing the test fails under CI (CI=true: `.ci/run` installs chromium) and skips elsewhere.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import PROMOWATCH, ROOT, run
from servers import free_port

pytestmark = pytest.mark.slow
CHROMIUM = Path(shutil.which("chromium") or "/usr/bin/chromium")
SCRIPT_NAME = "<script>alert(1)</script>"


def _needs_browser() -> None:
    missing = [
        what
        for what, ok in (
            (f"Debian's chromium ({CHROMIUM}; apt-get install -y chromium)", CHROMIUM.exists()),
            ("Playwright for Python (pip install -e '.[test]')", importlib.util.find_spec("playwright") is not None),
        )
        if not ok
    ]
    if missing:
        message = "the browser test needs " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(message + " (CI installs it: .ci/run)")
        pytest.skip(message)


def _env(url: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMOWATCH_")}
    return {**env, "PROMOWATCH_DATABASE_URL": url, "PROMOWATCH_TODAY": "2026-09-15"}


def _promowatch(env, *args, check=True, timeout=180):
    return run(PROMOWATCH + [str(a) for a in args], env, timeout=timeout, check=check)


def fill_by_the_commands(folder: Path) -> dict:
    """The README's database: `promowatch crawl --offline`, then Iliad's GIGA 200 cheaper and a new offer named
    with a script tag through `promowatch import`."""
    env = _env(f"sqlite:///{folder / 'promowatch.db'}")
    _promowatch(env, "crawl", "--offline", "--json")
    items = json.loads(_promowatch(env, "parse", "iliad", ROOT / "spiders/fixtures/iliad/mobile.html", "--json").stdout)
    giga = next(i for i in items if i["offer_key"] == "giga200")
    changed = [{**i, "price_cents": i["price_cents"] - 200} if i is giga else i for i in items]
    changed.append({**giga, "offer_key": "script-offer", "name": SCRIPT_NAME})
    (folder / "iliad.json").write_text(json.dumps(changed), "utf-8")
    _promowatch(env, "import", folder / "iliad.json")
    return env


class WebProcess:
    """`promowatch web` as a real process on a free loopback port, stopped at the end."""

    def __init__(self, env: dict, log: Path, port: int | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = open(log, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "promowatch", "web", "--port", str(self.port)],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.log = log

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"promowatch web exited {self.proc.returncode}: {self.log.read_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"promowatch web did not answer in {timeout} s: {self.log.read_text()}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self._log.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    _needs_browser()
    folder = tmp_path_factory.mktemp("webprocess")
    web = WebProcess(fill_by_the_commands(folder), folder / "web.log")
    try:
        web.wait_ready()
        yield web
    finally:
        web.stop()


@pytest.fixture(scope="module")
def browser():
    _needs_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), timeout=60_000)
        yield chromium
        chromium.close()


def test_browse_filter_open_an_offer_see_its_chart_switch_language(site, browser):
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(20_000)
    dialogs, problems = [], []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)

    page.goto(f"{site.url}/offers")
    assert page.locator("h1").inner_text() == "Current offers"
    assert page.locator("table.offers tbody tr").count() > 50

    page.select_option('select[name="operator"]', "iliad")
    page.fill('input[name="max_price"]', "9,99")
    page.select_option('select[name="sort"]', "year")
    page.click('button[type="submit"]')
    page.wait_for_url("**/offers?*operator=iliad*")
    assert "max_price=9%2C99" in page.url and "sort=year" in page.url
    rows = page.locator("table.offers tbody tr")
    assert rows.count() >= 3
    assert set(rows.locator("td:first-child").all_inner_texts()) == {"Iliad"}
    page.get_by_text(SCRIPT_NAME, exact=True).wait_for()  # the name as text, not a tag

    page.get_by_role("link", name="GIGA 200", exact=True).click()
    page.wait_for_url("**/offers/iliad/giga200")
    chart = page.locator("svg.chart")
    assert chart.is_visible() and chart.bounding_box()["width"] > 300
    assert page.locator("svg.chart circle").count() == 2 and page.locator("svg.chart path.price").get_attribute("d")
    assert page.get_by_text("Lowest in 90 days").is_visible()
    assert page.locator("svg.chart path.price").evaluate("p => getComputedStyle(p).fill") == "none"  # styled

    page.get_by_role("link", name="Italiano").click()
    page.wait_for_url("**/offers/iliad/giga200")
    assert page.locator("html").get_attribute("lang") == "it"
    assert page.get_by_role("heading", name="Storico del prezzo").is_visible()
    cookie = next(c for c in context.cookies() if c["name"] == "lang")
    assert cookie["value"] == "it" and cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    page.get_by_role("link", name="Offerte", exact=True).first.click()
    assert page.locator("h1").inner_text() == "Offerte attuali"  # the choice outlives Accept-Language: en

    page.goto(f"{site.url}/offers/iliad/script-offer")
    assert page.locator("h1").inner_text() == SCRIPT_NAME
    page.get_by_role("link", name="中文").click()
    assert page.locator("html").get_attribute("lang") == "zh"
    assert page.get_by_role("heading", name="价格历史").is_visible()

    assert dialogs == [], "a script ran"
    assert [p for p in problems if "Content Security Policy" in p] == []
    context.close()


def test_web_refuses_a_port_already_taken(tmp_path):
    env = _env(f"sqlite:///{tmp_path / 'promowatch.db'}")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = _promowatch(env, "web", "--port", port, check=False, timeout=60)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and f"cannot listen on 127.0.0.1:{port}" in lines[0] and "--port" in lines[0]
    assert "Traceback" not in proc.stderr
