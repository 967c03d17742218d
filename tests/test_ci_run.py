"""`.ci/run` runs exactly the test command README.md gives (lint, types, the suite on SQLite and on PostgreSQL)."""

import re

from conftest import ROOT


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text("utf-8")
    command = re.search(r"\*\*Run the tests\*\*.*?```sh\n(.*?)\n```", readme, re.S)
    assert command, "README.md has no test command under **Run the tests**"
    assert command.group(1) in (ROOT / ".ci" / "run").read_text("utf-8").splitlines()
    assert "PROMOWATCH_TEST_SERVER_URL=postgresql" in command.group(1)
    assert "env -u PROMOWATCH_TEST_SERVER_URL" in command.group(1)  # the first pass is on SQLite whatever the shell has
