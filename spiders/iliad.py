"""Iliad: the mobile offers page (server-rendered, one card per offer).

Read from the real capture. Prices come from attributes in cents, not from the visible text; `IliadSpider` lists the
other page facts, docs/operators.md the page.
"""

from __future__ import annotations

import json
import re
from datetime import date

from spiders.base import OperatorSpider
from spiders.parsing import CURRENT_TEXT, clean, data_gb, euros, money_cents, parse_date, slug, text_of, text_outside

MOBILE = "https://www.iliad.it/offerte-iliad-mobile.html"
_5G = (
    "./descendant::*[contains(concat(' ', normalize-space(@class), ' '), ' notice ')"
    " and contains(concat(' ', normalize-space(@class), ' '), ' 5g ')]"
)


def _tracking(raw: str | None) -> dict:
    """The tracking attribute's JSON (parsel already decoded the entities; a second pass is harmless)."""
    for text in (raw or "", clean(raw)):
        try:
            value = json.loads(text)
        except (ValueError, TypeError):
            continue
        if isinstance(value, dict):
            return value
    return {}


def _qty(value: str | None) -> tuple[int | None, bool]:
    """'-1' -> (None, unlimited); '50' -> (50, False); '' -> (None, False)."""
    v = clean(value)
    if v == "-1" or re.search(r"illimitat|unlimited", v, re.I):
        return None, True
    m = re.fullmatch(r"\d+", v)
    return (int(v), False) if m else (None, False)


def _gb(value: str | None) -> tuple[float | None, bool]:
    v = clean(value)
    if v == "-1" or re.search(r"illimitat|unlimited", v, re.I):
        return None, True
    if re.fullmatch(r"0+", v):
        return 0.0, False
    return data_gb(v), False


def _cents(value: str | None) -> int | None:
    """The packshot's price attribute: integer cents ("1199"); tolerate a euro text ("11,99")."""
    v = clean(value)
    if re.fullmatch(r"\d+", v):
        return int(v)
    return money_cents(v) if re.search(r"\d", v) else None


class IliadSpider(OperatorSpider):
    """What the parser relies on in the page.

    Page facts this parser builds on (see docs/operators.md):
    - cards `.commercial-offer-tile`, name `p.offer-title`; a corner label (`.tile-corner`: "Novità", "Solo minuti",
      "Solo giga", "Per oggetti smart").
    - price in euro CENTS in an attribute: `<i-packshot-price price="1199" prev-price="" period="PER SEMPRE">`.
    - `<i-packshot-data data-qty="250GB" sms-qty="-1" voice-qty="-1">`: -1 = unlimited, 0 = none, MB values exist
      ("40MB" -> 0.04 GB); EU data in `<i-packshot-extra-data data-qty-extra="18GB" data-qty-extra-location="in UE">`.
    - 5G = a `.notice.5g` element inside the card (a class starting with a digit: matched with XPath, not CSS).
    - "Attivazione SIM: 9,99€" in `.commercial-offer__extra-text` -> activation fee of the card.
    - promotion end: `<i-countdown target-date="2026-10-29 15:00:00">`.
    - `data-offer-tracking` holds HTML-entity-encoded JSON ({"offer_id": "giga250", "offer_variant": ...}): the
      offer_id is the stable offer_key. The product page link (/offerta-iliad-giga250-1199.html) carries the price
      in its slug, so it is the URL but not the key.
    - page-wide legal notes restrict some offers ("Offerta Domotica solo per nuovi numeri").
    Data-only and smart-home (domotica) cards are offers with their own plan_type, not dropped.
    """

    operator = "iliad"
    cards = ".commercial-offer-tile"
    start_urls = [MOBILE]
    min_offers = 4

    def parse(self, response):
        legal = text_outside(response.xpath("//body"), "commercial-offer-tile")
        cards = (self.card(card, response, legal) for card in response.css(".commercial-offer-tile"))
        yield from self.numbered_offers(cards, drop_same=True)  # the same card shown twice: a carousel repeat

    def card(self, c, response, legal: str) -> dict | None:
        name = text_of(c.css("p.offer-title"), CURRENT_TEXT)
        if not name:
            return None
        tracking = _tracking(c.attrib.get("data-offer-tracking"))
        price_el = c.css("i-packshot-price")
        price = _cents(price_el.attrib.get("price")) if price_el else None
        prev = _cents(price_el.attrib.get("prev-price")) if price_el else None
        period = clean(price_el.attrib.get("period")) if price_el else ""
        pdata = c.css("i-packshot-data")
        gb, data_unl = _gb(pdata.attrib.get("data-qty")) if pdata else (None, False)
        minutes, minutes_unl = _qty(pdata.attrib.get("voice-qty")) if pdata else (None, False)
        sms, sms_unl = _qty(pdata.attrib.get("sms-qty")) if pdata else (None, False)
        eu = None
        for extra in c.css("i-packshot-extra-data"):
            where = clean(extra.attrib.get("data-qty-extra-location"))
            if not where or re.search(r"\bUE\b|europ", where, re.I):
                eu = data_gb(extra.attrib.get("data-qty-extra"))
                if eu is not None:
                    break
        body = text_of(c, CURRENT_TEXT)
        corner = text_of(c.css(".tile-corner"), CURRENT_TEXT)
        banner = clean(" ".join(clean(b) for b in c.css("i-packshot-banner::attr(text-banner)").getall()))
        banner = clean(re.sub(r"<[^>]+>", " ", banner))
        ribbon = clean(c.css("i-packshot::attr(text-ribbon)").get())

        fee = re.search(
            r"Attivazione(?: SIM)?\s*:?\s*([^\n]*?(?:\d+(?:[.,]\d{1,2})?\s*€|€\s*\d+(?:[.,]\d{1,2})?|"
            r"gratis|gratuit[ao]))",
            body,
            re.I,
        )
        activation = money_cents(fee.group(1)) if fee else None
        if fee and activation is None and re.search(r"gratis|gratuit", fee.group(1), re.I):
            activation = 0
        countdown = clean(c.css("i-countdown::attr(target-date)").get())
        promo = None
        if countdown:
            m = re.match(r"(\d{4})-(\d{2})-(\d{2})", countdown)
            if m:
                try:
                    promo = date(*map(int, m.groups())).isoformat()
                except ValueError:
                    promo = None
            else:
                promo = parse_date(countdown, self.crawl_date)

        signals = " ".join(
            [str(tracking.get("offer_id", "")), str(tracking.get("offer_variant", "")), corner, banner, name]
        )
        if re.search(r"domotic|smart[ _]?home|oggetti smart|antifurt", signals, re.I):
            plan_type = "home"
        elif re.search(r"solo giga|solo dati|\bdata\b|_data\b", signals, re.I) or (
            minutes == 0 and sms == 0 and (gb or data_unl)
        ):
            plan_type = "data_only"
        elif re.search(r"solo minuti|voice[_ ]only", signals, re.I):
            plan_type = "voice_only"
        else:
            plan_type = "prepaid"

        where = body + " " + self.legal_about(name, legal)
        if re.search(r"solo (per )?(i )?nuovi numeri|solo nuove linee|nuovo numero", where, re.I):
            eligibility = "new_number"
        elif re.search(r"solo (in |con la )?portabilit|solo se porti", where, re.I):
            eligibility = "portability"
        else:
            eligibility = "all"

        notes = []
        if corner and not re.fullmatch(r"solo (minuti|giga|dati)", corner, re.I):
            notes.append(corner)
        notes += [x for x in (ribbon, banner) if x]
        if re.search(r"per sempre", period, re.I):
            notes.append("prezzo per sempre")
        elif period:
            notes.append(period.lower())
        if prev and prev != price:
            notes.append(f"invece di {euros(prev)}")

        url = self.card_url(c, response)
        return {
            "offer_key": self.key(tracking, url, name),
            "name": name,
            "url": url,
            "plan_type": plan_type,
            "price_cents": price,
            "period_days": 28 if re.search(r"4 settimane|28 giorni", period, re.I) else 30,
            "first_period_cents": None,
            "activation_cents": activation,
            "sim_cents": None,
            "data_gb": gb,
            "data_unlimited": data_unl,
            "data_5g": bool(c.xpath(_5G)),
            "data_5g_limited": False,
            "speed_cap_mbps": None,
            "eu_roaming_gb": eu,
            "minutes": minutes,
            "sms": sms,
            "minutes_unlimited": minutes_unl,
            "sms_unlimited": sms_unl,
            "eligibility": eligibility,
            "eligible_from": [],
            "promo_until": promo,
            "esim": True if re.search(r"\besim\b", body, re.I) else None,
            "notes": "; ".join(dict.fromkeys(notes)) or None,
        }

    @staticmethod
    def legal_about(name: str, legal: str) -> str:
        """Sentences of the page-wide legal notes that name this offer ("Offerta Domotica solo per ...")."""
        pattern = re.compile(r"\boffert[ae]\s+(?:iliad\s+)?" + re.escape(name) + r"\b[^.]*", re.I)
        return " ".join(m.group(0) for m in pattern.finditer(legal))

    @staticmethod
    def card_url(c, response) -> str:
        hrefs = [
            h
            for q in (
                ".button-discover a::attr(href)",
                "a[href*='offerta-iliad']::attr(href)",
                ".button-subscribe a::attr(href)",
            )
            for h in c.css(q).getall()
        ]
        hrefs = [response.urljoin(h) for h in hrefs if h and not h.startswith(("#", "javascript:"))]
        hrefs = [h for h in hrefs if h.startswith("http") and "5g.iliad.it" not in h.lower() and "assistenza." not in h]
        return hrefs[0] if hrefs else response.url

    @staticmethod
    def key(tracking: dict, url: str, name: str) -> str:
        offer_id = slug(str(tracking.get("offer_id") or ""))
        if offer_id:
            return offer_id
        m = re.search(r"/offerta-iliad-([a-z0-9-]+?)(?:-\d+)?\.html", url)
        return slug(m.group(1)) if m else slug(name)
