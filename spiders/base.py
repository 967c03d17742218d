"""What every operator spider shares: its slug, start URLs, health threshold and the crawl day.

A spider yields plain dict items with the fields of the offer item (docs/architecture.md); the pipeline fills
defaults, validates and drops. `crawl_date` is the day relative to which year-less dates resolve
(UTC today, or the PROMOWATCH_TODAY setting so tests and fixtures are reproducible).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timezone

import scrapy

from spiders.parsing import note_flags


class OperatorSpider(scrapy.Spider):
    operator: str = ""
    #: fewer offers than this makes the crawl unhealthy (overridable: setting PROMOWATCH_MIN_OFFERS_<OP>)
    min_offers: int = 1
    #: the page a person reads the offers on (used for `parse OP FILE` and offers without own URL)
    start_urls: list[str] = []
    #: CSS selector of the offer cards on this operator's pages (None: the page is JSON); the collection
    #: benchmark's bare-parsel baseline extracts their text, so a spider without one is measured on the whole page
    cards: str | None = "body"
    #: headers and cookies of the start requests: how a site is asked for one currency (Airalo's
    #: Accept-Currency header, Yesim's currency cookie); the cookies also go as a Cookie header, which is
    #: what is sent while Scrapy's cookies middleware is off (PROMOWATCH_COOKIES)
    start_headers: dict[str, str] = {}
    #: the currency the crawl asks the site for (`promowatch operators` shows it); an item states its own
    currency: str = "EUR"
    start_cookies: dict[str, str] = {}

    name = ""  # set from `operator` by __init_subclass__

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.operator:
            cls.name = cls.operator

    @classmethod
    def update_settings(cls, settings):
        """Scrapy's hook as a crawler is made, before anything runs: a crawl whose settings cannot work stops
        here (UsageError: one line from `scrapy crawl`, exit 2), not as a failed crawl on record."""
        super().update_settings(settings)
        from scrapy.exceptions import UsageError

        from spiders.fixtures_middleware import fixtures_root
        from storage.environment import BadEnvironment, check_environment

        try:
            check_environment()
        except BadEnvironment as exc:
            raise UsageError(str(exc), print_help=False) from None
        fixtures_root(settings)

    @property
    def crawl_date(self) -> date:
        forced = self.settings.get("PROMOWATCH_TODAY") if hasattr(self, "settings") else None
        if forced:
            return date.fromisoformat(forced)
        return datetime.now(timezone.utc).date()

    def start_meta(self) -> dict:
        """Request meta for the start URLs (WindTre asks for the browser here when PROMOWATCH_BROWSER is on)."""
        return {}

    def _start_requests(self):
        # every start URL goes to `parse`, which tells the operator's pages apart by their URL, so a saved page
        # handed to `parse` (promowatch parse, the fixture tests) reads exactly as a crawled one
        headers = dict(self.start_headers)
        if self.start_cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.start_cookies.items())
        for url in self.start_urls:
            yield scrapy.Request(
                url,
                meta=self.start_meta(),
                headers=headers or None,
                cookies=dict(self.start_cookies) or None,  # type: ignore[arg-type]  # str values are allowed
                dont_filter=True,
            )

    async def start(self):  # Scrapy >= 2.13
        for request in self._start_requests():
            yield request

    def start_requests(self):  # older Scrapy
        return self._start_requests()

    def offer(self, **fields) -> dict:
        """An item of this operator with the contract's fields in contract order.

        Keys outside the contract (a spider's own scratch values) are left out; missing ones are None. The
        operators' recurring terms in the notes become `flags` (spiders.parsing.note_flags), the rest stays notes.
        """
        from contract.offer import FIELDS

        item = {"operator": self.operator, **{k: fields.get(k) for k in FIELDS if k != "operator"}}
        item["flags"], item["notes"] = note_flags(item["notes"], item["flags"])
        return item

    def first_offers(self, items: Iterable[dict | None], keys: OfferKeys | None = None) -> Iterator[dict]:
        """The offers of `items` (None: a card that is no offer), only the first of each offer key: a card a page
        shows twice (a carousel, a second tab) is one offer. `keys`: ones already handed out (other pages)."""
        keys = OfferKeys() if keys is None else keys
        for item in items:
            if item is not None and keys.first(item["offer_key"]):
                yield self.offer(**item)

    def numbered_offers(self, items: Iterable[dict | None], *, drop_same: bool = False) -> Iterator[dict]:
        """The offers of `items` (None: a card that is no offer); a card with a key already handed out is another
        offer and gets the key numbered (`key-2`, `key-3`, ...). With `drop_same`, a card equal but for its key to
        one already handed out is the same card shown twice: dropped."""
        keys = OfferKeys()
        for item in items:
            if item is None:
                continue
            key = keys.unique(item["offer_key"], {**item, "offer_key": None}, drop_same=drop_same)
            if key is not None:
                yield self.offer(**{**item, "offer_key": key})


class OfferKeys:
    """The offer keys a spider has handed out on a page (or a crawl).

    An offer key is the offer's identity from crawl to crawl, so two offers of one crawl must never share one,
    and a card a page shows twice must not become two offers. Each spider says which of the two it meets:
    `first` drops every repeat of a key; `unique` numbers a different card that arrives with a taken key.
    """

    def __init__(self) -> None:
        self._held: dict[str, object] = {}

    def first(self, key: str) -> bool:
        """True the first time `key` comes (it is then held); a repeat is to be dropped."""
        if key in self._held:
            return False
        self._held[key] = None
        return True

    def holds(self, key: str, value: object) -> bool:
        """Whether `key` is held by an offer recorded with a value equal to `value` (the same card twice)."""
        return key in self._held and self._held[key] == value

    def unique(self, key: str, value: object = None, *, stem: str | None = None, drop_same: bool = False) -> str | None:
        """The first free key of `key`, `stem` (when given), `<stem or key>-2`, `-3`, ...; it is held with `value`.
        With `drop_same`, None (nothing held) when one of those keys is held by an equal value: the same card twice.
        """
        numbered = (f"{key if stem is None else stem}-{n}" for n in itertools.count(2))
        for candidate in itertools.chain([key], [] if stem is None else [stem], numbered):
            if candidate not in self._held:
                self._held[candidate] = value
                return candidate
            if drop_same and self._held[candidate] == value:
                return None
        raise AssertionError("unreachable: the numbered keys never end")
