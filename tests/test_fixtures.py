"""Every bundled fixture page parses to the offers kept beside it (`<page>.expected.json`), urlwatch style.

The fixture pages are written by us to reproduce each operator's documented structure; the expected
offers are data files, so adding a case is adding two files.
"""

import json
from pathlib import Path

import pytest
from conftest import FIXTURES

from contract.offer import normalise
from spiders.saved_page import parse_file

TODAY = "2026-09-15"
CASES = sorted(FIXTURES.glob("*/*.expected.json"))


def _case_id(path: Path) -> str:
    return f"{path.parent.name}/{path.name.removesuffix('.expected.json')}"


@pytest.mark.parametrize("expected_file", CASES, ids=[_case_id(p) for p in CASES])
def test_fixture_page_gives_expected_offers(expected_file):
    folder = expected_file.parent
    page = folder / expected_file.name.removesuffix(".expected.json")
    index = json.loads((folder / "index.json").read_text("utf-8"))
    files = {url: folder / (e if isinstance(e, str) else e["file"]) for url, e in index.items()}
    url = next(u for u, f in files.items() if f == page)
    got = [normalise(i) for i in parse_file(folder.name, page, url=url, today=TODAY, pages=files)]
    want = [normalise(i) for i in json.loads(expected_file.read_text("utf-8"))]
    assert [o["offer_key"] for o in got] == [o["offer_key"] for o in want]
    for g, w in zip(got, want, strict=False):
        assert g == w, f"{w['offer_key']} differs"


def test_every_operator_has_a_fixture_case():
    from spiders.registry import OPERATORS

    assert {p.parent.name for p in CASES} >= set(OPERATORS)
