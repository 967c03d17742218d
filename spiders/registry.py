"""Which operators have a spider and where it lives, derived rather than listed.

An operator has a spider when the operator catalogue (`contract/operators.json`) names it and the module
`spiders/<slug>.py` exists; that module defines the OperatorSpider subclass whose `operator` is the slug. So a new
operator is one catalogue entry, one spider module and one fixture folder (tests/test_operator_layout.py checks
that none is forgotten). Importing this module imports no spider: it only looks for the module files.
"""

from __future__ import annotations

import importlib
import importlib.util

from contract.catalogue import load as load_catalogue


def _spider_modules() -> dict[str, str]:
    modules = {}
    for slug in load_catalogue():
        name = f"{__package__}.{slug}"
        if importlib.util.find_spec(name) is not None:
            modules[slug] = name
    return modules


#: slug -> module under `spiders` (its spider class is the module's OperatorSpider subclass), in catalogue order
OPERATORS: dict[str, str] = _spider_modules()


def spider_class(operator: str):
    from spiders.base import OperatorSpider

    if operator not in OPERATORS:
        raise KeyError(f"unknown operator {operator!r}; known: {', '.join(OPERATORS)}")
    module = importlib.import_module(OPERATORS[operator])
    for obj in vars(module).values():
        if isinstance(obj, type) and issubclass(obj, OperatorSpider) and getattr(obj, "operator", "") == operator:
            return obj
    raise LookupError(f"module {OPERATORS[operator]} defines no spider for {operator!r}")
