"""What a person asks of the stored offers: filters and orderings over offer items.

The rules here (who can take an offer when coming from operator X, what €/GB means for an unlimited
offer) are the single definition used by `promowatch offers` and by alert matching, so a subscriber's
filter and the table they check it against always agree. Nothing here touches the database (it works
on offer items), so it lives in `contract/` beside the offer it reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from contract.rates import Rates

#: eligibilities a person porting their number from another operator can still take
_PORTING_OK = frozenset({"all", "portability", "under_18", "under_30", "over_60", "foreign_born"})
SORTS = ("price", "gb", "eur-per-gb", "year", "operator")
#: plan types bought once for a stay, not renewed: their 12-month cost is one purchase
ONE_OFF = ("tourist", "esim_trip")


def can_take_from(item: dict, origin: str) -> bool:
    """Can a customer of `origin` take this offer by porting their number to its operator?

    Not an offer of `origin` itself, not one for new numbers or existing customers only, and, where the
    offer names the operators whose customers may take it, `origin` must be one of them.
    """
    if item["operator"] == origin or item.get("eligibility", "all") not in _PORTING_OK:
        return False
    allowed = item.get("eligible_from") or []
    return not allowed or origin in allowed


def eur_cents(item: dict, rates: Rates | None = None, cents: int | None = None) -> int | None:
    """`cents` (default: the price) of the item's currency in euro cents: as they are for EUR, else through the
    day's `rates`; None when there is no rate (a price in another currency is never compared as if euro)."""
    cents = item["price_cents"] if cents is None else cents
    currency = item.get("currency") or "EUR"
    if currency == "EUR":
        return cents
    return rates.to_eur_cents(cents, currency) if rates is not None else None


def eur_per_gb_cents(item: dict, rates: Rates | None = None) -> float | None:
    """Euro cents per GB of one period: 0 for unlimited data, None for an offer without data or without a rate
    for its currency."""
    if item.get("data_unlimited"):
        return 0.0
    gb = item.get("data_gb")
    price = eur_cents(item, rates)
    if not gb or price is None:
        return None
    return price / gb


def per_30_days(item: dict, amount: float) -> float:
    """An amount of one period scaled to 30 days (a 1-day pass at 3 € costs 90 € over 30 days)."""
    return amount * 30 / max(int(item.get("period_days") or 30), 1)


def ranking_eur_per_gb(item: dict, unlimited_gb: float | None, rates: Rates | None = None) -> float | None:
    """Euro cents per GB over 30 days, for ranking: the 30-day price over the 30-day GB, unlimited data counted
    as `unlimited_gb` (the most a bundle among those ranked gives in 30 days; None: unlimited ranks as 0 €/GB).
    None for an offer without data or without a rate for its currency."""
    price = eur_cents(item, rates)
    if price is None:
        return None
    if item.get("data_unlimited"):
        return per_30_days(item, price) / unlimited_gb if unlimited_gb else 0.0
    if not item.get("data_gb"):
        return None
    return per_30_days(item, price) / per_30_days(item, item["data_gb"])


def comparable_gb(item: dict) -> float:
    """The GB a "at least N GB" filter compares: infinite for unlimited data, 0 for an offer without data."""
    if item.get("data_unlimited"):
        return float("inf")
    return float(item.get("data_gb") or 0)


def twelve_month_cents(item: dict) -> int:
    """What the first 12 months cost: every period's price (first period's own where given), activation, SIM."""
    period = max(int(item.get("period_days") or 30), 1)
    periods = max(1, round(365 / period)) if item.get("plan_type") not in ONE_OFF else 1
    first = item.get("first_period_cents")
    recurring = item["price_cents"] * periods if first is None else first + item["price_cents"] * (periods - 1)
    return recurring + (item.get("activation_cents") or 0) + (item.get("sim_cents") or 0)


def year_eur_cents(item: dict, rates: Rates | None = None) -> int | None:
    """twelve_month_cents in euro cents (None: no rate for the item's currency)."""
    return eur_cents(item, rates, twelve_month_cents(item))


def _none_last(value) -> tuple:
    return (value is None, value or 0)


def _at_most(value, limit) -> bool:
    return value is not None and value <= limit


@dataclass
class OfferFilter:
    operators: set[str] = field(default_factory=set)
    plan_types: set[str] = field(default_factory=set)
    max_price_cents: int | None = None
    min_gb: float | None = None
    only_5g: bool = False
    origin: str | None = None
    #: at most this many cents per GB (eur_per_gb_cents: unlimited is 0, an offer without data never passes)
    max_eur_per_gb_cents: float | None = None
    #: at most this much over the first 12 months (twelve_month_cents)
    max_year_cents: int | None = None
    #: only offers for these groups of people (contract.offer.ELIGIBILITY: "foreign_born", ...); empty: anyone's
    eligibilities: set[str] = field(default_factory=set)
    #: the euro rates a price in another currency is compared through (None: such a price passes no
    #: price filter, since it cannot be compared)
    rates: Rates | None = None

    def matches(self, item: dict) -> bool:
        if self.operators and item["operator"] not in self.operators:
            return False
        if self.plan_types and item["plan_type"] not in self.plan_types:
            return False
        if self.eligibilities and item.get("eligibility", "all") not in self.eligibilities:
            return False
        if self.max_price_cents is not None and not _at_most(eur_cents(item, self.rates), self.max_price_cents):
            return False
        if self.min_gb is not None and comparable_gb(item) < self.min_gb:
            return False
        if self.only_5g and not item.get("data_5g"):
            return False
        if self.max_eur_per_gb_cents is not None:
            if not _at_most(eur_per_gb_cents(item, self.rates), self.max_eur_per_gb_cents):
                return False
        if self.max_year_cents is not None and not _at_most(year_eur_cents(item, self.rates), self.max_year_cents):
            return False
        return self.origin is None or can_take_from(item, self.origin)


def sort_offers(items: list[dict], by: str = "operator", rates: Rates | None = None) -> list[dict]:
    """Cheapest first (in euro: a price without a rate for its currency after all others), most data first,
    cheapest GB over 30 days first (ranking_eur_per_gb: unlimited data counts as the biggest bundle among
    `items`, so a 1-day unlimited pass ranks after monthly plans; no-data offers last), cheapest first 12 months
    first (year_eur_cents), or by operator."""

    def euro(i):
        return _none_last(eur_cents(i, rates))

    if by == "price":
        key = lambda i: (*euro(i), i["operator"], i["offer_key"])  # noqa: E731
    elif by == "gb":
        key = lambda i: (0 if i.get("data_unlimited") else 1, -(i.get("data_gb") or 0), *euro(i))  # noqa: E731
    elif by == "eur-per-gb":
        bundles = [per_30_days(i, i["data_gb"]) for i in items if not i.get("data_unlimited") and i.get("data_gb")]
        unlimited_gb = max(bundles, default=1.0)  # only unlimited offers: by their 30-day price

        def key(i):
            per_gb = ranking_eur_per_gb(i, unlimited_gb, rates)
            return (per_gb is None, per_gb or 0.0, *euro(i), i["operator"], i["offer_key"])
    elif by == "year":
        key = lambda i: (*_none_last(year_eur_cents(i, rates)), i["operator"], i["offer_key"])  # noqa: E731
    elif by == "operator":
        key = lambda i: (i["operator"], *euro(i), i["offer_key"])  # noqa: E731
    else:
        raise ValueError(f"unknown sort {by!r}; one of {', '.join(SORTS)}")
    return sorted(items, key=key)
