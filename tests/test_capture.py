"""Repairing an operator: an unhealthy crawl keeps its pages, and `promowatch capture` turns a kept or live page
into a fixture folder with the offers the spider reads on it as the draft expected file."""

import gzip
import json
import re
import shutil

import pytest
from conftest import FIXTURES, PROMOWATCH, run
from servers import PageServer

from contract.offer import normalise

pytestmark = pytest.mark.slow  # real processes and a real HTTP server


def _broken_fixtures(tmp_path):
    """Iliad's bundled page in a layout the spider does not know (every class renamed)."""
    root = tmp_path / "broken"
    shutil.copytree(FIXTURES / "iliad", root / "iliad")
    page = root / "iliad" / "mobile.html"
    page.write_text(re.sub(r'class="', 'class="renamed-', page.read_text("utf-8")), "utf-8")
    return root


def _kept(tmp_path):
    return sorted((tmp_path / "kept-pages" / "iliad").glob("*-run*"))


def test_an_unhealthy_crawl_keeps_its_page_and_only_the_newest_are_kept(env, tmp_path):
    env = {**env, "PROMOWATCH_KEEP_PAGES": "2", "PROMOWATCH_KEEP_DIR": str(tmp_path / "kept-pages")}
    run(PROMOWATCH + ["crawl", "iliad", "--offline"], env)
    assert _kept(tmp_path) == []  # a healthy crawl keeps nothing
    broken = _broken_fixtures(tmp_path)
    for _ in range(3):
        proc = run(PROMOWATCH + ["crawl", "iliad", "--fixtures", str(broken)], env, check=False)
        assert proc.returncode == 1
    kept = _kept(tmp_path)
    assert len(kept) == 2  # the newest two of three
    record = json.loads((kept[-1] / "crawl.json").read_text("utf-8"))
    assert record["operator"] == "iliad" and record["status"] == "failed"
    assert "layout changed" in record["error"]
    [page] = record["pages"]
    assert page["url"] == "https://www.iliad.it/offerte-iliad-mobile.html" and page["status"] == 200
    assert gzip.decompress((kept[-1] / page["file"]).read_bytes()) == (broken / "iliad" / "mobile.html").read_bytes()


def test_capture_kept_makes_a_fixture_folder_of_the_page_that_broke(env, tmp_path):
    env = {**env, "PROMOWATCH_KEEP_DIR": str(tmp_path / "kept-pages")}
    broken = _broken_fixtures(tmp_path)
    run(PROMOWATCH + ["crawl", "iliad", "--fixtures", str(broken)], env, check=False)
    into = tmp_path / "captures"
    out = json.loads(run(PROMOWATCH + ["capture", "Iliad", "--kept", "--into", str(into), "--json"], env).stdout)
    assert out["operator"] == "iliad" and "failed crawl" in out["source"]
    [page] = out["pages"]
    assert page["offers"] == 0  # the draft says what the spider reads today: nothing
    index = json.loads((into / "iliad" / "index.json").read_text("utf-8"))
    saved = into / "iliad" / index["https://www.iliad.it/offerte-iliad-mobile.html"]
    assert saved.read_bytes() == (broken / "iliad" / "mobile.html").read_bytes()
    assert json.loads((into / "iliad" / f"{saved.name}.expected.json").read_text("utf-8")) == []


def test_capture_without_a_kept_page_says_how_to_get_one(env, tmp_path):
    env = {**env, "PROMOWATCH_KEEP_DIR": str(tmp_path / "kept-pages")}
    proc = run(PROMOWATCH + ["capture", "iliad", "--kept", "--into", str(tmp_path / "c")], env, check=False)
    assert proc.returncode == 1 and "no kept page of iliad" in proc.stderr and "Traceback" not in proc.stderr


def test_capture_url_drafts_the_offers_the_spider_reads(env, tmp_path):
    root = tmp_path / "site"
    shutil.copytree(FIXTURES / "iliad", root / "iliad")
    into = tmp_path / "captures"
    with PageServer(root) as server:
        url = f"{server.url}/iliad/mobile.html"
        cmd = ["capture", "iliad", "--url", url, "--into", str(into), "--today", "2026-09-15", "--json"]
        out = json.loads(run(PROMOWATCH + cmd, env).stdout)
    [page] = out["pages"]
    want = json.loads((FIXTURES / "iliad" / "mobile.html.expected.json").read_text("utf-8"))
    got = json.loads((into / "iliad" / "mobile.html.expected.json").read_text("utf-8"))
    # the same figures as our checked fixture (links resolve against the address the page came from)
    assert page["offers"] == len(want)

    def figures(o):  # every field of the contract (the draft has them all), the link left aside
        return normalise({**o, "url": "https://www.iliad.it/"})

    assert [figures(o) for o in got] == [figures(o) for o in want]
    # the folder is a fixtures folder: an offline crawl reads it
    index = json.loads((into / "iliad" / "index.json").read_text("utf-8"))
    index["https://www.iliad.it/offerte-iliad-mobile.html"] = index.pop(url)
    (into / "iliad" / "index.json").write_text(json.dumps(index), "utf-8")
    crawl = json.loads(run(PROMOWATCH + ["crawl", "iliad", "--fixtures", str(into), "--json"], env).stdout)
    assert crawl[0]["status"] == "healthy" and crawl[0]["offers"] == len(want)


def test_capture_obeys_robots_txt_and_names_an_unreachable_page(env, tmp_path):
    root = tmp_path / "site"
    shutil.copytree(FIXTURES / "iliad", root / "iliad")
    (root / "robots.txt").write_text("User-agent: *\nDisallow: /iliad/\n")
    with PageServer(root) as server:
        cmd = ["capture", "iliad", "--url", f"{server.url}/iliad/mobile.html", "--into", str(tmp_path / "c")]
        refused = run(PROMOWATCH + cmd, env, check=False)
        missing = run(PROMOWATCH + cmd[:3] + [f"{server.url}/nothing-here"] + cmd[4:], env, check=False)
    assert refused.returncode == 1 and "robots.txt" in refused.stderr and "Traceback" not in refused.stderr
    assert missing.returncode == 1 and "cannot fetch" in missing.stderr and "404" in missing.stderr
    assert not (tmp_path / "c" / "iliad" / "mobile.html").exists()
