"""The offer item (docs/architecture.md): its fields, defaults, and the one validation every path uses.

It sits in `contract/`, the bottom room, because spiders produce offers, storage keeps them and alerts read
them: all import it, it imports none of them. `normalise()` is shared by the Scrapy pipeline and by
`promowatch parse` / `import`, so an item means the same thing whichever way it entered. It raises
`InvalidOffer(reason)`; the reason is the key the crawl's drop counts are kept under.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from datetime import date

from contract.catalogue import load

#: the valid operator slugs: the catalogue's, in its order
OPERATORS = tuple(load())
#: esim_trip: a travel eSIM's one-off plan (period_days = its validity); esim_subscription: one that renews
#: by itself (a monthly pass): the two are never compared as one kind
PLAN_TYPES = ("prepaid", "postpaid", "tourist", "data_only", "voice_only", "home", "esim_trip", "esim_subscription")
ESIM_PLAN_TYPES = ("esim_trip", "esim_subscription")
#: the Italian host networks an eSIM plan may name, as every item spells them (other spellings map to these)
NETWORK_NAMES = ("TIM", "Vodafone", "WindTre", "Iliad")
_NETWORK_SPELLINGS = {"tim": "TIM", "vodafone": "Vodafone", "windtre": "WindTre", "wind": "WindTre", "iliad": "Iliad"}
ELIGIBILITY = (
    "all",
    "new_number",
    "portability",
    "under_18",
    "under_30",
    "over_60",
    "existing_customer",
    "foreign_born",
)
#: the operators' recurring conditions, read from their Italian notes at parse time (spiders.parsing.note_flags),
#: so a message can say them in the reader's language; `list_price:<cents>` also names the struck-through price
FLAGS = (
    "price_for_ever",
    "price_locked",
    "online_only",
    "launch_price",
    "list_price",
    "first_month_free",
    "free_activation",
    "porting_only",
    "new_numbers_only",
    "new_customers_only",
    "auto_renew",
    "no_contract",
    "from_price",
    "fair_use",
)
REQUIRED = ("operator", "offer_key", "name", "url", "plan_type", "price_cents", "period_days")
#: field -> default for the optional fields
DEFAULTS: dict = {
    "first_period_cents": None,
    "activation_cents": None,
    "sim_cents": None,
    "data_gb": None,
    "data_unlimited": False,
    "data_5g": False,
    "data_5g_limited": False,
    "speed_cap_mbps": None,
    "eu_roaming_gb": None,
    "minutes": None,
    "sms": None,
    "minutes_unlimited": False,
    "sms_unlimited": False,
    "eligibility": "all",
    "eligible_from": [],
    "promo_until": None,
    "esim": None,
    "notes": None,
}
#: fields added after offers were first stored (the travel eSIMs, the notes' flags): they count in `content_hash`
#: only when they differ from their default, so the offers stored before them keep their hash
LATER_DEFAULTS: dict = {
    "currency": "EUR",  # ISO 4217; every *_cents field is in minor units of it
    "fair_use_gb_per_day": None,  # an "unlimited" plan's GB per day at full speed
    "throttled_kbps": None,  # the speed after the fair-use cap
    "hotspot": None,
    "hotspot_gb": None,
    "topup": None,
    "networks": [],  # Italian host networks (NETWORK_NAMES)
    "tier": None,  # a provider's plan line ("Unlimited Essential", a brand) where two plans share data and days
    "flags": [],  # the operators' recurring terms read from the notes (FLAGS)
}
DEFAULTS.update(LATER_DEFAULTS)
FIELDS = REQUIRED + tuple(DEFAULTS)
_CURRENCY = re.compile(r"[A-Z]{3}")
#: a recurring price above this is not a mobile offer but a parsing error (cents)
MAX_PRICE_CENTS = 200_00
MAX_FEE_CENTS = 500_00


class InvalidOffer(ValueError):
    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def _int(value, field):
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or (isinstance(value, float) and not value.is_integer())
    ):
        raise InvalidOffer(f"bad_{field}", repr(value))
    return int(value)


def _bool(value, field):
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    raise InvalidOffer(f"bad_{field}", repr(value))


def normalise(raw: dict) -> dict:
    """A complete, validated item with every field of the contract, in contract order."""
    if not isinstance(raw, dict):
        raise InvalidOffer("not_an_object", type(raw).__name__)
    unknown = set(raw) - set(FIELDS)
    if unknown:
        raise InvalidOffer("unknown_field", ", ".join(sorted(unknown)))
    item = {**DEFAULTS, **{k: v for k, v in raw.items() if v is not None or k not in DEFAULTS}}
    if item.get("operator") not in OPERATORS:
        raise InvalidOffer("unknown_operator", repr(item.get("operator")))
    if item.get("price_cents") is None:
        raise InvalidOffer("no_price", str(item.get("offer_key")))
    for field in ("offer_key", "name", "url"):
        if not isinstance(item.get(field), str) or not item[field].strip():
            raise InvalidOffer(f"no_{field}", repr(item.get(field)))
        item[field] = item[field].strip()
    if not item["url"].startswith(("http://", "https://")):
        raise InvalidOffer("bad_url", item["url"])
    if item.get("plan_type") not in PLAN_TYPES:
        raise InvalidOffer("bad_plan_type", repr(item.get("plan_type")))
    price = _int(item["price_cents"], "price")
    if price < 0:
        raise InvalidOffer("negative_price", str(price))
    if price == 0:  # "0,00"/"Gratis" as the recurring price is a misread; free first periods go in first_period_cents
        raise InvalidOffer("zero_price", item["offer_key"])
    if price > MAX_PRICE_CENTS:
        raise InvalidOffer("absurd_price", str(price))
    item["price_cents"] = price
    period = _int(item.get("period_days"), "period_days")
    if period is None or not 1 <= period <= 3660:
        raise InvalidOffer("bad_period_days", repr(item.get("period_days")))
    item["period_days"] = period
    for field in ("first_period_cents", "activation_cents", "sim_cents"):
        value = _int(item[field], field)
        if value is not None and not 0 <= value <= MAX_FEE_CENTS:
            raise InvalidOffer(f"bad_{field}", str(value))
        item[field] = value
    for field in ("minutes", "sms", "speed_cap_mbps"):
        value = _int(item[field], field)
        if value is not None and value < 0:
            raise InvalidOffer(f"bad_{field}", str(value))
        item[field] = value
    for field in ("data_gb", "eu_roaming_gb"):
        value = item[field]
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or value < 0:
                raise InvalidOffer(f"bad_{field}", repr(value))
            item[field] = float(value)
    for field in ("data_unlimited", "data_5g", "data_5g_limited", "minutes_unlimited", "sms_unlimited"):
        item[field] = _bool(item[field], field)
    if item["data_unlimited"]:
        item["data_gb"] = None
    if item["minutes_unlimited"]:
        item["minutes"] = None
    if item["sms_unlimited"]:
        item["sms"] = None
    if item["data_5g_limited"]:
        item["data_5g"] = True
    if item["esim"] is not None:
        item["esim"] = _bool(item["esim"], "esim")
    if item["eligibility"] not in ELIGIBILITY:
        raise InvalidOffer("bad_eligibility", repr(item["eligibility"]))
    origins = item["eligible_from"]
    if not isinstance(origins, (list, tuple)) or any(o not in OPERATORS for o in origins):
        raise InvalidOffer("bad_eligible_from", repr(origins))
    item["eligible_from"] = sorted(set(origins))
    if item["promo_until"] is not None:
        try:
            item["promo_until"] = date.fromisoformat(str(item["promo_until"])).isoformat()
        except ValueError:
            raise InvalidOffer("bad_promo_until", repr(item["promo_until"])) from None
    if item["notes"] is not None:
        item["notes"] = str(item["notes"]).strip() or None
    _travel_fields(item)
    item["flags"] = _flags(item["flags"])
    return {field: item[field] for field in FIELDS}


def _float(value, field: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or value < 0:
        raise InvalidOffer(f"bad_{field}", repr(value))
    return float(value)


def network_name(text: str) -> str | None:
    """The Italian host network a name means ("Wind Tre", "WINDTRE", "Vodafone Italy" -> its NETWORK_NAMES
    spelling); None for a name that is none of them."""
    words = re.sub(r"\b(?:italy|italia|it)\b", "", str(text), flags=re.I)
    return _NETWORK_SPELLINGS.get(re.sub(r"[\s\-_.]+", "", words).casefold())


def _travel_fields(item: dict) -> None:
    """The currency and the travel-eSIM fields, checked and normalised in place."""
    currency = item["currency"]
    if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency.strip().upper()):
        raise InvalidOffer("bad_currency", repr(currency))
    item["currency"] = currency.strip().upper()
    for field in ("fair_use_gb_per_day", "hotspot_gb"):
        item[field] = _float(item[field], field)
    throttled = _int(item["throttled_kbps"], "throttled_kbps")
    if throttled is not None and throttled < 0:
        raise InvalidOffer("bad_throttled_kbps", str(throttled))
    item["throttled_kbps"] = throttled
    for field in ("hotspot", "topup"):
        if item[field] is not None:
            item[field] = _bool(item[field], field)
    networks = item["networks"]
    if not isinstance(networks, (list, tuple)) or not all(isinstance(n, str) for n in networks):
        raise InvalidOffer("bad_networks", repr(networks))
    named = {network_name(n) for n in networks}
    if None in named:
        raise InvalidOffer("bad_networks", f"{networks!r}; known: {', '.join(NETWORK_NAMES)}")
    item["networks"] = [n for n in NETWORK_NAMES if n in named]
    if item["tier"] is not None:
        item["tier"] = str(item["tier"]).strip() or None
    if item["plan_type"] in ESIM_PLAN_TYPES and item["esim"] is None:
        item["esim"] = True


def _flags(flags) -> list[str]:
    """Sorted, each once; every one in FLAGS, or `list_price:<cents>`."""
    if not isinstance(flags, (list, tuple)):
        raise InvalidOffer("bad_flags", repr(flags))
    for flag in flags:
        name, _, cents = str(flag).partition(":")
        if name not in FLAGS or (cents and (name != "list_price" or not cents.isdigit())):
            raise InvalidOffer("bad_flags", repr(flag))
    return sorted(set(flags))


def content_hash(item: dict) -> str:
    """Hash of everything a subscriber could care about: a new OfferVersion exactly when it changes."""
    fields = {k: item[k] for k in FIELDS if k not in LATER_DEFAULTS or item.get(k) != LATER_DEFAULTS[k]}
    payload = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()
