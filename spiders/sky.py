"""Sky Mobile: the Sky Mobile page of sky.it, a server-rendered Next.js page.

Read from the real capture (offers section and one legal note). The GB sit only in link labels and the note, so
`SkySpider` states where each figure is found; docs/operators.md, "Sky".
"""

from __future__ import annotations

import re
from collections import Counter

from spiders.base import OperatorSpider
from spiders.parsing import allowances, clean, data_gb, is_unlimited, join_text, money_cents, slug

MOBILE = "https://www.sky.it/sky-mobile-telefonia"
#: a class token that starts with the component's name (the hash suffix after it changes with every deploy)
CARD = "//*[contains(concat(' ', normalize-space(@class)), ' styled__StyledCardOffer-')]"
NOTE = "//dialog"
_TEXT = ".//text()[not(ancestor::script) and not(ancestor::style)]"
_BUNDLE = re.compile(r"\bwi-?fi\b|sky tv|sky glass|sky calcio|sky cinema|netflix|fibra", re.I)
_POWERED = re.compile(r"\s+powered by .*$", re.I)
_EU_EXTRA = re.compile(r"(\d+)\s*GB[^.+]*\+\s*(\d+)\s*GB\s+EXTRA\s+ROAMING", re.I)


def _text(sel) -> str:
    return join_text(" " + t for t in sel.xpath(_TEXT).getall())


class SkySpider(OperatorSpider):
    """What the parser relies on in the page.

    The markup is styled-components: class names carry a hash suffix that changes with every deploy
    (`styled__StyledCardOffer-sc-72bdc312-8`), so classes are matched by their stable prefix only.
    What a person reads there, and where the spider reads it:
    - one card per plan (`StyledCardOffer`): the name in `section-title` ("Sky Mobile Start"), the price as one
      label (`aria-label="9,95€ al mese"`; the visible digits are split over nodes), the SIM fee as a line
      ("10€ di costo SIM una sola volta"), 5G in the footer ("Il 5G è incluso ...");
    - the GB are not in the card's visible text: only in the labels of its links ("Dettagli dell'offerta Mobile
      150 GB", "... Mobile GB illimitati") — the labels of one card have been seen to disagree (200 vs 250 GB), so
      the figure most of them state counts — and in the legal note the card links to;
    - the one legal note rendered in the HTML (a `dialog` whose header names the plan) gives minutes, SMS and EU
      roaming ("fino a 17 GB ... + 15GB EXTRA ROAMING UE" = 32 GB); the other plans' notes are not in the HTML,
      so their minutes and SMS stay unknown (null), never guessed;
    - a card naming Sky Wifi / Sky TV is a bundle with a fixed line ("per 12 mesi"), not a mobile offer: skipped.
    """

    operator = "sky"
    cards = "[class*=StyledCardOffer], dialog"
    start_urls = [MOBILE]
    min_offers = 3

    def parse(self, response):
        notes = self.legal_notes(response)
        yield from self.first_offers(self.card(card, response, notes) for card in response.xpath(CARD))

    @staticmethod
    def legal_notes(response) -> dict[str, list[str]]:
        """Plan name -> the lines of its legal note, for the notes rendered in the page."""
        out = {}
        for dialog in response.xpath(NOTE):
            title = _POWERED.sub("", _text(dialog.xpath("(.//header)[1]")))
            if title:
                lines = [clean(t) for t in dialog.xpath(".//strong//text() | .//span/text()").getall()]
                out[title.casefold()] = [line for line in lines if line]
        return out

    def card(self, c, response, notes: dict[str, list[str]]) -> dict | None:
        name = clean(" ".join(c.xpath(".//section-title//text()").getall())) or _text(c.xpath("(.//h3)[1]"))
        body = _text(c)
        if not name or _BUNDLE.search(name) or _BUNDLE.search(body):
            return None
        label = c.xpath(".//*[@aria-label][contains(@aria-label, '€')]/@aria-label").get() or ""
        price = money_cents(label)
        if not price:
            return None
        sim = next((money_cents(t) for t in c.xpath(_TEXT).getall() if re.search(r"costo\s+SIM", t, re.I)), None)
        note = notes.get(name.casefold(), [])
        feats = allowances(note)
        unlimited, gb = self.card_data(c)
        feats["data_unlimited"], feats["data_gb"] = unlimited, None if unlimited else gb
        extra = next((_EU_EXTRA.search(line) for line in note if _EU_EXTRA.search(line)), None)
        if extra:
            feats["eu_roaming_gb"] = float(int(extra.group(1)) + int(extra.group(2)))
        return {
            "offer_key": slug(name),
            "name": name,
            "url": response.url,
            "plan_type": "prepaid",
            "price_cents": price,
            "period_days": 28 if re.search(r"4 settimane|28 giorni", label, re.I) else 30,
            "first_period_cents": None,
            "activation_cents": None,
            "sim_cents": sim,
            **feats,
            "data_5g": bool(re.search(r"\b5G\b", body)),
            "data_5g_limited": False,
            "speed_cap_mbps": None,
            "eligibility": "all",
            "eligible_from": [],
            "promo_until": None,
            "esim": None,
            "notes": None,
        }

    @staticmethod
    def card_data(c) -> tuple[bool, float | None]:
        """(unlimited, GB) as most of the card's link labels state them."""
        votes: Counter = Counter()
        for label in c.xpath(".//a/@aria-label").getall():
            if is_unlimited(label) or re.search(r"\bGB\s+illimitat", label, re.I):
                votes[(True, None)] += 1
            elif (gb := data_gb(label)) is not None:
                votes[(False, gb)] += 1
        return votes.most_common(1)[0][0] if votes else (False, None)
