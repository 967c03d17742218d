"""Every time a person reads names its zone, and durations read in natural units.

Log lines carry their time in UTC with the zone named (the service, the sending commands); the service's
"next run" lines are minutes in the service's zone, named, never "+00:00.123456"; its job descriptions say
"every day", "every minute", "jitter 1 min", "every 5 min". `events --since` without an offset is read in the
local zone the tables show (cli_common.when), with one as given.
"""

import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone

import pytest
from conftest import FIXTURES, ROOT

from promowatch.service_config import every, format_duration, parse_config

DURATIONS = [
    (0.5, "0.5 s"),
    (45, "45 s"),
    (60, "1 min"),
    (90, "1 min 30 s"),
    (300, "5 min"),
    (3600, "1 h"),
    (5400, "1 h 30 min"),
    (6 * 3600, "6 h"),
    (86400, "1 day"),
    (2 * 86400, "2 days"),
    (None, ""),
]


@pytest.mark.parametrize("seconds, text", DURATIONS)
def test_durations_in_natural_units(seconds, text):
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    "seconds, text",
    [(1, "every second"), (60, "every minute"), (300, "every 5 min"), (3600, "every hour"), (86400, "every day")],
)
def test_every(seconds, text):
    assert every(seconds) == text


def test_the_service_describes_its_jobs_in_natural_units():
    from scheduler import job_specs

    config = parse_config(
        {
            "schedule": {"interval": "1d", "jitter": "1m", "operators": {"iliad": {"interval": "2h", "jitter": 0}}},
            "sender": {"interval": "60s"},
            "health": {"interval": "300"},
        }
    )
    specs = {s.id: s.describe for s in job_specs(config, {}, datetime(2026, 12, 7, 13, 0, tzinfo=timezone.utc))}
    assert specs["crawl:tim"] == "every day, jitter 1 min"
    assert specs["crawl:iliad"] == "every 2 h"
    assert specs["send"] == "every minute"
    assert specs["health"].startswith("every 5 min, threshold ")


@pytest.mark.parametrize(
    "moment, zone, text",
    [
        (datetime(2026, 12, 7, 13, 34, 16, 821000, tzinfo=timezone.utc), "Europe/Rome", "2026-12-07 14:34 CET"),
        (datetime(2026, 7, 7, 13, 34, tzinfo=timezone.utc), "Europe/Rome", "2026-07-07 15:34 CEST"),
        (datetime(2026, 12, 7, 13, 34, 16, 5, tzinfo=timezone.utc), "UTC", "2026-12-07 13:34 UTC"),
    ],
)
def test_a_time_in_the_service_log(moment, zone, text):
    from scheduler import at

    assert at(moment, zone) == text


@pytest.fixture
def rome(monkeypatch):
    monkeypatch.setenv("TZ", "Europe/Rome")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize(
    "typed, utc",
    [
        ("2026-12-07T13:27", "2026-12-07T12:27:00+00:00"),  # local (the tables' zone): CET
        ("2026-07-07T13:27", "2026-07-07T11:27:00+00:00"),  # CEST
        ("2026-12-07", "2026-12-06T23:00:00+00:00"),  # local midnight
        ("2026-12-07T13:27+01:00", "2026-12-07T12:27:00+00:00"),
        ("2026-12-07T13:27Z", "2026-12-07T13:27:00+00:00"),
        ("2026-12-07T13:27+00:00", "2026-12-07T13:27:00+00:00"),
    ],
)
def test_since_reads_a_time_without_zone_in_the_local_zone(rome, typed, utc):
    from promowatch.cli_common import when
    from promowatch.cli_events import _since

    moment = _since(typed)
    assert moment.isoformat() == utc
    if "T" in typed and typed[-6] not in "+-" and not typed.endswith("Z"):
        assert when(moment).startswith(typed.replace("T", " "))  # what the tables show, read back


@pytest.mark.slow
def test_the_service_log_names_the_zone_of_every_time(tmp_path):
    """A real service process (offline) until it has logged its jobs' next runs; then SIGTERM."""
    config = tmp_path / "config.toml"
    config.write_text('[schedule]\ninterval = "1d"\njitter = "1m"\n[sender]\ninterval = "1m"\n', "utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMOWATCH_")}
    env.update(PROMOWATCH_DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite'}", PROMOWATCH_TODAY="2026-09-15")
    proc = subprocess.Popen(
        [sys.executable, "-m", "promowatch.serve", "--config", str(config), "--fixtures", str(FIXTURES)],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = []
    try:
        deadline = time.monotonic() + 90
        # every job logs its next run once at start (in no fixed order): read until the sender's and health's
        while time.monotonic() < deadline and not all(any(j in x for x in lines) for j in ("job send", "job health")):
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            rest = proc.communicate(timeout=90)[1]
        except subprocess.TimeoutExpired:
            proc.kill()
            rest = proc.communicate()[1]
    lines += rest.splitlines()
    stamped = [x for x in lines if re.match(r"\d{4}-\d\d-\d\d ", x)]
    assert stamped, lines
    for line in stamped:
        assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC ", line), line
    runs = [x for x in lines if "next run" in x]
    assert runs, lines
    for line in runs:
        assert re.search(r"next run \d{4}-\d\d-\d\d \d\d:\d\d (CET|CEST)$", line), line
    text = "\n".join(lines)
    assert "every day, jitter 1 min" in text and "(every minute)" in text
    assert not re.search(r"\d\d:\d\d:\d\d\.\d+", text) and "every 60 s" not in text
