"""Text-to-value helpers every operator spider shares.

Operator pages write money and data in many ways ("9,99 €", "€5.99", "6" + ",95" in separate nodes,
"Gratis", "40MB", dates without a year). These helpers turn such text into the item's units (integer
cents, GB as float, ISO dates) and return None when the text holds no usable value, so a spider never
invents a figure.
"""

from __future__ import annotations

import html
import re
from datetime import date
from typing import Any

from price_parser import Price

from contract.catalogue import load as load_catalogue

_FREE = re.compile(r"\b(gratis|gratuit[ao]|free|omaggio|incluso)\b", re.I)
_SPACES = re.compile(r"[\s\u00a0\u202f]+")


def clean(text: str | None) -> str:
    """Collapse whitespace (including U+00A0) and unescape HTML entities; None -> ''."""
    if not text:
        return ""
    return _SPACES.sub(" ", html.unescape(text)).strip()


def join_text(parts) -> str:
    """Join text nodes of one element (e.g. a price split over <strong>9</strong> and ',99 €')."""
    return clean("".join(p for p in parts if p))


def money_cents(text: str | None, *, free_is_zero: bool = True) -> int | None:
    """Money text to integer cents using price-parser: '9,99 €' -> 999, '€5.99' -> 599, 'Gratis' -> 0.

    Returns None when no amount is present ('€ -', '', 'a partire da'). A bare integer ("6") is euros.
    """
    t = clean(text)
    if not t:
        return None
    if free_is_zero and _FREE.search(t) and not re.search(r"\d", t):
        return 0
    price = Price.fromstring(t, decimal_separator="," if re.search(r"\d,\d{1,2}(?!\d)", t) else None)
    if price.amount is None:
        return None
    return int((price.amount * 100).to_integral_value())


def euros(cents: int) -> str:
    """Cents as Italian pages write euros, for names and notes: 699 -> '6,99€'."""
    return f"{cents // 100},{cents % 100:02d}€"


def split_price_cents(units: str | None, decimals: str | None) -> int | None:
    """A price split over nodes: units '6' and decimals ',95' / '.95' / '95' -> 695."""
    u = re.sub(r"\D", "", clean(units))
    if not u:
        return None
    d = re.sub(r"\D", "", clean(decimals))[:2]
    d = (d + "00")[:2] if d else "00"
    return int(u) * 100 + int(d)


_QTY = re.compile(r"(\d+(?:[.,]\d+)?)\s*(GB|GIGA|G|MB|MEGA|TB)\b", re.I)


def data_gb(text: str | None) -> float | None:
    """'250GB' -> 250.0, '40MB' -> 0.04, '1,5 Giga' -> 1.5, '2 TB' -> 2000.0; None when no quantity."""
    m = _QTY.search(clean(text))
    if not m:
        return None
    value = float(m.group(1).replace(",", "."))
    unit = m.group(2).upper()
    if unit in ("MB", "MEGA"):
        return round(value / 1000, 3)
    if unit == "TB":
        return value * 1000
    return value


def is_unlimited(text: str | None) -> bool:
    """'Giga illimitati*', 'Minuti illimitati', 'unlimited', '-1' mean unlimited."""
    t = clean(text).lower()
    return t == "-1" or "illimitat" in t or "unlimited" in t or "senza limiti" in t


def resolve_day_month(day: int, month: int, today: date) -> date:
    """A date without a year ('fino al 30/09') is the next such date on or after the crawl day."""
    try:
        candidate = date(today.year, month, day)
    except ValueError:  # 29/02 in a non-leap year: next leap year
        year = today.year + 1
        while True:
            try:
                return date(year, month, day)
            except ValueError:
                year += 1
    return candidate if candidate >= today else date(today.year + 1, month, day)


_DATE = re.compile(r"(\d{1,2})\s*(?:/|\\/|-|\.)\s*(\d{1,2})(?:\s*(?:/|\\/|-|\.)\s*(\d{2,4}))?")


def parse_date(text: str | None, today: date) -> str | None:
    """First dd/mm[/yyyy] in the text (JS escapes like '24\\/09' included) as an ISO date; None if none."""
    m = _DATE.search(clean(text))
    if not m:
        return None
    day, month = int(m.group(1)), int(m.group(2))
    if not (1 <= day <= 31 and 1 <= month <= 12):
        return None
    if m.group(3):
        year = int(m.group(3))
        year = year + 2000 if year < 100 else year
        try:
            return date(year, month, day).isoformat()
        except ValueError:
            return None
    return resolve_day_month(day, month, today).isoformat()


def slug(text: str) -> str:
    """A stable slug for offer_key fallbacks: 'Iliad Giga 250 5G' -> 'iliad-giga-250-5g'."""
    import unicodedata

    t = unicodedata.normalize("NFKD", clean(text)).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", t).strip("-")


#: how pages spell each operator (the catalogue's `page_names`); read "per chi viene da ..." origin lists
_OPERATOR_PATTERNS = [(op, re.compile(entry["page_names"], re.I)) for op, entry in load_catalogue().items()]


def operators_named(text: str | None, exclude: str | None = None) -> list[str]:
    """Operator slugs named in the text, in order of first mention ('da Iliad e ho. Mobile' -> iliad, ho)."""
    t = clean(text)
    found = [(m.start(), op) for op, pattern in _OPERATOR_PATTERNS if op != exclude and (m := pattern.search(t))]
    return [op for _, op in sorted(found)]


_EU_GB = re.compile(
    r"(\d+(?:[.,]\d+)?)\s*(GB|GIGA|MB)\b\s*(?:di\s+|in\s+|per\s+(?:il\s+)?)?(?:roaming\s*)?"
    r"(?:in\s+)?(?:\bUE\b|\bEU\b|europa)",
    re.I,
)
_EU_WORD = re.compile(r"roaming|\bUE\b|\bEU\b|europa", re.I)
_DATA_WORD = r"(?:giga|gb|internet|dati|traffico(?:\s+dati)?)"
_LIST_TAIL = r"(?:\s*(?:,|\be\b|\bed\b)\s*[a-z]+){0,2}"
_NETWORK = re.compile(r"\b[2-5]G\b", re.I)  # "anche in 5G" is the network, not 5 GB


def _allowance_count(line: str, word: str) -> tuple[int | None, bool] | None:
    """(count, unlimited) for one word ("minuti", "sms") in one line; None when the line does not state it."""
    if re.search(rf"\b{word}{_LIST_TAIL}\s+illimitat|illimitat\w*\s+(?:[a-z]+\s+)?{word}\b", line, re.I):
        return None, True
    m = re.search(rf"(\d[\d.]*)\s*{word}\b", line, re.I) or re.search(rf"\b{word}\s*:?\s*(\d[\d.]*)\b", line, re.I)
    return (int(m.group(1).replace(".", "")), False) if m else None


def allowances(lines) -> dict:
    """An offer card's feature lines -> its allowance fields (only what the lines state).

    ['150 GB, anche in 5G', 'Minuti illimitati verso fissi e mobili', '200 SMS', '32 GB di Roaming UE'] ->
    data_gb 150.0, minutes_unlimited, sms 200, eu_roaming_gb 32.0. 'GB illimitati' / 'minuti e giga illimitati'
    -> unlimited; '100 GB di cui 10 GB in UE' -> 100 national, 10 in the EU. A roaming line without an EU
    figure ('Roaming UE incluso senza limiti + 5 GB extra UE') states no national data and no EU GB.
    The first line stating a figure wins. Returns data_gb, data_unlimited, minutes, minutes_unlimited, sms,
    sms_unlimited, eu_roaming_gb.
    """
    out: dict[str, Any] = {
        "data_gb": None,
        "data_unlimited": False,
        "minutes": None,
        "minutes_unlimited": False,
        "sms": None,
        "sms_unlimited": False,
        "eu_roaming_gb": None,
    }
    seen: set[str] = set()
    for raw in lines or ():
        line = clean(_NETWORK.sub(" ", clean(raw)))
        if not line:
            continue
        eu = _EU_GB.search(line)
        if eu and out["eu_roaming_gb"] is None:
            out["eu_roaming_gb"] = data_gb(eu.group(1) + " " + eu.group(2))
        national = line[: eu.start()] if eu else ("" if _EU_WORD.search(line) else line)
        if "data" not in seen and national:
            gb = data_gb(national)
            if gb is not None:
                out["data_gb"] = gb
                seen.add("data")
            elif re.search(
                rf"\b{_DATA_WORD}{_LIST_TAIL}\s+illimitat|illimitat\w*\s+(?:[a-z]+\s+)?{_DATA_WORD}\b", national, re.I
            ):
                out["data_unlimited"] = True
                seen.add("data")
        for word, key in (("(?:minuti|chiamate)", "minutes"), ("sms", "sms")):
            found = None if key in seen else _allowance_count(line, word)
            if found is not None:
                out[key], out[f"{key}_unlimited"] = found
                seen.add(key)
    return out


#: XPath of a node's visible text (no script or style)
VISIBLE_TEXT = ".//text()[not(ancestor::script) and not(ancestor::style)]"
#: visible text without struck-through old values (<s>, <del>): what the offer is now
CURRENT_TEXT = ".//text()[not(ancestor::script) and not(ancestor::style) and not(ancestor::del) and not(ancestor::s)]"


def _append_text(element, skipped: frozenset, out: list, skipped_class: str | None = None) -> None:
    """The text nodes under `element` in document order, not entering comments, `skipped` elements or
    elements whose class attribute contains `skipped_class`."""
    if element.text:
        out.append(element.text)
    for child in element:
        if (
            isinstance(child.tag, str)
            and child.tag not in skipped
            and not (skipped_class and skipped_class in (child.get("class") or ""))
        ):
            _append_text(child, skipped, out, skipped_class)
        if child.tail:
            out.append(child.tail)


def text_skipping(sel, tags: frozenset, skipped_class: str | None = None) -> str:
    """The text under the node(s), not entering elements named in `tags` or whose class attribute contains
    `skipped_class` (e.g. a page's small print outside its offer cards, or a card without its old prices)."""
    parts: list[str] = []
    for node in [sel] if hasattr(sel, "root") else sel:
        if isinstance(node.root, str):  # an attribute or text selection
            parts.append(node.root)
        else:
            _append_text(node.root, tags, parts, skipped_class)
    return clean(" ".join(parts))


def text_outside(sel, skipped_class: str) -> str:
    """The visible text under the node(s) except inside elements whose class contains `skipped_class`."""
    return text_skipping(sel, frozenset({"script", "style"}), skipped_class)


def text_of(sel, xpath: str = VISIBLE_TEXT) -> str:
    """The cleaned text of a selector (list) by `xpath`; '' for an empty selection."""
    if not sel:
        return ""
    return clean(" ".join(sel.xpath(xpath).getall()))


def has_class(name: str) -> str:
    """An XPath predicate body: the node's class list holds `name` (works for classes CSS cannot name, like '5g')."""
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {name} ')"


#: flag -> how Italian operator pages word it (contract.offer.FLAGS). Only unambiguous wordings: a term read
#: wrongly would be told to a reader as a fact in their own language.
NOTE_TERMS = {
    "price_for_ever": r"(?:prezzo )?(?:bloccato )?per sempre",
    "price_locked": r"prezzo (?:bloccato|fisso|garantito)(?! per sempre)|senza (?:aumenti|rincari)",
    "online_only": r"solo (?:on-?line|web|sul sito)|esclusiva (?:on-?line|web)|offerta (?:on-?line|web)",
    "launch_price": r"prezzo (?:di )?lancio",
    "first_month_free": r"(?:primo|1°?) mese (?:gratis|gratuito|omaggio|in omaggio)|1 mese (?:gratis|omaggio)",
    "free_activation": r"attivazione (?:gratuita|gratis|inclusa|0,00 ?€)",
    "porting_only": r"solo (?:con |per chi (?:porta il|fa la) )?(?:portabilità|numero portato)",
    "new_numbers_only": r"solo (?:per )?nuov[oi] numer[oi]",
    "auto_renew": r"rinnovo automatico|si rinnova automaticamente",
    "no_contract": r"senza (?:vincoli|vincolo|costi nascosti e vincoli)|nessun vincolo",
    "from_price": r"a partire da",
    "fair_use": r"(?:soggett[oa] a )?(?:condizioni di )?uso (?:lecito e corretto|personale)",
}
_TERMS = [(flag, re.compile(rf"(?<!\w){pattern}(?!\w)", re.I)) for flag, pattern in NOTE_TERMS.items()]
#: terms read only as a part of their own: inside a sentence they qualify something else ("attivazione 2,99€
#: invece di 24,99€" is the fee's list price; "1° mese gratuito per i nuovi clienti" is not an offer for them only)
_NEW_CUSTOMERS = re.compile(r"(?:solo )?(?:per|riservat[ao] a)i? (?:i )?nuovi clienti", re.I)
_LIST_PRICE = re.compile(
    r"(?:invece di|anziché|prima|prezzo di listino)\s*(\d+(?:,\d{1,2})?\s*€|€\s*\d+(?:,\d{1,2})?)", re.I
)
#: what may be left of a note once its terms are read: nothing a reader needs (the note is then fully read)
_FILLER = re.compile(r"(?i)\b(?:prezzo|offerta|promo|il|la|i|e|ed|per|di|da|a|al)\b|[\s*!.,;:()\-–]+")


def note_flags(notes: str | None, flags=()) -> tuple[list[str], str | None]:
    """(flags, what remains of the notes) of an offer: each "; "-separated part of its notes that is only
    recognised terms ("Solo online", "prezzo per sempre", "invece di 9,99€") becomes flags and leaves the
    notes; a longer part keeps its words (shown "in Italian") and still gives its flags. `flags`: already set."""
    found = set(flags or ())
    rest = []
    for part in dict.fromkeys(p.strip() for p in re.split(r";\s*", clean(notes)) if p.strip()):
        left = part
        for flag, rule in _TERMS:
            if rule.search(left):
                found.add(flag)
                left = rule.sub(" ", left)
        price = _LIST_PRICE.fullmatch(part)
        cents = money_cents(price.group(1)) if price else None
        if cents:
            found.add(f"list_price:{cents}")
            left = ""
        if _NEW_CUSTOMERS.fullmatch(part):
            found.add("new_customers_only")
            left = ""
        if left == part or _FILLER.sub("", left):  # no term in it, or words beyond its terms: kept
            rest.append(part)
    return sorted(found), "; ".join(rest) or None
