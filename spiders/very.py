"""Very Mobile: the "offerte" page (server-rendered AEM HTML; Radware scripts are referenced, it is no block page).

Read from the real capture. Each origin block shows GB figures at its own prices, so each block's card is its own
offer; `VerySpider` lists the page facts (docs/operators.md the page).
"""

from __future__ import annotations

import re

from spiders.base import OperatorSpider
from spiders.parsing import (
    clean,
    data_gb,
    euros,
    has_class,
    is_unlimited,
    join_text,
    money_cents,
    operators_named,
    slug,
    split_price_cents,
    text_of,
)

MOBILE = "https://verymobile.it/offerte"


CARD = f"div[{has_class('offer-card-v2')}]"
#: outer cards only: the page nests `.offer-card-v2` inside `.offer-card-v2`
OUTER_CARD = f".//{CARD}[not(ancestor::{CARD})]"
SECTION = f"//section[{has_class('visual--tabs-banner')}]"


def _count(text: str, word: str) -> tuple[int | None, bool]:
    """'minuti illimitati e 200 SMS' -> minutes (None, True), SMS (200, False)."""
    if re.search(word + r"\s+illimitat|illimitat\w*\s+" + word, text, re.I):
        return None, True
    m = re.search(r"(\d[\d.]*)\s*" + word, text, re.I)
    return (int(m.group(1).replace(".", "")), False) if m else (None, False)


def section_info(heading: str) -> dict:
    """What a block heading says about its cards: key suffix, eligibility, origins, plan type, note."""
    origins = operators_named(heading, exclude="very")
    data_only = bool(re.search(r"solo\s+dati|solo\s+internet", heading, re.I))
    new_number = bool(re.search(r"nuov[io]\s+numer", heading, re.I))
    others = bool(re.search(r"\be\s+altri\b", heading, re.I))
    if origins:
        key, eligibility = "da-" + origins[0], "portability"
    elif data_only:
        key, eligibility = "solo-dati", "new_number" if new_number else "all"
    elif new_number:
        key, eligibility = "nuovi-numeri", "new_number"
    else:
        key, eligibility = slug(heading) or "offerte", "all"
    note = f"{heading} (gli altri operatori non sono elencati sulla pagina)" if origins and others else None
    return {
        "key": key,
        "eligibility": eligibility,
        "eligible_from": origins,
        "plan_type": "data_only" if data_only else "prepaid",
        "note": note,
    }


class VerySpider(OperatorSpider):
    """What the parser relies on in the page.

    Page facts this parser builds on (see docs/operators.md):
    - the offers sit in `section.visual--tabs-banner` blocks, one per customer origin; the block's heading
      (`.visual-tabs-banner--head h2`) says who may take its cards: "Per clienti ILIAD, COOPVOCE, POSTEMOBILE e
      altri" / "Per clienti TIM, VODAFONE, KENA e altri" (number portability from those operators; "altri" is a link
      to a note, so the unnamed others go into `notes`), "Per NUOVI NUMERI", "Per NUOVI NUMERI, solo dati".
      The same GB comes at different prices in different blocks: each block's card is its own offer.
    - a card is `div.offer-card-v2` wrapped in a second `div.offer-card-v2` (the outer one is taken, one offer per
      card).
    - GB in `.offer-card-v2__offer-text` ("<span>200</span> <span>Giga</span>", or "Giga illimitati").
    - price split over `.cmp-price-giga-text__price-wrapper` "6" + `__decimal-price` ",99€", then "al mese" and the
      details line "PER SEMPRE".
    - 5G only as the badge image `.offer-card-v2__energylabel img` (alt "Energy Label"): `bollo-5G-verde` = full
      speed, `bollo-5G-giallo` = limited speed (no cap figure on the cards).
    - "1 mese omaggio" only as the image in `.offer-card-v2__price-details`: the alt text is the same on every card,
      the file name tells: `1-mese-omaggio.png` (first month free) vs `omaggio-vuoto.png` (none).
    - card header (`__card-header-text`: "5G FULL SPEED", "OFFERTA WOW"), details list ("minuti illimitati e 200 SMS",
      "SIM e spedizione gratis", "Per dispositivi smart" = IoT SIM -> plan_type home), the CTA link to the product
      page (its slug carries the price, "/offerte/very-699", so it is not used as the key), `data-card-type="esim"`.
    offer_key = GB of the card + the block ("200-giga-da-iliad", "150-giga-nuovi-numeri", "giga-illimitati-solo-dati").
    """

    operator = "very"
    cards = ".offer-card-v2"
    start_urls = [MOBILE]
    min_offers = 8  # about half of the 18 cards on the page of September 2026

    def parse(self, response):
        yield from self.numbered_offers(self.section_cards(response))  # two cards with the same GB in one block

    def section_cards(self, response):
        for sel in response.xpath(SECTION):
            cards = sel.xpath(OUTER_CARD)
            if not cards:
                continue
            info = section_info(self.heading(sel))
            for card in cards:
                yield self.card(card, response, info)

    @staticmethod
    def heading(section) -> str:
        """The block's title (an h2 nested in an h2: the outer one, its text nodes joined as written)."""
        h2 = section.css(".visual-tabs-banner--head h2")
        return join_text(h2[0].xpath(".//text()").getall()) if h2 else ""

    def card(self, c, response, info: dict) -> dict | None:
        offer_text = text_of(c.css(".offer-card-v2__offer-text"))
        units = text_of(c.css(".cmp-price-giga-text__price-wrapper"))
        decimals = text_of(c.css(".cmp-price-giga-text__decimal-price"))
        recurrence = text_of(c.css(".cmp-price-giga-text__decimal-recurrence-wrapper"))
        details_line = text_of(c.css(".cmp-price-giga-text__details"))
        header = text_of(c.css(".offer-card-v2__card-header-text"))
        details = [clean(x) for x in c.css(".offer-card-v2__offer-details li").xpath("string()").getall()]
        details = [x for x in details if x]
        features = " ".join(details)
        price = split_price_cents(units, decimals) if re.search(r"\d", units) else None
        if price is None and not offer_text:
            return None  # an empty slide

        unlimited = is_unlimited(offer_text) and not re.search(r"\d", offer_text)
        gb = (
            None
            if unlimited
            else data_gb(offer_text if re.search(r"giga|gb|mb|tb", offer_text, re.I) else offer_text + " GB")
        )
        gb_text = "Giga illimitati" if unlimited else (f"{gb:g} Giga" if gb is not None else offer_text)

        badge = " ".join(c.css(".offer-card-v2__energylabel img::attr(src)").getall())
        badge_name = badge.rsplit("/", 1)[-1].lower()
        has_5g = "5g" in badge_name
        limited = has_5g and bool(re.search(r"giall|yellow|limit", badge_name))

        gift = " ".join(
            c.css(".offer-card-v2__price-details [data-asset]::attr(data-asset)").getall()
            + c.css(".offer-card-v2__price-details img::attr(src)").getall()
        )
        months_free = re.search(r"(\d+)-mes[ei]-omaggio", gift.lower())
        first_period = 0 if months_free else None

        minutes, minutes_unl = _count(features, "minuti")
        sms, sms_unl = _count(features, "sms")
        sim = 0 if re.search(r"\bSIM\b[^.;]*\bgratis\b", features, re.I) else None
        plan_type = info["plan_type"]
        if re.search(r"dispositivi smart|oggetti smart|domotica|\bIoT\b", features, re.I):
            plan_type = "home"
        elif plan_type == "prepaid" and gb is None and not unlimited and (minutes or minutes_unl):
            plan_type = "voice_only"

        old = text_of(
            c.xpath(
                f".//*[{has_class('cmp-price-giga-text')}]/div[{has_class('text')}]"
                "[not(contains(@class, '__details'))][1]"
            )
        )
        old_cents = money_cents(old) if re.search(r"\d", old) else None
        notes = [header, info["note"]]
        if old_cents is not None and old_cents != price:
            notes.append(f"prima {euros(old_cents)}")
        if details_line:
            notes.append(details_line.lower())
        if months_free:
            n = int(months_free.group(1))
            notes.append("1 mese omaggio" if n == 1 else f"{n} mesi omaggio")
        notes += [d for d in details if not re.search(r"minuti|\bsms\b|spedizione", d, re.I)]
        if price is None:
            notes.append("prezzo non leggibile")

        href = clean(c.css(".offer-card-v2__cta-section a::attr(href)").get())
        card_type = clean(c.css(".gtm-offer-info::attr(data-card-type)").get()).lower()
        return {
            "offer_key": f"{slug(gb_text) or 'offerta'}-{info['key']}",
            "name": f"Very {gb_text}",
            "url": response.urljoin(href) if href else response.url,
            "plan_type": plan_type,
            "price_cents": price,
            "period_days": 28 if re.search(r"4 settimane|28 giorni", recurrence, re.I) else 30,
            "first_period_cents": first_period,
            "activation_cents": None,
            "sim_cents": sim,
            "data_gb": gb,
            "data_unlimited": unlimited,
            "data_5g": has_5g,
            "data_5g_limited": limited,
            "speed_cap_mbps": None,
            "eu_roaming_gb": None,
            "minutes": minutes,
            "sms": sms,
            "minutes_unlimited": minutes_unl,
            "sms_unlimited": sms_unl,
            "eligibility": info["eligibility"],
            "eligible_from": info["eligible_from"],
            "promo_until": None,
            "esim": True if card_type == "esim" else None,
            "notes": "; ".join(dict.fromkeys(x for x in notes if x)) or None,
        }
