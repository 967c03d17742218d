"""Lycamobile: the 5G offers page (client-rendered Next.js-style page).

No capture exists: the Next.js data and the server-rendered cards are assumed, as `LycaSpider` lists them; where
both show a plan, the data wins. docs/operators.md has what is known of the page.
"""

from __future__ import annotations

import json
import re

from spiders.base import OperatorSpider
from spiders.parsing import clean, data_gb, is_unlimited, money_cents, operators_named, parse_date, slug, text_of

MOBILE = "https://www.lycamobile.it/it/offerte-mobile-5g/"
CATEGORIES = {
    "data": "data_only",
    "dati": "data_only",
    "tourist": "tourist",
    "turisti": "tourist",
    "voice": "voice_only",
    "voce": "voice_only",
    "home": "home",
}
_PORTING = re.compile(
    r"solo (in |per la |con (la )?)?portabilit|solo per chi (passa|porta)|"
    r"riservat\w* a chi (passa|porta)|esclusiv\w* per chi (passa|porta)",
    re.I,
)


def _cents(value) -> int | None:
    """'€5.99' -> 599 (dot decimal), '5,99€' -> 599, 5.99 -> 599, 'Gratis' -> 0, None/'' -> None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(round(value * 100))
    return money_cents(str(value))


def _period(text: str) -> int:
    t = clean(text)
    if re.search(r"4 settimane|28 giorni", t, re.I):
        return 28
    m = re.search(r"(\d+)\s*(?:giorni|gg|days)", t, re.I)
    return int(m.group(1)) if m else 30


def _count(value) -> tuple[int | None, bool]:
    """'Illimitati' -> (None, True); '1.000' / 100 -> (1000 / 100, False); missing -> (None, False)."""
    if value is None:
        return None, False
    t = clean(str(value))
    if is_unlimited(t):
        return None, True
    m = re.search(r"\d[\d.]*", t)
    return (int(m.group(0).replace(".", "")), False) if m else (None, False)


def find_plans(node) -> list[dict]:
    """The plan dicts under the first `plans` key of the page data (depth-first)."""
    if isinstance(node, dict):
        plans = node.get("plans")
        if isinstance(plans, dict):
            plans = plans.get("items")
        if isinstance(plans, list):
            return [p for p in plans if isinstance(p, dict)]
        for value in node.values():
            found = find_plans(value)
            if found:
                return found
    elif isinstance(node, list):
        for value in node:
            found = find_plans(value)
            if found:
                return found
    return []


class LycaSpider(OperatorSpider):
    """What the parser relies on in the page.

    No real capture of this page exists (docs/operators.md: "client-rendered"; prices as "€5.99" with a DOT decimal,
    "5,99€", "/30 giorni"; porting-only plans). The structure below is ASSUMED, and the bundled fixture reproduces it:
    - `script#__NEXT_DATA__` (JSON) holds the plans under a key `plans` somewhere below `props.pageProps` (a list, or
      a dict with `items`). Only dicts under `plans` are offers: other parts of the JSON (navigation, top-up
      amounts "Ricarica €10") carry prices that are not plans. One plan:
      `{"id": "IT_MEGA_5G", "slug": "lyca-mega-5g", "title": "Lyca Mega 5G", "category": "national" | "data" |
      "tourist" | "voice", "price": "€5.99" (or "5,99€", or a number 5.99), "validity": "30 giorni",
      "firstPeriodPrice": "€2.99", "allowances": {"data": "150GB" | "Illimitati", "minutes": "Illimitati" | "1000",
      "sms": "100", "euData": "12GB", "internationalMinutes": "100 minuti verso 40 paesi"}, "network": "5G" | "4G",
      "portingOnly": true, "eligibilityText": "Solo per chi porta il numero da Iliad e ho. Mobile",
      "activationFee": "Gratis" | "€5.00", "esim": true, "promoEnd": "30/09" (no year), "labels": ["Novità"],
      "url": "/it/piani/lyca-mega-5g/"}`.
    - server-rendered cards `.plan-card[data-plan-id]` (`data-category`, `.plan-card__title`, `.plan-card__price`
      "5,99€", `.plan-card__validity` "/30 giorni", `li.plan-card__feature` lines, `.plan-card__badge`,
      `a.plan-card__cta`) repeat some plans of the JSON and show a few the JSON lacks. Where both exist the JSON is
      read (matched by data-plan-id = plan id, else by name); cards only add the plans missing from the JSON.
    - offer_key = the plan id (present in both sources: JSON `id`, card `data-plan-id`), else slug, else name.
    - porting-only plans: eligibility "portability", eligible_from = operators named in the eligibility text; when
      the page names none, [] and a note says so. International minutes are kept in the notes.
    """

    operator = "lyca"
    cards = "script#__NEXT_DATA__, .plan-card"
    start_urls = [MOBILE]
    min_offers = 3

    def parse(self, response):
        plans = self.json_plans(response)
        ids = {slug(str(p.get("id") or "")) for p in plans} | {slug(str(p.get("title") or "")) for p in plans}
        for card in response.css(".plan-card[data-plan-id]"):
            plan = self.card_plan(card)
            if plan and slug(plan["id"]) not in ids and slug(plan["title"]) not in ids:
                plans.append(plan)
        yield from self.first_offers(self.item(plan, response) for plan in plans)

    # ---------------------------------------------------------------- the two sources, one plan shape
    @staticmethod
    def json_plans(response) -> list[dict]:
        raw = response.css("script#__NEXT_DATA__::text").get()
        try:
            data = json.loads(raw or "")
        except ValueError:
            return []
        props = data.get("props", data) if isinstance(data, dict) else data
        return find_plans(props)

    @staticmethod
    def card_plan(card) -> dict | None:
        """A server-rendered card as a plan dict of the JSON's shape (figures read from its feature lines)."""
        title = text_of(card.css(".plan-card__title"))
        if not title:
            return None
        allowances, extra = {}, []
        for line in (text_of(li) for li in card.css("li.plan-card__feature")):
            low = line.lower()
            if "internazional" in low or "estero" in low:
                allowances["internationalMinutes"] = line
            elif re.search(r"\bUE\b|europa|roaming", line, re.I):
                allowances["euData"] = line
            elif data_gb(line) is not None or re.search(r"giga|internet", low):
                allowances["data"] = "Illimitati" if is_unlimited(line) else line
            elif "minut" in low or "sms" in low:
                if "minut" in low:
                    allowances["minutes"] = line
                if "sms" in low:
                    allowances["sms"] = line
            elif line:
                extra.append(line)
        badges = [text_of(b) for b in card.css(".plan-card__badge")]
        badges = [b for b in badges if b]
        porting = [b for b in badges if _PORTING.search(b)]
        fee = next((x for x in extra if "attivazione" in x.lower()), None)
        feats = " ".join(extra + badges)
        return {
            "id": clean(card.attrib.get("data-plan-id")),
            "slug": "",
            "title": title,
            "category": clean(card.attrib.get("data-category")),
            "price": text_of(card.css(".plan-card__price")),
            "validity": text_of(card.css(".plan-card__validity")),
            "allowances": allowances,
            "network": "5G" if re.search(r"\b5G\b", title + " " + " ".join(allowances.values())) else "",
            "portingOnly": bool(porting),
            "eligibilityText": " ".join(porting),
            "activationFee": (re.sub(r"(?i)attivazione\s*:?", "", fee) or None) if fee else None,
            "esim": True if re.search(r"\besim\b", feats, re.I) else None,
            "labels": [b for b in badges if b not in porting],
            "url": card.css("a.plan-card__cta::attr(href)").get(),
        }

    # ---------------------------------------------------------------- one offer
    def item(self, p: dict, response) -> dict | None:
        name = clean(str(p.get("title") or p.get("name") or ""))
        price = _cents(p.get("price"))
        if not name or price is None:
            return None
        allow = p.get("allowances")
        allow = allow if isinstance(allow, dict) else {}
        data_text = clean(str(allow.get("data") or ""))
        unlimited = is_unlimited(data_text) and not re.search(r"\d", data_text)
        gb = None if unlimited else data_gb(data_text)
        minutes, minutes_unl = _count(allow.get("minutes"))
        sms, sms_unl = _count(allow.get("sms"))
        category = clean(str(p.get("category") or "")).lower()
        plan_type = CATEGORIES.get(category, "prepaid")
        if plan_type == "prepaid" and (gb or unlimited) and minutes == 0 and sms == 0:
            plan_type = "data_only"

        notes = [clean(str(x)) for x in p.get("labels") or [] if clean(str(x))]
        intl = clean(str(allow.get("internationalMinutes") or ""))
        if intl:
            notes.append(intl if "internazional" in intl.lower() else f"minuti internazionali: {intl}")
        eligibility, origins = "all", []
        elig_text = clean(str(p.get("eligibilityText") or ""))
        if p.get("portingOnly") is True or _PORTING.search(elig_text):
            eligibility = "portability"
            origins = operators_named(elig_text, exclude="lyca")
            if not origins:
                notes.append("solo portabilità: operatori di provenienza non indicati")
        first = _cents(p.get("firstPeriodPrice"))
        fee = p.get("activationFee")
        promo = parse_date(str(p.get("promoEnd")), self.crawl_date) if p.get("promoEnd") else None
        network = clean(str(p.get("network") or ""))
        url = clean(str(p.get("url") or ""))
        return {
            "offer_key": slug(str(p.get("id") or "")) or slug(str(p.get("slug") or "")) or slug(f"{name} {category}"),
            "name": name,
            "url": response.urljoin(url) if url else response.url,
            "plan_type": plan_type,
            "price_cents": price,
            "period_days": _period(str(p.get("validity") or "")),
            "first_period_cents": first if first != price else None,
            "activation_cents": _cents(fee) if fee is not None else None,
            "sim_cents": _cents(p.get("simFee")),
            "data_gb": gb,
            "data_unlimited": unlimited,
            "data_5g": bool(re.search(r"\b5G\b", network)) or p.get("is5G") is True,
            "data_5g_limited": False,
            "speed_cap_mbps": None,
            "eu_roaming_gb": data_gb(str(allow.get("euData") or "")),
            "minutes": minutes,
            "sms": sms,
            "minutes_unlimited": minutes_unl,
            "sms_unlimited": sms_unl,
            "eligibility": eligibility,
            "eligible_from": origins,
            "promo_until": promo,
            "esim": p.get("esim") if isinstance(p.get("esim"), bool) else None,
            "notes": "; ".join(dict.fromkeys(notes)) or None,
        }
