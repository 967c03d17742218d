"""Ubigi: the whole catalogue is one server-rendered page of plan rows with their figures in attributes.

The destination filter runs in the browser, so the spider keeps the rows whose country list is Italy alone
(../shared/operators-esim.md §6). `wmc-currency=EUR` asks the shop's multi-currency plugin for its euro price
list; the currency stored is the one the row's displayed price shows, so a page that ignored the parameter
is stored in its own currency, never relabelled.
"""

from __future__ import annotations

import re

from spiders.travel_esim import TravelEsimSpider, decimal_cents

PAGE = "https://cellulardata.ubigi.com/data-plans-and-coverage/ubigi-esim-data-plans/?destination=ITA"
_SYMBOLS = (("US$", "USD"), ("€", "EUR"), ("EUR", "EUR"), ("£", "GBP"), ("USD", "USD"))
_FUP = re.compile(r"_FUP(\d+)\b", re.I)
#: data-allowance values that mean unlimited; data-validity's sentinel of a monthly plan
_UNLIMITED, _MONTHLY = ("1000", "1001"), "1000"


def shown_currency(text: str) -> str | None:
    return next((code for symbol, code in _SYMBOLS if symbol in text), None)


class UbigiSpider(TravelEsimSpider):
    """What the parser relies on in the page: every `<div class="plan row">` carries
    - `data-plantype` ("COUNTRY"), `data-iso` / `data-countrylist` (ISO3): Italy's own plans are the rows whose
      country list is exactly "ITA";
    - `data-type`: "one-off" (a trip plan), "monthly" / "annual" (renewing: esim_subscription, 30 / 365 days);
    - `data-allowance` (GB; 1000 or 1001 = unlimited), `data-validity` (days; 1000 = monthly);
    - `data-price` (a decimal in the page's currency) and the displayed price `<span class="tip">` whose symbol
      names that currency;
    - `datafld` (the plan code): a `_FUP<n>` suffix marks a fair-use cap whose unit the page does not explain,
      so it goes to the notes, not into the fair-use fields.
    """

    operator = "ubigi"
    start_urls = [PAGE + "&wmc-currency=EUR"]
    page = PAGE
    cards = "div.plan.row"
    min_offers = 5

    def parse(self, response):
        for row in response.css("div.plan.row"):
            a = row.attrib
            countries = (a.get("data-countrylist") or a.get("data-iso") or "").replace(" ", "").upper()
            if a.get("data-plantype", "").upper() != "COUNTRY" or countries != "ITA":
                continue
            yield self.row(a, " ".join(row.css("span.tip ::text").getall()))

    def row(self, a: dict, shown: str) -> dict:
        kind = (a.get("data-type") or "").lower()
        allowance, validity = (a.get("data-allowance") or "").strip(), (a.get("data-validity") or "").strip()
        unlimited = allowance in _UNLIMITED
        days: int | None
        tier: str | None
        if kind == "monthly" or validity == _MONTHLY:
            days, tier = 30, "monthly"
        elif kind == "annual":
            days, tier = 365, "annual"
        else:
            days, tier = int(validity) if validity.isdigit() else None, None
        code = a.get("datafld") or ""
        fup = _FUP.search(code)
        return self.plan(
            days=days,
            price_cents=decimal_cents(a.get("data-price")),
            currency=shown_currency(shown) or "EUR",
            gb=None if unlimited else (float(allowance) if allowance.replace(".", "", 1).isdigit() else None),
            unlimited=unlimited,
            tier=tier,
            subscription=kind in ("monthly", "annual"),
            notes=f"fair-use code {fup.group(0).lstrip('_')} on the plan" if fup else None,
        )
