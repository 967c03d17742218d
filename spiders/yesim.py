"""Yesim: the Italy plans from the page's `__NEXT_DATA__` props, whose base prices are euro cents.

The page is server-rendered by Next.js; its props hold the standard and the unlimited plans with
`vanillaPrice` in euro cents (the displayed price is that times the visitor currency's rate), the validity and
the host networks (../shared/operators-esim.md §11). The `currency=EUR` cookie asks for euro on the page too
(robots.txt disallows query strings); the site answers only a browser-like User-Agent.
"""

from __future__ import annotations

import json

from contract.offer import network_name
from spiders.travel_esim import TravelEsimSpider

PAGE = "https://yesim.app/country/italy/"
_UNITS_GB = {"GB": 1.0, "MB": 1 / 1024}


class YesimSpider(TravelEsimSpider):
    """What the parser relies on in `<script id="__NEXT_DATA__">` → `props.pageProps`:
    - `standardPlans[]` and `unlimitedPlans[]`: `id`, `unlimited`, `validityPeriod` (days), `vanillaPrice`
      (integer euro cents: stored as EUR whatever the page's display currency), `dataAmount{amount, unit, inGb}`,
      `destinations[].direction.iso` + `operators[].name` (Italy's host networks), `free` (a trial: skipped);
    - `currency{code, rate}` is the display currency: not used for the stored price.
    """

    operator = "yesim"
    start_urls = [PAGE]
    page = PAGE
    cards = "script#__NEXT_DATA__"
    min_offers = 6
    start_cookies = {"currency": "EUR"}

    def parse(self, response):
        data = response.css("script#__NEXT_DATA__::text").get()  # a page that is not HTML raises here
        try:
            props = json.loads(data or "")["props"]["pageProps"]
        except (ValueError, KeyError, TypeError):
            self.logger.error("yesim: no __NEXT_DATA__ page props on %s", response.url)
            return
        for plan in [*(props.get("standardPlans") or []), *(props.get("unlimitedPlans") or [])]:
            if isinstance(plan, dict) and not plan.get("free"):
                yield self.yesim_plan(plan)

    def yesim_plan(self, p: dict) -> dict:
        unlimited = bool(p.get("unlimited"))
        amount = p.get("dataAmount") or {}
        gb = amount.get("inGb")
        if gb is None and amount.get("amount") is not None:
            gb = float(amount["amount"]) * _UNITS_GB.get(str(amount.get("unit")).upper(), 0) or None
        networks = [
            network_name(o.get("name"))
            for d in p.get("destinations") or []
            if str(((d.get("direction") or {}).get("iso")) or "").upper() in ("IT", "ITA")
            for o in d.get("operators") or []
        ]
        price = p.get("vanillaPrice")
        return self.plan(
            days=p.get("validityPeriod"),
            price_cents=price if isinstance(price, int) and not isinstance(price, bool) else None,
            currency="EUR",
            gb=None if unlimited else (round(float(gb), 2) if gb else None),
            unlimited=unlimited,
            networks=[n for n in networks if n],
        )
