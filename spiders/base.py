"""What every operator spider shares: its slug, start URLs, health threshold and the crawl day.

A spider yields plain dict items with the fields of the offer item (docs/architecture.md); the pipeline fills
defaults, validates and drops. `crawl_date` is the day relative to which year-less dates resolve
(UTC today, or the PROMOWATCH_TODAY setting so tests and fixtures are reproducible).
"""

from __future__ import annotations

from datetime import date, datetime, timezone

import scrapy


class OperatorSpider(scrapy.Spider):
    operator: str = ""
    #: fewer offers than this makes the crawl unhealthy (overridable: setting PROMOWATCH_MIN_OFFERS_<OP>)
    min_offers: int = 1
    #: the page a person reads the offers on (used for `parse OP FILE` and offers without own URL)
    start_urls: list[str] = []
    #: CSS selector of the offer cards on this operator's pages (None: the page is JSON); the collection
    #: benchmark's bare-parsel baseline extracts their text, so a spider without one is measured on the whole page
    cards: str | None = "body"

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
        for url in self.start_urls:
            yield scrapy.Request(url, meta=self.start_meta(), dont_filter=True)

    async def start(self):  # Scrapy >= 2.13
        for request in self._start_requests():
            yield request

    def start_requests(self):  # older Scrapy
        return self._start_requests()

    def offer(self, **fields) -> dict:
        """An item of this operator with the contract's fields in contract order.

        Keys outside the contract (a spider's own scratch values) are left out; missing ones are None.
        """
        from contract.offer import FIELDS

        return {"operator": self.operator, **{k: fields.get(k) for k in FIELDS if k != "operator"}}
