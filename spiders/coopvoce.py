"""CoopVoce: the offers page (server-rendered HTML).

No capture of the real page exists: each card is read as label/value pairs whose labels we assumed. `CoopVoceSpider`
lists every assumption, to be checked against the first real page (docs/operators.md).
"""

from __future__ import annotations

import re
from urllib.parse import urlparse

from spiders.base import OperatorSpider
from spiders.parsing import CURRENT_TEXT, data_gb, euros, is_unlimited, money_cents, parse_date, slug, text_of

MOBILE = "https://www.coopvoce.it/portale/offerte.html"
CARD = ".card-offerta"
_LABEL = "contains(concat(' ', normalize-space(@class), ' '), '__label ') or contains(@class, '-label')"
_VALUE = "contains(concat(' ', normalize-space(@class), ' '), '__value ') or contains(@class, '-value')"
_5G = re.compile(r"(?<![a-z0-9])5g(?![a-z0-9])", re.I)
#: price label -> (variant, eligibility, note)
_PRICES = (
    (r"costo\s+al|costo\s+nuov[oa]\s+(?:linea|numero)", "al", "new_number", "Costo AL: prezzo per un nuovo numero"),
    (r"costo\s+mnp|costo\s+(?:in\s+)?portabilit\w*", "mnp", "portability", "Costo MNP: prezzo per chi porta il numero"),
    (r"costo(?:\s+mensile)?|prezzo", "", "all", ""),
)


def _none(value: str) -> bool:
    return bool(re.fullmatch(r"[-–—]+|0|no|non inclus[io]|nessun[oa]?", value, re.I))


def _count(value: str) -> tuple[int | None, bool]:
    """A minutes/SMS value: 'Illimitati' -> (None, True), '1.000' -> (1000, False), '-' -> (0, False)."""
    if is_unlimited(value):
        return None, True
    if _none(value):
        return 0, False
    m = re.search(r"\d[\d.]*", value)
    return (int(m.group(0).replace(".", "")), False) if m else (None, False)


def _gb(value: str) -> tuple[float | None, bool]:
    if is_unlimited(value):
        return None, True
    if _none(value):
        return 0.0, False
    if not re.search(r"\d", value):
        return None, False
    return data_gb(value if re.search(r"[a-z]", value, re.I) else value + " GB"), False


def pairs(card) -> list[tuple[str, object]]:
    """(label text, value selector) in page order: `*__label` + following `*__value`, or dt + dd."""
    out = []
    for label in card.xpath(f".//*[{_LABEL}] | .//dt"):
        tag = label.root.tag
        value = label.xpath("following-sibling::dd[1]" if tag == "dt" else f"following-sibling::*[{_VALUE}][1]")
        if value:
            out.append((text_of(label, CURRENT_TEXT), value[0]))
    return out


class CoopVoceSpider(OperatorSpider):
    """What the parser relies on in the page.

    No real capture exists; the page facts this parser builds on (see docs/operators.md) are:
    - one card per offer (`.card-offerta`), made of label/value pairs (`*__label` + the following `*__value`; a
      `dt`/`dd` list is read the same way): "Nome", "GB" ("200", "Illimitati", "-"), "Minuti" ("Illimitati",
      "1.000", "-"), "SMS", "Attivazione" ("Gratis", "10 €") and the price under "Costo AL" (new line ->
      eligibility new_number) and/or "Costo MNP" (number portability -> eligibility portability, from any
      operator: eligible_from []). Each price label is its own offer (offer_key = the card's slug + ":al"/":mnp");
      a card with a single plain "Costo" is one offer open to all. An old price may be struck through (`<del>`).
    - 5G is shown only by an icon: an `<img>` whose file name, or an `<i>`/element whose class, has a "5g" token
      ("icon-5g.svg", "cv-icon--5g"); "icon-4g.svg" is not 5G.
    - "PROMO VALIDA FINO ALL'01/07" (no year) -> promo_until, resolved against crawl_date.
    - "-" as a value means not included (0); a card saying "solo internet" or with no minutes and SMS is data-only,
      one with no data is voice-only.
    The card's link (/portale/offerte/<slug>.html) is its URL and gives the offer_key slug. Header banners ("a partire
    da 4,90 €") and the footer carry unrelated prices: only the cards are read.
    """

    operator = "coopvoce"
    cards = ".card-offerta"
    start_urls = [MOBILE]
    min_offers = 4

    def parse(self, response):
        yield from self.numbered_offers(item for card in response.css(CARD) for item in self.card(card, response))

    def card(self, c, response) -> list[dict]:
        fields: dict[str, str] = {}
        prices: list[tuple[str, str, str, int | None, int | None]] = []  # a price None: the pipeline drops it
        for label, value in pairs(c):
            plain = text_of(value, CURRENT_TEXT)
            lab = label.lower().rstrip(": ")
            for pattern, variant, eligibility, note in _PRICES:
                if re.fullmatch(pattern, lab, re.I):
                    old = money_cents(text_of(value, ".//del//text() | .//s//text()"))
                    prices.append((variant, eligibility, note, money_cents(plain), old))
                    break
            else:
                fields.setdefault(re.sub(r"[^a-z]", "", lab), plain)
        name = fields.get("nome") or fields.get("nomeofferta") or text_of(c.css("h2, h3"), CURRENT_TEXT)
        if not name or not prices:
            return []
        gb, unlimited = _gb(fields.get("gb") or fields.get("giga") or fields.get("internet") or "")
        minutes, minutes_unl = _count(fields.get("minuti") or fields.get("voce") or "")
        sms, sms_unl = _count(fields.get("sms") or "")
        act = fields.get("attivazione") or fields.get("costoattivazione")
        sim = fields.get("sim") or fields.get("costosim")
        body = text_of(c, CURRENT_TEXT)
        if re.search(r"solo\s+(?:internet|dati)", body, re.I) or (minutes == 0 and sms == 0 and (gb or unlimited)):
            plan_type = "data_only"
        elif gb == 0 and not unlimited and (minutes or minutes_unl):
            plan_type = "voice_only"
        else:
            plan_type = "prepaid"
        promo = re.search(r"promo\w*\s+valid\w*\s+fino\s+(.*)", body, re.I)
        icons = " ".join(
            c.xpath(".//img/@src | .//img/@alt | .//i/@class | .//*[contains(@class, 'icon')]/@class").getall()
        )
        link = c.css("a[href]::attr(href)").get()
        url = response.urljoin(link) if link else response.url
        path = urlparse(url).path.rstrip("/")
        base = (
            slug(re.sub(r"\.html?$", "", path.rsplit("/", 1)[-1]))
            if link and path != urlparse(MOBILE).path
            else slug(name)
        )
        common = {
            "name": name,
            "url": url,
            "plan_type": plan_type,
            "period_days": 28 if re.search(r"4\s+settimane|28\s+giorni", body, re.I) else 30,
            "first_period_cents": None,
            "activation_cents": money_cents(act) if act else None,
            "sim_cents": money_cents(sim) if sim else None,
            "data_gb": gb,
            "data_unlimited": unlimited,
            "data_5g": bool(_5G.search(icons)),
            "data_5g_limited": False,
            "speed_cap_mbps": None,
            "eu_roaming_gb": None,
            "minutes": minutes,
            "sms": sms,
            "minutes_unlimited": minutes_unl,
            "sms_unlimited": sms_unl,
            "eligible_from": [],
            "promo_until": parse_date(promo.group(1), self.crawl_date) if promo else None,
            "esim": True if re.search(r"\besim\b", body, re.I) else None,
        }
        out = []
        for variant, eligibility, note, cents, old in prices:
            notes = [x for x in (note, f"invece di {euros(old)}" if old and old != cents else "") if x]
            out.append(
                {
                    **common,
                    "offer_key": f"{base}:{variant}" if variant else base,
                    "price_cents": cents,
                    "eligibility": eligibility,
                    "notes": "; ".join(notes) or None,
                }
            )
        return out
