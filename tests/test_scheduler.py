"""The service's configuration and job list (not started), and `promowatch run` stopped by SIGTERM."""

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from conftest import ROOT

from promowatch.service_config import ConfigError, load_config, parse_config, parse_duration
from spiders.registry import OPERATORS

sys.path.insert(0, str(ROOT))
import scheduler  # noqa: E402  (scheduler.py lives at the repository root)

NOW = datetime(2026, 9, 15, 10, 0, tzinfo=timezone.utc)
CONFIG = {
    "schedule": {
        "interval": "6h",
        "jitter": "10m",
        "startup_spread": "30s",
        "operators": {
            "iliad": {"interval": "2h", "jitter": 0},
            "tim": {"cron": "15 7,19 * * mon-fri"},
            "sky": {"enabled": False},
        },
    },
    "sender": {"interval": "45s"},
    "health": {"threshold": 4, "interval": "2m", "admin_channels": ["json://127.0.0.1:9/"]},
}


class NoWorker:
    def crawl(self, operators, **kw):  # pragma: no cover - the scheduler is never started here
        raise AssertionError("not started")

    def shutdown(self, grace=0):
        pass


def test_defaults_without_a_file(monkeypatch):
    monkeypatch.delenv("PROMOWATCH_CONFIG", raising=False)
    config = load_config()
    assert config.operators == list(OPERATORS)
    assert all(s.interval == 6 * 3600 and s.cron is None and s.jitter == 15 * 60 for s in config.schedules.values())
    assert config.health.threshold == 3 and config.health.admin_channels == ()
    assert config.worker.recycle_after == 50 and config.sender.interval == 60


def test_config_file_and_durations(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(
        '[schedule]\ninterval = "1h30m"\n[worker]\ncrawl_time_limit = 90\nmemory_limit_mb = 0\n'
        '[health]\nadmin_channels = "mailto://u:p@example.com"\n',
        "utf-8",
    )
    config = load_config(path)
    assert config.schedules["iliad"].interval == 5400 and config.worker.crawl_time_limit == 90
    assert config.worker.memory_limit_mb is None and config.health.admin_channels == ("mailto://u:p@example.com",)
    assert parse_duration("1d", "x") == 86400 and parse_duration("90s", "x") == 90


@pytest.mark.parametrize(
    "data, message",
    [
        ({"schedule": {"intervall": "1h"}}, "unknown key 'intervall' in [schedule] (did you mean 'interval'?)"),
        ({"schedule": {"interval": "soon"}}, "[schedule] interval: 'soon' is not a duration"),
        ({"schedule": {"operators": {"ilaid": {}}}}, "unknown operator (did you mean 'iliad'?)"),
        ({"schedule": {"operators": {"tim": {"cron": "0 7 * *"}}}}, "five fields"),
        ({"schedule": {"operators": {"tim": {"cron": "0 7 * * 1-5"}}}}, "with names"),
        ({"schedule": {"operators": {"tim": {"cron": "0 7 * * *", "interval": "1h"}}}}, "both interval and cron"),
        ({"schedule": {"operators": {"tim": {"cron": "0 25 * * *"}}}}, "0 25 * * *"),
        ({"worker": {"recycle_after": 0}}, "[worker] recycle_after: expected a whole number of at least 1"),
        ({"health": {"admin_channels": ["example.com"]}}, "is not an Apprise URL"),
        ({"health": {"threshold": "3"}}, "[health] threshold"),
        ({"schedule": {"timezone": "Mars/Olympus"}}, "unknown time zone"),
        ({"sched": {}}, "unknown key 'sched' in top level"),
    ],
)
def test_config_errors_say_where_and_why(data, message):
    with pytest.raises(ConfigError) as info:
        parse_config(data, "svc.toml")
    assert message in str(info.value) and str(info.value).startswith("svc.toml")


def test_bad_toml_is_a_clear_error(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[schedule\n", "utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)


def test_job_list_from_the_config_without_starting():
    config = parse_config(CONFIG, "c.toml")
    service = scheduler.Service(config, worker=NoWorker())
    last = {
        "iliad": {"started_at": (NOW - timedelta(minutes=30)).isoformat()},  # next in 1.5 h
        "vodafone": {"started_at": (NOW - timedelta(hours=7)).isoformat()},  # overdue: soon after start
        "tim": {"started_at": (NOW - timedelta(days=3)).isoformat()},
    }  # missed cron runs: coalesced, soon
    sched = service.build_scheduler(now=NOW, last=last)
    jobs = {job.id: job for job in sched.get_jobs()}
    assert not sched.running
    expected = {f"crawl:{op}" for op in OPERATORS if op != "sky"} | {"health", "retention"}
    if service.sender_available:
        expected.add("send")
    assert set(jobs) == expected
    iliad, tim, windtre = jobs["crawl:iliad"], jobs["crawl:tim"], jobs["crawl:windtre"]
    assert isinstance(iliad.trigger, IntervalTrigger) and iliad.trigger.interval == timedelta(hours=2)
    assert iliad.trigger.jitter is None and iliad.next_run_time == NOW + timedelta(minutes=90)
    assert isinstance(tim.trigger, CronTrigger) and tim.trigger.jitter == 600
    assert {str(f) for f in tim.trigger.fields if f.name in ("hour", "minute", "day_of_week")} == {
        "7,19",
        "15",
        "mon-fri",
    }
    assert NOW <= tim.next_run_time <= NOW + timedelta(seconds=30)
    assert NOW <= jobs["crawl:vodafone"].next_run_time <= NOW + timedelta(seconds=30)
    assert windtre.trigger.interval == timedelta(hours=6) and windtre.trigger.jitter == 600  # never crawled: now
    assert NOW <= windtre.next_run_time <= NOW + timedelta(seconds=30)
    assert all(j.max_instances == 1 and j.coalesce and j.misfire_grace_time == 3600 for j in jobs.values())
    assert jobs["health"].trigger.interval == timedelta(minutes=2)
    if "send" in jobs:
        assert jobs["send"].trigger.interval == timedelta(seconds=45)


def test_schedules_recomputed_from_last_crawls():
    config = parse_config(CONFIG, "c.toml")
    last = {
        "iliad": {"started_at": (NOW - timedelta(minutes=30)).isoformat()},
        "tim": {"started_at": datetime(2026, 9, 15, 7, 16, tzinfo=timezone.utc).isoformat()},
    }
    runs = scheduler.next_runs(config, last, NOW)
    assert runs["iliad"] == NOW + timedelta(minutes=90)
    # last at 09:16 in Rome: the next cron time is 19:15 Europe/Rome, 17:15 UTC
    assert runs["tim"].astimezone(timezone.utc) == datetime(2026, 9, 15, 17, 15, tzinfo=timezone.utc)
    assert runs["vodafone"] == NOW and "sky" not in runs
    jittered = scheduler.job_specs(
        config, {"vodafone": {"started_at": (NOW - timedelta(hours=1)).isoformat()}}, NOW, rng=random.Random(1)
    )
    vodafone = next(s for s in jittered if s.operator == "vodafone")
    assert NOW + timedelta(hours=5) <= vodafone.next_run_time <= NOW + timedelta(hours=5, minutes=10)


# --------------------------------------------------------------------------------------- the real service


def test_sigterm_stops_the_service_cleanly(tmp_path):
    db = tmp_path / "pw.db"
    config = tmp_path / "service.toml"
    config.write_text(
        '[schedule]\ninterval = "2s"\njitter = 0\nstartup_spread = 0\n'
        '[worker]\nrecycle_after = 20\n[sender]\ninterval = "1s"\n[health]\ninterval = "1s"\n'
        '[service]\nshutdown_grace = "20s"\n',
        "utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMOWATCH_")}
    env.update(PROMOWATCH_DATABASE_URL=f"sqlite:///{db}", PROMOWATCH_CONFIG=str(config), PROMOWATCH_TODAY="2026-09-15")
    proc = subprocess.Popen(
        [sys.executable, "-m", "promowatch.cli", "run", "--offline"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while _count(db, "SELECT count(*) FROM crawl_run") < len(OPERATORS) + 1:  # into its second round
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "no crawls after 60 s"
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=40)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err[-3000:]
    assert "SIGTERM: stopping" in err and "stopped" in err.splitlines()[-1]
    with sqlite3.connect(db) as conn:
        runs = conn.execute(
            "SELECT id, status, finish_reason, finished_at, detected_at, new_versions, items_stored FROM crawl_run"
        ).fetchall()
        for run_id, status, reason, finished, detected, new_versions, stored in runs:
            assert finished is not None and status in ("healthy", "failed")
            if status == "healthy":  # stored, detected, its versions all there
                assert detected is not None and stored > 0
                versions = conn.execute(
                    "SELECT count(*) FROM offer_version WHERE crawl_run_id = ?", (run_id,)
                ).fetchone()[0]
                assert versions == new_versions
            else:
                assert reason == "interrupted", runs
        assert conn.execute("SELECT count(*) FROM offer WHERE current_version_id IS NULL").fetchone()[0] == 0
    assert {r[1] for r in runs} == {"healthy"} or any(r[2] == "interrupted" for r in runs)


def _count(db, sql) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return conn.execute(sql).fetchone()[0]
    except sqlite3.OperationalError:  # tables not there yet
        return 0


def test_the_example_config_is_valid_and_documents_every_key():
    import dataclasses
    import re
    import tomllib

    from promowatch import service_config as sc

    path = ROOT / "docs" / "config.example.toml"
    config = load_config(path)
    assert config.schedules["iliad"].interval == 7200 and config.schedules["tim"].cron == "0 8,20 * * mon-sat"
    text = path.read_text("utf-8")
    documented = set(re.findall(r"^#?\s*([a-z_]+)\s*=", text, flags=re.M))
    from alerts.channels import ChannelSettings, MailSettings

    classes = (
        sc.WorkerConfig,
        sc.SenderConfig,
        sc.HealthConfig,
        sc.RetentionConfig,
        sc.WebConfig,
        ChannelSettings,
        MailSettings,
    )
    keys = {f.name for cls in classes for f in dataclasses.fields(cls)} - {"mail", "sender"} | {"from"}
    keys |= {
        "interval",
        "cron",
        "jitter",
        "enabled",
        "timezone",
        "misfire_grace_time",
        "startup_spread",
        "shutdown_grace",
        "fixtures_dir",
    }
    assert keys <= documented, keys - documented
    data = tomllib.loads(text)
    assert set(data) == {"schedule", "worker", "sender", "health", "retention", "service", "web", "channels"}


def test_next_run_times_for_status(tmp_db, monkeypatch, tmp_path):
    from promowatch.cli_service import next_run_times
    from storage.repository import record_crawl

    config = tmp_path / "c.toml"
    config.write_text('[schedule]\ninterval = "1h"\n', "utf-8")
    monkeypatch.setenv("PROMOWATCH_CONFIG", str(config))
    started = datetime.now(timezone.utc) - timedelta(minutes=20)
    record_crawl(
        operator="iliad",
        started_at=started,
        finish_reason="finished",
        status="failed",
        items=[],
        items_scraped=0,
        dropped={},
        error="x",
        database_url=tmp_db,
    )
    times = next_run_times(tmp_db)
    assert set(times) == set(OPERATORS)
    assert datetime.fromisoformat(times["iliad"]) == (started + timedelta(hours=1)).replace(microsecond=0)
    assert datetime.fromisoformat(times["vodafone"]) <= datetime.now(timezone.utc)  # never crawled: due now


def test_the_scheduler_process_loads_no_storage_alerts_or_scrapy(tmp_path):
    """Crawls, sending, health checks and the last crawls run in the crawl worker: the long-running scheduler
    process stays small. One real cycle (two operators offline, one admin channel) in a fresh interpreter."""
    config = tmp_path / "c.toml"
    config.write_text('[health]\nadmin_channels = ["json://127.0.0.1:9/admin"]\n', "utf-8")
    code = f"""
import json, sys
sys.path.insert(0, {str(ROOT)!r})
from promowatch.service_config import load_config
from scheduler import Service
service = Service(load_config({str(config)!r}), database_url={f"sqlite:///{tmp_path / 'pw.db'}"!r},
                  fixtures_dir={str(ROOT / "spiders" / "fixtures")!r})
try:
    report = service.run_cycle(["iliad", "ho"])
    service.build_scheduler()
finally:
    service.stop()
# the bare `alerts` package (a docstring) is imported by find_spec("alerts.deliver"); none of its modules is
loaded = {{m.split(".")[0] for m in sys.modules if m != "alerts"}}
heavy = sorted(loaded & {{"sqlalchemy", "sqlmodel", "pydantic", "storage", "alerts",
                         "apprise", "jinja2", "scrapy", "twisted", "lxml"}})
print(json.dumps({{"heavy": heavy, "statuses": [c.status for c in report.crawls], "send": report.send}}))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMOWATCH_")}
    env.update(PROMOWATCH_TODAY="2026-09-15", PROMOWATCH_LOG_LEVEL="WARNING")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["statuses"] == ["healthy", "healthy"]
    assert out["send"] is not None and out["send"]["claimed"] == 0  # the sender ran, in the worker
    assert out["heavy"] == []
