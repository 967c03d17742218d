"""What a stay in Italy costs on each card a traveller could take: local SIMs, tourist SIMs and travel eSIMs on
one scale, the total for the whole stay.

A monthly price, a 15-day pack and a 7-day eSIM cannot be compared by their sticker price: a 30-day plan for a
45-day stay is paid twice, a pack shorter than the stay does not cover it, an eSIM is topped up. These rules turn
each card into what the stay costs and what to watch, on offer items alone (no database), so the command line,
the stay alerts and the web rank alike. A price in another currency is compared in euro only through the
converter the caller passes (contract/rates.py); one that cannot be converted is kept apart, never mixed.
What a card includes, what to watch and why an offer is left out are phrases: a code and its parameters
(`{"code": "fair_use", "cap": 3}`), worded in the reader's language by alerts/templates/<lang>/_stay.j2 (the
page, the alerts, the command's English), never English built here.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Callable

from contract.amounts import gb_option
from contract.catalogue import resolve_operator
from contract.clock import utcnow
from contract.offer import ESIM_PLAN_TYPES
from contract.offer_query import can_take_from

#: the travel eSIMs' plan types: a one-off trip plan (period_days = its validity) and one that renews by itself
ESIM_TRIP, ESIM_SUBSCRIPTION = ESIM_PLAN_TYPES
#: (cents, ISO currency) -> euro cents, or None when there is no rate for that currency
ToEur = Callable[[int, str], "int | None"]
#: a stay is counted in hours, so a plan whose data lasts a day and a half covers exactly that
_HOURS = 24
#: the longest stay ranked (a year and a day): beyond it a local contract is no longer a "stay"
MAX_DAYS = 366
#: the first and last day a stay can start on
ARRIVALS = (date(2000, 1, 1), date(2099, 12, 31))

_AGE = ("under_18", "under_30", "over_60")
#: a phrase: {"code": what it says, **its parameters}, JSON as it is (a stay subscription stores its card's)
Phrase = dict


def phrase(code: str, **params) -> Phrase:
    return {"code": code, **params}


def unique(phrases) -> list[Phrase]:
    """The phrases without repeats, in order."""
    seen: dict[str, Phrase] = {}
    for p in phrases:
        seen.setdefault(json.dumps(p, sort_keys=True), p)
    return list(seen.values())


class StayInputError(ValueError):
    """A stay typed wrong: one English line (the command's) and `code` + `params` for a page in another language."""

    def __init__(self, message: str, code: str, **params):
        super().__init__(message)
        self.code, self.params = code, params


def eur_only(cents: int, currency: str) -> int | None:
    """The converter without rates: euro passes through, any other currency cannot be converted."""
    return int(cents) if currency == "EUR" else None


def converter(rates) -> tuple[ToEur, str | None]:
    """The euro converter of `rates` (a contract.rates.Rates; None: euro only) and the day of its rates."""
    return (rates.to_eur_cents, rates.day.isoformat()) if rates is not None else (eur_only, None)


@dataclass(frozen=True)
class Stay:
    """What the traveller needs: the days, the GB over the whole stay, and what they can or want to take."""

    days: int
    gb: float = 0.0
    only_5g: bool = False
    #: the Italian operator whose number they could bring by porting (None: no Italian number)
    origin: str | None = None
    esim_only: bool = False
    #: the day they arrive: promotions that end before it are over (None: today, UTC)
    arrive: date | None = None

    def __post_init__(self):
        if isinstance(self.days, bool) or not isinstance(self.days, int) or not 1 <= self.days <= MAX_DAYS:
            raise ValueError(f"days {self.days!r}: a whole number of days from 1 to {MAX_DAYS}")
        if isinstance(self.gb, bool) or not isinstance(self.gb, (int, float)) or not 0 <= self.gb < math.inf:
            raise ValueError(f"gb {self.gb!r}: a number of GB of zero or more")

    @property
    def arrival(self) -> date:
        return self.arrive or utcnow().date()


def read_stay(
    days: int | str,
    gb: str | None = None,
    only_5g: bool = False,
    origin: str | None = None,
    esim_only: bool = False,
    arrive: str | None = None,
    prefix: str = "",
    known_operators=None,
) -> Stay:
    """The stay a traveller typed (the command's options, the web form's fields, named `prefix` + name: "--days"
    or "days"); ValueError with one line saying which field, what was given and what to write."""
    text = str(days).strip()
    if not re.fullmatch(r"\d{1,4}", text) or not 1 <= int(text) <= MAX_DAYS:
        raise StayInputError(
            f"{prefix}days {days}: give the days of your stay, a whole number from 1 to {MAX_DAYS}",
            "stay_days",
            value=str(days)[:40],
            max=MAX_DAYS,
        )
    try:
        need = gb_option(gb, f"{prefix}gb") if gb is not None and gb.strip() else None
    except ValueError as exc:
        raise StayInputError(str(exc), "stay_gb", value=str(gb)[:40]) from None
    if origin is not None and origin.strip():
        try:
            origin = resolve_operator(origin.strip(), known_operators, what=f"{prefix}from operator")
        except ValueError as exc:
            raise StayInputError(str(exc), "stay_from", value=origin.strip()[:40]) from None
    day = None
    if arrive is not None and arrive.strip():
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", arrive.strip()):
                raise ValueError
            day = date.fromisoformat(arrive.strip())
        except ValueError:
            raise StayInputError(
                f"{prefix}arrive {arrive!r} is not a day: use YYYY-MM-DD, e.g. 2026-09-15",
                "stay_arrive",
                value=arrive.strip()[:40],
            ) from None
        if not ARRIVALS[0] <= day <= ARRIVALS[1]:  # the costs count renewal days from it: no year 1 or 9999
            first, last = (d.isoformat() for d in ARRIVALS)
            raise StayInputError(
                f"{prefix}arrive {arrive.strip()!r} is out of range: give a day from {first} to {last}",
                "stay_arrive_range",
                value=arrive.strip(),
                first=first,
                last=last,
            )
    return Stay(int(text), need or 0.0, only_5g, origin or None, esim_only, day)


@dataclass
class Card:
    """One way to cover the stay: one plan (paid for as many periods as the stay spans) or a travel eSIM with
    its top-ups, bought from one operator or provider."""

    operator: str
    plan_type: str
    #: the plans bought, in order: the SIM or eSIM first, then its top-ups (an offer item per purchase)
    plans: list[dict]
    #: periods paid (a recurring plan: the periods the stay spans; an eSIM: the plans bought)
    periods: int
    currency: str
    #: the stay's cost in `currency`'s minor units: every period or plan, activation and SIM
    total_cents: int
    #: of which SIM and activation
    fees_cents: int
    #: the total in euro cents; None: no rate for `currency` (such a card is listed apart, never ranked)
    total_eur_cents: int | None
    #: the data needed is at full speed (False: an unlimited plan's fair-use cap is below the daily need)
    full_speed: bool = True
    #: what the card gives, a phrase each: the data and days (× periods or plans), 5G, networks, hotspot
    included: list[Phrase] = field(default_factory=list)
    #: what to watch, a phrase each: who may take it, fair use, currency, renewals, promotions ending
    watch: list[Phrase] = field(default_factory=list)

    @property
    def key(self) -> str:
        """`operator:offer_key`, top-ups joined with "+" (the same plan twice: twice)."""
        return f"{self.operator}:" + "+".join(p["offer_key"] for p in self.plans)

    def as_dict(self) -> dict:
        first = self.plans[0]
        return {
            "key": self.key,
            "operator": self.operator,
            "plan_type": self.plan_type,
            "offer_keys": [p["offer_key"] for p in self.plans],
            "name": " + ".join(dict.fromkeys(p["name"] for p in self.plans)),
            "url": first.get("url"),
            "periods": self.periods,
            "currency": self.currency,
            "total_cents": self.total_cents,
            "fees_cents": self.fees_cents,
            "total_eur_cents": self.total_eur_cents,
            "full_speed": self.full_speed,
            "included": list(self.included),
            "watch": list(self.watch),
        }


@dataclass(frozen=True)
class Excluded:
    """An offer no card of the ranking uses, and why: `code` for counting, `reason` the phrase that says it."""

    item: dict
    code: str
    reason: Phrase

    def as_dict(self) -> dict:
        item = self.item
        key = f"{item['operator']}:{item['offer_key']}"
        return {"key": key, "name": item.get("name"), "code": self.code, "reason": self.reason}


@dataclass
class StayCosts:
    stay: Stay
    #: the cards whose total is in euro, cheapest first
    ranked: list[Card]
    #: the cards whose price could not be converted to euro, by currency and total
    apart: list[Card]
    excluded: list[Excluded]

    def as_dict(self) -> dict:
        s = self.stay
        return {
            "stay": {"days": s.days, "gb": s.gb, "only_5g": s.only_5g, "origin": s.origin}
            | {"esim_only": s.esim_only, "arrive": s.arrival.isoformat()},
            "ranked": [{"rank": n} | c.as_dict() for n, c in enumerate(self.ranked, 1)],
            "apart": [c.as_dict() for c in self.apart],
            "excluded": [e.as_dict() for e in self.excluded],
        }


def _data(item: dict) -> dict:
    """A plan's data as a phrase's parameters: unlimited, or its GB (None: no data)."""
    return {"unlimited": bool(item.get("data_unlimited")), "gb": item.get("data_gb") or None}


def _refusal(item: dict, stay: Stay) -> tuple[str, Phrase] | None:
    """Why this traveller cannot take the offer (its eligibility and the origin they could port from), or None."""
    eligibility = item.get("eligibility") or "all"
    origins = item.get("eligible_from") or []
    operator = item["operator"]
    if eligibility == "existing_customer":
        return (
            None if stay.origin == operator else ("existing_customers", phrase("existing_customers", operator=operator))
        )
    if eligibility == "portability" or origins:
        if stay.origin is None:
            return "porting_only", phrase("porting_needed", operator=operator, origins=list(origins))
        if not can_take_from(item, stay.origin):
            if stay.origin == operator:
                return "porting_only", phrase("porting_own_operator", origin=stay.origin, operator=operator)
            return "porting_only", phrase("porting_not_from", origin=stay.origin, origins=list(origins))
    return None


def _who(item: dict, stay: Stay) -> list[Phrase]:
    """What to watch about who may take an offer this traveller can take."""
    eligibility = item.get("eligibility") or "all"
    watch = []
    if eligibility == "existing_customer":
        watch.append(phrase("existing_customers", operator=item["operator"]))
    elif eligibility == "portability" or item.get("eligible_from"):
        watch.append(phrase("porting_from", origin=stay.origin))
    if eligibility == "new_number":
        watch.append(phrase("new_numbers"))
    elif eligibility in _AGE:
        watch.append(phrase("age", group=eligibility))
    elif eligibility == "foreign_born":
        watch.append(phrase("foreign_born"))
    return watch


def _fair_use(plans: list[dict], stay: Stay) -> tuple[bool, list[Phrase]]:
    """Whether the GB needed are at full speed on these plans' unlimited data, and what to watch about it."""
    full, watch = True, []
    for plan in {p["offer_key"]: p for p in plans if p.get("data_unlimited")}.values():
        cap = plan.get("fair_use_gb_per_day")
        if cap is None:
            watch.append(phrase("fair_use_unpublished"))
            continue
        if cap * stay.days >= stay.gb:
            watch.append(phrase("fair_use", cap=cap))
        else:
            full = False
            after = plan["throttled_kbps"] / 1000 if plan.get("throttled_kbps") else None
            watch.append(phrase("fair_use_short", cap=cap, need=round(stay.gb / stay.days, 1), after_mbps=after))
    return full, watch


def _extras(item: dict) -> list[Phrase]:
    out = []
    if item.get("data_5g"):
        out.append(phrase("5g", capped=bool(item.get("data_5g_limited"))))
    if item.get("networks"):
        out.append(phrase("networks", networks=list(item["networks"])))
    if item.get("hotspot") is False:
        out.append(phrase("no_hotspot"))
    elif item.get("hotspot_gb") is not None:
        out.append(phrase("hotspot_gb", gb=item["hotspot_gb"]))
    return out


def _skip(item: dict, stay: Stay) -> tuple[str, Phrase] | None:
    """Why a plan is out of this stay whatever its cost (the traveller's wishes, the offer's end)."""
    if item.get("plan_type") == "home":
        return "smart_home", phrase("smart_home")
    if stay.only_5g and not item.get("data_5g"):
        return "not_5g", phrase("not_5g")
    if stay.esim_only and item.get("esim") is not True and item.get("plan_type") not in (ESIM_TRIP, ESIM_SUBSCRIPTION):
        return "not_esim", phrase("not_esim", stated=item.get("esim") is False)
    until = item.get("promo_until")
    if until and date.fromisoformat(until) < stay.arrival:
        return "promo_ended", phrase("promo_ended", until=until)
    if stay.gb > 0 and not item.get("data_unlimited") and not item.get("data_gb"):
        return "no_data", phrase("no_data")
    return None


def _card(plans: list[dict], periods: int, price: int, stay: Stay, to_eur: ToEur, rate_day: str | None) -> Card:
    """A card from the plans bought and what they cost in their currency (SIM and activation of the first added)."""
    first = plans[0]
    currency = first.get("currency") or "EUR"
    fees = (first.get("sim_cents") or 0) + (first.get("activation_cents") or 0)
    full, watch = _fair_use(plans, stay)
    return Card(
        operator=first["operator"],
        plan_type=first.get("plan_type") or "prepaid",
        plans=plans,
        periods=periods,
        currency=currency,
        total_cents=price + fees,
        fees_cents=fees,
        total_eur_cents=to_eur(price + fees, currency),
        full_speed=full,
        watch=watch + _currency_watch(currency, to_eur, rate_day),
    )


def _currency_watch(currency: str, to_eur: ToEur, rate_day: str | None) -> list[Phrase]:
    if currency == "EUR":
        return []
    if to_eur(100, currency) is None:
        return [phrase("no_rate", currency=currency)]
    return [phrase("converted", currency=currency, day=rate_day)]


def _recurring(item: dict, stay: Stay, to_eur: ToEur, rate_day: str | None) -> Card | Excluded:
    """A plan paid per period (local SIMs, eSIM subscriptions): every period the stay spans; its data a period
    must cover that period's share of the GB (used evenly over the stay)."""
    period = max(int(item["period_days"]), 1)
    periods = math.ceil(stay.days / period)
    share = stay.gb * min(period, stay.days) / stay.days
    if not item.get("data_unlimited") and stay.gb > 0 and (item.get("data_gb") or 0) < share:
        reason = phrase("too_little_data_period", **_data(item), days=period, need=round(share, 1))
        return Excluded(item, "too_little_data", reason)
    opening = item["price_cents"] if item.get("first_period_cents") is None else item["first_period_cents"]
    card = _card([item], periods, opening + item["price_cents"] * (periods - 1), stay, to_eur, rate_day)
    card.included = [
        phrase("data_per_period", **_data(item), days=period, periods=periods)
        if periods > 1
        else phrase("data_for", **_data(item), days=period, times=1),
        *_extras(item),
    ]
    if item.get("first_period_cents") is not None and item["first_period_cents"] != item["price_cents"]:
        cheaper = item["first_period_cents"] < item["price_cents"]
        card.watch.append(phrase("first_period", days=period, cheaper=cheaper))
    if item.get("plan_type") == ESIM_SUBSCRIPTION:
        card.watch.append(phrase("renews"))
    elif item.get("plan_type") == "postpaid":
        card.watch.append(phrase("postpaid"))
    until = item.get("promo_until")
    last_renewal = stay.arrival + timedelta(days=period * (periods - 1))
    if until and periods > 1 and date.fromisoformat(until) < last_renewal:
        card.watch.append(phrase("promo_ends_during", until=until))
    return card


def _tourist(item: dict, stay: Stay, to_eur: ToEur, rate_day: str | None) -> Card | Excluded:
    """A tourist pack is bought once and lasts its validity: it must cover the whole stay and all its GB."""
    valid = int(item["period_days"])
    if valid < stay.days:
        return Excluded(item, "too_short", phrase("too_short", valid=valid, days=stay.days))
    if not item.get("data_unlimited") and (item.get("data_gb") or 0) < stay.gb:
        return Excluded(item, "too_little_data", phrase("too_little_data_pack", **_data(item), need=stay.gb))
    card = _card([item], 1, item["price_cents"], stay, to_eur, rate_day)
    card.included = [phrase("data_for", **_data(item), days=valid, times=1), *_extras(item)]
    return card


def _hours(item: dict, stay: Stay, full_speed: bool) -> int:
    """How many hours of the stay one eSIM plan covers, the GB used evenly: until its days or its data run out.
    Unlimited data lasts its days; with `full_speed`, only when its fair-use cap covers the daily need."""
    valid = int(item["period_days"]) * _HOURS
    if item.get("data_unlimited"):
        cap = item.get("fair_use_gb_per_day")
        return 0 if full_speed and cap is not None and cap * stay.days < stay.gb else valid
    if stay.gb <= 0:
        return valid
    return min(valid, math.floor((item.get("data_gb") or 0) * stay.days * _HOURS / stay.gb + 1e-9))


def _cheapest_topups(topups: list[tuple[dict, int]], need: int) -> tuple[int, list[dict]]:
    """The cheapest set of plans (each with the hours it covers, at least one) covering `need` hours, at equal cost
    the fewest: cost[h] is the cheapest (cost, plans) for at least h hours, `last[h]` the plan that reached it."""
    cost: list[tuple[float, int]] = [(0, 0)] + [(math.inf, 0)] * need
    last = [-1] * (need + 1)
    for h in range(1, need + 1):
        for n, (plan, hours) in enumerate(topups):
            before = cost[max(h - hours, 0)]
            if (before[0] + plan["price_cents"], before[1] + 1) < cost[h]:
                cost[h], last[h] = (before[0] + plan["price_cents"], before[1] + 1), n
    bought, h = [], need
    while h > 0:
        plan, hours = topups[last[h]]
        bought.append(plan)
        h = max(h - hours, 0)
    return int(cost[need][0]), bought


def _cheapest_esim(plans: list[dict], stay: Stay, full_speed: bool) -> list[dict] | None:
    """The cheapest plan, or set of plans bought one after another (top-ups: only plans that can be topped up),
    covering every hour of the stay; at equal cost the fewest plans. None when nothing covers it."""
    need = stay.days * _HOURS
    cover = [(p, _hours(p, stay, full_speed)) for p in plans]
    ways = [(p["price_cents"], 1, [p]) for p, h in cover if h >= need]  # plans sorted by price: the first wins
    topups = [(p, h) for p, h in cover if h > 0 and p.get("topup") is True]
    if topups:
        price, bought = _cheapest_topups(topups, need)
        bought.sort(key=lambda p: (-_hours(p, stay, full_speed), p["price_cents"], p["offer_key"]))
        ways.append((price, len(bought), bought))
    return min(ways, key=lambda w: w[:2])[2] if ways else None


def _esim_trips(plans: list[dict], stay: Stay, to_eur: ToEur, rate_day: str | None) -> list[Card]:
    """One provider's trip plans (one currency): the cheapest way at full speed and, where cheaper, the cheapest
    one whose unlimited data slows down after its fair-use cap."""
    cards: list[Card] = []
    plans = sorted(plans, key=lambda p: (p["price_cents"], p["offer_key"]))
    for full_speed in (True, False):
        bought = _cheapest_esim(plans, stay, full_speed)
        if bought is None:
            continue
        card = _card(bought, len(bought), sum(p["price_cents"] for p in bought), stay, to_eur, rate_day)
        if cards and card.total_cents >= cards[0].total_cents:
            continue
        plan = {p["offer_key"]: p for p in bought}
        parts = [
            phrase("data_for", **_data(plan[k]), days=int(plan[k]["period_days"]), times=n)
            for k, n in Counter(p["offer_key"] for p in bought).items()
        ]
        card.included = [parts[0] if len(parts) == 1 else phrase("combined", parts=parts), *_extras(bought[0])]
        if len(bought) > 1:
            card.watch.insert(0, phrase("topups", plans=len(bought)))
        cards.append(card)
    return cards


def stay_costs(items: list[dict], stay: Stay, to_eur: ToEur = eur_only, rate_day: str | None = None) -> StayCosts:
    """Every card a traveller could take for `stay`, cheapest total first; cards priced in a currency `to_eur`
    cannot convert apart; the offers left out with their reason. `rate_day` names the day of the rates `to_eur`
    uses (shown beside a converted price)."""
    cards: list[Card] = []
    excluded: list[Excluded] = []
    trips: dict[tuple[str, str], list[dict]] = {}
    for item in items:
        skip = _skip(item, stay) or _refusal(item, stay)
        if skip is not None:
            excluded.append(Excluded(item, *skip))
        elif item.get("plan_type") == ESIM_TRIP:
            trips.setdefault((item["operator"], item.get("currency") or "EUR"), []).append(item)
        else:
            made = (_tourist if item.get("plan_type") == "tourist" else _recurring)(item, stay, to_eur, rate_day)
            if isinstance(made, Excluded):
                excluded.append(made)
            else:
                made.watch[:0] = _who(item, stay)
                cards.append(made)
    for (operator, _currency), plans in trips.items():
        found = _esim_trips(plans, stay, to_eur, rate_day)
        if not found:
            reason = phrase("does_not_cover", operator=operator, days=stay.days, gb=stay.gb)
            excluded.extend(Excluded(p, "does_not_cover", reason) for p in plans)
        for card in found:
            card.watch[:0] = unique(w for p in card.plans for w in _who(p, stay))
        cards.extend(found)
    ranked = sorted(
        (c for c in cards if c.total_eur_cents is not None),
        key=lambda c: (c.total_eur_cents, not c.full_speed, len(c.plans), c.operator, c.key),
    )
    apart = sorted((c for c in cards if c.total_eur_cents is None), key=lambda c: (c.currency, c.total_cents, c.key))
    excluded.sort(key=lambda e: (e.code, e.item["operator"], e.item["offer_key"]))
    return StayCosts(stay, ranked, apart, excluded)
