"""Breeze (eSIM Go's shop): the Italy product's variants from the Shopify storefront JSON, in US dollars.

A Shopify shop publishes each product as JSON (`/products/<handle>.json`); the variants' SKUs encode data and
validity, which the variant titles do not always state (../shared/operators-esim.md §7). The shop's own
currency is USD (`/meta.json`) and `?currency=USD` pins it: the prices are stored in USD and compared in euro
only through a dated rate.
"""

from __future__ import annotations

import re

from spiders.travel_esim import TravelEsimSpider, decimal_cents

PAGE = "https://breezesim.com/products/esim-italy"
_SKU_GB = re.compile(r"(?:^|_)(\d+(?:\.\d+)?)(GB|MB)_(\d+)D(?:_|$)", re.I)
_SKU_UNLIMITED = re.compile(r"(?:^|_)UL([A-Z]?)_(\d+)D(?:_|$)", re.I)
#: the letter after "UL" in a SKU -> the unlimited plan's line as the shop names it
_UNLIMITED_TIERS = {"E": "Essential"}


class BreezeSpider(TravelEsimSpider):
    """What the parser relies on in `{"product": {"handle", "title", "variants": [...]}}`:
    - per variant `sku` ("esimd_3GB_30D_IT_V2", "esimd_ULE_5D_IT_V2" = Unlimited Essential 5 days, or the newer
      "2025h2_" prefix), `price` ("6.49", in the pinned currency USD), `available` (false: skipped),
      `option1` (the title a shopper sees);
    - a variant whose SKU encodes neither data and days nor an unlimited line is no plan we can read: it is
      dropped as such (no days), never guessed from its title.
    """

    operator = "breeze"
    start_urls = [PAGE + ".json?currency=USD"]
    currency = "USD"
    page = PAGE
    min_offers = 5

    def parse(self, response):
        for v in self.json_list(response, "product", "variants"):
            if isinstance(v, dict) and v.get("available") is not False:
                yield self.variant(v)

    def variant(self, v: dict) -> dict:
        sku = str(v.get("sku") or "")
        fixed, unlimited = _SKU_GB.search(sku), _SKU_UNLIMITED.search(sku)
        gb = days = tier = None
        if fixed:
            gb = float(fixed.group(1)) / (1024 if fixed.group(2).upper() == "MB" else 1)
            days = int(fixed.group(3))
        elif unlimited:
            tier = _UNLIMITED_TIERS.get(unlimited.group(1).upper(), unlimited.group(1).upper() or None)
            days = int(unlimited.group(2))
        title = str(v.get("option1") or v.get("title") or "").strip()
        return self.plan(
            days=days,
            price_cents=decimal_cents(v.get("price")),
            currency=self.currency,
            gb=round(gb, 2) if gb is not None else None,
            unlimited=bool(unlimited) and not fixed,
            tier=tier,
            name=f"Breeze Italy {title}" if title else None,
        )
