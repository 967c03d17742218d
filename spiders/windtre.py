"""WindTre: the mobile offers page, the "passa a WINDTRE" (change operator) page, the Call Your Country page
(offers for people born abroad) and the tourist page (SIMs for visitors).

Client-rendered behind Radware, and no capture exists: `WindtreSpider` lists the rendered DOM we assume, to be
checked against the first page rendered through the browser option (docs/operators.md).
"""

from __future__ import annotations

import re
from urllib.parse import urlparse

from spiders.base import OfferKeys, OperatorSpider
from spiders.parsing import (
    clean,
    data_gb,
    is_unlimited,
    money_cents,
    operators_named,
    parse_date,
    slug,
    split_price_cents,
    text_skipping,
)

MOBILE = "https://www.windtre.it/offerte-mobile"
PASSA = "https://www.windtre.it/passa-a-windtre-offerte-cambio-operatore"
CYC = "https://www.windtre.it/offerte-mobile/call-your-country"
TOURIST = "https://www.windtre.it/offerte-mobile/tourist"

CARDS = (
    "//*[(@data-offer-id or contains(concat(' ', normalize-space(@class), ' '), ' offer-card '))"
    " and not(ancestor::*[@data-offer-id or contains(concat(' ', normalize-space(@class), ' '), ' offer-card ')])"
    " and not(ancestor-or-self::*[@role='dialog' or @aria-modal='true'"
    " or contains(concat(' ', normalize-space(@class), ' '), ' modal ')"
    " or contains(@class, '-modal') or contains(@class, 'modal-')])]"
)
ORIGIN_LINE = re.compile(r"\b(?:passa|passi|provenient\w*|arriv\w*|solo per (?:i )?clienti)\b.*\bda\b", re.I)
OPEN_ORIGIN = re.compile(r"\baltr[ioe]\b|\bqualsiasi\b|\bogni operatore\b", re.I)
FOREIGN = re.compile(r"nat[ieoa] all['’]\s*estero|codice fiscale ester|anagrafica stranier", re.I)
# a line about other countries ("1000 minuti verso 60 Paesi esteri", "verso Bangladesh e Pakistan")
ABROAD = re.compile(
    r"\bester[oi]\b|\bpaesi\b(?!\s+(?:ue|dell['’]\s*(?:ue|unione)|europei|membri)\b)|internazional"
    r"|\bverso\s+(?:l['’]\s*)?(?!italia|wind|numeri|fissi|mobili|tutti)(?-i:[A-Z])",
    re.I,
)
AMOUNT = r"(gratuit[ao]|gratis|inclus[ao]|\d+(?:[.,]\d{1,2})?\s*€|€\s*\d+(?:[.,]\d{1,2})?)"


_SKIPPED_TAGS = frozenset({"s", "del", "strike", "script", "style"})


def _text(sel) -> str:
    """Visible text of a selection, struck-through old values (s, del, strike, class '*old*') left out."""
    return text_skipping(sel, _SKIPPED_TAGS, "old")


def _lines(sel) -> list[str]:
    return [t for t in (_text([s]) for s in sel) if t]


def origin_slugs(text: str) -> list[str]:
    """Origin operators, sorted so a variant's offer_key is stable (WindTre itself is never an origin)."""
    return sorted(operators_named(text, exclude="windtre"))


def _fee(lines: list[str], label: str) -> int | None:
    for line in lines:
        m = re.search(label + r"[^\d€]*?" + AMOUNT, line, re.I)
        if m:
            return 0 if re.match(r"gratu|gratis|inclus", m.group(1), re.I) else money_cents(m.group(1))
    return None


class WindtreSpider(OperatorSpider):
    """What the parser relies on in the page.

    All these pages are client-rendered and guarded by Radware: a plain request gets a block page (the block
    middleware marks that crawl blocked; on a page without offer cards this spider yields nothing). With the
    setting PROMOWATCH_BROWSER on, requests carry `meta={"playwright": True}` so scrapy-playwright renders them.

    There is no real capture. The parser assumes this RENDERED DOM (an assumption; tolerant fallbacks noted):
    - a card is the outermost element with `data-offer-id` (fallback: class `offer-card`); optional attributes
      `data-offer-name` (fallback name), `data-offer-type` ("prepaid", "tourist", "data"), `data-offer-price`
      (euro, "9.99", used only when the rendered price is unreadable), `data-origin` (origin operator slugs).
      Cards inside a modal/dialog (compare pop-ups with stale prices) are ignored; cards inside hidden tab
      panels are real offers. Carousel clones (`swiper-slide-duplicate`) repeat cards: deduplicated by key.
    - `.offer-card__title` name; `.offer-card__badges` with `.badge--5g` ("5G", or "5G max 250 Mbps" = capped)
      and `.badge--esim`; `.offer-card__features li` lines: "150 Giga" / "Giga illimitati*" / "500 MB",
      "Minuti illimitati" / "300 minuti", "200 SMS", "di cui 12,5 Giga in UE".
    - `.offer-card__price`: `.price__int` "9" + `.price__dec` ",99&nbsp;€" (or one node "14,99€") +
      `.price__period` "al mese" / "ogni 4 settimane" / "una tantum"; struck old prices (`s`, `del`,
      `.price__old`) are skipped. "Primo mese gratis" anywhere in the card -> first_period_cents 0.
    - lines: "Attivazione: 9,99€" / "Attivazione gratuita" / "0€ invece di 9,99€", "Costo SIM: 10€",
      "Valida 30 giorni" (tourist packs), `.offer-card__promo` "Promo valida fino al 30/09" (year-less dates
      resolve against the crawl day), `.offer-card__note` footnotes -> notes.
    - origin: `.offer-card__origin` "Solo per chi passa da Iliad, PosteMobile e CoopVoce" (fallback: any card line
      like "... provenienti da Very Mobile") -> eligible_from and eligibility "portability"; without it, the
      title of the enclosing tab panel (`.offers-tab__title`, e.g. "Hai TIM, Vodafone o ho. Mobile?").
      "altri operatori" / "qualsiasi" names no closed set: eligible_from [] and the line goes to notes.
      Every card on the change-operator page is a portability offer.
      Origin variants of one offer get their own key: `<id>-da-<slugs>` (or `<id>-passa` without origins).

    Call Your Country (https://www.windtre.it/offerte-mobile/call-your-country, callback `parse_call_your_country`)
    and the tourist page (https://www.windtre.it/offerte-mobile/tourist, callback `parse_tourist`): URLs are our
    judgement; both ASSUMED to render the same cards (no capture; live they get the same Radware block page).
    - Call Your Country offers are only for customers born abroad (proved by the tax code): every card of that page,
      and any card saying "nati all'estero" / "codice fiscale estero", is eligibility foreign_born (plan_type from
      the card, normally prepaid); an origin line still gives eligible_from and the `-da-<slugs>` key.
    - every card of the tourist page is a one-off pack (plan_type tourist, period_days = "Valida 30 giorni" days,
      price_cents = pack price, "SIM inclusa" -> sim_cents 0) unless its price says "al mese" / "4 settimane".
    - feature lines about other countries ("1000 minuti verso 60 Paesi esteri", "verso Bangladesh e Pakistan")
      are not national minutes/data: they go to notes.
    """

    operator = "windtre"
    cards = "[class*=card], [class*=offer]"
    start_urls = [MOBILE, PASSA, CYC, TOURIST]
    min_offers = 3

    def start_meta(self) -> dict:
        browser = self.settings.getbool("PROMOWATCH_BROWSER") if hasattr(self, "settings") else False
        return {"playwright": True, "playwright_page_goto_kwargs": {"wait_until": "networkidle"}} if browser else {}

    def parse(self, response):
        path = urlparse(response.url).path.rstrip("/")
        page = {urlparse(CYC).path: "cyc", urlparse(TOURIST).path: "tourist"}.get(path, "")
        return self.parse_cards(response, page)  # a saved page of any kind handed to the default callback

    def parse_call_your_country(self, response):
        return self.parse_cards(response, "cyc")

    def parse_tourist(self, response):
        return self.parse_cards(response, "tourist")

    def parse_cards(self, response, page: str = ""):
        keys = self.__dict__.setdefault("_offer_keys", OfferKeys())  # one crawl's pages share the keys
        passa_page = "passa-a-windtre" in response.url
        items = (self.parse_card(card, response, passa_page, page) for card in response.xpath(CARDS))
        yield from self.first_offers(items, keys)

    def parse_card(self, card, response, passa_page: bool, page: str = "") -> dict | None:
        name = _text(card.css(".offer-card__title")) or clean(card.attrib.get("data-offer-name"))
        name = name.rstrip("*").strip()
        if not name:
            return None
        all_text = _text([card])
        features = _lines(card.css(".offer-card__features li")) or _lines(card.xpath(".//li"))
        abroad = [f for f in features if ABROAD.search(f) and not FOREIGN.search(f)]
        features = [f for f in features if f not in abroad]
        lines = features + _lines(card.xpath(".//p | .//span[not(ancestor::p)] | .//div[not(*)]"))
        badges = _text(card.css(".offer-card__badges, .badge"))
        badge_5g = _text(card.css(".badge--5g"))

        # price and period
        box = card.css(".offer-card__price")
        price = None
        units = _text(box.css(".price__int"))
        if units:
            price = split_price_cents(units, _text(box.css(".price__dec")))
        box_text = _text(box)
        if price is None and box_text:
            price = money_cents(re.split(r"\bal\b|/|ogni|una tantum", box_text, flags=re.I)[0])
        if price is None and card.attrib.get("data-offer-price"):
            price = money_cents(card.attrib["data-offer-price"].replace(".", ","))
        period = 30
        kind = (card.attrib.get("data-offer-type") or "").lower()
        plan_type = "tourist" if "tour" in kind else "data_only" if "data" in kind or "internet" in kind else "prepaid"
        if plan_type == "prepaid" and re.search(r"\btourist\b|\bturist", f"{name} {kind}", re.I):
            plan_type = "tourist"
        if page == "tourist" and not re.search(r"\bmese\b|/mese|settiman", box_text or all_text, re.I):
            plan_type = "tourist"
        if re.search(r"4\s*settimane", box_text or all_text, re.I):
            period = 28
        days = re.search(r"(?:valid[ao]|durata)\D{0,10}(\d{1,3})\s*giorni|(\d{1,3})\s*giorni", all_text, re.I)
        if days and (plan_type == "tourist" or "tantum" in box_text.lower()):
            period = int(days.group(1) or days.group(2))
        first = re.search(r"prim[oa]\s+mes[ei]\s+(gratis|gratuit[oa]|(?:a\s*)?\d+(?:[.,]\d{1,2})?\s*€)", all_text, re.I)

        # data, voice, SMS, EU roaming
        data_line = next(
            (
                f
                for f in features
                if re.search(r"giga|\bgb\b|\bmb\b", f, re.I) and not re.search(r"\bUE\b|europa|roaming", f, re.I)
            ),
            "",
        )
        unlimited = bool(data_line) and is_unlimited(data_line)
        eu_line = next((f for f in features if re.search(r"\bUE\b|europa|roaming", f, re.I)), "")
        minutes_line = next((f for f in features if re.search(r"minut", f, re.I)), "")
        sms_line = next((f for f in features if re.search(r"\bsms\b", f, re.I)), "")
        minutes = re.search(r"(\d+)\s*minut", minutes_line, re.I)
        sms = re.search(r"(\d+)\s*sms", sms_line, re.I)
        cap = re.search(r"(\d+)\s*mbps", f"{badge_5g} {' '.join(features)}", re.I)
        has_5g = bool(badge_5g) or bool(re.search(r"\b5G\b", f"{badges} {name}"))
        limited = has_5g and bool(re.search(r"limitat|mbps", badge_5g, re.I))

        # origin and eligibility
        notes = _lines(card.css(".offer-card__note")) + abroad
        origin_text = _text(card.css(".offer-card__origin")) or next(
            (t for t in lines if ORIGIN_LINE.search(t) and (origin_slugs(t) or OPEN_ORIGIN.search(t))), ""
        )
        if not origin_text:
            panel = card.xpath("ancestor::*[contains(@class, 'offers-tab')][1]")
            origin_text = _text(panel.css(".offers-tab__title")) if panel else ""
        origins = origin_slugs(card.attrib.get("data-origin", "")) or origin_slugs(origin_text)
        if origin_text and OPEN_ORIGIN.search(origin_text):
            origins = []
            notes.append(origin_text)
        portability = passa_page or bool(origins) or bool(re.search(r"passa|provenient", origin_text, re.I))
        base = slug(card.attrib.get("data-offer-id") or name)
        key = base if not portability else f"{base}-da-{'-'.join(origins)}" if origins else f"{base}-passa"

        promo = next(
            (
                m
                for m in (
                    re.search(
                        r"(?:fino|valid[ao])\s*(?:al|all'|alle|il)?\s*'?\s*(\d{1,2}\s*/\s*\d{1,2}"
                        r"(?:\s*/\s*\d{2,4})?)",
                        t,
                        re.I,
                    )
                    for t in [_text(card.css(".offer-card__promo"))] + lines
                )
                if m
            ),
            None,
        )
        href = card.css("a.offer-card__cta::attr(href)").get() or card.css("a[href]::attr(href)").get()
        return {
            "offer_key": key,
            "name": name,
            "url": response.urljoin(href) if href and not href.startswith(("#", "javascript")) else response.url,
            "plan_type": plan_type,
            "price_cents": price,
            "period_days": period,
            "first_period_cents": money_cents(first.group(1).lower().removeprefix("a")) if first else None,
            "activation_cents": _fee(lines, r"attivazione"),
            "sim_cents": _fee(lines, r"(?<![a-z])sim\b\s*:?"),
            "data_gb": None if unlimited else data_gb(data_line),
            "data_unlimited": unlimited,
            "data_5g": has_5g,
            "data_5g_limited": limited,
            "speed_cap_mbps": int(cap.group(1)) if cap else None,
            "eu_roaming_gb": None if is_unlimited(eu_line) else data_gb(eu_line),
            "minutes": None if is_unlimited(minutes_line) or not minutes else int(minutes.group(1)),
            "sms": None if is_unlimited(sms_line) or not sms else int(sms.group(1)),
            "minutes_unlimited": is_unlimited(minutes_line),
            "sms_unlimited": is_unlimited(sms_line),
            "eligibility": "foreign_born"
            if page == "cyc" or FOREIGN.search(all_text)
            else "portability"
            if portability
            else "all",
            "eligible_from": origins,
            "promo_until": parse_date(promo.group(1).replace(" ", ""), self.crawl_date) if promo else None,
            "esim": True if card.css(".badge--esim") or re.search(r"\besim\b", badges, re.I) else None,
            "notes": "; ".join(dict.fromkeys(n.lstrip() for n in notes)) or None,
        }
