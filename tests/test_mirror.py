"""Mirror mode: the spiders fetch over real HTTP from a loopback copy of the pages and read them as live.

The bundled fixtures are served by a real HTTP server on 127.0.0.1 (each answer with new bytes, as a CMS
page carries per-request tokens); faults are injected per operator (500, block page, empty page, slow
answer beyond the download timeout) and must leave the other operators' crawls untouched.
"""

import json

import pytest
from conftest import FIXTURES, PROMOWATCH, run
from servers import PageServer

pytestmark = pytest.mark.slow  # real processes and servers


@pytest.fixture
def pages():
    with PageServer(FIXTURES) as server:
        yield server


@pytest.fixture
def mirror(env, pages):
    env.pop("PROMOWATCH_FIXTURES_DIR", None)
    env["PROMOWATCH_MIRROR"] = pages.url
    env["PROMOWATCH_MIRROR_INDEX"] = str(FIXTURES)
    return env


def _crawl(env, *ops):
    proc = run(PROMOWATCH + ["crawl", "--json", *ops], env, check=False, timeout=180)
    return {r["operator"]: r for r in json.loads(proc.stdout)}, proc


def test_served_pages_read_as_the_offline_ones(mirror, tmp_path):
    offline_env = {**mirror, "PROMOWATCH_DATABASE_URL": f"sqlite:///{tmp_path / 'offline.db'}"}
    offline_env.pop("PROMOWATCH_MIRROR")
    offline = json.loads(run(PROMOWATCH + ["crawl", "--offline", "--json"], offline_env).stdout)
    served, proc = _crawl(mirror)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert {r["operator"]: r["offers"] for r in offline} == {op: r["offers"] for op, r in served.items()}
    assert all(r["status"] == "healthy" for r in served.values())
    a = json.loads(run(PROMOWATCH + ["offers", "--json"], offline_env).stdout)
    b = json.loads(run(PROMOWATCH + ["offers", "--json"], mirror).stdout)

    def strip(items):
        return sorted(
            json.dumps(
                {k: v for k, v in i.items() if k not in ("first_seen", "last_seen")},
                sort_keys=True,
            )
            for i in items
        )

    assert strip(a) == strip(b)


def test_faults_stay_with_their_operator(mirror, pages):
    baseline, _ = _crawl(mirror)
    assert all(r["status"] == "healthy" for r in baseline.values())
    before = json.loads(run(PROMOWATCH + ["offers", "--json"], mirror).stdout)
    pages.faults = {"iliad": "500", "ho": "block", "kena": "empty", "spusu": "slow"}
    mirror["PROMOWATCH_DOWNLOAD_TIMEOUT"] = "4"
    rows, proc = _crawl(mirror)
    assert proc.returncode == 1
    assert rows["iliad"]["status"] == "failed" and rows["kena"]["status"] == "failed"
    assert rows["ho"]["status"] == "blocked" and rows["spusu"]["status"] == "failed"
    others = {op: r for op, r in rows.items() if op not in pages.faults}
    assert others and all(r["status"] == "healthy" for r in others.values()), {
        op: (r["status"], r["error"]) for op, r in others.items() if r["status"] != "healthy"
    }
    assert all(r["status"] == "healthy" and r["new_versions"] == 0 for r in others.values()), others
    after = json.loads(run(PROMOWATCH + ["offers", "--json"], mirror).stdout)
    assert [(o["operator"], o["offer_key"], o["price_cents"]) for o in after] == [
        (o["operator"], o["offer_key"], o["price_cents"]) for o in before
    ]
    events = json.loads(run(PROMOWATCH + ["events", "--json"], mirror).stdout)
    assert not [e for e in events if e["kind"] == "removed"]
