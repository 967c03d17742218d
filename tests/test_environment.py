"""A PROMOWATCH_* variable with a value promowatch cannot use is refused at the start, in one line, exit 2.

Each bad value × each entry point (`promowatch` commands that read it deep inside: the engine, the Scrapy
settings, the pipeline, detection; `scrapy crawl`; the service), as real processes on a real SQLite file:
one line naming the variable and its value, nothing recorded (no crawl run), no traceback. The definitions
themselves (storage/environment.py) are checked as a table; the readers (engine, detection, Scrapy settings)
read through them. Also here: the log lines' times name their zone, the sending commands log at
PROMOWATCH_LOG_LEVEL, and a database URL naming a folder or a driver not installed says so.
"""

import json
import re
import sys

import pytest
from conftest import FIXTURES, PROMOWATCH, promowatch_without, run

from storage.environment import BadEnvironment, check_environment, min_offers, setting
from storage.repository import last_crawls

SCRAPY = [sys.executable, "-m", "scrapy", "crawl", "iliad"]

# variable -> (bad value, what the line must also say)
BAD = {
    "PROMOWATCH_SQLITE_SYNCHRONOUS": ("bogus", "NORMAL, FULL or EXTRA"),
    "PROMOWATCH_LOG_LEVEL": ("nonsense", "DEBUG, INFO, WARNING"),
    "PROMOWATCH_DOWNLOAD_TIMEOUT": ("abc", "seconds"),
    "PROMOWATCH_MIN_OFFERS_ILIAD": ("abc", "whole number"),
    "PROMOWATCH_REMOVED_AFTER": ("abc", "default 2"),
    "PROMOWATCH_EXPIRING_DAYS": ("-1", "default 3"),
    "PROMOWATCH_TODAY": ("15/09/2026", "YYYY-MM-DD"),
    "PROMOWATCH_SEND_AFTER_CRAWL": ("maybe", "1 or 0"),
    "PROMOWATCH_COOKIES": ("sometimes", "1 or 0"),
    "PROMOWATCH_BROWSER": ("chrome", "1 or 0"),
    "PROMOWATCH_MIRROR": ("localhost:8123", "http(s)://"),
    "PROMOWATCH_MIRROR_INDEX": ("/no/such/folder", "folder"),
    "PROMOWATCH_CHROMIUM": ("/no/such/chromium", "chromium"),
}

#: where each variable used to be read (and fail with a traceback, or be ignored) — every one is refused by all
ENTRY_POINTS = {
    "offers": PROMOWATCH + ["offers"],
    "crawl": PROMOWATCH + ["crawl", "iliad", "--offline"],
}
DEEP_ENTRY_POINTS = {
    "send": PROMOWATCH + ["send"],
    "import": PROMOWATCH + ["import", "{items}"],
    "run --once": PROMOWATCH + ["run", "--once", "--offline"],
    "scrapy crawl": SCRAPY,
    "service": [sys.executable, "-m", "promowatch.serve", "--fixtures", str(FIXTURES)],
}
#: the variables read deep inside (engine, Scrapy settings and logging, pipeline, detection) × every entry point
DEEP = [
    "PROMOWATCH_SQLITE_SYNCHRONOUS",
    "PROMOWATCH_LOG_LEVEL",
    "PROMOWATCH_DOWNLOAD_TIMEOUT",
    "PROMOWATCH_MIN_OFFERS_ILIAD",
    "PROMOWATCH_REMOVED_AFTER",
]


def _refused(env, tmp_path, command, variable, value, extra):
    items = tmp_path / "items.json"
    items.write_text("[]", "utf-8")
    cmd = [a.replace("{items}", str(items)) for a in command]
    bad_env = {**env, variable: value}
    if command is SCRAPY:
        bad_env["PROMOWATCH_FIXTURES_DIR"] = str(FIXTURES)
    if variable == "PROMOWATCH_MIRROR":
        bad_env["PROMOWATCH_MIRROR_INDEX"] = str(FIXTURES)
    proc = run(cmd, bad_env, timeout=120, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert "Traceback" not in out, out
    lines = [line for line in proc.stderr.splitlines() if variable in line]
    assert len(lines) == 1 and f"{variable}={value}" in lines[0] and extra in lines[0], out
    if command is not SCRAPY:  # scrapy crawl prints its usage before the error line
        assert proc.stderr.strip() == lines[0].strip(), out
    assert last_crawls(env["PROMOWATCH_DATABASE_URL"]) == {}  # refused before anything was recorded


@pytest.mark.dialect_neutral
@pytest.mark.slow
@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
@pytest.mark.parametrize("variable", list(BAD))
def test_a_bad_variable_is_one_line_before_anything_runs(env, tmp_path, variable, entry):
    value, extra = BAD[variable]
    _refused(env, tmp_path, ENTRY_POINTS[entry], variable, value, extra)


@pytest.mark.dialect_neutral
@pytest.mark.slow
@pytest.mark.parametrize("entry", list(DEEP_ENTRY_POINTS))
@pytest.mark.parametrize("variable", DEEP)
def test_every_entry_point_refuses_a_bad_variable(env, tmp_path, variable, entry):
    value, extra = BAD[variable]
    _refused(env, tmp_path, DEEP_ENTRY_POINTS[entry], variable, value, extra)


@pytest.mark.slow
def test_an_unknown_operator_in_min_offers_is_named(env):
    proc = run(PROMOWATCH + ["crawl", "iliad", "--offline"], {**env, "PROMOWATCH_MIN_OFFERS_ILIADE": "3"}, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "PROMOWATCH_MIN_OFFERS_ILIADE" in proc.stderr and "ILIAD" in proc.stderr


@pytest.mark.slow
def test_good_values_are_read_by_every_reader(env):
    """Good values pass the check and reach their readers: min offers makes the crawl partial, the log level
    shows Scrapy's INFO lines (their time with its zone), the timeout reaches Scrapy's settings."""
    good = {
        **env,
        "PROMOWATCH_MIN_OFFERS_ILIAD": "500",
        "PROMOWATCH_LOG_LEVEL": "info",
        "PROMOWATCH_DOWNLOAD_TIMEOUT": "7.5",
        "PROMOWATCH_SQLITE_SYNCHRONOUS": "full",
        "PROMOWATCH_REMOVED_AFTER": "3",
        "PROMOWATCH_COOKIES": "no",
    }
    proc = run(PROMOWATCH + ["crawl", "iliad", "--offline", "--json"], good, check=False)
    assert proc.returncode == 1, proc.stderr  # fewer than 500 offers: partial
    assert json.loads(proc.stdout)[0]["status"] == "partial"
    assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [A-Z]{3,5}|[+-]\d{4} \[", proc.stderr, re.M), proc.stderr
    code = "from promowatch.crawling import project_settings; print(project_settings().getfloat('DOWNLOAD_TIMEOUT'))"
    assert run([sys.executable, "-c", code], good).stdout.strip().splitlines()[-1] == "7.5"


# the definitions: value -> what a reader gets, or BadEnvironment
READ = [
    ("PROMOWATCH_SQLITE_SYNCHRONOUS", None, "NORMAL"),
    ("PROMOWATCH_SQLITE_SYNCHRONOUS", "extra", "EXTRA"),
    ("PROMOWATCH_SQLITE_SYNCHRONOUS", "OFF", BadEnvironment),
    ("PROMOWATCH_LOG_LEVEL", "debug", "DEBUG"),
    ("PROMOWATCH_LOG_LEVEL", "verbose", BadEnvironment),
    ("PROMOWATCH_DOWNLOAD_TIMEOUT", None, 30),
    ("PROMOWATCH_DOWNLOAD_TIMEOUT", "12", 12.0),
    ("PROMOWATCH_DOWNLOAD_TIMEOUT", "0", BadEnvironment),
    ("PROMOWATCH_DOWNLOAD_TIMEOUT", "nan", BadEnvironment),
    ("PROMOWATCH_DOWNLOAD_TIMEOUT", "inf", BadEnvironment),
    ("PROMOWATCH_REMOVED_AFTER", None, 2),
    ("PROMOWATCH_REMOVED_AFTER", "", 2),
    ("PROMOWATCH_REMOVED_AFTER", "4", 4),
    ("PROMOWATCH_REMOVED_AFTER", "0", BadEnvironment),
    ("PROMOWATCH_REMOVED_AFTER", "2.5", BadEnvironment),
    ("PROMOWATCH_EXPIRING_DAYS", "0", 0),
    ("PROMOWATCH_EXPIRING_DAYS", "three", BadEnvironment),
    ("PROMOWATCH_TODAY", "2026-09-15", "2026-09-15"),
    ("PROMOWATCH_TODAY", "2026-02-30", BadEnvironment),
    ("PROMOWATCH_SEND_AFTER_CRAWL", "YES", True),
    ("PROMOWATCH_SEND_AFTER_CRAWL", "0", False),
    ("PROMOWATCH_SEND_AFTER_CRAWL", None, False),
    ("PROMOWATCH_BROWSER", "2", BadEnvironment),
    ("PROMOWATCH_MIRROR", "http://127.0.0.1:8123", "http://127.0.0.1:8123"),
    ("PROMOWATCH_MIRROR", "127.0.0.1:8123", BadEnvironment),
]


@pytest.mark.parametrize("name, value, expected", READ)
def test_each_definition_reads_or_refuses(name, value, expected):
    environ = {} if value is None else {name: value}
    if expected is BadEnvironment:
        with pytest.raises(BadEnvironment) as info:
            setting(name, environ)
        assert str(info.value).startswith(f"{name}=") and "\n" not in str(info.value)
        with pytest.raises(BadEnvironment):
            check_environment({"PROMOWATCH_MIRROR_INDEX": str(FIXTURES), **environ})
    else:
        assert setting(name, environ) == expected
        check_environment({"PROMOWATCH_MIRROR_INDEX": str(FIXTURES), **environ})


def test_a_value_is_shown_so_that_it_can_be_seen():
    with pytest.raises(BadEnvironment) as info:
        setting("PROMOWATCH_REMOVED_AFTER", {"PROMOWATCH_REMOVED_AFTER": "two\nlines"})
    assert "\n" not in str(info.value) and "'two\\nlines'" in str(info.value)
    assert min_offers("iliad", {"PROMOWATCH_MIN_OFFERS_ILIAD": " 6 "}) == 6
    assert min_offers("iliad", {}) is None
    with pytest.raises(BadEnvironment, match="unset it for the default 2"):
        setting("PROMOWATCH_REMOVED_AFTER", {"PROMOWATCH_REMOVED_AFTER": "abc"})


def test_detection_reads_its_thresholds_through_the_definitions(monkeypatch):
    from alerts.detect import thresholds

    monkeypatch.setenv("PROMOWATCH_REMOVED_AFTER", "5")
    monkeypatch.setenv("PROMOWATCH_EXPIRING_DAYS", "0")
    assert thresholds() == {"removed_after": 5, "expiring_days": 0}
    monkeypatch.setenv("PROMOWATCH_REMOVED_AFTER", "abc")
    with pytest.raises(BadEnvironment):
        thresholds()


@pytest.mark.slow
@pytest.mark.parametrize("command", [["send"], ["test-notify", "json://user:pw-secret-1@127.0.0.1:9/hook"]])
def test_the_sending_commands_log_at_the_level_asked_with_times_in_utc(env, empty_db, command):
    # a new database, migrated by the command (which logs it), as on a first run
    proc = run(
        PROMOWATCH + command, {**env, "PROMOWATCH_DATABASE_URL": empty_db, "PROMOWATCH_LOG_LEVEL": "DEBUG"}, check=False
    )
    lines = proc.stderr.splitlines()
    logged = [line for line in lines if re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC (DEBUG|INFO|WARNING) ", line)]
    assert logged, proc.stderr
    assert "pw-secret-1" not in proc.stdout + proc.stderr
    quiet = run(PROMOWATCH + command, env, check=False)
    assert not [line for line in quiet.stderr.splitlines() if " DEBUG " in line or " INFO " in line]


# a database setting that is wrong: what the line says
@pytest.mark.slow
def test_a_database_url_naming_a_folder_says_so(env, tmp_path):
    proc = run(PROMOWATCH + ["offers"], {**env, "PROMOWATCH_DATABASE_URL": f"sqlite:///{tmp_path}"}, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    line = proc.stderr.strip()
    assert len(line.splitlines()) == 1 and f"{tmp_path} is a folder, not a database file" in line, line
    assert "folder exists" not in line


@pytest.mark.slow
@pytest.mark.parametrize("driver, package", [("psycopg2", "psycopg2-binary"), ("psycopg", "'psycopg[binary]'")])
def test_a_missing_driver_names_its_package(env, driver, package):
    url = f"postgresql+{driver}://promo:pw@127.0.0.1:9/promo"  # the driver made impossible to import, installed or not
    proc = run(promowatch_without(driver) + ["offers"], {**env, "PROMOWATCH_DATABASE_URL": url}, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"pip install {package})" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
