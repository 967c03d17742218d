"""Bad answers give the right crawl status and drop counts, never a crash, never a change to stored offers.

Each case builds a fixtures folder from the bundled pages (mutated, or answered with an HTTP error) and
crawls every operator in one real `promowatch crawl --fixtures` process on a real SQLite file that
already holds a healthy crawl of the bundled pages.
"""

import json
import os
import re
import shutil

import pytest
from conftest import FIXTURES, PROMOWATCH, run

from spiders.registry import OPERATORS

pytestmark = pytest.mark.slow  # real processes and servers

OPS = list(OPERATORS)
BLOCK_PAGE = (
    "<html><head><title>Radware Bot Manager Captcha</title></head><body>"
    "<script src='https://validate.perfdrive.com/c.js'></script>captcha</body></html>"
)


def _stored(env):
    offers = json.loads(run(PROMOWATCH + ["offers", "--json"], env).stdout)
    return sorted(
        (
            o["operator"],
            o["offer_key"],
            json.dumps({k: v for k, v in o.items() if k not in ("last_seen", "missed_crawls")}, sort_keys=True),
        )
        for o in offers
    )


def _mutate_dir(tmp_path, how):
    root = tmp_path / "bad"
    shutil.copytree(FIXTURES, root)
    for op in OPS:
        index_path = root / op / "index.json"
        index = json.loads(index_path.read_text("utf-8"))
        for url, entry in list(index.items()):
            entry = {"file": entry} if isinstance(entry, str) else dict(entry)
            page = root / op / entry["file"]
            text = page.read_text("utf-8")
            new_text, status = how(text)
            page.write_text(new_text, "utf-8")
            if status != 200:
                entry["status"] = status
            index[url] = entry
        index_path.write_text(json.dumps(index), "utf-8")
    return root


CASES = {
    "empty_200": (lambda t: ("", 200), {"failed"}),
    "truncated": (lambda t: (t[: min(len(t) // 10, 1500)], 200), {"failed", "partial"}),
    "http_403": (lambda t: ("<html><body>Forbidden</body></html>", 403), {"failed"}),
    "http_500": (lambda t: ("<html><body>Internal Server Error</body></html>", 500), {"failed"}),
    "block_page": (lambda t: (BLOCK_PAGE, 200), {"blocked"}),
    "layout_changed": (lambda t: (_renamed(t), 200), {"failed", "partial"}),
}
#: operators whose page carries an anti-bot vendor script near its top: cut short, what remains is that
#: script and next to no text, which is exactly what a challenge page looks like
TRUNCATED_LOOKS_BLOCKED = {"very"}


def _renamed(text: str) -> str:
    """The same content in a layout the spider does not know: HTML classes, custom elements (a component such as
    Holafly's `astro-island`) and JSON keys renamed."""
    if text.lstrip()[:1] in ("{", "["):
        return re.sub(r'"(\w+)"(\s*):', r'"renamed_\1"\2:', text)
    text = re.sub(r"<(/?)([a-z]+-[a-z-]+)", r"<\1renamed-\2", re.sub(r"<script.*?</script>", "", text, flags=re.S))
    return re.sub(r'class="', 'class="renamed-', text)


@pytest.fixture(scope="module")
def healthy(module_db):
    """A database holding a healthy crawl of the bundled pages, made once by a real process, and its offers."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMOWATCH_")}
    env.update(PROMOWATCH_DATABASE_URL=module_db, PROMOWATCH_TODAY="2026-09-15")  # as conftest's `env`
    run(PROMOWATCH + ["crawl", "--offline", "--json"], env)
    before = _stored(env)
    assert before, "the healthy baseline crawl stored nothing"
    return module_db, before


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_answer_changes_nothing(case, env, tmp_path, healthy, copy_of):
    how, statuses = CASES[case]
    source, before = healthy
    copy_of(source)  # the test's database (env's) starts as that healthy crawl left it (checked at the end)
    bad = _mutate_dir(tmp_path, how)
    proc = run(PROMOWATCH + ["crawl", "--fixtures", str(bad), "--json"] + OPS, env, check=False)
    assert proc.returncode == 1, proc.stderr[-2000:]
    rows = {r["operator"]: r for r in json.loads(proc.stdout)}
    for op in OPS:
        allowed = statuses | ({"blocked"} if case == "truncated" and op in TRUNCATED_LOOKS_BLOCKED else set())
        assert rows[op]["status"] in allowed, (op, rows[op])
        assert rows[op]["new_versions"] == 0
    status = {r["operator"]: r for r in json.loads(run(PROMOWATCH + ["status", "--json"], env).stdout)}
    assert all(status[op]["consecutive_failures"] == 1 and status[op]["error"] for op in OPS)
    assert _stored(env) == before
