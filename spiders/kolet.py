"""Kolet: every plan of every zone from its public catalogue API, priced in euro cents.

One anonymous request returns the whole catalogue (`plans[]`); the spider keeps Italy's own zone. Its USD
field has been seen as a 1-cent placeholder on every plan, so only the euro price is read
(../shared/operators-esim.md §10). Kolet has no Italy page: the offers link to its site.
"""

from __future__ import annotations

from spiders.travel_esim import TravelEsimSpider

API = "https://api.kolet.com/catalog/plans/anonymous"
SITE = "https://kolet.com/"


class KoletSpider(TravelEsimSpider):
    """What the parser relies on in `{"plans": [...]}`:
    - `zone{enabled, label, code, coverageType}`: Italy's plans are code "ITA", coverageType "local", enabled;
    - `allowanceInMb` (decimal megabytes: 1000 = 1 GB; rounded to 0.1 GB as the plans are sold),
      `durationInDays`, `priceInCentsEUR` (integer euro cents; `priceInCentsUSD` is not read).
    """

    operator = "kolet"
    start_urls = [API]
    page = SITE
    min_offers = 3

    def parse(self, response):
        for p in self.json_list(response, "plans"):
            zone = (p.get("zone") or {}) if isinstance(p, dict) else {}
            if str(zone.get("code")).upper() == "ITA" and zone.get("coverageType") == "local" and zone.get("enabled"):
                yield self.kolet_plan(p)

    def kolet_plan(self, p: dict) -> dict:
        mb, price = p.get("allowanceInMb"), p.get("priceInCentsEUR")
        gb = round(float(mb) / 1000, 1) if isinstance(mb, (int, float)) and not isinstance(mb, bool) else None
        return self.plan(
            days=p.get("durationInDays"),
            price_cents=price if isinstance(price, int) and not isinstance(price, bool) else None,
            currency="EUR",
            gb=gb or None,
        )
