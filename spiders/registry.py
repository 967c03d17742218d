"""Which operators exist and where their spider lives. Importing this module imports no spider."""
from __future__ import annotations

import importlib

#: slug -> module under `spiders` (its spider class is the module's OperatorSpider subclass)
#: Operators with a spider (issue 3 adds the other ten).
OPERATORS: dict[str, str] = {
    "vodafone": "spiders.vodafone",
    "windtre": "spiders.windtre",
    "iliad": "spiders.iliad",
    "tim": "spiders.tim",
    "ho": "spiders.ho",
}


def spider_class(operator: str):
    from spiders.base import OperatorSpider

    if operator not in OPERATORS:
        raise KeyError(f"unknown operator {operator!r}; known: {', '.join(OPERATORS)}")
    module = importlib.import_module(OPERATORS[operator])
    for obj in vars(module).values():
        if isinstance(obj, type) and issubclass(obj, OperatorSpider) and getattr(obj, "operator", "") == operator:
            return obj
    raise LookupError(f"module {OPERATORS[operator]} defines no spider for {operator!r}")
