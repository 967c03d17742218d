"""The optional `browser` extra: a client-rendered page read through scrapy-playwright and Debian's chromium.

WindTre's live pages build their offer cards in the browser. Here our own WindTre fixture is served from
127.0.0.1 as such a page (an empty container filled by a script): without the browser the spider finds no
card (the crawl fails, it never reads as "0 offers" healthy); with PROMOWATCH_BROWSER=1 the same offers as
the static fixture come out. Skips where the extra or chromium is not installed (CI installs `.[test]` only).
"""

import importlib.util
import json
import shutil
from pathlib import Path

import pytest
from conftest import FIXTURES, PROMOWATCH, run
from servers import PageServer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("scrapy_playwright") is None or not Path(CHROMIUM).exists(),
        reason="the browser extra (pip install -e '.[browser]') and Debian's chromium are not installed",
    ),
]


@pytest.fixture
def rendered(tmp_path):
    """A mirror of WindTre's offers page whose cards only exist after its script ran."""
    from spiders.windtre import MOBILE

    static = (FIXTURES / "windtre" / "mobile.html").read_text("utf-8")
    head, _, rest = static.partition("<body")
    body = rest[rest.index(">") + 1 : rest.rindex("</body>")]
    page = (
        f"{head}<body><div id='app'></div><script>document.getElementById('app').innerHTML = "
        f"{json.dumps(body)};</script></body></html>"
    )
    (tmp_path / "www" / "windtre").mkdir(parents=True)
    (tmp_path / "www" / "windtre" / "mobile.html").write_text(page, "utf-8")
    (tmp_path / "www" / "windtre" / "index.json").write_text(json.dumps({MOBILE: "mobile.html"}), "utf-8")
    return tmp_path / "www"


def _crawl(env, www, server, browser: bool):
    env = {**env, "PROMOWATCH_MIRROR": server.url, "PROMOWATCH_MIRROR_INDEX": str(www), "PROMOWATCH_CHROMIUM": CHROMIUM}
    if browser:
        env["PROMOWATCH_BROWSER"] = "1"
    proc = run(PROMOWATCH + ["crawl", "windtre", "--json"], env, check=False, timeout=180)
    return json.loads(proc.stdout)[0], proc


def test_client_rendered_page_needs_the_browser(env, rendered):
    want = json.loads((FIXTURES / "windtre" / "mobile.html.expected.json").read_text("utf-8"))
    with PageServer(rendered) as server:
        plain, _ = _crawl(env, rendered, server, browser=False)
        assert plain["status"] == "failed" and plain["offers"] == 0
        with_browser, proc = _crawl(env, rendered, server, browser=True)
    assert with_browser["status"] in ("healthy", "partial"), proc.stderr[-3000:]
    offers = json.loads(run(PROMOWATCH + ["offers", "--operator", "windtre", "--json"], env).stdout)
    assert sorted(o["offer_key"] for o in offers) == sorted(w["offer_key"] for w in want)
