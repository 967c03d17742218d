"""ho. Mobile: the "tutte le offerte" page (server-rendered AEM HTML, Imperva script present).

Read from the real capture. A card's activation fee depends on the donor operator, listed in hidden modals, so one
card can be several offers; `HoSpider` lists the page facts (see also docs/operators.md).
"""

from __future__ import annotations

import re
from functools import lru_cache

from spiders.base import OfferKeys, OperatorSpider
from spiders.parsing import (
    clean,
    data_gb,
    euros,
    has_class,
    is_unlimited,
    money_cents,
    operators_named,
    parse_date,
    slug,
    split_price_cents,
    text_of,
)

MOBILE = "https://www.ho-mobile.it/tutte-le-offerte"
CARD = ".offerCarousel__slider__card[data-offerlink]"
_EUR = r"(\d+(?:,\d{1,2})?)\s*€"


@lru_cache(maxsize=512)  # every modal lists the same few dozen operator names
def donor_slug(name: str) -> str | None:
    """The slug of one donor operator as a modal lists it (ho. itself is never a donor)."""
    return next(iter(operators_named(name, exclude="ho")), None)


def _count(text: str, word: str) -> tuple[int | None, bool]:
    """'Minuti illimitati e 200 SMS' -> minutes (None, True), SMS (200, False)."""
    if re.search(word + r"\s+illimitat|illimitat\w*\s+" + word, text, re.I):
        return None, True
    m = re.search(r"(\d[\d.]*)\s*" + word, text, re.I) or re.search(word + r"\s*:?\s*(\d[\d.]*)", text, re.I)
    return (int(m.group(1).replace(".", "")), False) if m else (None, False)


class HoSpider(OperatorSpider):
    """What the parser relies on in the page.

    Page facts this parser builds on (see docs/operators.md):
    - cards `.offerCarousel__slider__card[data-offerlink="/flussi-attivazione.NNN.html"]`; a card has no title, only
      a label (`__label`: "Offerta 5G!", "5G incluso!", or a flash "Fino al <span class=flashDate>"), the GB in
      `__stripe__firstLine` ("<span>150</span> Giga"), minutes/SMS in `__stripe__secondLine`, the price split over
      `__price__value` "6" + `__price__details__cent` ",95" + currency + `__price__details__frequency` "al mese".
    - two tabs: `.offerCarousel__allOffers` and a hidden `.offerCarousel__5GOffers` that repeats the 5G cards
      (deduplicated by data-offerlink; a card in the 5G tab is a 5G offer).
    - "Attivazione a partire da 2,99€ per alcuni operatori": the link calls `showOtherOperatorsModal('flash5')`
      (no argument = the `products` modal). Hidden `.otherOperatorsModal.<name>` blocks list, per block title
      ("Attivazione <del>29,90€</del> scontata a 2,99€ per i clienti:", "Attivazione 29,90€ per i clienti:"), the
      donor operators of that fee. Each block is one offer variant: its own offer_key, activation fee and
      eligible_from (the donors we know as operator slugs), eligibility "portability".
    - the flash end date sits in a script variable (`var flashDate="24\\/09";`, no year -> resolved on crawl_date).
    The "offerta per la casa" box (`.ho-offerta-box`, home internet) is not a mobile offer card and is not parsed.
    """

    operator = "ho"
    cards = ".offerCarousel__slider__card"
    start_urls = [MOBILE]
    min_offers = 4

    def parse(self, response):
        flash = re.search(r"""flashDate\s*=\s*["']([^"']+)["']""", response.text)
        flash_date = parse_date(flash.group(1), self.crawl_date) if flash else None
        cards: dict[str, dict] = {}
        for card in response.css(CARD):
            link = clean(card.attrib.get("data-offerlink"))
            in_5g_tab = bool(card.xpath("ancestor::*[" + has_class("offerCarousel__5GOffers") + "]"))
            if link in cards:  # the 5G tab repeats cards of the first tab
                cards[link]["data_5g"] = cards[link]["data_5g"] or in_5g_tab
                continue
            item = self.card(card, response, link, flash_date)
            item["data_5g"] = item["data_5g"] or in_5g_tab
            cards[link] = item
        # the hidden origin modals, found once per page (not by a whole-page search per card)
        modals = list(response.xpath(f"//*[{has_class('otherOperatorsModal')}]"))
        for item in cards.values():
            modal = item.pop("_modal")
            variants = self.variants(modals, modal) if modal else []
            if not variants:
                yield self.offer(**item)
                continue
            keys = OfferKeys()
            for v in variants:
                key = keys.unique(f"{item['offer_key']}:{v['variant']}")
                notes = "; ".join(x for x in (v["note"], item["notes"]) if x)
                out = {
                    **item,
                    "offer_key": key,
                    "activation_cents": v["cents"],
                    "eligibility": "portability",
                    "eligible_from": v["from"],
                    "notes": notes or None,
                }
                yield self.offer(**out)

    # ---------------------------------------------------------------- one card
    def card(self, c, response, link: str, flash_date: str | None) -> dict:
        label = text_of(c.css(".offerCarousel__slider__card__label"))
        first = text_of(c.css(".offerCarousel__slider__card__stripe__firstLine"))
        second = text_of(c.css(".offerCarousel__slider__card__stripe__secondLine"))
        units = text_of(c.css(".offerCarousel__slider__card__price__value"))
        cents = text_of(c.css(".offerCarousel__slider__card__price__details__cent"))
        freq = text_of(c.css(".offerCarousel__slider__card__price__details__frequency"))
        info_sel = c.css(".offerCarousel__slider__card__activationInfo")
        info = text_of(info_sel)
        price = split_price_cents(units, cents) if re.search(r"\d", units) else None

        unlimited = is_unlimited(first) and not re.search(r"\d", first)
        gb = None if unlimited else data_gb(first if re.search(r"giga|gb|mb|tb", first, re.I) else first + " GB")
        minutes, minutes_unl = _count(second, "minuti")
        sms, sms_unl = _count(second, "sms")
        if gb is None and not unlimited:
            plan_type = "voice_only" if (minutes or minutes_unl) else "prepaid"
        elif minutes == 0 and sms == 0:
            plan_type = "data_only"
        else:
            plan_type = "prepaid"

        promo = None
        if c.css(".flashDate"):
            promo = flash_date
        elif re.search(r"\bfino al\b", label, re.I):
            promo = parse_date(label, self.crawl_date)

        # the card's own fee only when no modal lists the variants ("a partire da" is a minimum, not a fee)
        modal = None
        onclick = " ".join(info_sel.css("[onclick]::attr(onclick)").getall())
        m = re.search(r"showOtherOperatorsModal\(\s*(?:['\"]([^'\"]*)['\"])?\s*\)", onclick)
        if m:
            modal = m.group(1) or "products"
        fee = re.search(r"Attivazione\s*:?\s*(gratis|gratuita|" + _EUR + ")", info, re.I)
        activation = money_cents(fee.group(1)) if fee and not re.search(r"a partire da", info, re.I) else None

        gb_text = "Giga illimitati" if unlimited else (f"{gb:g} Giga" if gb is not None else "")
        name = clean(" ".join(x for x in ("ho.", gb_text, euros(price) if price is not None else "") if x))
        notes = [
            x
            for x in (label if not c.css(".flashDate") else "", f"offerta flash fino al {promo}" if promo else "")
            if x
        ]
        if price is None:
            notes.append("prezzo non leggibile")
        return {
            "offer_key": slug(re.sub(r"\.html?$", "", link)) or slug(name),
            "name": name,
            "url": response.urljoin(link) if link else response.url,
            "plan_type": plan_type,
            "price_cents": price,
            "period_days": 28 if re.search(r"4 settimane|28 giorni", freq, re.I) else 30,
            "first_period_cents": None,
            "activation_cents": activation,
            "sim_cents": None,
            "data_gb": gb,
            "data_unlimited": unlimited,
            "data_5g": bool(re.search(r"\b5G\b", label)),
            "data_5g_limited": False,
            "speed_cap_mbps": None,
            "eu_roaming_gb": None,
            "minutes": minutes,
            "sms": sms,
            "minutes_unlimited": minutes_unl,
            "sms_unlimited": sms_unl,
            "eligibility": "all",
            "eligible_from": [],
            "promo_until": promo,
            "esim": None,
            "notes": "; ".join(notes) or None,
            "_modal": modal,
        }

    # ---------------------------------------------------------------- origin variants from a modal
    @staticmethod
    def variants(modals: list, name: str) -> list[dict]:
        modal = next((m for m in modals if name in m.attrib.get("class", "").split()), None)
        if modal is None:
            return []
        window = re.search(r"entro (\d+) giorni", text_of(modal.css(".otherOperatorsModal__disclaimer")), re.I)
        out = []
        for title in modal.css(".otherOperatorsModal__blockTitle"):
            full = clean(" ".join(title.xpath(".//del//text()").getall()))
            plain = text_of(title, ".//text()[not(ancestor::del)]")
            amounts = re.findall(_EUR, plain)
            cents = money_cents(amounts[-1] + " €") if amounts else None
            if cents is None:
                continue
            lst = title.xpath(f"following-sibling::*[{has_class('otherOperatorsModal__list')}][1]")
            items = ("".join(li.itertext()) for li in lst[0].root.iter("li")) if lst else ()
            names = [name for name in map(clean, items) if name]
            slugs = sorted({s for s in map(donor_slug, names) if s})
            if not names:
                continue
            discounted = bool(full) or bool(re.search(r"scontat", plain, re.I))
            note = f"attivazione {euros(cents)}" + (f" invece di {full}" if full else "")
            note += f" per chi porta il numero da uno dei {len(names)} operatori elencati"
            if window:
                note += f" (portabilità entro {window.group(1)} giorni dall'attivazione)"
            out.append({"variant": "sconto" if discounted else "pieno", "cents": cents, "from": slugs, "note": note})
        return out
