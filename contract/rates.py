"""Euro reference rates of one day, to compare a price kept in another currency with euro prices.

Prices stay in the currency the provider states (a travel eSIM sold only in USD is stored in USD); a comparison
in euro goes through the rates of one named day, read from the ECB's daily reference file
(`eurofxref-daily.xml`, "1 EUR = rate units") that whoever runs promowatch downloads and names in
PROMOWATCH_RATES_FILE. Nothing is fetched here and nothing is guessed: a currency the file does not list gives
None, and the caller says the price could not be converted instead of mixing currencies.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

_ECB = "{http://www.ecb.int/vocabulary/2002-08-01/eurofxref}Cube"
#: ISO 4217 currencies of the ECB's list whose minor unit is the unit itself (the others have cents)
_NO_DECIMALS = frozenset({"JPY", "ISK", "KRW"})


def decimals(currency: str) -> int:
    """Digits of the currency's minor unit (2 for EUR and USD: the *_cents fields hold cents)."""
    return 0 if currency.upper() in _NO_DECIMALS else 2


class BadRates(ValueError):
    """A rates file promowatch cannot read; the message is one line naming the file and what is wrong."""


@dataclass(frozen=True)
class Rates:
    day: date
    #: currency -> units of it for one euro
    per_eur: dict[str, Decimal] = field(default_factory=dict)

    @classmethod
    def from_ecb_xml(cls, text: str | bytes, where: str = "the rates file") -> Rates:
        """The rates of the ECB daily reference file's format (one `Cube time=` with `Cube currency= rate=`)."""
        try:
            root = ET.fromstring(text)
        except ET.ParseError as exc:
            raise BadRates(f"{where}: not the ECB reference rates XML ({exc})") from None
        days = [c for c in root.iter(_ECB) if c.get("time")]
        if len(days) != 1:
            raise BadRates(f"{where}: expected the rates of one day (eurofxref-daily.xml), found {len(days)} days")
        try:
            day = date.fromisoformat(days[0].get("time", ""))
            rates = {c.get("currency", "").upper(): Decimal(c.get("rate", "")) for c in days[0] if c.get("currency")}
        except (ValueError, InvalidOperation, AttributeError, TypeError):
            raise BadRates(f"{where}: a day or rate that is not a date or a number") from None
        if not rates or any(r <= 0 for r in rates.values()):
            raise BadRates(f"{where}: no usable rate for {day}")
        return cls(day, rates)

    @classmethod
    def load(cls, path: str | Path) -> Rates:
        path = Path(path).expanduser()
        try:
            text = path.read_bytes()
        except OSError as exc:
            raise BadRates(f"{path}: cannot read the rates file ({exc.strerror})") from None
        return cls.from_ecb_xml(text, str(path))

    def to_eur_cents(self, cents: int, currency: str) -> int | None:
        """`cents` minor units of `currency` in euro cents at this day's rate (rounded half up); EUR passes
        through; None for a currency the day's rates do not list."""
        currency = currency.upper()
        if currency == "EUR":
            return int(cents)
        rate = self.per_eur.get(currency)
        if rate is None:
            return None
        units = Decimal(int(cents)) / 10 ** decimals(currency)
        return int((units * 100 / rate).quantize(Decimal(1), rounding=ROUND_HALF_UP))
