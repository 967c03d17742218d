"""1Mobile: the "offerte per tutti" page; its offers are JSON embedded in scripts.

No capture exists: the script literals are assumed to be strict JSON; `UnoMobileSpider` lists what else is assumed,
docs/operators.md what is known.
"""

from __future__ import annotations

import html
import json
import re

import scrapy

from spiders.base import OfferKeys, OperatorSpider
from spiders.parsing import clean, data_gb, is_unlimited, money_cents, operators_named, parse_date, slug

LIST = "https://www.unomobile.it/offerte/per-tutti"
_BUNDLES = re.compile(r"\b(?:const|let|var)\s+bundles\s*=\s*(?=\[)")
_BUNDLE = re.compile(r"\bwindow\.bundle\s*=\s*(?=\{)")
_TAG = re.compile(r"<[^>]+>")
_DECODER = json.JSONDecoder()
DETAIL_FIELDS = ("activationFee", "euData")


def _text(value) -> str:
    """A JSON text field: entities decoded until stable ('&amp;euro;' -> '€'), tags dropped."""
    if value is None or isinstance(value, bool):
        return ""
    t = str(value)
    for _ in range(3):
        u = html.unescape(t)
        if u == t:
            break
        t = u
    return re.sub(r"\s+([:;,.!?])", r"\1", clean(_TAG.sub(" ", t)))


def embedded(scripts: list[str], pattern: re.Pattern, kind: type):
    """The first JSON literal of `kind` assigned where `pattern` matches, or None."""
    for script in scripts:
        for m in pattern.finditer(script):
            try:
                value, _ = _DECODER.raw_decode(script, m.end())
            except ValueError:
                continue
            if isinstance(value, kind) and value:
                return value
    return None


def _count(value) -> tuple[int | None, bool]:
    t = _text(value)
    if is_unlimited(t):
        return None, True
    m = re.search(r"\d+", t.replace(".", ""))
    return (int(m.group(0)), False) if m else (None, False)


def _money(value) -> int | None:
    t = _text(value)
    return money_cents(t) if t else None


class UnoMobileSpider(OperatorSpider):
    """What the parser relies on in the page.

    Page facts (docs/operators.md): the list page declares `const bundles = [...]` in a script, each detail page
    `window.bundle = {...}`; some text fields are HTML-escaped twice (`&amp;euro;` -> "€"); notes like
    "fino al 30/09/2026".

    There is no real capture. The parser assumes (an assumption; tolerant where cheap):
    - the literals are strict JSON (double-quoted keys; `\\/` and `\\u20ac` escapes are fine) and are read with
      `json.JSONDecoder.raw_decode` from the opening bracket, so whatever script follows the literal (`];` inside
      strings, more arrays) does not matter. Only a declaration of `bundles` itself counts (`const|let|var bundles =`,
      not `featuredBundles`); the first one that decodes to a list of objects wins.
    - a bundle: `id` (the offer_key), `name`, `price` (euro: 7.99 / "7,99"; fallback the display text `priceLabel`
      "7,99&amp;euro; al mese", which also says the period: "al mese" -> 30, "4 settimane" -> 28), `data`
      ("150 GB" / "Illimitati"), `minutes`, `sms` ("Illimitati", numbers, 0), `network` ("5G" / "4G"),
      `badge` ("Primo mese gratis" -> first_period_cents 0), `notes` (HTML, "fino al 30/09/2026" -> promo_until),
      `target` ("mnp" = only when porting a number -> eligibility portability, origin operators named in
      `targetText`; "new" = new numbers only), `url` (detail page, relative).
    - a detail page's `window.bundle` is the same object plus the costs the list lacks: `activationFee`, `simFee`
      (money text, "Gratis" -> 0), `euData` ("9,5 GB in UE"), `esim`, a fuller `notes`. The detail page is
      requested only when the list's bundle lacks those (`activationFee` or `euData`) and has a URL; the detail's
      fields override the list's. If the detail page fails or carries no bundle, the list's figures are yielded.
    Text fields are unescaped until stable and stripped of tags. Data-only (data, 0 minutes, 0 SMS) -> data_only;
    no data but minutes -> voice_only.
    """

    operator = "unomobile"
    cards = "script"
    start_urls = [LIST]
    min_offers = 3

    def parse(self, response):
        bundles = embedded(response.xpath("//script/text()").getall(), _BUNDLES, list)
        if not bundles:
            self.logger.error("unomobile: no `const bundles = [...]` on %s", response.url)
            return
        keys = OfferKeys()
        for bundle in bundles:
            if not isinstance(bundle, dict) or bundle.get("id") in (None, ""):
                continue
            if not keys.first(slug(str(bundle["id"]))):
                continue
            href = _text(bundle.get("url"))
            url = response.urljoin(href) if href and not href.startswith(("#", "javascript:")) else response.url
            if url != response.url and any(bundle.get(f) in (None, "") for f in DETAIL_FIELDS):
                yield scrapy.Request(
                    url,
                    callback=self.parse_detail,
                    errback=self.detail_failed,
                    meta={"bundle": bundle, "offer_url": url},
                )
                continue
            item = self.item(bundle, url)
            if item:
                yield self.offer(**item)

    def parse_detail(self, response):
        bundle, url = response.meta["bundle"], response.meta["offer_url"]
        detail = embedded(response.xpath("//script/text()").getall(), _BUNDLE, dict)
        if detail is None:
            self.logger.warning("unomobile: no `window.bundle` on %s; list figures only", response.url)
        elif str(detail.get("id", bundle["id"])) != str(bundle["id"]):
            self.logger.warning(
                "unomobile: %s describes bundle %r, not %r", response.url, detail.get("id"), bundle["id"]
            )
            detail = None
        merged = {**bundle, **{k: v for k, v in (detail or {}).items() if v not in (None, "")}}
        item = self.item(merged, url)
        if item:
            yield self.offer(**item)

    def detail_failed(self, failure):
        request = failure.request
        self.logger.warning("unomobile: detail page %s failed (%s); list figures only", request.url, failure.value)
        item = self.item(request.meta["bundle"], request.meta["offer_url"])
        if item:
            yield self.offer(**item)

    def item(self, b: dict, url: str) -> dict | None:
        name = _text(b.get("name"))
        label = _text(b.get("priceLabel"))
        price = _money(b.get("price")) if b.get("price") not in (None, "") else None
        if price is None and label:
            price = money_cents(label)
        if not name or price is None:
            return None
        data = _text(b.get("data"))
        data_unl = is_unlimited(data) and not re.search(r"\d", data)
        gb = None if data_unl else data_gb(data if re.search(r"[a-z]", data, re.I) else data + " GB") if data else None
        minutes, minutes_unl = _count(b.get("minutes"))
        sms, sms_unl = _count(b.get("sms"))
        if (gb or data_unl) and minutes == 0 and not sms and not sms_unl:
            plan_type = "data_only"
        elif not (gb or data_unl) and (minutes or minutes_unl):
            plan_type = "voice_only"
        else:
            plan_type = "prepaid"

        badge, notes = _text(b.get("badge")), _text(b.get("notes"))
        target, target_text = _text(b.get("target")).lower(), _text(b.get("targetText"))
        if target in ("mnp", "portability", "portabilita") or re.search(r"porta(?:bilit|\b)|passa", target):
            eligibility, origins = "portability", operators_named(target_text, exclude="unomobile")
        elif target in ("new", "new_number", "nuovo numero"):
            eligibility, origins = "new_number", []
        else:
            eligibility, origins = "all", []

        promo = None
        m = re.search(r"fino al(?:l')?\s*(\d{1,2}\s*/\s*\d{1,2}(?:\s*/\s*\d{2,4})?)", f"{notes} {badge}", re.I)
        if m:
            promo = parse_date(m.group(1), self.crawl_date)
        first = None
        fm = re.search(
            r"primo mese\s+(?:a\s+)?(gratis|gratuito|omaggio|\d+(?:,\d{1,2})?\s*€)", f"{badge} {notes}", re.I
        )
        if fm:
            first = money_cents(fm.group(1))
        network = _text(b.get("network"))
        esim = b.get("esim")
        return {
            "offer_key": slug(str(b["id"])),
            "name": name,
            "url": url,
            "plan_type": plan_type,
            "price_cents": price,
            "period_days": 28 if re.search(r"4 settimane|28 giorni", label, re.I) else 30,
            "first_period_cents": first,
            "activation_cents": _money(b.get("activationFee")),
            "sim_cents": _money(b.get("simFee")),
            "data_gb": gb,
            "data_unlimited": data_unl,
            "data_5g": bool(re.search(r"\b5G\b", network, re.I)),
            "data_5g_limited": False,
            "speed_cap_mbps": None,
            "eu_roaming_gb": data_gb(_text(b.get("euData"))),
            "minutes": minutes,
            "sms": sms,
            "minutes_unlimited": minutes_unl,
            "sms_unlimited": sms_unl,
            "eligibility": eligibility,
            "eligible_from": origins,
            "promo_until": promo,
            "esim": esim if isinstance(esim, bool) else None,
            "notes": "; ".join(x for x in (badge, target_text, notes) if x) or None,
        }
