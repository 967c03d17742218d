"""`promowatch run --once` as a real process on a real SQLite file: a full cycle, its exit code, its summary."""

import json
import shutil

import conftest
import pytest
from conftest import FIXTURES
from test_health import Hook

from spiders.registry import OPERATORS

pytestmark = pytest.mark.slow  # real processes and servers


def run(args, env, timeout=180):
    """`promowatch ARGS` as a real process (the shared runner, exit code left to the test)."""
    return conftest.run(conftest.PROMOWATCH + args, env, timeout=timeout, check=False)


@pytest.fixture
def hook():
    h = Hook()
    yield h
    h.close()


def only(tmp_path, operator: str, extra: str = "") -> str:
    """A config that schedules one operator only (faster cycles)."""
    path = tmp_path / f"only-{operator}.toml"
    path.write_text(f"[schedule]\nenabled = false\n[schedule.operators.{operator}]\nenabled = true\n{extra}", "utf-8")
    return str(path)


def test_run_once_offline_twice_on_a_fresh_database(env):
    first = run(["run", "--once", "--offline", "--json"], env)
    assert first.returncode == 0, first.stderr[-3000:]
    report = json.loads(first.stdout)
    assert report["ok"] and {c["operator"] for c in report["crawls"]} == set(OPERATORS)
    assert all(c["status"] == "healthy" and c["offers"] > 0 and c["events"] == 0 for c in report["crawls"])
    assert len({c["worker_pid"] for c in report["crawls"]}) == 1  # one worker process for the cycle
    offers = json.loads(run(["offers", "--json"], env).stdout)
    assert {o["operator"] for o in offers} == set(OPERATORS)
    assert len(offers) == sum(c["offers"] for c in report["crawls"])
    second = run(["run", "--once", "--offline"], env)  # the table, and nothing new
    assert second.returncode == 0, second.stderr[-3000:]
    assert f"{len(OPERATORS)}/{len(OPERATORS)} operators healthy" in second.stdout and "0 events" in second.stdout
    events = json.loads(run(["events", "--json"], env).stdout)
    assert events == []


def test_broken_fixtures_exit_non_zero(env, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    proc = run(["run", "--once", "--fixtures", str(broken), "--json"], env)
    assert proc.returncode == 1, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert not report["ok"] and all(c["status"] == "failed" for c in report["crawls"])
    assert all("no saved page" in (c["error"] or "") for c in report["crawls"])
    missing = run(["run", "--once", "--fixtures", str(tmp_path / "nowhere")], env)
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_bad_config_is_a_usage_error(env, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[worker]\nrecycle_afterr = 3\n", "utf-8")
    proc = run(["run", "--once", "--offline", "--config", str(path)], env)
    assert proc.returncode == 2 and "did you mean 'recycle_after'" in proc.stderr


def test_blocked_operator_one_alert_then_one_recovery(env, tmp_path, hook):
    blocked = tmp_path / "blocked"
    shutil.copytree(FIXTURES / "iliad", blocked / "iliad")
    shutil.copy(FIXTURES / "windtre" / "blocked.html", blocked / "iliad" / "blocked.html")
    (blocked / "iliad" / "index.json").write_text(
        json.dumps({"https://www.iliad.it/offerte-iliad-mobile.html": "blocked.html"}), "utf-8"
    )
    env["PROMOWATCH_CONFIG"] = only(tmp_path, "iliad", f'[health]\nadmin_channels = ["{hook.url("pw")}"]\n')
    for n in range(4):
        proc = run(["run", "--once", "--fixtures", str(blocked), "--json"], env)
        assert proc.returncode == 1
        report = json.loads(proc.stdout)
        assert report["crawls"][0]["status"] == "blocked"
        assert [m["kind"] for m in report["health"]] == (["alert"] if n == 2 else [])
    [alert] = hook.wait_for(1)
    assert "iliad" in alert["title"] and "blocked" in alert["title"] and "3 crawls in a row" in alert["message"]
    proc = run(["run", "--once", "--offline", "--json"], env)
    assert proc.returncode == 0 and [m["kind"] for m in json.loads(proc.stdout)["health"]] == ["recovery"]
    messages = hook.wait_for(2)
    assert len(messages) == 2 and "healthy again" in messages[1]["title"]
    status = {r["operator"]: r for r in json.loads(run(["status", "--json"], env).stdout)}
    assert status["iliad"]["status"] == "healthy" and status["iliad"]["consecutive_failures"] == 0


def test_a_cycle_sends_the_notifications_it_queued(env, tmp_path, hook):
    try:
        import alerts.deliver  # noqa: F401
    except ImportError:
        pytest.skip("alerts.deliver (the sender) is not in the tree yet: run --once skips the send step")
    expected = json.loads((FIXTURES / "iliad" / "mobile.html.expected.json").read_text("utf-8"))
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps(expected[1:]), "utf-8")  # the first offer is missing: new in the cycle
    assert run(["import", str(baseline)], env).returncode == 0
    sub = run(["subscribe", "--channel", hook.url(), "--operator", "iliad", "--lang", "en"], env)
    assert sub.returncode == 0, sub.stderr
    env["PROMOWATCH_CONFIG"] = only(tmp_path, "iliad")
    proc = run(["run", "--once", "--offline", "--json"], env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["crawls"][0]["events"] == 1 and report["notifications"]["sent"] == 1
    [message] = hook.wait_for(1)
    assert expected[0]["name"].lower() in json.dumps(message).lower()
