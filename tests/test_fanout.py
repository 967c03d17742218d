"""The fan-out and time-to-alert benchmarks at tiny sizes, as real processes: they run, and they count right.

benchmarks/bench_fanout.py: every subscription matched, every due row delivered once through real sender
processes to its loopback sink (counted there by the id in each body), nothing left due. On the test database
(SQLite, or the PostgreSQL server of PROMOWATCH_TEST_SERVER_URL, where the benchmark makes its own database).
benchmarks/bench_time_to_alert.py: `promowatch run` sends the alert of the crawl's price drop well before the
sender's own tick (1 h): the after-crawl wake-up works. Figures are not asserted (a shared machine).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # real processes and servers

ROOT = Path(__file__).resolve().parents[1]


def database_args() -> list[str]:
    server = os.environ.get("PROMOWATCH_TEST_SERVER_URL")
    return ["--databases", "postgresql", "--pg-url", server] if server else ["--databases", "sqlite"]


def bench(script: str, *args: str, timeout: float = 300) -> list:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *database_args(), *args, "--json"],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(proc.stdout[proc.stdout.index("\n[\n") + 1 :] if "\n[\n" in proc.stdout else proc.stdout)


def test_fanout_writes_and_delivers_every_row_once():
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_fanout.py"),
            *database_args(),
            "--subscriptions",
            "60",
            "--senders",
            "1,2",
            "--concurrency",
            "4",
            "--batch",
            "7",
            "--delay",
            "0.01",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    figures = json.loads(proc.stdout[proc.stdout.index("\n{") :])
    [result] = figures["results"]
    assert result["events"] == 1 and result["queued"] == 60  # one alert per subscription (one channel each)
    held = result["held"]
    assert result["due_now"] == 60 - held["digest"] - held["quiet_now"] > 0
    assert result["rows"] == result["due_now"] + result["digest_rows"] + held["quiet_now"]
    for workers in (1, 2):
        run = result[f"senders_{workers}"]
        assert run["ok"], run
        assert (run["unique"], run["duplicates"], run["missing_id"], run["left"]) == (result["due_now"], 0, 0, 0)
    assert figures["floor_per_s"] > 0


def test_time_to_alert_the_sender_is_woken_after_the_crawl():
    [result] = bench("bench_time_to_alert.py", "--rounds", "2")
    assert len(result["rounds"]) == 2
    for one in result["rounds"]:
        assert one["alerts"] == 1 and one["duplicates"] == 0
        # the sender ticks hourly: an alert within a minute of the crawl came from the after-crawl wake-up
        assert 0 <= one["crawl_end_to_first_alert_s"] < 60


def test_a_wake_during_a_running_send_sends_again_at_once():
    """The crawl's wake-up comes while the send job runs (it claimed before the crawl's rows were written):
    APScheduler would skip the woken run (one instance at a time) and the rows would wait for the next tick;
    the running send goes round once more instead."""
    import threading

    import scheduler
    from promowatch.service_config import parse_config

    class Worker:
        def __init__(self):
            self.sends = 0
            self.inside = threading.Event()
            self.go_on = threading.Event()

        def call(self, task, **kwargs):
            assert task == "send"
            self.sends += 1
            if self.sends == 1:
                self.inside.set()
                assert self.go_on.wait(10)
            return {"sent": 0}

    worker = Worker()
    service = scheduler.Service(parse_config({}, "c.toml"), worker=worker)
    service.sender_available = True
    sending = threading.Thread(target=service.send)
    sending.start()
    assert worker.inside.wait(10)
    service.wake_sender()  # while the first send runs
    worker.go_on.set()
    sending.join(10)
    assert not sending.is_alive() and worker.sends == 2
    service.send()  # not woken since: one run
    assert worker.sends == 3
