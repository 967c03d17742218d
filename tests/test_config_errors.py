"""A service config that cannot be used is one line naming the file, the section and the offending key or value.

Each bad config (missing, a folder, not TOML, not UTF-8, unknown keys and operators at every level, wrong
values) × each command that reads it (`status`, `run --once`, `run`), as real `promowatch` processes on a real
SQLite file: exit 2, exactly one line on stderr, no traceback. `status` used to ignore the config and print a
blank "next run"; Rich used to swallow the "[section]" of the message as markup.
"""

import os

import processes
import pytest
from conftest import PROMOWATCH, ROOT

pytestmark = pytest.mark.slow

# name: (file content, or None for no file, or "dir" for a folder; what the one line must name besides the file)
CASES = {
    "missing": (None, ["does not exist", "PROMOWATCH_CONFIG"]),
    "a_folder": ("dir", ["is not a file"]),
    "not_toml": ("[health\n", ["not valid TOML", "line 1"]),
    "not_utf8": (b"[health]\nthreshold = 3 # \xff\xfe\n", ["not valid TOML", "UTF-8"]),
    "unknown_top_level_key": ('intervall = "6h"\n', ["unknown key 'intervall' in top level"]),
    "operators_at_top_level": ('[operators.iliad]\ninterval = "1h"\n', ["unknown key 'operators' in top level"]),
    "unknown_schedule_key": (
        '[schedule]\nintervall = "6h"\n',
        ["unknown key 'intervall' in [schedule]", "did you mean 'interval'?"],
    ),
    "unknown_operator": (
        '[schedule.operators.badop]\ninterval = "1h"\n',
        ["[schedule.operators.badop]", "unknown operator"],
    ),
    "unknown_operator_key": (
        '[schedule.operators.iliad]\nintervall = "1h"\n',
        ["unknown key 'intervall' in [schedule.operators.iliad]"],
    ),
    "interval_and_cron": (
        '[schedule.operators.iliad]\ninterval = "1h"\ncron = "0 7 * * *"\n',
        ["[schedule.operators.iliad] has both interval and cron"],
    ),
    "bad_duration": (
        '[worker]\ncrawl_time_limit = "soon"\n',
        ["[worker] crawl_time_limit", "'soon' is not a duration"],
    ),
    "bad_cron": ('[schedule]\ncron = "every day"\n', ["[schedule] cron", "'every day'"]),
    "bad_timezone": ('[schedule]\ntimezone = "Rome"\n', ["[schedule] timezone", "'Rome'"]),
    "bad_threshold": ("[health]\nthreshold = 0\n", ["[health] threshold", "got 0"]),
    "bad_boolean": ('[sender]\nenabled = "yes"\n', ["[sender] enabled", "'yes'"]),
    "section_not_a_table": ("schedule = 3\n", ["[schedule] must be a table"]),
    "admin_channel_not_a_url": ('[health]\nadmin_channels = ["admin-at-example"]\n', ["[health] admin_channels"]),
    "fixtures_not_a_folder": ('[service]\nfixtures_dir = "no/such/folder"\n', ["[service] fixtures_dir"]),
}

COMMANDS = {
    "status": ["status"],
    "run --once": ["run", "--once", "--offline"],
    "run": ["run", "--offline"],  # the service: refuses to start
}


def _config(tmp_path, content):
    path = tmp_path / "promowatch [test].toml"  # brackets: the file name is not Rich markup either
    if content == "dir":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, "utf-8")
    return path


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_config_is_one_line_naming_file_section_and_value(tmp_path, case, command):
    content, names = CASES[case]
    path = _config(tmp_path, content)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMOWATCH_")}
    env["PROMOWATCH_DATABASE_URL"] = f"sqlite:///{tmp_path / 'promowatch.db'}"
    env["PROMOWATCH_CONFIG"] = str(path)
    proc = processes.run(PROMOWATCH + COMMANDS[command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    text = proc.stderr.strip()
    assert proc.returncode == 2, f"exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    assert "Traceback" not in proc.stderr + proc.stdout
    assert len(text.splitlines()) == 1, text
    assert str(path) in text, text
    for name in names:
        assert name in text, (name, text)


def test_run_names_a_config_given_with_the_option(tmp_path):
    path = _config(tmp_path, "[health]\nthreshold = -1\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMOWATCH_")}
    env["PROMOWATCH_DATABASE_URL"] = f"sqlite:///{tmp_path / 'promowatch.db'}"
    proc = processes.run(
        PROMOWATCH + ["run", "--once", "--offline", "--config", str(path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0, proc.stderr
    assert f"{path}: [health] threshold: expected a whole number of at least 1, got -1" in proc.stderr
