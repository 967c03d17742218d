"""A live crawl that cannot reach the operator: one line per operator with the reason, no tracebacks.

Real `scrapy crawl` / `promowatch crawl` processes fetch through mirror mode from 127.0.0.1 only: a closed
port (connection refused, also for robots.txt) and a server that answers after the download timeout; the
reasons in words for the failures that cannot be made on loopback alone (DNS) come from the table below.
"""

import json
import sys

import pytest
from conftest import FIXTURES, PROMOWATCH, run
from scrapy import exceptions as scrapy_exc
from servers import PageServer, free_port
from twisted.internet import error as net

from spiders.download_errors import reason

URL = "https://www.iliad.it/offerte-iliad-mobile.html"
REASONS = [  # (exception, download timeout, reason in words); both Scrapy's own (2.13+) and Twisted's classes
    (net.ConnectionRefusedError(), None, "connection refused by www.iliad.it:443"),
    (net.DNSLookupError("www.iliad.it"), None, "DNS lookup failed for host www.iliad.it"),
    (net.TimeoutError(), 30.0, "timed out after 30 s"),
    (net.TCPTimedOutError(), None, "timed out"),
    (ValueError("  weird\n failure "), None, "ValueError: weird failure"),
]
for name, text in (
    ("DownloadConnectionRefusedError", "connection refused by www.iliad.it:443"),
    ("CannotResolveHostError", "DNS lookup failed for host www.iliad.it"),
    ("DownloadTimeoutError", "timed out after 30 s"),
):
    if hasattr(scrapy_exc, name):
        REASONS.append((getattr(scrapy_exc, name)("boom"), 30.0 if "Timeout" in name else None, text))


@pytest.mark.parametrize("exception, timeout, text", REASONS, ids=[type(r[0]).__name__ for r in REASONS])
def test_reason_in_words(exception, timeout, text):
    assert reason(exception, URL, timeout) == text


def _mirror(env, url):
    return {**env, "PROMOWATCH_MIRROR": url, "PROMOWATCH_MIRROR_INDEX": str(FIXTURES)}


def _lines(stderr, word):
    return [line for line in stderr.splitlines() if word in line]


@pytest.mark.slow
def test_scrapy_crawl_without_network_says_why_in_one_line(env):
    port = free_port()  # nothing listens there: every connection is refused
    proc = run(
        [sys.executable, "-m", "scrapy", "crawl", "iliad", "-s", "ROBOTSTXT_OBEY=True", "-s", "LOG_LEVEL=WARNING"],
        _mirror(env, f"http://127.0.0.1:{port}"),
        timeout=180,
    )
    assert "Traceback" not in proc.stderr and "ERROR" not in proc.stderr, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert "iliad crawl failed" in line and f"connection refused by 127.0.0.1:{port}" in line, line
    status = {r["operator"]: r for r in json.loads(run(PROMOWATCH + ["status", "--json"], env).stdout)}
    assert status["iliad"]["status"] == "failed"
    assert f"connection refused by 127.0.0.1:{port}" in status["iliad"]["error"]


@pytest.mark.slow
def test_promowatch_crawl_without_network_one_line_per_operator(env):
    port = free_port()
    ops = ["iliad", "ho", "spusu"]
    proc = run(PROMOWATCH + ["crawl", *ops, "--json"], _mirror(env, f"http://127.0.0.1:{port}"), check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert len(_lines(proc.stderr, "connection refused")) == len(ops), proc.stderr
    assert not _lines(proc.stderr, "ERROR"), proc.stderr
    rows = {r["operator"]: r for r in json.loads(proc.stdout)}
    assert all(rows[op]["status"] == "failed" for op in ops)
    assert all(f"connection refused by 127.0.0.1:{port}" in rows[op]["error"] for op in ops), rows


@pytest.mark.slow
def test_a_page_that_never_answers_in_time_says_timed_out(env):
    with PageServer(FIXTURES, faults={"iliad": "slow"}, slow_seconds=3) as pages:
        proc = run(
            PROMOWATCH + ["crawl", "iliad", "--json"],
            {**_mirror(env, pages.url), "PROMOWATCH_DOWNLOAD_TIMEOUT": "1"},
            check=False,
            timeout=180,
        )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    (row,) = json.loads(proc.stdout)
    assert row["status"] == "failed" and "timed out after 1 s" in row["error"], row
    assert len(_lines(proc.stderr, "timed out")) == 1, proc.stderr
