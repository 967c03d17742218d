"""PosteMobile: the mobile offers page (server-rendered SharePoint HTML, one card per offer).

Read from the real capture, whose names and prices are written in several irregular ways: `PosteMobileSpider` lists
each one the parser handles (docs/operators.md describes the page).
"""

from __future__ import annotations

import re
from urllib.parse import urlparse

from spiders.base import OfferKeys, OperatorSpider
from spiders.parsing import (
    CURRENT_TEXT,
    clean,
    data_gb,
    is_unlimited,
    join_text,
    money_cents,
    parse_date,
    slug,
    text_of,
)

MOBILE = "https://www.postemobile.it/privati/offerte-telefonia-mobile"
_AMOUNT = r"(€\s*\d+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?\s*€)"
_COST = re.compile(
    r"Costo(?:\s+(?:piano|mensile|offerta))?\s*:?\s*"
    + _AMOUNT
    + r"\s*(?:/|al |a )\s*(4 settimane|mese|giorno|settimana)",
    re.I,
)
_PERIODS = {"mese": 30, "4 settimane": 28, "settimana": 7, "giorno": 1}
_LABELS = (
    (re.compile(r"^esclusiva\s+online$", re.I), "esclusiva online"),
    (re.compile(r"^esclusiva\s+(?:in\s+)?ufficio\s+postale$", re.I), "esclusiva ufficio postale"),
)
_NEW_CUSTOMERS = re.compile(r"^(?:solo\s+)?per\s+(?:i\s+)?nuovi\s+clienti$", re.I)
_NEW_NUMBER = re.compile(r"nuov[oi] numer|nuova linea", re.I)
_UNTIL = re.compile(r"(?:disponibile|valid[ao]|attivabile)\s+fino\s+al\s*(\d{1,2}/\d{1,2}(?:/\d{2,4})?)", re.I)
_VOICE = re.compile(r"chiamat|minut|\bsms\b|credit", re.I)
_HOME = re.compile(r"\bcasa\b|domotic|smart\s*home|oggetti smart|\biot\b|modem|router", re.I)


def _sentences(sel) -> list[str]:
    """The sentences of a label block: one per text line (`<br>`), split again after a full stop."""
    out = []
    for node in sel.xpath(CURRENT_TEXT).getall():
        out += [s.rstrip(". ") for s in re.split(r"(?<=\.)\s+(?=[A-Z0-9*])", clean(node)) if s.rstrip(". ")]
    return out


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


class PosteMobileSpider(OperatorSpider):
    """What the parser relies on in the page.

    Page facts this parser builds on (see docs/operators.md and the real capture):
    - cards `.blocco_tariffa` (two lists: "Offerte in evidenza" and "Tutte le altre offerte"); nothing outside the
      cards is read (navigation, footer and banners carry other prices).
    - the name is the card's `h3`, written over several lines (`Creami EXTRA<br>WOW 200`, a `<font>` inside, or an
      invalid `</br>` that the HTML parser drops: "Creami EXTRAWOW 150 Online"). Text nodes are joined with spaces;
      when the name glued two words, the card image's alt/title (the same name with the `</br>` still in it) is
      used instead.
    - the price box `.prezzo_nuovo`: "€" + "6" + ",99" in separate nodes, `.frequenza` "al mese" beside it (an old
      struck price, if any, is ignored). Cards without a price box write the cost as text: "Costo piano: 4 €/mese",
      "Costo piano:10€/mese o 100€/anno" (a "Costo carta: 19€/anno" before it is not the plan), "Costo 2€/giorno".
      A card with no price at all (a per-minute base tariff) is not an offer and is skipped.
    - features `.elenco_tariffe_dett > div`: "50GB Internet 4G+", "500MB/giorno", "Credit illimitati per chiamate e
      SMS" (credit = minutes/SMS), "Chiamate e SMS 18 cent/min/SMS" (pay per use). GB are read from the features
      only ("20 credit di bonus se usi meno di 100GB" is a condition, not the allowance).
    - labels in the card's `p` and `.dettagli_div`: "Esclusiva online" / "Esclusiva Ufficio Postale" go to notes,
      "Per nuovi clienti" (anyone not yet a customer, porting included) stays eligibility all, noted;
    "Disponibile fino al 31/10/2026" (year optional) is promo_until.
    - offer_key = the last path segment of the card's "Scopri di più" link (`a.acquista`).
    Data-only tiles (no calls/SMS feature) and home-internet tiles get their own plan_type.
    """

    operator = "postemobile"
    cards = ".blocco_tariffa"
    start_urls = [MOBILE]
    min_offers = 6

    def parse(self, response):
        keys = OfferKeys()
        for card in response.css(".blocco_tariffa"):
            item = self.card(card, response)
            if item is None:
                continue
            key = item["offer_key"]
            if keys.holds(key, item):
                continue  # the same card listed twice
            key = keys.unique(key, item, stem=f"{key}-{slug(item['name'])}")
            yield self.offer(**{**item, "offer_key": key})

    def card(self, c, response) -> dict | None:
        name = self.name_of(c)
        if not name:
            return None
        info = c.css(".elenco_tariffe_2")
        features = [text_of(f, CURRENT_TEXT) for f in info.css(".elenco_tariffe_dett > div")]
        labels = [s for block in info.css(".elenco_tariffe_2 > p, .dettagli_div") for s in _sentences(block)]

        price, period = None, 30
        box = c.css(".prezzo_nuovo")
        if box:
            price = money_cents(join_text(box.xpath(CURRENT_TEXT).getall()))
            period = self.period(text_of(c.css(".frequenza"), CURRENT_TEXT))
        cost_line = None
        if price is None:
            for line in features + labels:
                m = _COST.search(line)
                if m:
                    price, period, cost_line = money_cents(m.group(1)), _PERIODS[m.group(2).lower()], line
                    break
        if not price:
            self.logger.debug("postemobile: card %r has no recurring price (not an offer)", name)
            return None

        notes, eligibility, promo = [], "all", None
        for line in labels:
            until = _UNTIL.search(line)
            if until:
                promo = parse_date(until.group(1), self.crawl_date)
                continue
            if _NEW_CUSTOMERS.search(line):  # new customers, porting included: not the contract's new_number
                notes.append("per nuovi clienti")
                continue
            if _NEW_NUMBER.search(line):
                eligibility = "new_number"
                continue
            label = next((text for pattern, text in _LABELS if pattern.match(line)), None)
            if label:
                notes.append(label)
            elif not (line == cost_line and _COST.fullmatch(line)):
                notes.append(line)
        if re.search(r"a partire", text_of(c.css(".a_partire"), CURRENT_TEXT), re.I):
            notes.append("a partire da")
        if period == 1:
            notes.append("costo giornaliero")

        gb, unlimited, has_5g, voice = None, False, False, []
        for line in features:
            if _VOICE.search(line):
                voice.append(line)
                continue
            if gb is None and not unlimited:
                gb = data_gb(line)
                unlimited = gb is None and bool(re.search(r"giga|internet|dati", line, re.I)) and is_unlimited(line)
            has_5g = has_5g or bool(re.search(r"\b5G\b", line))
        minutes = sms = None
        minutes_unl = sms_unl = False
        for line in voice:
            if is_unlimited(line):
                minutes_unl = minutes_unl or bool(re.search(r"chiamat|minut|credit", line, re.I))
                sms_unl = sms_unl or bool(re.search(r"\bsms\b|credit", line, re.I))
            else:
                m = re.search(r"(\d+)\s*(?:minuti|min\b)(?!\s*/)", line, re.I)
                s = re.search(r"(\d+)\s*sms\b", line, re.I)
                minutes = int(m.group(1)) if m and "cent" not in line.lower() else minutes
                sms = int(s.group(1)) if s and "cent" not in line.lower() else sms
                if "cent" in line.lower():
                    notes.append(line[0].lower() + line[1:])
        if c.css("a.dettagli") and re.search(r"uso personale", text_of(c.css("a.dettagli"), CURRENT_TEXT), re.I):
            notes.append("soggetto a condizioni di uso personale")

        if _HOME.search(name + " " + " ".join(features)):
            plan_type = "home"
        elif not voice and (gb is not None or unlimited):
            plan_type = "data_only"
        elif gb is None and not unlimited and voice:
            plan_type = "voice_only"
        else:
            plan_type = "prepaid"

        url = self.card_url(c, response)
        return {
            "offer_key": self.key(url, name, response),
            "name": name,
            "url": url,
            "plan_type": plan_type,
            "price_cents": price,
            "period_days": period,
            "first_period_cents": None,
            "activation_cents": None,
            "sim_cents": None,
            "data_gb": gb,
            "data_unlimited": unlimited,
            "data_5g": has_5g,
            "data_5g_limited": False,
            "speed_cap_mbps": None,
            "eu_roaming_gb": None,
            "minutes": minutes,
            "sms": sms,
            "minutes_unlimited": minutes_unl,
            "sms_unlimited": sms_unl,
            "eligibility": eligibility,
            "eligible_from": [],
            "promo_until": promo,
            "esim": True if re.search(r"\be-?sim\b", " ".join(features + labels), re.I) else None,
            "notes": "; ".join(dict.fromkeys(n for n in notes if n)) or None,
        }

    @staticmethod
    def name_of(c) -> str:
        """The h3's lines joined with spaces; the image's alt/title when the page's `</br>` glued two words."""
        name = text_of(c.css(".elenco_tariffe_2 h3"), CURRENT_TEXT)
        for alt in c.css(".elenco_tariffe_1 img::attr(alt), .elenco_tariffe_1 img::attr(title)").getall():
            alt = clean(re.sub(r"<\s*/?\s*br\s*/?\s*>", " ", clean(alt), flags=re.I))
            if name and _squash(alt) == _squash(name) and len(alt.split()) > len(name.split()):
                return alt
        return name

    @staticmethod
    def period(text: str) -> int:
        t = text.lower()
        if re.search(r"4 settimane|28 giorni", t):
            return 28
        if re.search(r"giorno|al dì", t):
            return 1
        if re.search(r"settiman", t):
            return 7
        return 30

    @staticmethod
    def card_url(c, response) -> str:
        hrefs = [
            response.urljoin(h)
            for h in c.css("a.acquista::attr(href)").getall()
            if h and not h.startswith(("#", "javascript:"))
        ]
        hrefs = [h for h in hrefs if h.startswith("http")]
        return hrefs[0] if hrefs else response.url

    @staticmethod
    def key(url: str, name: str, response) -> str:
        if url != response.url:
            segment = urlparse(url).path.rstrip("/").rsplit("/", 1)[-1]
            segment = re.sub(r"\.(aspx|html?)$", "", segment, flags=re.I)
            if slug(segment):
                return slug(segment)
        return slug(name)
