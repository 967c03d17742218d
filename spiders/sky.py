"""Sky Mobile: the Sky Mobile page of sky.it (server-rendered HTML, simple cards; runs on Fastweb's network with
Fastweb's tiers).

There is NO real capture. operators.md says only: server-rendered, simple cards, navigation carries unrelated
prices (Sky TV, Sky Wifi packages). The parser assumes this structure (an assumption; the fixture reproduces it):
- prices in `header`, `nav` and `footer` (Sky TV / Calcio / Wifi packages, a "Sky Mobile da ..." teaser) are
  never read. An offer card is the outermost element with `data-offer-id` (the stable offer_key) outside them.
- a card: `.c-offer-card__title` name, `.c-offer-card__badge` label ("La più scelta"), `.c-offer-card__tag`
  tags ("eSIM disponibile"), feature lines `.c-offer-card__features li` ("150 Giga anche in 5G",
  "Minuti illimitati", "200 SMS", "32 Giga in roaming UE"), `.c-offer-card__activation` ("Attivazione: 10€
  una tantum", "Attivazione gratuita"), `.c-offer-card__promo` ("Prezzo promo fino al 30/09" -> promo_until, the
  year resolved on the crawl day; "Primo mese gratis" -> first_period_cents 0), a link `a[href]`.
- one or more price rows `.c-offer-card__price`, each with a label `.c-price__label` ("Per tutti", "Se sei già
  cliente Sky"), a split price `.c-price__int` "9" + `.c-price__dec` ",95€" (or one text "9,95€"), a period
  `.c-price__period` ("/mese"), an old price in `del` (skipped, kept as a note). A row for Sky customers is its
  own offer: key `<id>:clienti-sky`, eligibility existing_customer.
- a bundle card (class `c-offer-card--bundle`, or a title naming Sky Wifi / Sky TV / Sky Glass) is Sky's fixed
  line or TV with a SIM, not a mobile offer: skipped.
- a card whose lines state data but no minutes or SMS is data_only.
"""

from __future__ import annotations

import re

from spiders.base import OperatorSpider
from spiders.card_index import indexed
from spiders.parsing import (
    CURRENT_TEXT,
    allowances,
    join_text,
    money_cents,
    parse_date,
    slug,
    split_price_cents,
    text_of,
)

MOBILE = "https://www.sky.it/sky-mobile-telefonia"
CARD = (
    "//*[@data-offer-id][not(ancestor::header) and not(ancestor::nav) and not(ancestor::footer)]"
    "[not(ancestor::*[@data-offer-id])]"
)
_CUSTOMERS = re.compile(r"già cliente|clienti sky|abbonat[oi] sky|se hai sky", re.I)
_BUNDLE = re.compile(r"\bwi-?fi\b|sky tv|sky glass|sky calcio|sky cinema|netflix", re.I)


class SkySpider(OperatorSpider):
    operator = "sky"
    start_urls = [MOBILE]
    min_offers = 3

    def parse(self, response):
        seen: set[str] = set()
        for card in response.xpath(CARD):
            for item in self.card(card, response):
                if item["offer_key"] in seen:
                    continue  # the same card shown twice (carousel repeat)
                seen.add(item["offer_key"])
                yield self.offer(**item)

    def card(self, c, response) -> list[dict]:
        c = indexed(c)
        name = text_of(c.css(".c-offer-card__title"), CURRENT_TEXT)
        if not name or "c-offer-card--bundle" in (c.attrib.get("class") or "") or _BUNDLE.search(name):
            return []
        key = slug(c.attrib.get("data-offer-id") or "") or slug(name)
        badge = text_of(c.css(".c-offer-card__badge"), CURRENT_TEXT)
        tags = [text_of(t, CURRENT_TEXT) for t in c.css(".c-offer-card__tag")]
        lines = [text_of(li, CURRENT_TEXT) for li in c.css(".c-offer-card__features li")]
        activation_text = text_of(c.css(".c-offer-card__activation"), CURRENT_TEXT)
        promo_text = text_of(c.css(".c-offer-card__promo"), CURRENT_TEXT)
        body = " ".join(lines + tags + [activation_text, promo_text])

        feats = allowances(lines)
        has_voice = feats["minutes"] or feats["minutes_unlimited"] or feats["sms"] or feats["sms_unlimited"]
        has_data = feats["data_gb"] or feats["data_unlimited"]
        plan_type = "data_only" if has_data and not has_voice else "prepaid"

        activation = None
        if re.search(r"attivazione\s*:?\s*(gratuit|gratis|inclusa)", activation_text, re.I):
            activation = 0
        elif re.search(r"\d", activation_text):
            activation = money_cents(re.sub(r"^[^\d]*", "", activation_text).split(" invece")[0])
        first = 0 if re.search(r"primo mese (gratis|gratuito|in regalo|a 0)", promo_text, re.I) else None
        promo = (
            parse_date(promo_text, self.crawl_date)
            if re.search(r"\bfino al\b|\bentro il\b", promo_text, re.I)
            else None
        )
        base = {
            "name": name,
            "url": self.card_url(c, response),
            "plan_type": plan_type,
            "first_period_cents": first,
            "activation_cents": activation,
            "sim_cents": None,
            **feats,
            "data_5g": bool(re.search(r"\b5G\b", body)) or bool(c.css(".c-offer-card__5g")),
            "data_5g_limited": False,
            "speed_cap_mbps": None,
            "eligible_from": [],
            "promo_until": promo,
            "esim": True if re.search(r"\besim\b", body, re.I) else None,
        }
        out = []
        for row in c.css(".c-offer-card__price"):
            label = text_of(row.css(".c-price__label"), CURRENT_TEXT)
            units = join_text(row.css(".c-price__int").xpath(CURRENT_TEXT).getall())
            if re.search(r"\d", units):
                price = split_price_cents(units, join_text(row.css(".c-price__dec").xpath(CURRENT_TEXT).getall()))
            else:
                rest = join_text(
                    row.xpath(CURRENT_TEXT + "[not(ancestor::*[contains(@class, 'c-price__label')])]").getall()
                )
                price = money_cents(rest) if re.search(r"\d", rest) else None
            if price is None:
                continue
            period = text_of(row.css(".c-price__period"), CURRENT_TEXT)
            old = text_of(row.css("del, s"), ".//text()")
            customers = bool(_CUSTOMERS.search(label))
            notes = [badge] + ([label] if customers else []) + ([f"invece di {old}"] if old else [])
            notes += [promo_text] + [t for t in tags if not re.search(r"\besim\b", t, re.I)]
            out.append(
                {
                    **base,
                    "offer_key": f"{key}:clienti-sky" if customers else key,
                    "price_cents": price,
                    "period_days": 28 if re.search(r"4 settimane|28 giorni", period, re.I) else 30,
                    "eligibility": "existing_customer" if customers else "all",
                    "notes": "; ".join(dict.fromkeys(n for n in notes if n)) or None,
                }
            )
        return out

    @staticmethod
    def card_url(c, response) -> str:
        for href in c.css("a::attr(href)").getall():
            if href and not href.startswith(("#", "javascript:")):
                return response.urljoin(href)
        return response.url
