"""spusu: the tariffs page https://www.spusu.it/tariffe renders tariffs it loads from a JSON endpoint, which
the spider requests itself.

No capture exists: the endpoint's JSON is assumed and read tolerantly; `SpusuSpider` lists the assumptions
(docs/operators.md the page).
"""

from __future__ import annotations

import json
import re

from spiders.base import OperatorSpider
from spiders.parsing import clean, data_gb, money_cents, parse_date, slug

TARIFFE = "https://www.spusu.it/tariffe"
ENDPOINT = "https://www.spusu.it/imoscmsapi/config/landingpageitems"
_TAG = re.compile(r"<[^>]+>")
_NOT_TARIFF = re.compile(r"option|opzion|addon|add-on|device|smartphone|\bricarica\b|top.?up|banner", re.I)
_NATIONAL = ("NATIONAL", "NATIONAL_EU", "IT", "ITALY", "ITALIA", "")
_SCOPES = {"INTERNATIONAL": "verso l'estero", "WORLD": "verso l'estero", "ROAMING": "in roaming"}


def _text(value) -> str:
    return re.sub(r"\s+([:;,.!?])", r"\1", clean(_TAG.sub(" ", str(value or ""))))


def tariffs(node):
    """Every tariff object in the document, in document order."""
    if isinstance(node, list):
        for x in node:
            yield from tariffs(x)
    elif isinstance(node, dict):
        kind = " ".join(str(node.get(k) or "") for k in ("type", "category"))
        if _NOT_TARIFF.search(kind):
            return
        if isinstance(node.get("contractFee"), dict):
            yield node
            return
        for value in node.values():
            if isinstance(value, (list, dict)):
                yield from tariffs(value)


def _filled(item: dict) -> int:
    return sum(v not in (None, False, "", []) for v in item.values())


def _num(value: float) -> str:
    return ("%f" % value).rstrip("0").rstrip(".")


def _balance(b: dict) -> tuple[float | None, bool]:
    """(amount in the balance's unit, unlimited)."""
    amount = b.get("amount")
    if (
        b.get("unlimited") is True
        or str(amount).strip() == "-1"
        or re.search(r"illimitat|unlimited", str(amount), re.I)
    ):
        return None, True
    if isinstance(amount, bool) or amount is None:
        return None, False
    try:
        value = float(str(amount).replace(",", "."))
    except ValueError:
        return None, False
    return (None, True) if value < 0 else (value, False)


class SpusuSpider(OperatorSpider):
    """What the parser relies on in the page.

    The spider requests the endpoint itself (https://www.spusu.it/imoscmsapi/config/landingpageitems); the offers'
    URL is the tariffs page a person reads. Page facts (docs/operators.md): tariffs with `contractFee.amount`,
    `paymentType`, a national data balance, special-deal text ("Offerta fino al 30/09", no year).

    There is no real capture. The parser assumes this JSON (an assumption; tolerant where cheap):
    - tariffs may sit anywhere in the document (top-level list, `items[]`, blocks with `tariffs[]`): every object
      with a `contractFee` object is a tariff candidate; objects whose `type`/`category` says option, add-on, device
      or top-up ("OPTION", "ADDON", "RICARICA"; "ricaricabile" is a tariff) are not offers. Unknown keys
      (a top-level `_comment`) are ignored. A tariff repeated in a teaser block is one offer (the fuller copy).
    - `id` (fallback `tariffId`, `code`) is the offer_key; `name` (fallback `title`).
    - `contractFee.amount` = recurring fee in EURO, a number (9.98) or a string ("9,98"); `contractFee.period` /
      `interval` optional ("MONTH" -> 30 days, "FOUR_WEEKS"/"28" -> 28); default 30 (spusu charges "al mese").
    - `paymentType`: "PREPAID" (charged on credit) -> prepaid, "POSTPAID"/"INVOICE" -> postpaid.
    - `balances[]`: {"type": "DATA"|"VOICE"|"SMS", "scope": "NATIONAL"|"NATIONAL_EU"|"EU"|"INTERNATIONAL",
      "amount": n, "unit": "GB"|"MB"|"MIN"|"SMS", "unlimited": bool}; amount -1 also means unlimited. National data
      -> data_gb, EU data -> eu_roaming_gb; minutes/SMS from national scopes only (minutes to foreign countries
      are not the plan's minutes; they go to notes).
    - `technology` ("5G"/"4G") and `features[]` strings: "5G" -> data_5g, "eSIM" -> esim.
    - `specialDeal.text` (HTML allowed): "Offerta fino al 30/09" -> promo_until (year resolved against the crawl
      day), "primo mese gratis" -> first_period_cents 0, "attivazione gratuita" -> activation_cents 0; the text
      -> notes.
    Data only (national data, 0 minutes and 0 SMS) -> data_only; no data but minutes -> voice_only.
    A body that is not JSON (a changed endpoint, an HTML error page) yields nothing: the crawl is unhealthy.
    """

    operator = "spusu"
    cards = None  # the page is JSON
    start_urls = [ENDPOINT]
    min_offers = 3

    def parse(self, response):
        try:
            document = json.loads(response.text)
        except ValueError:
            self.logger.error("spusu: %s did not answer JSON (%r...)", response.url, response.text[:80])
            return
        found: dict[str, dict] = {}
        for t in tariffs(document):
            item = self.tariff(t)
            if item is None:
                continue
            key = item["offer_key"]
            # a tariff repeated in a teaser block: keep the fuller copy, at the first copy's place
            if key not in found or _filled(item) > _filled(found[key]):
                found[key] = item
        for item in found.values():
            yield self.offer(**item)

    def tariff(self, t: dict) -> dict | None:
        name = _text(t.get("name") or t.get("title"))
        ident = next((t[k] for k in ("id", "tariffId", "code") if t.get(k) not in (None, "")), None)
        fee = t["contractFee"]
        amount = fee.get("amount")
        price = money_cents(str(amount)) if amount not in (None, "") and not isinstance(amount, bool) else None
        if not name or ident is None or price is None:
            return None

        gb, data_unl, eu = None, False, None
        minutes = sms = None
        minutes_unl = sms_unl = False
        foreign = []
        for b in t.get("balances") or []:
            if not isinstance(b, dict):
                continue
            kind, scope = str(b.get("type") or "").upper(), str(b.get("scope") or "").upper()
            value, unl = _balance(b)
            unit = str(b.get("unit") or "GB")
            if kind == "DATA":
                qty = data_gb(f"{_num(value)} {unit}") if value is not None else None
                if scope == "EU":
                    eu = qty
                elif scope in _NATIONAL:
                    gb, data_unl = qty, unl
            elif kind in ("VOICE", "SMS"):
                if scope not in _NATIONAL:
                    if unl or value is not None:
                        label = "minuti" if kind == "VOICE" else "SMS"
                        where = _SCOPES.get(scope, scope.lower())
                        foreign.append(f"{'illimitati' if unl or value is None else _num(value)} {label} {where}")
                elif kind == "VOICE":
                    minutes, minutes_unl = (int(value) if value is not None else None), unl
                else:
                    sms, sms_unl = (int(value) if value is not None else None), unl

        has_data = data_unl or bool(gb)
        has_voice = minutes_unl or bool(minutes)
        if has_data and minutes == 0 and not minutes_unl and not sms and not sms_unl:
            plan_type = "data_only"
        elif not has_data and has_voice:
            plan_type = "voice_only"
        elif re.search(r"post.?paid|invoice|fattura|abbonamento", str(t.get("paymentType") or ""), re.I):
            plan_type = "postpaid"
        else:
            plan_type = "prepaid"

        period = " ".join(str(fee.get(k) or "") for k in ("period", "interval"))
        deal = t.get("specialDeal")
        deal_text = _text(deal.get("text") if isinstance(deal, dict) else deal)
        promo = None
        m = re.search(r"fino al(?:l')?\s*(\d{1,2}\s*/\s*\d{1,2}(?:\s*/\s*\d{2,4})?)", deal_text, re.I)
        if m:
            promo = parse_date(m.group(1), self.crawl_date)
        features = " ".join([str(t.get("technology") or ""), *map(str, t.get("features") or [])])
        notes = [x for x in (deal_text, *foreign) if x]
        return {
            "offer_key": slug(str(ident)),
            "name": name,
            "url": TARIFFE,
            "plan_type": plan_type,
            "price_cents": price,
            "period_days": 28 if re.search(r"four.?week|4.?settiman|28", period, re.I) else 30,
            "first_period_cents": 0 if re.search(r"primo mese (gratis|gratuito|omaggio)", deal_text, re.I) else None,
            "activation_cents": 0 if re.search(r"attivazione (gratis|gratuita)", deal_text, re.I) else None,
            "sim_cents": None,
            "data_gb": gb,
            "data_unlimited": data_unl,
            "data_5g": bool(re.search(r"\b5G\b", features)),
            "data_5g_limited": False,
            "speed_cap_mbps": None,
            "eu_roaming_gb": eu,
            "minutes": minutes,
            "sms": sms,
            "minutes_unlimited": minutes_unl,
            "sms_unlimited": sms_unl,
            "eligibility": "all",
            "eligible_from": [],
            "promo_until": promo,
            "esim": True if re.search(r"\besim\b", features, re.I) else None,
            "notes": "; ".join(notes) or None,
        }
