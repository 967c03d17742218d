"""What the travel-eSIM spiders share: one plan item from a provider's structured data, with a stable key.

A travel eSIM is priced by data and days, not by month, and sold by brands abroad: its price stays in the
currency the source states, its key is made of data + days + tier (never of the price or the title, which
change), and the terms the provider states for all its Italy plans (host networks, hotspot, top-up, the
fair use of unlimited plans) come from its catalogue entry (`contract/operators.json`) where the plan's own
data does not state them, so the facts are kept in one place. Not a spider module of an operator: the
registry only looks at modules named after catalogue entries.
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from contract.catalogue import load as load_catalogue
from spiders.base import OperatorSpider
from spiders.parsing import slug


def decimal_cents(value) -> int | None:
    """A decimal amount as JSON gives it ("11.50", 11.5, "11,50") in minor units; None when it is none."""
    if value is None or isinstance(value, bool) or str(value).strip() == "":
        return None
    try:
        amount = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation:
        return None
    if not amount.is_finite():
        return None
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def plan_key(gb: float | None, unlimited: bool, days: int | None, tier: str | None = None) -> str:
    """The plan's offer key: "3gb-7d", "unlimited-10d", "unlimited-5d-essential" (data + days + tier)."""
    data = "unlimited" if unlimited else f"{gb:g}gb".replace(".", "-")
    return "-".join(p for p in (data, f"{days}d", slug(tier) if tier else "") if p)


def mb_to_gb(mb) -> float | None:
    """Megabytes as sold (1024 MB = 1 GB; 500 MB = 0.5 GB) in GB, rounded to 2 decimals."""
    try:
        value = float(mb)
    except (TypeError, ValueError):
        return None
    return round(value / 1024, 2) if value > 0 else None


class TravelEsimSpider(OperatorSpider):
    """A travel-eSIM provider's spider: `plan(...)` makes one plan item. `page` is the Italy page a traveller
    reads (the start URL is often an API)."""

    cards: str | None = None  # the data is JSON (in the page or from an endpoint)
    page: str = ""

    def json_list(self, response, *path: str) -> list:
        """The list at `path` in a JSON answer (e.g. "product", "variants"); [] (logged: the crawl then finds
        no plan and is unhealthy) when the body is not JSON or has no list there."""
        try:
            found = json.loads(response.text)
            for key in path:
                found = found[key]
        except (ValueError, KeyError, TypeError):
            found = None
        if not isinstance(found, list):
            self.logger.error(
                "%s: %s has no %s list (%r...)", self.operator, response.url, ".".join(path), response.text[:80]
            )
            return []
        return found

    @property
    def facts(self) -> dict:
        return load_catalogue()[self.operator]

    def plan(
        self,
        *,
        days: int | None,
        price_cents: int | None,
        currency: str | None,
        gb: float | None = None,
        unlimited: bool = False,
        tier: str | None = None,
        name: str | None = None,
        subscription: bool = False,
        networks: list[str] | None = None,
        fair_use_gb_per_day: float | None = None,
        throttled_kbps: int | None = None,
        data_5g: bool = False,
        notes: str | None = None,
        url: str | None = None,
    ) -> dict:
        facts = self.facts
        data = "Unlimited" if unlimited else f"{gb:g} GB"
        title = f"{facts['name']} Italy {data} {days} day{'' if days == 1 else 's'}{f' ({tier})' if tier else ''}"
        if unlimited:
            fair_use_gb_per_day = fair_use_gb_per_day or facts["fair_use_gb_per_day"]
            throttled_kbps = throttled_kbps or facts["throttled_kbps"]
        return self.offer(
            offer_key=plan_key(gb, unlimited, days, tier),
            name=name or title,
            url=url or self.page,
            plan_type="esim_subscription" if subscription else "esim_trip",
            price_cents=price_cents,
            currency=currency,
            period_days=days,
            data_gb=None if unlimited else gb,
            data_unlimited=unlimited,
            data_5g=data_5g or facts["has_5g"] is True,
            esim=True,
            fair_use_gb_per_day=fair_use_gb_per_day,
            throttled_kbps=throttled_kbps,
            hotspot=facts["hotspot"],
            hotspot_gb=facts["hotspot_gb_per_day"],
            topup=facts["top_up"],
            networks=networks or [n for n in facts["networks"] or []],
            tier=tier,
            notes=notes,
        )
