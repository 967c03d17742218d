"""The suite's command lines forked from a warm interpreter (tests/processes.py) behave as fresh processes do:
same output, exit status, environment and working directory; a timeout kills the process."""

import json
import subprocess

import processes
import pytest
from conftest import FIXTURES, PROMOWATCH, ROOT

pytestmark = pytest.mark.slow  # real processes


def fresh(cmd, **kwargs):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kwargs)


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["nonsense"],  # a usage error: exit 2, one line on stderr
        ["offers", "--json"],
        ["subscribe", "--channel", "json://127.0.0.1:9/x", "--min-gb", "lots"],  # refused input: one line
        ["operators"],
    ],
)
def test_a_warm_command_is_what_a_fresh_process_gives(env, args):
    env = {**env, "COLUMNS": "120"}
    forked = processes.forked()
    warm = processes.run(PROMOWATCH + args, env=env, cwd=ROOT, timeout=120)
    assert processes.forked() == forked + 1
    cold = fresh(PROMOWATCH + args, env=env, cwd=ROOT)
    assert (warm.returncode, warm.stdout, warm.stderr) == (cold.returncode, cold.stdout, cold.stderr)


def test_the_process_gets_the_callers_environment_and_working_directory(env, tmp_path):
    page = FIXTURES / "iliad" / "mobile.html"
    args = ["parse", "iliad", "mobile.html", "--json"]  # a path relative to the working directory
    forked = processes.forked()
    warm = processes.run(PROMOWATCH + args, env=env, cwd=page.parent, timeout=120)
    assert warm.returncode == 0 and json.loads(warm.stdout), warm.stderr
    elsewhere = processes.run(PROMOWATCH + args, env=env, cwd=tmp_path, timeout=120)
    assert elsewhere.returncode != 0 and "mobile.html" in elsewhere.stderr
    # the database the caller's environment names, not the zygote's (it has none)
    other = {**env, "PROMOWATCH_DATABASE_URL": f"sqlite:///{tmp_path / 'other.db'}"}
    made = processes.run(PROMOWATCH + ["db", "upgrade"], env=other, cwd=ROOT, timeout=120)
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "other.db").exists()
    assert processes.forked() == forked + 3


def test_a_command_past_its_timeout_is_killed_and_says_so(env):
    forked = processes.forked()
    with pytest.raises(subprocess.TimeoutExpired):
        processes.run(PROMOWATCH + ["send", "--loop"], env=env, cwd=ROOT, timeout=1.5)
    assert processes.forked() == forked + 1  # the warm path's own timeout, not subprocess.run's
    after = processes.run(PROMOWATCH + ["--help"], env=env, cwd=ROOT, timeout=60)  # the zygote serves on
    assert after.returncode == 0


def test_start_up_settings_other_than_the_zygotes_go_to_a_fresh_process(env):
    forked = processes.forked()
    proc = processes.run(PROMOWATCH + ["--help"], env={**env, "PYTHONIOENCODING": "ascii"}, cwd=ROOT, timeout=60)
    assert proc.returncode == 0 and proc.stdout
    assert processes.forked() == forked
