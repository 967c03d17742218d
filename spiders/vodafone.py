"""Vodafone: the mobile hub page and the visitors' page (Next.js).

Read from the real capture. The page carries its offers twice, as rendered cards and as Next.js data, merged as
`VodafoneSpider` describes (docs/operators.md describes the page).
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlparse

from spiders.base import OfferKeys, OperatorSpider
from spiders.parsing import clean, data_gb, is_unlimited, money_cents, parse_date, slug, split_price_cents

BASE = "https://privati.vodafone.it/mobile/telefonia-mobile"
TOURIST = "https://privati.vodafone.it/mobile/estero/offerte-turisti"
PRODUCTS_QUERY = "mobile-line-products"
# tab title keywords -> (eligibility, plan_type); tab-1 (and anything unrecognised) is "all" / prepaid
TAB_KINDS = (
    (("già client", "gia client", "clienti vodafone"), ("existing_customer", "prepaid")),
    (("giovani", "under", "18 anni"), ("under_18", "prepaid")),
    (("domotica", "allarm", "smart home"), ("all", "home")),
    (("estero", "internazional", "codice fiscale", "stranier"), ("foreign_born", "prepaid")),
)
FOREIGN = re.compile(r"nat[ieoa] all['’]\s*estero|codice fiscale ester|anagrafica stranier", re.I)
# a spec line about calling other countries ("1000 minuti verso 50 Paesi esteri", "verso Cina e Albania")
ABROAD = re.compile(
    r"\bester[oi]\b|\bpaesi\b(?!\s+(?:ue|dell['’]\s*(?:ue|unione)|europei|membri)\b)|internazional"
    r"|\bverso\s+(?:l['’]\s*)?(?!italia|vodafone\b|numeri|fissi|mobili|tutti)(?-i:[A-Z])",
    re.I,
)
VALIDITY = re.compile(r"(?:valid[ao]|durata|per)\D{0,12}?(\d{1,3})\s*giorni", re.I)
_TAG = re.compile(r"<[^>]+>")


def _text(html_text) -> str:
    return clean(_TAG.sub(" ", str(html_text or "")))


def _truthy(value) -> bool:
    return value is True or str(value).strip().lower() in ("true", "1", "yes")


class VodafoneSpider(OperatorSpider):
    """What the parser relies on in the page.

    The page carries its offers twice:
    - rendered cards (first tab only, "Offerte per tutti"): `div.swiper-slide` cards with the name, a GB line,
      a split price ("9" + ",95€" + "/mese"), "Costo di attivazione 10€" and the EU-roaming line; the 5G / eSIM
      claim sits in the heading above the carousel, not in the cards. Class names are styled-components hashes,
      so cards are found by structure, not by class.
    - `script#__NEXT_DATA__`: `props.pageProps.dehydratedState.queries[]`. The "page" query holds the hub widgets
      (PILLS = the tabs; HUB_CUSTOM_LITE sections with `button.localUrl` = tab id and `elements[].id` = product ids,
      each with a `hideInHub` flag); the products query (key containing "mobile-line-products") maps product ids to
      entries with slug, label, category, price ("9,95€"). The other tabs (existing customers, under 18, smart home,
      calls abroad) exist only there.
    Both are parsed and merged by slug: cards give the rendered figures, the JSON adds the offers cards don't show.
    The calls-abroad / foreign-tax-code tab ("Per chiamare verso l'estero") and any entry whose text says it is for
    people born abroad or with a foreign tax code are eligibility foreign_born (plan_type prepaid); spec lines about
    minutes towards other countries ("1000 minuti verso 50 Paesi esteri", "300 minuti verso Cina e Albania") go to
    notes and are not read as national minutes.

    Visitors' page https://privati.vodafone.it/mobile/estero/offerte-turisti (linked as "Dolce Vita" in the hub
    page's footer; own callback `parse_tourist`; no capture exists): ASSUMED to carry the same `__NEXT_DATA__`
    structure (PILLS tabs, HUB_CUSTOM_LITE sections, a mobile-line-products query); only the JSON is read there.
    An entry whose specs state a validity ("Valida 30 giorni") is a one-off tourist pack: plan_type tourist,
    period_days = validity days, price_cents = pack price, "SIM inclusa" -> sim_cents 0, "Costo SIM 10€" -> 1000.
    Entries of that page without a validity (monthly plans, e.g. a foreign-tax-code tab) keep their tab's kind.
    """

    operator = "vodafone"
    cards = "script#__NEXT_DATA__, [class*=card]"
    start_urls = [BASE, TOURIST]
    min_offers = 3

    def parse(self, response):
        if urlparse(response.url).path.rstrip("/") == urlparse(TOURIST).path:
            return self.parse_tourist(response)  # a saved visitors' page handed to the default callback
        return self.parse_hub(response)

    def parse_tourist(self, response):
        keys = OfferKeys()
        for product in self.parse_next_data(response):
            if keys.first(product["slug"]):
                yield self.offer(**self._product_item(product, base=TOURIST))

    def parse_hub(self, response):
        cards = self.parse_cards(response)
        products = self.parse_next_data(response)
        by_id = {p["id"]: p for p in products if p.get("id")}
        keys = OfferKeys()
        for card in cards:
            product = by_id.get(card.pop("_id", None)) or self._match(card["name"], products)
            key = product["slug"] if product else "mobile-" + slug(card["name"])
            if not keys.first(key):
                continue
            if product:  # rendered figures win; the JSON only fills what the card lacks
                from_json = self._product_item(product)
                for field, value in from_json.items():
                    if card.get(field) is None:
                        card[field] = value
            card["offer_key"] = key
            card["url"] = from_json["url"] if product else f"{BASE}/{key}"
            yield self.offer(**card)
        for product in products:
            if not keys.first(product["slug"]):
                continue
            yield self.offer(**self._product_item(product))

    # ---------------------------------------------------------------- rendered cards
    def parse_cards(self, response) -> list[dict]:
        cards = []
        for swiper in response.css("div.swiper"):
            heading = clean(" ".join(swiper.xpath("./preceding::p[1]//text()").getall()))
            for slide in swiper.css("div.swiper-slide"):
                card = self._card(slide, heading)
                if card:
                    cards.append(card)
        return cards

    def _card(self, slide, heading: str) -> dict | None:
        per_month = slide.xpath('.//span[contains(., "/mese")]/parent::div')
        if not per_month:
            return None  # benefit slides, "/anno" bundles
        text = clean(" ".join(slide.xpath(".//text()").getall()))
        if re.search(r"internet a casa|attivazione fissa", text, re.I):
            return None  # fixed + mobile bundle, not a mobile offer
        body = slide.xpath("./div/div[last()]")  # slide > div > [badge, card]
        texts = [clean(t) for t in body.xpath(".//text()").getall() if clean(t)]
        if not texts:
            return None
        name = texts[0]
        if re.search(r"\d", name) and "GIGA" in name.upper():  # no name block (bundle card)
            return None
        units = per_month[0].xpath("./preceding-sibling::div[1]//text()").get()
        decimals = per_month[0].xpath('./span[not(contains(., "/mese"))][1]//text()').get()
        price = split_price_cents(units, decimals) if units else None
        giga = clean(" ".join(per_month[0].xpath("./ancestor::div[2]/preceding-sibling::span[1]//text()").getall()))
        desc = clean(" ".join(slide.css(".productDescription").xpath(".//text()").getall()))
        activation = re.search(r"attivazione[^:\d]*:?\s*([\d.,]+\s*€|gratis)", desc, re.I)
        extras = [
            clean(" ".join(s.xpath(".//text()").getall()))
            for s in body.xpath('.//span[(contains(., "UE") or contains(., "Extra")) and not(ancestor::span)]')
        ]
        eu_line = next((e for e in extras if "utilizzabili in UE" in e), "")
        notes = [e for e in extras if e.lower().startswith("in alcuni paesi extra ue")]
        if is_unlimited(eu_line.split("utilizzabili")[0]) and eu_line:
            notes.insert(0, "Giga illimitati* anche in UE")
        data = self._data_fields(giga)
        data.update(self._voice_fields(eu_line))
        eu = eu_line.split("utilizzabili")[0]
        has_5g = bool(re.search(r"\b5G\b", heading))
        button = slide.xpath('.//button[starts-with(@data-name, "secondAction_card_")]/@data-name').get("")
        return {
            "_id": button.rsplit("_", 1)[-1] if button else None,
            "name": name,
            "plan_type": "prepaid",
            "price_cents": price,
            "period_days": 30,
            "first_period_cents": None,
            "activation_cents": money_cents(activation.group(1)) if activation else None,
            "sim_cents": None,
            **data,
            "data_5g": has_5g,
            "data_5g_limited": False,
            "speed_cap_mbps": None,
            "eu_roaming_gb": None if is_unlimited(eu) else data_gb(eu),
            "eligibility": "all",
            "eligible_from": [],
            "promo_until": None,
            "esim": True if re.search(r"esim", heading, re.I) else None,
            "notes": "; ".join(notes) or None,
        }

    # ---------------------------------------------------------------- __NEXT_DATA__
    def parse_next_data(self, response) -> list[dict]:
        raw = response.css("script#__NEXT_DATA__::text").get()
        try:
            queries = json.loads(raw)["props"]["pageProps"]["dehydratedState"]["queries"]
        except (TypeError, ValueError, KeyError):
            return []
        products, tabs, sections = {}, {}, []  # id -> product, tab id -> title, (tab, title, elements)
        for query in queries if isinstance(queries, list) else []:
            key = json.dumps(query.get("queryKey"))
            data = (query.get("state") or {}).get("data")
            if PRODUCTS_QUERY in key:
                pairs = data.items() if isinstance(data, dict) else enumerate(data if isinstance(data, list) else [])
                for pid, entry in pairs:
                    if isinstance(entry, dict) and entry.get("slug"):
                        products[str(entry.get("id") or pid)] = entry
            elif isinstance(data, dict):
                widgets = ((data.get("params") or {}).get("elements") or {}).get("widgets") or {}
                for widget in widgets.get("sliders") or []:
                    if widget.get("type") == "PILLS":
                        tabs.update({e.get("id"): clean(e.get("title")) for e in widget.get("elements") or []})
                    elif widget.get("type") == "HUB_CUSTOM_LITE":
                        tab = (widget.get("button") or {}).get("localUrl") or "tab-1"
                        sections.append((tab, _text(widget.get("title")), widget.get("elements") or []))
        out = []
        if sections:  # the hub says which products each tab shows
            for tab, title, elements in sections:
                for element in elements:
                    entry = products.get(str(element.get("id")))
                    if entry and not _truthy(element.get("hideInHub")) and not _truthy(entry.get("hideInHub")):
                        out.append(
                            {**entry, "id": str(element.get("id")), "_tab": tabs.get(tab, tab), "_heading": title}
                        )
        else:
            out = [
                {**e, "id": pid, "_tab": "", "_heading": ""}
                for pid, e in products.items()
                if not _truthy(e.get("hideInHub"))
            ]
        return out

    def _product_item(self, p: dict, base: str = BASE) -> dict:
        eligibility, plan_type = "all", "prepaid"
        tab = p["_tab"].lower()
        for words, kind in TAB_KINDS:
            if any(w in tab for w in words):
                eligibility, plan_type = kind
        label = _text(p.get("label"))
        listed = p.get("specs")
        specs = [_text(s) for s in (listed if isinstance(listed, list) else [])]
        abroad = [s for s in specs if ABROAD.search(s) and not FOREIGN.search(s)]
        spec_text = " ".join(s for s in specs if s not in abroad)
        if FOREIGN.search(f"{label} {clean(p.get('category'))} {' '.join(specs)}"):
            eligibility = "foreign_born"
        eu = next((s for s in specs if re.search(r"\bUE\b", s)), "")
        promo = re.search(r"fino al\s*(\d{1,2}/\d{1,2}(?:/\d{2,4})?)", spec_text, re.I)
        activation = p.get("activationPrice") or p.get("activationCost")
        price_text = _text(p.get("price"))
        period, sim = 30, None
        days = VALIDITY.search(spec_text)
        if base == TOURIST and days and not re.search(r"mese", price_text, re.I):  # a one-off pack valid N days
            plan_type, period = "tourist", int(days.group(1))
            fee = re.search(
                r"\be?sim\b[^.€\d]{0,20}?(inclus[ao]|gratuit[ao]|gratis|\d+(?:,\d{1,2})?\s*€)", spec_text, re.I
            )
            sim = (
                None
                if not fee
                else 0
                if re.match(r"inclus|gratu|gratis", fee.group(1), re.I)
                else money_cents(fee.group(1))
            )
        return {
            "name": label or clean(p.get("category")),
            "plan_type": plan_type,
            "price_cents": money_cents(price_text),
            "period_days": period,
            "first_period_cents": None,
            "activation_cents": money_cents(_text(activation)) if activation is not None else None,
            "sim_cents": sim,
            **self._data_fields(label),
            "data_5g": bool(re.search(r"\b5G\b", f"{p['_heading']} {label}")),
            "data_5g_limited": False,
            "speed_cap_mbps": None,
            "eu_roaming_gb": None if is_unlimited(eu) else data_gb(eu),
            **self._voice_fields(spec_text),
            "eligibility": eligibility,
            "eligible_from": [],
            "promo_until": parse_date(promo.group(1), self.crawl_date) if promo else None,
            "esim": True if re.search(r"esim", f"{p['_heading']} {label}", re.I) else None,
            "notes": "; ".join(abroad) or None,
            "offer_key": p["slug"],
            "url": p.get("url") if str(p.get("url", "")).startswith("http") else f"{base}/{p['slug']}",
        }

    # ---------------------------------------------------------------- helpers
    @staticmethod
    def _match(name: str, products: list[dict]) -> dict | None:
        wanted = slug(name)
        for p in products:
            if p["slug"] in (wanted, f"mobile-{wanted}") or wanted in (
                slug(p.get("category") or ""),
                slug(_text(p.get("label"))),
            ):
                return p
        return None

    @staticmethod
    def _data_fields(text: str) -> dict:
        text = re.sub(r"\b[2-5]G\b", " ", text)  # the network ("Dolce Vita 5G 100 Giga"), not 5 GB
        unlimited = is_unlimited(text)
        return {"data_gb": None if unlimited else data_gb(text), "data_unlimited": unlimited}

    @staticmethod
    def _voice_fields(text: str) -> dict:
        minutes = re.search(r"(\d+)\s*minuti", text, re.I)
        sms = re.search(r"(\d+)\s*sms", text, re.I)
        return {
            "minutes": None if re.search(r"minuti illimitat", text, re.I) or not minutes else int(minutes.group(1)),
            "sms": None if re.search(r"sms illimitat", text, re.I) or not sms else int(sms.group(1)),
            "minutes_unlimited": bool(re.search(r"minuti illimitat", text, re.I)),
            "sms_unlimited": bool(re.search(r"sms illimitat", text, re.I)),
        }
