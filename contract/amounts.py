"""Amounts people type: euro (in cents) and GB, as the command line's options and the web's filters read them.

One parser for both, so `promowatch offers --max-price 9,99` and `/offers?max_price=9,99` accept and refuse the
same text with the same one-line reason (what was typed, where, what to write instead).
"""

from __future__ import annotations

import re
from typing import Optional

MONEY_FORMAT = "an amount of zero or more with at most two decimals, e.g. 9,99 or 9.99 or 10"
_MONEY = re.compile(r"^\s*€?\s*(\d+)(?:[.,](\d{1,2}))?\s*€?\s*$")
GB_FORMAT = "a number of GB of zero or more, e.g. 10 or 1,5"
_GB = re.compile(r"^\s*(\d+)(?:[.,](\d+))?\s*(?:GB)?\s*$", re.IGNORECASE)


def money_option(text: Optional[str], flag: str) -> Optional[int]:
    """An amount in euro typed as an option, in cents: "9,99", "9.99", "10" (at most two decimals, not negative,
    no exponent, no thousands separator); ValueError naming the option and the accepted format otherwise."""
    if text is None:
        return None
    m = _MONEY.match(text)
    if not m:
        raise ValueError(f"{flag} {text!r} is not an amount in euro: write {MONEY_FORMAT}")
    units, decimals = m.group(1), (m.group(2) or "").ljust(2, "0")
    return int(units) * 100 + int(decimals)


def gb_option(text: Optional[str], flag: str) -> Optional[float]:
    """A quantity of GB typed as an option: "10", "1,5", "1.5" (not negative, not nan/inf, no exponent);
    ValueError naming the option and the accepted format otherwise."""
    if text is None:
        return None
    m = _GB.match(str(text))
    if not m:
        raise ValueError(f"{flag} {text!r} is not a number of GB: write {GB_FORMAT}")
    return float(f"{m.group(1)}.{m.group(2) or 0}")
