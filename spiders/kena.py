"""Kena Mobile: the offers page (server-rendered WordPress/WooCommerce shop archive).

No capture exists: the WooCommerce structure is assumed (`KenaSpider` lists it; docs/operators.md). A product may
stand in two sections, for different origins: each is its own offer.
"""

from __future__ import annotations

import re

from spiders.base import OperatorSpider
from spiders.parsing import CURRENT_TEXT, clean, data_gb, euros, money_cents, operators_named, parse_date, slug, text_of

MOBILE = "https://www.kenamobile.it/offerte/"
_PRODUCT = "contains(concat(' ', normalize-space(@class), ' '), ' product ')"
_PLAIN = (
    ".//text()[not(ancestor::del) and not(ancestor::s) and not(ancestor::script) and not(ancestor::style)"
    " and not(ancestor::*[contains(concat(' ', normalize-space(@class), ' '), ' screen-reader-text ')])]"
)
_HEADING = f"preceding::*[self::h1 or self::h2 or self::h3 or self::h4][not(ancestor::li[{_PRODUCT}])][1]"
_EUR = r"\d+(?:,\d{1,2})?\s*€"
_FEE = r"\s*:?\s*(gratis|gratuit[ao]|" + _EUR + ")"
_QTY = re.compile(r"(\d+(?:[.,]\d+)?)\s*(GB|Giga|MB|Mega|TB)\b", re.I)
_EU = re.compile(r"\s*(?:di\s+roaming\s+)?(?:in|nei paesi de(?:ll[a']?|i))\s*(?:UE|Europa|U\.E\.)\b", re.I)


def _count(text: str, word: str) -> tuple[int | None, bool]:
    """'Minuti illimitati', 'Minuti e SMS illimitati', '1000 minuti', '200 SMS' -> (count, unlimited)."""
    if re.search(
        rf"{word}\s+illimitat|illimitat\w*\s+{word}|{word}\s+e\s+\w+\s+illimitat|"
        rf"\w+\s+e\s+{word}\s+illimitat",
        text,
        re.I,
    ):
        return None, True
    if re.search(rf"(?:niente|nessun\w*|senza|né)\s+{word}", text, re.I):
        return 0, False
    m = re.search(rf"(\d[\d.]*)\s*{word}\b", text, re.I)
    return (int(m.group(1).replace(".", "")), False) if m else (None, False)


def _data(text: str) -> tuple[float | None, bool, float | None]:
    """National GB, unlimited flag and EU GB from the card text (struck-through values already left out)."""
    unlimited = bool(re.search(r"giga\s+illimitat|illimitat\w*\s+giga|internet\s+illimitat", text, re.I))
    national = eu = None
    for m in _QTY.finditer(text):
        if _EU.match(text, m.end()):
            eu = eu if eu is not None else data_gb(m.group(0))
        elif national is None:
            national = data_gb(m.group(0))
    return (None if unlimited else national), unlimited, eu


def section(heading: str) -> tuple[str, list[str], str]:
    """A section heading -> (eligibility, eligible_from, offer_key segment)."""
    origins = operators_named(heading, exclude="kena")
    if origins:
        return "portability", origins, "mnp-" + "-".join(sorted(origins))
    if re.search(r"nuov[oa]\s+(?:numero|linea|sim)|numero\s+nuovo", heading, re.I):
        return "new_number", [], "nuovo-numero"
    if re.search(r"portabilit|passa a kena|cambi\w* operatore|porta(?:re)? il (?:tuo )?numero", heading, re.I):
        return "portability", [], "mnp"
    return "all", [], "tutti"


class KenaSpider(OperatorSpider):
    """What the parser relies on in the page.

    No real capture exists; the page facts this parser builds on (see docs/operators.md) are:
    - product cards `ul.products > li.product` (WooCommerce loop); the WordPress post id is a class `post-NNNN`
      (also `data-product_id` on the add-to-cart button): the stable product id. Name in
      `.woocommerce-loop-product__title`, link `a.woocommerce-LoopProduct-link`.
    - the price in `.price .woocommerce-Price-amount`, split over nodes ("5,99" + "€" + "al" + a sibling "mese");
      a sale shows the old price in `<del>` and the new one in `<ins>`, with `.screen-reader-text` sentences that
      repeat both prices (never read). "al mese" -> 30 days; "4 settimane"/"28 giorni" -> 28.
    - GB with an old value struck through (`<del>150</del> 200 Giga`, `<s>100 Giga</s> 120 Giga`): the new value
      counts. "di cui 10 Giga in UE" is the EU roaming allowance; "50 MB" exists (Kena Voce).
    - sections, each a heading followed by its `ul.products`: "Per chi viene da Iliad, Coop, PosteMobile e altri"
      and "Per chi viene da Vodafone, WindTre, Very e TIM" (portability, eligible_from = the operators the heading
      names), "Per chi attiva un nuovo numero" (new_number); a heading naming nobody means no restriction
      (segment "tutti"). The same
      product may appear in two sections: each (product, section) is its own offer, offer_key = product id + a
      section segment built from the section's meaning (never from a price).
    - card texts: "Attivazione e SIM gratis", "Attivazione 9,99 €", "SIM 5 €", "Fino al 30/09" (promo end, no year),
      "Il primo mese è gratis", badges "5G incluso", "Solo voce", "Solo internet".
    The header mini-cart and the footer product widgets (`ul.product_list_widget`, top-ups) carry prices that are
    not offers: only `li.product` inside `ul.products` is read.
    """

    operator = "kena"
    cards = "li.product"
    start_urls = [MOBILE]
    min_offers = 4

    def parse(self, response):
        yield from self.numbered_offers(self.section_cards(response), drop_same=True)  # a card twice in one section

    def section_cards(self, response):
        """Each section's cards, keyed and made eligible by the section's heading."""
        for products in response.css("ul.products"):
            heading_sel = products.xpath(_HEADING)
            heading = text_of(heading_sel[0], CURRENT_TEXT) if heading_sel else ""
            eligibility, origins, segment = section(heading)
            for card in products.xpath(f"./li[{_PRODUCT}]"):
                item = self.card(card, response)
                if item is None:
                    continue
                notes = [heading] if origins else []
                item.update(
                    offer_key=f"{item['offer_key']}:{segment}",
                    eligibility=eligibility,
                    eligible_from=origins,
                    notes="; ".join(notes + item["notes"]) or None,
                )
                yield item

    def card(self, c, response) -> dict | None:
        name = text_of(c.css(".woocommerce-loop-product__title"), CURRENT_TEXT)
        if not name:
            return None
        price_box = c.css(".price")
        amounts = [
            text_of(a, CURRENT_TEXT)
            for a in price_box.xpath(
                ".//*[contains(concat(' ', normalize-space(@class), ' '), ' woocommerce-Price-amount ')]"
                "[not(ancestor::del)]"
            )
        ]
        price = next((p for p in map(money_cents, amounts) if p is not None), None)
        if price is None:
            price = money_cents(text_of(price_box, CURRENT_TEXT))
        old = next(
            (p for p in map(money_cents, price_box.xpath(".//del").xpath("string()").getall()) if p is not None), None
        )
        body = text_of(c, CURRENT_TEXT)

        gb, unlimited, eu = _data(body)
        minutes, minutes_unl = _count(body, "minuti")
        sms, sms_unl = _count(body, "sms")
        if re.search(r"solo\s+(?:internet|dati|giga)", body, re.I):
            plan_type = "data_only"
            minutes = 0 if minutes is None and not minutes_unl else minutes
            sms = 0 if sms is None and not sms_unl else sms
        elif re.search(r"solo\s+(?:voce|minuti)", body, re.I):
            plan_type = "voice_only"
        else:
            plan_type = "prepaid"

        act = re.search(r"attivazione(?:\s+e\s+sim)?" + _FEE, body, re.I)
        sim = re.search(r"\bsim(?:\s+e\s+attivazione)?" + _FEE, body, re.I)
        promo = re.search(r"\bfino\s+al(?:l['’]\s*|\s+)(\d{1,2}\s*/\s*\d{1,2}(?:\s*/\s*\d{2,4})?)", body, re.I)
        first = 0 if re.search(r"primo mese(?:\s+è)?\s+(?:gratis|gratuito|in regalo)", body, re.I) else None

        notes = []
        if old is not None and old != price:
            notes.append(f"invece di {euros(old)}")
        link = c.css("a.woocommerce-LoopProduct-link::attr(href)").get() or c.css("a::attr(href)").get()
        post = re.search(r"\bpost-(\d+)\b", c.attrib.get("class", ""))
        pid = post.group(1) if post else clean(c.css("[data-product_id]::attr(data-product_id)").get())
        return {
            "offer_key": f"product-{pid}" if pid else slug(name),
            "name": name,
            "url": response.urljoin(link) if link else response.url,
            "plan_type": plan_type,
            "price_cents": price,
            "period_days": 28 if re.search(r"4\s+settimane|28\s+giorni", body, re.I) else 30,
            "first_period_cents": first,
            "activation_cents": money_cents(act.group(1)) if act else None,
            "sim_cents": money_cents(sim.group(1)) if sim else None,
            "data_gb": gb,
            "data_unlimited": unlimited,
            "data_5g": bool(re.search(r"\b5G\b", body)),
            "data_5g_limited": False,
            "speed_cap_mbps": None,
            "eu_roaming_gb": eu,
            "minutes": minutes,
            "sms": sms,
            "minutes_unlimited": minutes_unl,
            "sms_unlimited": sms_unl,
            "promo_until": parse_date(promo.group(1), self.crawl_date) if promo else None,
            "esim": True if re.search(r"\besim\b", body, re.I) else None,
            "notes": notes,
        }
