"""A new operator is one catalogue entry, one spider module and one fixture folder; forgetting one fails here.

The spider registry is derived from the catalogue and the modules under `spiders/`, so nothing else lists
operators by hand: these checks are what tell a newcomer which of the three is missing.
"""

import ast
from pathlib import Path

import pytest

from contract.catalogue import load
from spiders.registry import OPERATORS, spider_class

ROOT = Path(__file__).resolve().parents[1]
SPIDERS = ROOT / "spiders"
CATALOGUE = list(load())


def _spider_operators() -> dict[str, str]:
    """module file -> the `operator = "..."` its spider classes declare (read with ast, nothing imported)."""
    found = {}
    for path in sorted(SPIDERS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ClassDef):
                for stmt in node.body:
                    if (
                        isinstance(stmt, ast.Assign)
                        and any(isinstance(t, ast.Name) and t.id == "operator" for t in stmt.targets)
                        and isinstance(stmt.value, ast.Constant)
                        and stmt.value.value
                    ):
                        found[path.name] = stmt.value.value
    return found


@pytest.mark.parametrize("op", CATALOGUE)
def test_every_catalogue_operator_has_a_spider_module(op):
    assert (SPIDERS / f"{op}.py").is_file(), f"add spiders/{op}.py (its OperatorSpider with operator = {op!r})"
    assert OPERATORS[op] == f"spiders.{op}"
    spider = spider_class(op)
    assert spider.operator == op
    assert spider.cards is None or isinstance(spider.cards, str)  # the collection benchmark's card selector


@pytest.mark.parametrize("op", CATALOGUE)
def test_every_catalogue_operator_has_a_fixture_folder_with_an_expected_file(op):
    folder = SPIDERS / "fixtures" / op
    assert list(folder.glob("*.expected.json")), f"add spiders/fixtures/{op}/ with a page and its .expected.json"


def test_every_spider_module_operator_is_in_the_catalogue():
    spiders = _spider_operators()
    assert spiders, "no spider classes found"
    missing = {file: op for file, op in spiders.items() if op not in CATALOGUE}
    assert missing == {}, "add these operators to contract/operators.json"
    misplaced = {file: op for file, op in spiders.items() if file != f"{op}.py"}
    assert misplaced == {}, "a spider lives in spiders/<its operator>.py"


def test_the_registry_follows_the_catalogue_order():
    assert list(OPERATORS) == [op for op in CATALOGUE if op in OPERATORS]
