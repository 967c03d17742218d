"""Fastweb: the mobile offers page (server-rendered HTML, one simple card per offer).

Read from the real capture. The header's mega-menu repeats offers with prices and is never read; `FastwebSpider`
lists what is (docs/operators.md describes the page).
"""

from __future__ import annotations

import re
from urllib.parse import urlparse

from spiders.base import OperatorSpider
from spiders.parsing import CURRENT_TEXT, allowances, clean, join_text, money_cents, slug, text_of

MOBILE = "https://www.fastweb.it/adsl-fibra-ottica/offerta-mobile"
CARD = (
    "//*[@id='Main']//*[contains(concat(' ', normalize-space(@class), ' '), ' offer_card ')]"
    "[not(contains(concat(' ', normalize-space(@class), ' '), ' offer_card_conv '))]"
)


class FastwebSpider(OperatorSpider):
    """What the parser relies on in the page.

    Page facts this parser builds on (see docs/operators.md and the real capture):
    - the header's mega-menu (`header`, `nav`, cards `a.card_r` with split prices `<span class=int>9</span>
      <span class=dec>,95</span>`) repeats mobile offers and lists fixed-line, energy and business offers with their
      prices: never read. Only `.offer_card` elements inside `#Main` are offers.
    - a card: name in `.oname` (a `label.tag` inside it: "la più venduta"), feature lines `ul li` ("150 GB, anche
      in 5G*", "Minuti illimitati verso fissi e mobili nazionali", "32 GB di Roaming UE", "200 SMS",
      "Roaming UE incluso senza limiti + 5 GB extra UE"), one price text `.pricebox .price` ("9,95 €/mese",
      "da 11,95 €/mese"), the product link `.pricebox a.scopri` (/adsl-fibra-ottica/fastweb-mobile-start/?from=...:
      its path slug is the offer_key), a 5G badge `img.logo5g`.
    - a card without `.oname` but with a tag `.oname_tag .tag` ("PER I CLIENTI CASA") and a description `.odesc`
      ("Per te che sei già cliente Fastweb Casa o Mobile, minuti e giga illimitati su una nuova offerta Mobile Pro")
      is an offer for existing customers: eligibility existing_customer, named after the offer the text names.
    - `.offer_card_conv` is a mobile + energy bundle (Mobile Start + Luce Flat): not a mobile offer of its own.
    - no card or page text states an activation fee, a SIM fee or eSIM: those stay null.
    - a card that names no mobile minutes/SMS but GB (a "solo internet" tile) is data_only.
    """

    operator = "fastweb"
    cards = ".offer_card"
    start_urls = [MOBILE]
    min_offers = 3

    def parse(self, response):
        # no price: no offer; the same offer shown twice: one
        yield from self.first_offers(self.card(card, response) for card in response.xpath(CARD))

    def card(self, c, response) -> dict | None:
        box = c.css(".pricebox .price")[:1]
        price_text = (
            join_text(
                box.xpath(
                    "./text() | ./*[not(self::a) and not(self::del) and not(self::s) and not(self::div)]//text()"
                ).getall()
            )
            if box
            else ""
        )
        price = money_cents(price_text) if re.search(r"\d", price_text) else None
        if price is None:
            return None
        label = text_of(c.css(".oname label, .oname .tag"), CURRENT_TEXT)
        name = text_of(
            c.css(".oname")[:1],
            "./text() | ./*[not(self::label) and not(self::svg) and not(contains(@class, 'labelhdr'))]//text()",
        )
        tag = text_of((c.css(".oname_tag .tag") or c.css(".oname_tag"))[:1], CURRENT_TEXT)
        desc = text_of(c.css(".odesc"), CURRENT_TEXT)
        lines = [text_of(li, CURRENT_TEXT) for li in c.css("ul li")]
        url = self.card_url(c, response)
        eligibility = "all"
        if re.search(r"già cliente|per i clienti", f"{tag} {desc}", re.I):
            eligibility = "existing_customer"
        if not name:
            named = re.search(r"offerta\s+(Mobile\s+\w+)", desc, re.I)
            product = f"Fastweb {named.group(1)}" if named else "Fastweb Mobile"
            name = clean(f"{product} ({tag})") if tag else product
        feats = allowances(lines or [desc])
        has_voice = feats["minutes"] or feats["minutes_unlimited"] or feats["sms"] or feats["sms_unlimited"]
        has_data = feats["data_gb"] or feats["data_unlimited"]
        body = " ".join(lines + [desc])
        if has_data and not has_voice:
            plan_type = "data_only"
        elif has_voice and not has_data and re.search(r"solo (minuti|voce)", body, re.I):
            plan_type = "voice_only"
        else:
            plan_type = "prepaid"

        notes = [x for x in (label, tag if eligibility != "all" else "") if x]
        if re.match(r"da\b|a partire da", price_text, re.I):
            notes.append("a partire da " + re.sub(r"^(da|a partire da)\s*", "", price_text, flags=re.I))
        notes += [x for x in lines if re.search(r"roaming", x, re.I) and re.search(r"senza limiti|illimitat", x, re.I)]
        notes += [text_of(x, CURRENT_TEXT) for x in c.css(".odesc2")]
        old = text_of(box.css("del, s"), ".//text()")
        if old:
            notes.append(f"invece di {old}")
        return {
            "offer_key": self.key(url, name, response),
            "name": name,
            "url": url,
            "plan_type": plan_type,
            "price_cents": price,
            "period_days": 28 if re.search(r"4 settimane|28 giorni", price_text, re.I) else 30,
            "first_period_cents": None,
            "activation_cents": None,
            "sim_cents": None,
            **feats,
            "data_5g": bool(c.css("img.logo5g")) or bool(re.search(r"\b5G\b", body)),
            "data_5g_limited": False,
            "speed_cap_mbps": None,
            "eligibility": eligibility,
            "eligible_from": [],
            "promo_until": None,
            "esim": True if re.search(r"\besim\b", body, re.I) else None,
            "notes": "; ".join(dict.fromkeys(n for n in notes if n)) or None,
        }

    @staticmethod
    def card_url(c, response) -> str:
        hrefs = c.css(".pricebox a::attr(href), a::attr(href)").getall() + [c.attrib.get("href") or ""]
        for href in hrefs:
            if href and not href.startswith(("#", "javascript:")) and "/dettagli/" not in href:
                return response.urljoin(href)
        return response.url

    @staticmethod
    def key(url: str, name: str, response) -> str:
        """The product page's slug (/adsl-fibra-ottica/fastweb-mobile-pro/ -> fastweb-mobile-pro), else the name."""
        parts = urlparse(url)
        path = parts.path.rstrip("/")
        if url != response.url and "/adsl-fibra-ottica/" in path:
            last = path.rsplit("/", 1)[-1]
            if last and last not in ("offerta-mobile",):
                return slug(last)
        return slug(name)
