"""Every option and argument of every command says what it is for in `--help`, and README.md's "Command line"
synopsis names every command and every option that exists (walked through Typer's Click commands)."""

import re

import pytest
import typer
from conftest import ROOT

from promowatch.cli import app

#: options whose help belongs to another part of issue #15 (the outbox, the schema command); remove an entry once
#: its help is written


def _commands(cmd=None, path=()):
    cmd = cmd or typer.main.get_command(app)
    if hasattr(cmd, "commands"):
        for name, sub in cmd.commands.items():
            yield from _commands(sub, (*path, name))
    else:
        yield " ".join(path), cmd


def _name(param) -> str:
    return max(param.opts, key=len) if param.param_type_name == "option" else param.name.upper()


PARAMS = [(path, _name(p), p) for path, cmd in _commands() for p in cmd.params]


@pytest.mark.parametrize("path, name, param", PARAMS, ids=[f"{p}:{n}" for p, n, _ in PARAMS])
def test_every_option_has_a_help_text(path, name, param):
    help_text = (getattr(param, "help", None) or "").strip()
    assert len(help_text) >= 8, f"{path} {name}: no help"
    assert "<bool>" not in help_text


def test_every_command_has_a_summary():
    for path, cmd in _commands():
        assert (cmd.help or "").strip(), path


def _synopsis() -> dict[str, str]:
    """README's Command line block: command path -> its synopsis text (continuation lines included)."""
    readme = (ROOT / "README.md").read_text("utf-8")
    block = re.search(r"## Command line\s+```[^\n]*\n(.*?)```", readme, re.S).group(1)
    commands = {path for path, _ in _commands()}
    found: dict[str, str] = {}
    current = None
    for line in block.splitlines():
        text = line.split("  #", 1)[0]
        if text.startswith("promowatch "):
            words = text.split()
            by_length = sorted(commands, key=len, reverse=True)
            current = next((p for p in by_length if words[1 : 1 + len(p.split())] == p.split()), None)
            if current is None:
                continue
            found[current] = found.get(current, "") + " " + text
        elif current and line.startswith(" "):
            found[current] += " " + text
    return found


@pytest.mark.parametrize("path, name, param", PARAMS, ids=[f"{p}:{n}" for p, n, _ in PARAMS])
def test_the_readme_synopsis_names_every_option(path, name, param):
    synopsis = _synopsis()
    assert path in synopsis, f"`promowatch {path}` missing from README's Command line block"
    if param.param_type_name == "option":
        assert re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", synopsis[path]), f"{path} {name} not in README"
    else:
        metavar = (param.metavar or name).strip("[].").upper()
        assert metavar in synopsis[path].upper(), f"{path} {metavar} not in README"
