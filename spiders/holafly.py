"""Holafly: unlimited-data plans priced by days, read from the pricing island's props in the Italy page.

The page's price table shows only some durations, in the visitor's currency; the Astro island of the pricing
component carries every variant (1 to 90 days) with its price in about twenty currencies, so the spider reads
the euro price from there (../shared/operators-esim.md §3). `?currency=EUR` (allowed by robots.txt) asks for
euro in the rendered table too.
"""

from __future__ import annotations

import json

from spiders.travel_esim import TravelEsimSpider, decimal_cents

PAGE = "https://esim.holafly.com/esim-italy/"


def astro(value):
    """An Astro island prop decoded: `[0, value]` is a value (objects' values encoded again), `[1, [...]]` a
    list of encoded values."""
    if isinstance(value, list) and len(value) == 2 and value[0] in (0, 1):
        kind, inner = value
        if kind == 1:
            return [astro(v) for v in inner]
        return {k: astro(v) for k, v in inner.items()} if isinstance(inner, dict) else inner
    if isinstance(value, dict):
        return {k: astro(v) for k, v in value.items()}
    return value


class HolaflySpider(TravelEsimSpider):
    """What the parser relies on in the page:
    - `<astro-island component-url="…ProductPricing…" props="…">`: the props JSON (HTML-escaped in the
      attribute), Astro-encoded (`astro`), with `variants`: each `days`, `gigas` ("unlimited" or a number of
      GB) and `currencies` {"EUR": 30.5, "USD": 32.9, ...};
    - the price stored is the EUR one; a variant without EUR is stored in USD (never converted here), one
      with neither is dropped as having no price.
    The server-rendered table (`pdp-table`) is not read: it lists only some durations.
    """

    operator = "holafly"
    start_urls = [PAGE + "?currency=EUR"]
    page = PAGE
    cards = "astro-island"
    min_offers = 5

    def parse(self, response):
        for island in response.css('astro-island[component-url*="ProductPricing"]'):
            try:
                props = astro(json.loads(island.attrib.get("props") or "{}"))
            except ValueError:
                self.logger.error("holafly: pricing props that are not JSON on %s", response.url)
                continue
            for v in props.get("variants") or []:
                if isinstance(v, dict):
                    yield self.variant(v)

    def variant(self, v: dict) -> dict:
        prices = v.get("currencies") or {}
        currency = next((c for c in ("EUR", "USD") if prices.get(c) is not None), "EUR")
        gigas = str(v.get("gigas") or "").strip().lower()
        unlimited = gigas == "unlimited"
        gb = None if unlimited else (float(gigas) if gigas.replace(".", "", 1).isdigit() else None)
        return self.plan(
            days=v.get("days"),
            price_cents=decimal_cents(prices.get(currency)),
            currency=currency,
            gb=gb,
            unlimited=unlimited,
        )
