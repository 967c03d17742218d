"""A usage error of any command is one line on stderr, exit 2: the command, what is wrong, where its help is.

Real `promowatch` processes over a table of commands with a value out of range, of the wrong kind, not a number,
an unknown option or command, a missing argument or option value. `--help` keeps its output and exit 0, and the
exit codes a command chooses (typer.Exit) are kept.
"""

import pytest
from conftest import PROMOWATCH, run

pytestmark = pytest.mark.slow  # real processes

# arguments -> what the one line must say
CASES = {
    "limit 0": (["events", "--limit", "0"], ["events:", "--limit 0", "greater than or equal to 1"]),
    "limit=0": (["notifications", "--limit=0"], ["notifications:", "--limit 0"]),
    "unsubscribe abc": (["unsubscribe", "abc"], ["unsubscribe:", "'ID'", "integer"]),
    "read timeout 0": (["send", "--read-timeout", "0"], ["send:", "--read-timeout 0", "0.1"]),
    "connect timeout big": (["send", "--connect-timeout", "9999"], ["send:", "--connect-timeout 9999"]),
    "concurrency 0": (["send", "--concurrency", "0"], ["send:", "--concurrency 0"]),
    "unknown option": (["offers", "--bogus"], ["offers:", "--bogus"]),
    "unknown command": (["nosuch"], ["nosuch"]),
    "missing argument": (["history", "iliad"], ["history:", "missing argument", "OFFER"]),
    "missing argument of parse": (["parse"], ["parse:", "missing argument", "OP"]),
    "missing option value": (["events", "--limit"], ["--limit", "requires an argument"]),
    "extra argument": (["status", "extra"], ["extra"]),
    "db unknown subcommand": (["db", "downgrade"], ["db", "downgrade"]),
}


@pytest.mark.dialect_neutral
@pytest.mark.parametrize("case", list(CASES))
def test_a_usage_error_is_one_line(env, case):
    args, names = CASES[case]
    proc = run(PROMOWATCH + args, env, check=False)
    assert proc.returncode == 2, proc.stderr
    line = proc.stderr.strip()
    assert len(line.splitlines()) == 1, proc.stderr
    assert "╭" not in line and "Traceback" not in line and "Usage:" not in line
    assert line.endswith("--help)"), line
    for name in names:
        assert name in line, (name, line)
    assert proc.stdout == ""


@pytest.mark.dialect_neutral
@pytest.mark.parametrize("args", [["--help"], ["events", "--help"], ["db", "--help"], ["run", "--help"]])
def test_help_is_shown_as_before(env, args):
    proc = run(PROMOWATCH + args, env)
    assert "Usage:" in proc.stdout and proc.stderr == ""


@pytest.mark.dialect_neutral
def test_help_is_shown_whatever_the_environment(env):
    proc = run(PROMOWATCH + ["offers", "--help"], {**env, "PROMOWATCH_REMOVED_AFTER": "abc"})
    assert "--min-gb" in proc.stdout


@pytest.mark.parametrize(
    "args, code",
    [
        ([], 2),  # the help, as a usage error: exit 2 as before
        (["db"], 2),
        (["unsubscribe", "999"], 1),  # typer.Exit(1) from the command
        (["crawl", "iliad", "--offline", "--fixtures", "x"], 2),
        (["operators", "--json"], 0),
    ],
)
def test_the_exit_codes_commands_choose_are_kept(env, args, code):
    proc = run(PROMOWATCH + args, env, check=False)
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
