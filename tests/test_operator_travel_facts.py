"""How a top-up is paid from abroad and whether a codice fiscale is needed, as a traveller reads them: the
operators table and its JSON, and the web's operators page in Italian, English and Chinese; an unconfirmed fact
(null) is shown as unknown, never as a guess."""

from __future__ import annotations

import json
import os

import processes
import pytest
from conftest import PROMOWATCH, ROOT
from fastapi.testclient import TestClient
from markupsafe import escape

from contract.catalogue import load
from web.app import create_app
from web.i18n import WORDS


def _run(*args: str) -> str:
    env = dict(os.environ, COLUMNS="400")
    proc = processes.run(PROMOWATCH + list(args), cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.slow  # real processes
def test_the_operators_command_shows_them_unknown_when_null():
    rows = {r["operator"]: r for r in json.loads(_run("operators", "--json"))}
    facts = load()
    for op, entry in facts.items():
        assert rows[op]["pay_from_abroad"] == entry["pay_from_abroad"], op
        if entry["kind"] == "operator":
            assert rows[op]["needs_codice_fiscale"] == entry["needs_codice_fiscale"], op
    table = _run("operators")
    assert "pay from" in table and "codice fiscale" in table
    tim = next(line for line in table.splitlines() if "│ TIM " in line)
    unknown = [cell.strip() for cell in tim.split("│")[-3:-1]]
    assert unknown == ["unknown", "unknown"], tim  # TIM's are null in the catalogue (unconfirmed)
    assert facts["tim"]["pay_from_abroad"] is None and facts["tim"]["needs_codice_fiscale"] is None


@pytest.mark.parametrize("lang", ["it", "en", "zh"])
def test_the_operators_page_shows_them_in_each_language(tmp_path, lang):
    words = WORDS[lang]
    with TestClient(create_app(f"sqlite:///{tmp_path / 'facts.db'}")) as client:
        html = client.get("/operators", headers={"Accept-Language": lang}).text
    assert escape(words["pay_from_abroad"]) in html and escape(words["needs_codice_fiscale"]) in html
    row = next(r for r in html.split("<tr>") if "/offers?operator=tim" in r)
    cells = row.split("<td>")[-2:]
    assert all(c.startswith(words["unknown"] + "</td>") for c in cells), cells
    assert {"it": "non noto", "en": "unknown", "zh": "未知"}[lang] == words["unknown"]
