"""The rooms import one way, down: contract <- storage <- alerts, spiders <- web <- promowatch, scheduler.py.

Each module's imports are read with `ast` (nothing is imported), so a lazy import inside a function counts
as much as one at the top. A new upward edge fails here with the file and line that made it.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ROOMS = ("contract", "storage", "alerts", "spiders", "web", "promowatch", "scheduler")
#: room -> the rooms of ours it may import
ALLOWED = {
    "contract": set(),
    "storage": {"contract"},
    "alerts": {"contract", "storage"},
    "spiders": {"contract", "storage"},
    # the site reads what storage holds and writes through alerts; it starts no crawl and no process
    "web": {"contract", "storage", "alerts"},
    "promowatch": {"contract", "storage", "alerts", "spiders", "web", "scheduler"},
    "scheduler": {"contract", "storage", "alerts", "spiders", "web", "promowatch"},
}
#: (module, imported module): known exceptions, each with the change that removes it
KNOWN_EXCEPTIONS: set[tuple[str, str]] = set()


def _modules():
    yield ROOT / "scheduler.py"
    for room in ROOMS[:-1]:
        yield from sorted((ROOT / room).rglob("*.py"))


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


def _edges():
    for path in _modules():
        rel = path.relative_to(ROOT).as_posix()
        room = rel.split("/")[0].removesuffix(".py")
        for line, module in _imports(path):
            target = module.split(".")[0]
            if target in ROOMS and target != room:
                yield rel, line, room, module, target


def test_the_rooms_are_all_read():
    rooms = {room for _, _, room, _, _ in _edges()}
    assert rooms >= {"storage", "alerts", "spiders", "web", "promowatch", "scheduler"}


def test_no_module_imports_from_a_room_above_it():
    upward = [
        f"{rel}:{line} imports {module} ({room} may import only {sorted(ALLOWED[room]) or 'nothing of ours'})"
        for rel, line, room, module, target in _edges()
        if target not in ALLOWED[room] and (rel, module) not in KNOWN_EXCEPTIONS
    ]
    assert upward == []


def test_the_known_exceptions_still_exist():
    """An exception that is gone must leave the list, so the rule does not stay weaker than the code."""
    found = {(rel, module) for rel, _, _, module, _ in _edges()}
    assert KNOWN_EXCEPTIONS <= found


@pytest.mark.parametrize("path", sorted(p.name for p in (ROOT / "contract").glob("*.py")))
def test_the_contract_imports_nothing_of_ours(path):
    ours = [m for _, m in _imports(ROOT / "contract" / path) if m.split(".")[0] in ROOMS[1:]]
    assert ours == []
