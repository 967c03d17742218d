"""esim.io: the Italy packages from the Next.js flight data the server streams into the page.

Since its move to the eSIMO Next.js platform the full packages array is inside the page's RSC flight chunks
(`self.__next_f.push([1, "…"])`), a JSON text split over script tags; the spider joins the chunks and decodes
the array there, where each package states its bytes, days, flags and price with its currency
(../shared/operators-esim.md §8). No way to choose the currency is known: prices are stored as stated (USD).
"""

from __future__ import annotations

import json
import re

from spiders.travel_esim import TravelEsimSpider, decimal_cents

PAGE = "https://esim.io/destinations/esim-italy"
_PUSH = re.compile(r"self\.__next_f\.push\(\[1,\s*(\"(?:[^\"\\]|\\.)*\")\]\)", re.S)
_PACKAGES = re.compile(r'"packages"\s*:\s*\[')
_GB = 1024**3


def flight_text(html: str) -> str:
    """The page's RSC flight stream: every `self.__next_f.push([1, "…"])` string, decoded, in order."""
    return "".join(json.loads(chunk) for chunk in _PUSH.findall(html))


def packages(flight: str) -> list[dict]:
    """Every object of every `"packages": [...]` array in the flight stream."""
    found: list[dict] = []
    decoder = json.JSONDecoder()
    for m in _PACKAGES.finditer(flight):
        try:
            array, _ = decoder.raw_decode(flight, m.end() - 1)
        except ValueError:
            continue
        found.extend(p for p in array if isinstance(p, dict))
    return found


class EsimioSpider(TravelEsimSpider):
    """What the parser relies on in each package of the flight stream's `packages` arrays:
    - `footprintType` "LOCAL" and `footprintCode` "IT": Italy's own plans (regional ones are skipped);
    - `data` (bytes; 2147483648 = 2 GB), `duration` + `durationUnit` ("DAYS"), `isUnlimited` (trusted over
      `data`, which some day plans fill with their daily allowance), `isRecurring` (a subscription);
    - `price{price, currency}` (the price paid; `originalPrice` is the struck-through one, not read);
    - `name` ("Italy 2 GB 30 Days").
    """

    operator = "esimio"
    start_urls = [PAGE]
    page = PAGE
    cards = "script"
    currency = "USD"
    min_offers = 5

    def parse(self, response):
        scripts = "\n".join(response.css("script::text").getall())  # a page that is not HTML raises here
        for p in packages(flight_text(scripts)):
            if str(p.get("footprintType")).upper() == "LOCAL" and str(p.get("footprintCode")).upper() == "IT":
                yield self.package(p)

    def package(self, p: dict) -> dict:
        price = p.get("price") or {}
        unlimited = p.get("isUnlimited") is True
        size = p.get("data")
        gb = round(size / _GB, 2) if isinstance(size, int) and not isinstance(size, bool) and size > 0 else None
        days = p.get("duration") if str(p.get("durationUnit")).upper() == "DAYS" else None
        recurring = p.get("isRecurring") is True
        return self.plan(
            days=days,
            price_cents=decimal_cents(price.get("price")),
            currency=str(price.get("currency") or "").upper() or None,
            gb=None if unlimited else gb,
            unlimited=unlimited,
            tier="recurring" if recurring else None,
            subscription=recurring,
            name=str(p.get("name") or "").strip() or None,
        )
