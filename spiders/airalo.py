"""Airalo: the Italy packages from the JSON API its own site calls, in euro.

The Italy page (https://www.airalo.com/italy-esim) renders only the active tab and prices by the visitor's
IP; the API `GET /api/v4/countries/italy` returns every package, in the currency the `Accept-Currency` header
asks for, and the full catalogue only with `x-client-version: version2` (../shared/operators-esim.md §2).
"""

from __future__ import annotations

import re

from contract.offer import network_name
from spiders.travel_esim import TravelEsimSpider, decimal_cents, mb_to_gb

API = "https://www.airalo.com/api/v4/countries/italy"
PAGE = "https://www.airalo.com/italy-esim"
_FAIR_USE_GB = re.compile(r"(\d+(?:[.,]\d+)?)\s*GB", re.I)
_SPEED = re.compile(r"(\d+(?:[.,]\d+)?)\s*(kbps|mbps)", re.I)


def fair_use(text: str | None) -> tuple[float | None, int | None]:
    """(GB a day at full speed, kbps after it) from a fair-use sentence such as "Velocità ridotta a 1 Mbps dopo
    il consumo giornaliero di 3 GB"; None where it does not say."""
    text = str(text or "")
    gb = _FAIR_USE_GB.search(text)
    speed = _SPEED.search(text)
    kbps = None
    if speed:
        value = float(speed.group(1).replace(",", "."))
        kbps = int(value * 1000) if speed.group(2).lower() == "mbps" else int(value)
    return (float(gb.group(1).replace(",", ".")) if gb else None), kbps


class AiraloSpider(TravelEsimSpider):
    """What the parser relies on in the API's answer (`{"packages": [...]}`, one object per package):
    - `day` (validity in days), `amount` (MB; 1024 = 1 GB), `is_unlimited`, `is_stock` (false: not on sale,
      skipped), `type` ("sim"), `title`;
    - `price.minor_amount` (integer minor units, else `price.amount` "11.50") and `price.currency.code`: the
      currency stored is the one the answer names, whatever was asked;
    - `voice` / `text` non-empty: a data + calls bundle, not a travel data plan (skipped);
    - `fair_usage_policy`: the unlimited plans' sentence (GB a day, then the slower speed);
    - `operator.networks[].network`: the Italian host networks.
    A body that is not JSON, or JSON without `packages`, yields nothing: the crawl is unhealthy.
    """

    operator = "airalo"
    start_urls = [API]
    page = PAGE
    min_offers = 8
    start_headers = {"Accept-Currency": "EUR", "x-client-version": "version2", "Accept-Language": "en"}

    def parse(self, response):
        for p in self.json_list(response, "packages"):
            item = self.package(p) if isinstance(p, dict) else None
            if item is not None:
                yield item

    def package(self, p: dict) -> dict | None:
        if p.get("is_stock") is False or p.get("voice") or p.get("text"):
            return None
        price = p.get("price") or {}
        cents = price.get("minor_amount")
        if not isinstance(cents, int) or isinstance(cents, bool):
            cents = decimal_cents(price.get("amount"))
        currency = ((price.get("currency") or {}).get("code")) or None
        unlimited = bool(p.get("is_unlimited"))
        operator = p.get("operator") or {}
        networks = [network_name(str(n.get("network"))) for n in operator.get("networks") or [] if isinstance(n, dict)]
        gb_day, kbps = fair_use(p.get("fair_usage_policy")) if unlimited else (None, None)
        return self.plan(
            days=p.get("day"),
            price_cents=cents,
            currency=currency,
            gb=None if unlimited else mb_to_gb(p.get("amount")),
            unlimited=unlimited,
            name=p.get("title"),
            networks=[n for n in networks if n],
            fair_use_gb_per_day=gb_day,
            throttled_kbps=kbps,
        )
