"""Which operators exist and where their spider lives. Importing this module imports no spider."""

from __future__ import annotations

import importlib

#: slug -> module under `spiders` (its spider class is the module's OperatorSpider subclass)
#: every operator of the contract (spiders.items.OPERATORS), in the same order
OPERATORS: dict[str, str] = {
    "tim": "spiders.tim",
    "vodafone": "spiders.vodafone",
    "windtre": "spiders.windtre",
    "iliad": "spiders.iliad",
    "ho": "spiders.ho",
    "very": "spiders.very",
    "kena": "spiders.kena",
    "postemobile": "spiders.postemobile",
    "coopvoce": "spiders.coopvoce",
    "fastweb": "spiders.fastweb",
    "spusu": "spiders.spusu",
    "unomobile": "spiders.unomobile",
    "lyca": "spiders.lyca",
    "tiscali": "spiders.tiscali",
    "sky": "spiders.sky",
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
