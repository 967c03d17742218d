"""A manual `scrapy crawl <op>` gives the same events and notifications as a scheduled crawl of that operator.

Two real SQLite files, the same subscription, the same two versions of Iliad's page (the second one with a
price drop): one database is fed by `promowatch run --once` cycles (the service's path), the other by real
`scrapy crawl iliad` processes from the checkout followed by `promowatch send`. Both must store the same
events, queue the same notifications and deliver the same message to a real HTTP channel on 127.0.0.1.
"""

import json
import os
import re
import shutil
import sys

import pytest
from conftest import FIXTURES, PROMOWATCH, run
from servers import HttpServer

pytestmark = pytest.mark.slow  # real processes and servers

SCRAPY = [sys.executable, "-m", "scrapy.cmdline"]


@pytest.fixture
def pages(tmp_path):
    """Two fixtures folders for Iliad: as bundled, and with GIGA 200 down from 9,99 € to 8,99 €."""
    base, changed = tmp_path / "base", tmp_path / "changed"
    for folder in (base, changed):
        shutil.copytree(FIXTURES / "iliad", folder / "iliad")
    page = changed / "iliad" / "mobile.html"
    text = page.read_text("utf-8")
    assert text.count('prev-price="" price="999"') >= 1
    # every copy of the card (the page repeats it in a carousel): a real price change changes them all
    page.write_text(text.replace('prev-price="" price="999"', 'prev-price="999" price="899"'), "utf-8")
    return base, changed


def _env(tmp_path, name):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMOWATCH_")}
    env["PROMOWATCH_DATABASE_URL"] = f"sqlite:///{tmp_path / name}"
    env["PROMOWATCH_TODAY"] = "2026-09-15"
    config = tmp_path / "only-iliad.toml"
    config.write_text("[schedule]\nenabled = false\n[schedule.operators.iliad]\nenabled = true\n", "utf-8")
    env["PROMOWATCH_CONFIG"] = str(config)
    return env


def _outcome(env):
    events = json.loads(run(PROMOWATCH + ["events", "--json"], env).stdout)
    notes = json.loads(run(PROMOWATCH + ["notifications", "--json"], env).stdout)
    return (
        [(e["operator"], e["offer_key"], e["kind"], e["price_before"], e["price_after"]) for e in events],
        sorted((n["kind"], n["offer_key"], n["status"]) for n in notes),
    )


def test_scrapy_crawl_matches_a_scheduled_crawl(tmp_path, pages):
    base, changed = pages
    with HttpServer() as channel:
        scheduled, manual = _env(tmp_path, "scheduled.db"), _env(tmp_path, "manual.db")
        for env in (scheduled, manual):
            run(
                PROMOWATCH + ["subscribe", "--channel", channel.url("/hook"), "--operator", "iliad", "--lang", "en"],
                env,
            )

        run(PROMOWATCH + ["run", "--once", "--fixtures", str(base)], scheduled)
        run(PROMOWATCH + ["run", "--once", "--fixtures", str(changed)], scheduled)
        by_service = _outcome(scheduled)
        got = channel.wait_for(1, timeout=10)
        assert len(got) == 1, [g["json"]["title"] for g in got]
        sent_by_service = got[0]

        for folder in (base, changed):
            run(SCRAPY + ["crawl", "iliad"], {**manual, "PROMOWATCH_FIXTURES_DIR": str(folder)})
        events, queued = _outcome(manual)
        assert events == by_service[0]
        assert [(kind, key) for kind, key, _ in queued] == [(kind, key) for kind, key, _ in by_service[1]]
        assert {status for _, _, status in queued} == {"pending"}  # until the next send
        run(PROMOWATCH + ["send"], manual)
        received = channel.wait_for(2, timeout=10)
    assert events == [("iliad", "giga200", "price_drop", 999, 899)]
    assert received[1]["json"]["title"] == sent_by_service["json"]["title"]
    timeless = lambda m: [line for line in m.splitlines() if not re.search(r"\d:\d\d", line)]  # noqa: E731
    assert timeless(received[1]["json"]["message"]) == timeless(sent_by_service["json"]["message"])
    assert _outcome(manual)[1] == by_service[1]  # both sent now


def test_scrapy_crawl_can_send_at_once(tmp_path, pages):
    """PROMOWATCH_SEND_AFTER_CRAWL=1: the manual refresh delivers its notification without a `send`."""
    base, changed = pages
    with HttpServer() as channel:
        env = _env(tmp_path, "now.db")
        run(PROMOWATCH + ["subscribe", "--channel", channel.url("/hook"), "--operator", "iliad"], env)
        for folder in (base, changed):
            run(
                SCRAPY + ["crawl", "iliad"],
                {**env, "PROMOWATCH_FIXTURES_DIR": str(folder), "PROMOWATCH_SEND_AFTER_CRAWL": "1"},
            )
        [message] = channel.wait_for(1, timeout=10)
    assert "GIGA 200" in message["json"]["title"]
    assert _outcome(env)[1] == [("price_drop", "giga200", "sent")]
