"""Tiscali Mobile: the mobile offers page (server-rendered HTML, simple cards).

No capture exists: the simple cards are assumed (`TiscaliSpider` lists them, docs/operators.md describes the page);
the navigation's prices are never read.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

from spiders.base import OperatorSpider
from spiders.parsing import clean, data_gb, is_unlimited, money_cents, operators_named, parse_date, slug, text_of

MOBILE = "https://casa.tiscali.it/mobile/"
CARD = "section.mobile-offers article.offer-card"
_AMOUNT = r"(?:\d+(?:[.,]\d{1,2})?\s*€|€\s*\d+(?:[.,]\d{1,2})?)"
_FEE = r"\s*:?\s*(?:e\s+\w+\s+)?(gratuit\w*|gratis|" + _AMOUNT + ")"
_PORTING = re.compile(
    r"solo per chi passa a tiscali|riservat\w* a chi (porta|passa)|solo (in |con (la )?)?portabilit", re.I
)
_NOT_MOBILE = re.compile(r"\b(fibra|ftth|fttc|adsl|modem|internet casa)\b", re.I)


def _count(text: str, word: str) -> tuple[int | None, bool]:
    """'Minuti e SMS illimitati' -> (None, True) for both; '200 SMS' -> (200, False); 'niente minuti e SMS' -> 0."""
    if re.search(word + r"(\s+e\s+\w+)?\s+illimitat|illimitat\w*\s+" + word, text, re.I):
        return None, True
    if re.search(r"(niente|senza|nessun\w*)\s+(\w+\s+e\s+)?" + word, text, re.I):
        return 0, False
    m = re.search(r"(\d[\d.]*)\s*" + word, text, re.I)
    return (int(m.group(1).replace(".", "")), False) if m else (None, False)


def _fee(text: str, word: str) -> int | None:
    """'Attivazione 9,99 €' -> 999, 'Attivazione e SIM gratuite' -> 0 (for both words), absent -> None.

    money_cents reads 'gratuita'/'gratuito' as 0 but not the plurals 'gratuite'/'gratuiti', so free is read here.
    """
    m = re.search(r"\b" + word + _FEE, text, re.I) or re.search(
        r"\b" + word + r"\b[^;.]*?(gratuit\w*|gratis)", text, re.I
    )
    if not m:
        return None
    return 0 if re.match(r"gratuit|gratis", m.group(1), re.I) else money_cents(m.group(1))  # "gratuite", "gratuiti"


class TiscaliSpider(OperatorSpider):
    """What the parser relies on in the page.

    No real capture of this page exists (docs/operators.md: simple cards; navigation carries unrelated prices). The
    structure below is ASSUMED, and the bundled fixture reproduces it:
    - the mobile offers sit in `section.mobile-offers`, one `article.offer-card` each (`data-offer-id` = the page's
      own id, else the `offerta=` parameter of the card's `a.offer-card__cta`, else a slug of the name).
    - a card: `.offer-card__label` ("Novità 5G", "Solo dati", "Solo per chi passa a Tiscali"), `.offer-card__title`,
      `.offer-card__giga` ("150 GB", "Giga illimitati"), `ul.offer-card__features li` (minutes, SMS, "5G incluso",
      "15 GB in roaming UE", "Attivazione 9,99 €", "SIM gratuita", "eSIM disponibile", "niente minuti e SMS"),
      `.offer-card__price` ("6,99 € al mese", "5 € il primo mese, poi 9,99 € al mese", "14,99€/mese"),
      `.offer-card__note` (small print: "Offerta riservata a chi porta il numero da Iliad, ho. Mobile...",
      "Promo valida fino al 30/09", no year).
    - the same card component, the header navigation, banners and the footer carry fibre/home prices
      ("Ultrafibra da 24,95 €/mese"): only cards inside the mobile section are read, and a card about fibre is skipped.
    - porting-only offers ("solo per chi passa a Tiscali", "riservata a chi porta il numero"): eligibility
      "portability", eligible_from = the operators the card names ([] when it names none).
    """

    operator = "tiscali"
    cards = "section.mobile-offers article.offer-card"
    start_urls = [MOBILE]
    min_offers = 2

    def parse(self, response):
        yield from self.first_offers(self.card(card, response) for card in response.css(CARD))

    def card(self, c, response) -> dict | None:
        name = text_of(c.css(".offer-card__title"))
        label = text_of(c.css(".offer-card__label"))
        if not name or _NOT_MOBILE.search(name):
            return None
        giga = text_of(c.css(".offer-card__giga"))
        features = "; ".join(text_of(li) for li in c.css("ul.offer-card__features li"))
        price_text = text_of(c.css(".offer-card__price"))
        note = text_of(c.css(".offer-card__note"))

        amounts = re.findall(_AMOUNT, price_text)
        first = None
        if len(amounts) > 1 and re.search(r"prim[oa] mese|primi \d+ mesi", price_text, re.I):
            then = re.search(r"\bpoi\b(.*)", price_text, re.I)
            first = money_cents(amounts[0])
            price = money_cents(then.group(1)) if then else money_cents(amounts[-1])
        else:
            price = money_cents(amounts[0]) if amounts else None
        if price is None:
            return None

        unlimited = is_unlimited(giga) and not re.search(r"\d", giga)
        gb = None if unlimited else data_gb(giga)
        minutes, minutes_unl = _count(features, "minuti")
        sms, sms_unl = _count(features, "sms")
        signals = f"{label} {name}"
        if re.search(r"solo (dati|internet)|\bdati\b", signals, re.I) or (minutes == 0 and sms == 0):
            plan_type = "data_only"
        elif re.search(r"solo (minuti|voce)", signals, re.I):
            plan_type = "voice_only"
        else:
            plan_type = "prepaid"

        eligibility, origins = "all", []
        if _PORTING.search(f"{label} {note}"):
            eligibility = "portability"
            origins = operators_named(note, exclude="tiscali")
        eu = re.search(r"(\d+(?:[.,]\d+)?\s*GB)[^;]*\b(UE|Europa)\b", features, re.I)
        promo = re.search(r"fino al\s*(\d{1,2}/\d{1,2}(?:/\d{2,4})?)", note, re.I)
        period = f"{price_text} {features}"

        href = c.css("a.offer-card__cta::attr(href)").get()
        url = response.urljoin(href) if href and not href.startswith(("#", "javascript:")) else response.url
        key = clean(c.attrib.get("data-offer-id")) or (parse_qs(urlparse(url).query).get("offerta") or [""])[0]
        return {
            "offer_key": slug(key) or slug(name),
            "name": name,
            "url": url,
            "plan_type": plan_type,
            "price_cents": price,
            "period_days": 28 if re.search(r"4 settimane|28 giorni", period, re.I) else 30,
            "first_period_cents": first,
            "activation_cents": _fee(features, "attivazione"),
            "sim_cents": _fee(features, "SIM"),
            "data_gb": gb,
            "data_unlimited": unlimited,
            "data_5g": bool(re.search(r"\b5G\b", f"{signals} {features}")),
            "data_5g_limited": False,
            "speed_cap_mbps": None,
            "eu_roaming_gb": data_gb(eu.group(1)) if eu else None,
            "minutes": minutes,
            "sms": sms,
            "minutes_unlimited": minutes_unl,
            "sms_unlimited": sms_unl,
            "eligibility": eligibility,
            "eligible_from": origins,
            "promo_until": parse_date(promo.group(1), self.crawl_date) if promo else None,
            "esim": True if re.search(r"\besim\b", features, re.I) else None,
            "notes": "; ".join(dict.fromkeys(x for x in (label, note) if x)) or None,
        }
