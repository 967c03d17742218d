"""Nomad: the Italy plans from the `vike_pageContext` JSON the server renders into the page.

The rendered cards put the struck-through list price before the sale price and the product API refuses plain
clients, but the page's own context JSON lists every plan with a price per currency
(../shared/operators-esim.md §5); the spider takes the euro price where the map has one, else the dollar
price, stored as such. The auto-renewing "Nomad Pass" is a subscription, never mixed with trip plans.
"""

from __future__ import annotations

import json
import re

from spiders.travel_esim import TravelEsimSpider, decimal_cents

PAGE = "https://www.nomadesim.com/en/italy-esim"
_PASS = re.compile(r"\bnomad\s+pass\b", re.I)
_UNITS_GB = {"GB": 1.0, "MB": 1 / 1024}


def plans_in(node):
    """Every list under a key "plans" in the document, flattened, in document order."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "plans" and isinstance(value, list):
                yield from (p for p in value if isinstance(p, dict))
            else:
                yield from plans_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from plans_in(value)


class NomadSpider(TravelEsimSpider):
    """What the parser relies on in `<script id="vike_pageContext">`: `plans[]` (anywhere in it), each with
    - `product.coverage.countries` (ISO2): Italy's own plans cover ["IT"] only;
    - `product.name` ("unlimited" in it for unlimited data; "Nomad Pass": the auto-renewing subscription),
      `product.service.data.amount` + `amount_unit`, `product.specification.duration` + `duration_unit` ("DAY");
    - `price{<currency>: {amount}}`: EUR when present, else USD.
    """

    operator = "nomad"
    start_urls = [PAGE]
    page = PAGE
    cards = "script#vike_pageContext"
    min_offers = 5

    def parse(self, response):
        data = response.css("script#vike_pageContext::text").get()  # a page that is not HTML raises here
        try:
            context = json.loads(data or "")
        except ValueError:
            self.logger.error("nomad: no vike_pageContext JSON on %s", response.url)
            return
        for p in plans_in(context):
            product = p.get("product") or {}
            countries = [str(c).upper() for c in (product.get("coverage") or {}).get("countries") or []]
            if countries == ["IT"]:
                yield self.nomad_plan(product, p.get("price") or {})

    def nomad_plan(self, product: dict, prices: dict) -> dict:
        name = str(product.get("name") or "").strip()
        spec = product.get("specification") or {}
        data = ((product.get("service") or {}).get("data")) or {}
        unlimited = "unlimited" in name.lower()
        gb = None
        if not unlimited and isinstance(data.get("amount"), (int, float)):
            gb = round(data["amount"] * _UNITS_GB.get(str(data.get("amount_unit")).upper(), 0), 2) or None
        days = spec.get("duration") if str(spec.get("duration_unit")).upper() == "DAY" else None
        currency = next((c for c in ("EUR", "USD") if isinstance(prices.get(c), dict)), "EUR")
        subscription = bool(_PASS.search(name))
        return self.plan(
            days=days,
            price_cents=decimal_cents((prices.get(currency) or {}).get("amount")),
            currency=currency,
            gb=gb,
            unlimited=unlimited,
            tier="pass" if subscription else None,
            subscription=subscription,
            name=f"Nomad {name}" if name and not name.lower().startswith("nomad") else name or None,
        )
