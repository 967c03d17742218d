"""TIM: the mobile hub page, the "passa a TIM" page (offers for people coming from other operators) and the
TIM Tourist page (SIMs for visitors).

Read from the real capture. One tile component serves all three pages; `TimSpider` lists its parts and its traps
(repeated tiles, family tiles, page-wide costs), docs/operators.md the pages.
"""

from __future__ import annotations

import re
from urllib.parse import urlparse

from spiders.base import OfferKeys, OperatorSpider
from spiders.parsing import (
    clean,
    data_gb,
    money_cents,
    operators_named,
    parse_date,
    slug,
    split_price_cents,
    text_of,
)

MOBILE = "https://www.tim.it/fisso-e-mobile/mobile"
PASSA = "https://www.tim.it/fisso-e-mobile/mobile/passa-a-tim"
TOURIST = "https://www.tim.it/fisso-e-mobile/mobile/tim-tourist"
ELIGIBILITY = (
    (r"nat[ieoa] all['’]\s*estero|codice fiscale ester|anagrafica stranier", "foreign_born"),
    (r"under\s*18|junior|minorenn", "under_18"),
    (r"under\s*30|fino ai 30 anni|meno di 30", "under_30"),
    (r"over\s*60|\b60\+", "over_60"),
    (r"nuove linee|nuovo numero|nuova linea", "new_number"),
    (r"hai tim (a )?casa|hanno già tim|clienti tim fisso", "existing_customer"),
)
_LIMITED = re.compile(r"(?<![a-z])limitato[\s_-]*(\d+)", re.I)
_EUR = r"(\d+(?:,\d{1,2})?)\s*€"
# a line about calling other countries ("100 minuti verso 60 Paesi esteri", "verso Cina e Albania")
ABROAD = re.compile(
    r"\bester[oi]\b|\bpaesi\b(?!\s+(?:ue|dell['’]\s*(?:ue|unione)|europei|membri)\b)|internazional"
    r"|\bverso\s+(?:l['’]\s*)?(?!italia|tim\b|numeri|fissi|mobili|tutti)(?-i:[A-Z])",
    re.I,
)
_VALIDITY = re.compile(r"(?:valid[ao]|durata|per)\D{0,12}?(\d{1,3})\s*giorni", re.I)


def _text(sel, xpath=".//text()") -> str:
    return text_of(sel, xpath)


def page_nodes(response) -> tuple[list, list]:
    """(the page-wide info boxes: class containing "informa__paragraph" or "bottom-legals"; the offer tiles:
    classes tm-tile and tm-tile--offerta), in document order."""
    boxes = response.xpath('//*[contains(@class, "informa__paragraph") or contains(@class, "bottom-legals")]')
    return list(boxes), list(response.css(".tm-tile.tm-tile--offerta"))


def origins(text: str) -> list[str]:
    """Operators named as origins, in page order (TIM itself is never an origin)."""
    return operators_named(text, exclude="tim")


class TimSpider(OperatorSpider):
    """What the parser relies on in the page.

    Both pages are server-rendered with the same tile component:
    - tiles `.tm-tile.tm-tile--offerta`; name in `.tm-tile__title` (an h3, sometimes with an h2 inside, or an h2);
      tags (`.tm-tile__tags`: "Under 30", "Solo per nuove linee", "SE HAI TIM A CASA"...), description, features
      `.ta-feature__text` (GB, minutes, SMS; an old GB figure struck through: `<s>100</s> 200 Giga` -> 200).
    - price box `.ta-price`: `.ta-price__top` ("A partire da", or the origin operators "Per Iliad, Poste Mobile..."),
      `.ta-price__center` with `<del>` old price, `<strong>9</strong>`, ",99 €" in a span, an "info 5G" link and the
      tail text ("al mese", "oppure 9,99€ al mese con TIM Unica Power", "per 4 mesi, poi 6,99€/mese"),
      `.ta-price__bottom` ("Online 1° mese e attivazione gratuiti per i nuovi clienti").
    - the 5G badge is an image in the title: green_max = 5G ULTRA, yellow_Limitato_250 = 5G capped at 250 Mbps.
    - SIM and activation costs sit once in a page-wide info box ("Costo SIM: ... 10€ una tantum ...").
    Tiles without a price box (TIM in Nave, Ricarica Automatica) are services, not offers. The fixed + mobile
    bundle is not a mobile offer. A family tile ("A partire da", links to /mobile/young) that repeats an offer tile
    of the same page (/mobile/young/sim-giovani, same price) is a duplicate.

    TIM Tourist (https://www.tim.it/fisso-e-mobile/mobile/tim-tourist, own callback `parse_tourist`; the URL is
    our judgement, no capture exists): ASSUMED to use the same tile component. A pack is a tile whose price is
    one-off ("una tantum", no "al mese") or that states a validity ("Valida 30 giorni"): plan_type tourist,
    period_days = validity days, price_cents = the pack price; "SIM inclusa" in the tile -> sim_cents 0, "Costo
    SIM: 5€" in the tile wins over the page-wide box. A monthly tile on that page stays prepaid.
    On any page, a tile for people born abroad / with a foreign tax code ("nati all'estero", "codice fiscale
    estero") is eligibility foreign_born; minutes towards other countries ("100 minuti verso 60 Paesi esteri",
    "... verso Cina e Albania") are not national minutes: that line goes to notes.
    """

    operator = "tim"
    cards = ".tm-tile--offerta"
    start_urls = [MOBILE, PASSA, TOURIST]
    min_offers = 5

    def parse(self, response):
        if urlparse(response.url).path.rstrip("/") == urlparse(TOURIST).path:
            return self.parse_tourist(response)  # a saved tourist page handed to the default callback
        return self.parse_tiles(response, passa="passa-a-tim" in response.url)

    def parse_tourist(self, response):
        return self.parse_tiles(response, tourist=True)

    def parse_tiles(self, response, passa: bool = False, tourist: bool = False):
        boxes, tile_nodes = page_nodes(response)
        sim, activation = self.page_costs(boxes)
        tiles = [t for t in (self.tile(s, response, passa, tourist) for s in tile_nodes) if t]
        paths = [(urlparse(t["url"]).path.rstrip("/"), t["price_cents"]) for t in tiles]
        keys = OfferKeys()
        for tile in tiles:
            path = urlparse(tile["url"]).path.rstrip("/")
            if tile.pop("_from") and any(
                p.startswith(path + "/") and price == tile["price_cents"] for p, price in paths
            ):
                continue  # family tile repeating an offer tile of this page
            key, sig = tile["offer_key"], (tile["name"], tile["price_cents"], tile["data_gb"], tile["eligible_from"])
            if keys.holds(key, sig):
                continue  # the same tile shown twice
            tile["offer_key"] = keys.unique(key, sig, stem=f"{key}-{slug(tile['name'])}")
            if tile["sim_cents"] is None:
                tile["sim_cents"] = sim
            if tile["activation_cents"] is None:
                tile["activation_cents"] = activation
            yield self.offer(**tile)

    # ---------------------------------------------------------------- page-wide costs
    @staticmethod
    def page_costs(boxes: list) -> tuple[int | None, int | None]:
        """SIM and activation costs from the first page-wide info box that states them (not one in a modal)."""
        # the text test in Python: `contains(., "Costo SIM")` in an XPath would take the string value of every box
        boxes = [
            b
            for b in boxes
            if "Costo SIM" in "".join(b.root.itertext())
            and not any("tm-modal-overlay" in (a.get("class") or "") for a in b.root.iterancestors())
        ]
        box = _text(boxes[0]) if boxes else ""
        sim = re.search(r"Costo SIM:?[^€]*?" + _EUR, box, re.I)
        act = re.search(r"Attivazione offerta:?\s*([^.]*)", box, re.I)
        activation = None
        if act:
            part = act.group(1)
            if re.search(r"nuovi clienti (è )?gratuit", part, re.I) or re.match(r"\s*gratuit", part, re.I):
                activation = 0
            else:
                amount = re.search(_EUR, part)
                activation = money_cents(amount.group(0)) if amount else None
        return (money_cents(sim.group(1) + " €") if sim else None), activation

    # ---------------------------------------------------------------- one tile
    def tile(self, t, response, passa: bool, tourist: bool = False) -> dict | None:
        box = t.css(".ta-price")
        if not box:
            return None  # a service tile (no price box), not an offer
        title = t.css(".tm-tile__title")
        plain = "//text()[not(ancestor::*[contains(@class, 'badge') or contains(@class, 'tag')])]"
        name = _text(title, "(.//h1|.//h2|.//h3|.//h4)[1]/" + plain) or _text(title, "./" + plain)
        tags = " ".join(_text(x) for x in t.css(".tm-tile__tags .ta-tag"))
        desc = _text(t.css(".tm-tile__description"))
        feats = [_text(f, ".//text()[not(ancestor::s) and not(ancestor::del)]") for f in t.css(".ta-feature__text")]
        top = _text(box.css(".ta-price__top"))
        center = box.css(".ta-price__center")
        bottom = _text(box.css(".ta-price__bottom"))
        # price: only the price text nodes (no <del> old price, no "info 5G" link, no tail)
        units = _text(center, "./strong//text()")
        decimals = _text(center, './/*[contains(@class, "ta-price__cents")]/div/span[1]//text()')
        tail = _text(
            center,
            './/*[contains(@class, "ta-price__cents")]//text()'
            '[not(ancestor::a) and not(ancestor::span[parent::div[parent::*[contains(@class, "ta-price__cents")]]])]',
        )
        old = _text(center, ".//del//text()")
        if re.search(r"offerta fisso|fisso\s*\+\s*mobile", f"{tags} {tail}", re.I):
            return None  # fixed line + mobile bundle
        price = split_price_cents(units, decimals) if re.search(r"\d", units) else None
        notes, first = [], None
        then = re.search(r"per (\d+) mesi, poi\s*" + _EUR, tail, re.I)
        if then and price is not None:
            first, price = price, money_cents(then.group(2) + " €")
            notes.append(f"{clean(units + decimals)} al mese per {then.group(1)} mesi, poi {then.group(2)}€/mese")
        elif re.search(r"1° mese[^.]*gratuit|primo mese[^.]*gratuit", bottom, re.I) and price is not None:
            first = 0
        alt = re.search(r"oppure .*", tail, re.I)
        if alt:
            notes.append(clean(alt.group(0)))
        if old:
            notes.append(f"invece di {old}")
        starting = bool(re.search(r"a partire da", top, re.I))
        if starting:
            notes.append("a partire da")
        notes += [clean(x) for x in t.css(".ta-price__bottom .ta-tag").xpath("string()").getall() if clean(x)]
        if bottom:
            notes.append(re.sub(r"^(PREZZO BLOCCATO PER \d+ MESI )", "", bottom))

        abroad = [f for f in feats if ABROAD.search(f)]
        notes += abroad
        feats = [f for f in feats if f not in abroad]
        body = " ".join(feats + [desc])
        data = self.data_fields(feats, desc, notes)
        eu = re.search(r"di cui (\d+(?:,\d+)?)\s*(?:giga|gb)?[^.]*?(europa|\bue\b)", body, re.I)
        minutes_unl = bool(re.search(r"minuti (e giga )?illimitat", body, re.I))
        minutes = re.search(r"(\d+)\s*minuti", body, re.I)
        sms_unl = bool(re.search(r"sms illimitat", body, re.I))
        sms = re.search(r"(\d+)\s*sms", body, re.I)
        all_text = _text(t)
        badge = " ".join(t.css("img::attr(src), img::attr(alt), img::attr(title)").getall()) + " " + all_text
        limited = _LIMITED.search(badge)
        has_5g = bool(limited) or "bollini-5g" in badge or bool(re.search(r"\b5G\b", all_text))
        where = f"{tags} {name} {desc}"
        eligibility = next((e for p, e in ELIGIBILITY if re.search(p, where, re.I)), None)
        origin_text = top if origins(top) else (tags if origins(tags) else "")
        if passa and not origin_text:
            origin_text = _text(t.xpath("ancestor::section[1]/*[contains(@class, '__header')]"))
        from_ops = origins(origin_text)
        if from_ops and re.search(r"virtuali", origin_text, re.I):
            notes.append(clean(origin_text))
        if eligibility is None:
            eligibility = "portability" if (passa or from_ops) else "all"
        if re.search(r"domotica|allarm|home connect", where, re.I):
            plan_type = "home"
        elif not minutes_unl and not minutes and (data["data_gb"] or data["data_unlimited"]):
            plan_type = "data_only"
        else:
            plan_type = "prepaid"
        period = self.period(tail, body)
        sim = None
        if tourist:
            days = _VALIDITY.search(f"{tail} {body} {bottom}")
            if (days or re.search(r"una tantum", tail, re.I)) and not re.search(r"\bmese\b|/mese", tail, re.I):
                plan_type = "tourist"
                period = int(days.group(1)) if days else period
            fee = re.search(r"\be?sim\b[^.€\d]{0,20}?(inclus[ao]|gratuit[ao]|" + _EUR + ")", f"{desc} {bottom}", re.I)
            if fee:
                sim = money_cents(fee.group(2) + " €") if fee.group(2) else 0
        url = self.tile_url(t, response)
        key = self.key(url, name)
        if passa:
            key = "passa-a-tim-" + key + (f"-{from_ops[0]}" if from_ops else "")
        promo = re.search(r"fino al\s*(\d{1,2}/\d{1,2}(?:/\d{2,4})?)", all_text, re.I)
        return {
            "_from": starting,
            "offer_key": key,
            "name": name,
            "url": url,
            "plan_type": plan_type,
            "price_cents": price,
            "period_days": period,
            "first_period_cents": first,
            "activation_cents": 0 if re.search(r"attivazione[^.]*gratuit", bottom, re.I) else None,
            "sim_cents": sim,
            **data,
            "data_5g": has_5g,
            "data_5g_limited": bool(limited),
            "speed_cap_mbps": int(limited.group(1)) if limited else None,
            "eu_roaming_gb": float(eu.group(1).replace(",", ".")) if eu else None,
            "minutes": None if minutes_unl or not minutes else int(minutes.group(1)),
            "sms": None if sms_unl or not sms else int(sms.group(1)),
            "minutes_unlimited": minutes_unl,
            "sms_unlimited": sms_unl,
            "eligibility": eligibility,
            "eligible_from": from_ops,
            "promo_until": parse_date(promo.group(1), self.crawl_date) if promo else None,
            "esim": True if re.search(r"\besim\b", all_text, re.I) else None,
            "notes": "; ".join(dict.fromkeys(n for n in notes if n)) or None,
        }

    @staticmethod
    def data_fields(feats: list[str], desc: str, notes: list[str]) -> dict:
        gb, unlimited = None, False
        for line in feats + [desc]:
            choice = re.search(r"tra (\d+(?:,\d+)?) o (\d+(?:,\d+)?) giga", line, re.I)
            if choice:
                gb = float(choice.group(1).replace(",", "."))
                notes.append(clean(line))
                break
            if data_gb(line) is not None:
                gb = data_gb(line)
                break
        for line in feats:
            if re.search(r"giga illimitat", line, re.I):
                if re.search(r"attivando|con tim unica", line, re.I):
                    notes.append(line)  # unlimited only with another product
                elif gb is None:
                    unlimited = True
        return {"data_gb": gb, "data_unlimited": unlimited}

    @staticmethod
    def period(tail: str, body: str) -> int:
        if re.search(r"\bmese\b|/mese", tail, re.I):
            return 30
        if re.search(r"4 settimane|28 giorni", tail + " " + body, re.I):
            return 28
        m = re.search(r"per (\d+) (ore|giorni)", body, re.I)
        if m:
            n = int(m.group(1))
            return max(1, n // 24) if m.group(2).lower() == "ore" else n
        return 30

    @staticmethod
    def tile_url(t, response) -> str:
        hrefs = [response.urljoin(h) for h in t.css("a::attr(href)").getall()]
        hrefs = [h for h in hrefs if h.startswith("http")]
        detail = [h for h in hrefs if urlparse(h).netloc == "www.tim.it"]
        return (detail or hrefs or [response.url])[0]

    @staticmethod
    def key(url: str, name: str) -> str:
        parts = urlparse(url)
        if parts.netloc == "www.tim.it" and not parts.fragment:
            path = parts.path.rstrip("/")
            path = (
                path.split("/fisso-e-mobile/mobile/", 1)[1]
                if "/fisso-e-mobile/mobile/" in path
                else path.rsplit("/", 1)[-1]
            )
            path = path.removeprefix("passa-a-tim").strip("/")
            if path:
                return slug(path)
        return slug(name)
