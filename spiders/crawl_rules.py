"""The rules that turn what a crawl saw into its items, its health and its stored record, however it enters.

A Scrapy crawl (`spiders/pipelines.py`) and `promowatch import` collect their items with `CrawlItems`, are
judged by one table of health rules (`HEALTH_RULES`, small declarative checks as Spidermon's monitors are)
and stored by `store_crawl`, so a page and a file of items are held to the same rules. A card that fails
validation is dropped but was seen: storage keeps its offer as it was instead of counting it missing, and
too many invalid cards make the crawl `partial` (a page read that badly is not trusted to change anything).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import ClassVar

from contract.offer import InvalidOffer, normalise

#: a crawl in which more than this share of the cards seen failed validation is `partial`, not healthy
DROPPED_SHARE_PARTIAL = 0.20
#: CatalogueShrank judges catalogues of at least this many offers; a smaller size read by this many crawls in a row
#: (this one included) is accepted as the site's own
SHRINK_FROM = 4
SHRINK_CONFIRM = 3
#: dropped cards listed on a crawl's record (the counts by reason are always complete)
LISTED_DROPS = 50
#: dropped cards named in a crawl's one-line summary
NAMED_DROPS = 5
#: finish reasons of a crawl that ran to its end (`import` is a crawl read from a file)
NORMAL_ENDS = ("finished", "import")
DUPLICATE = "duplicate_offer_key"


def _text(value, limit: int = 80) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 1] + "…"


class CrawlItems:
    """One crawl's cards as they come: valid items kept in order, one per `offer_key`; the others dropped,
    counted by reason and remembered (which card, why) for the crawl's record."""

    def __init__(self, operator: str | None = None):
        self.operator = operator
        self.items: list[dict] = []
        self.keys: set[str] = set()
        self.dropped: dict[str, int] = {}  # reason -> cards
        self.cards: list[dict] = []  # the dropped cards: offer_key, name, reason, detail
        self.seen = 0
        self._invalid_keys: set[str] = set()

    def add(self, raw) -> dict:
        """The validated item of one card; raises InvalidOffer (also for a second card with the same key)."""
        self.seen += 1
        try:
            item = normalise({**raw, "operator": self.operator} if self.operator and isinstance(raw, dict) else raw)
            if item["offer_key"] in self.keys:
                raise InvalidOffer(DUPLICATE, item["offer_key"])
        except InvalidOffer as exc:
            self._note(raw, exc)
            raise
        self.keys.add(item["offer_key"])
        self.items.append(item)
        return item

    def _note(self, raw, exc: InvalidOffer) -> None:
        self.dropped[exc.reason] = self.dropped.get(exc.reason, 0) + 1
        fields = raw if isinstance(raw, dict) else {}
        key = fields.get("offer_key")
        key = (key.strip() or None) if isinstance(key, str) else None  # as normalise() would have it
        if key and exc.reason != DUPLICATE:
            self._invalid_keys.add(key)
        detail = str(exc)
        if key and detail == f"{exc.reason}: {key}":  # the key names the card already
            detail = exc.reason
        if len(self.cards) < LISTED_DROPS:
            self.cards.append(
                {
                    "card": self.seen,
                    "offer_key": key,
                    "name": _text(fields.get("name")),
                    "reason": exc.reason,
                    "detail": _text(detail, 120),
                }
            )

    @property
    def invalid(self) -> int:
        """Cards dropped because they failed validation (a repeated card is not invalid: its offer was read)."""
        return sum(n for reason, n in self.dropped.items() if reason != DUPLICATE)

    @property
    def seen_invalid_keys(self) -> set[str]:
        """Keys of offers whose card was seen this crawl but dropped as invalid (and no valid card had them)."""
        return self._invalid_keys - self.keys

    def too_many_dropped(self) -> bool:
        return self.seen > 0 and self.invalid > DROPPED_SHARE_PARTIAL * self.seen

    def summary(self) -> str | None:
        """One line naming the dropped cards and why, or None when none was dropped."""
        total = sum(self.dropped.values())
        if not total:
            return None
        named = [_label(c) for c in self.cards[:NAMED_DROPS]]
        if total > len(named):
            named.append(f"{total - len(named)} more")
        share = f" (more than {DROPPED_SHARE_PARTIAL:.0%} invalid)" if self.too_many_dropped() else ""
        return f"dropped {total} of {self.seen} cards{share}: " + ", ".join(named)


def _label(card: dict) -> str:
    who = card["offer_key"] or (f'"{card["name"]}"' if card["name"] else f"card {card['card']}")
    return f"{who} ({card['detail'] or card['reason']})"


def stats_errors(stats: dict) -> list[str]:
    """What went wrong in a Scrapy crawl, from its stats (an import has none)."""
    errors = list(stats.get("promowatch/errors") or [])
    http_errors = {
        k.rsplit("/", 1)[-1]: v
        for k, v in stats.items()
        if k.startswith("downloader/response_status_count/") and not k.endswith(("/200", "/301", "/302", "/404"))
    }
    if stats.get("httperror/response_ignored_count"):
        errors.append("HTTP error " + ", ".join(f"{code}×{n}" for code, n in sorted(http_errors.items())))
    # requests our own middlewares refused (IgnoreRequest) are not download errors: a missing saved page
    # records its own error, a mirror skip is deliberate
    failed = (stats.get("downloader/exception_count") or 0) - (
        stats.get("downloader/exception_type_count/scrapy.exceptions.IgnoreRequest") or 0
    )
    if failed > 0:
        errors.append(f"download errors: {failed}")
    if stats.get("spider_exceptions/count"):
        errors.append(f"spider exceptions: {stats['spider_exceptions/count']}")
    return errors


@dataclass(frozen=True)
class CrawlFacts:
    """What the health rules look at: how the crawl ended, its cards, what went wrong on the way."""

    reason: str
    crawl: CrawlItems
    min_offers: int
    errors: tuple[str, ...] = ()
    blocked: bool = False
    nothing: str = "no offer found on the page (layout changed?)"
    #: offers the operator's previous healthy crawl stored (None: none yet), and the valid offers each crawl since
    #: then read (newest first); `store_crawl` reads them from storage
    previous: int | None = None
    since: tuple[int, ...] = ()

    @classmethod
    def of_scrapy(cls, reason: str, crawl: CrawlItems, min_offers: int, stats: dict) -> CrawlFacts:
        """The facts of a Scrapy crawl, with what went wrong read from its stats."""
        return cls(reason, crawl, min_offers, tuple(stats_errors(stats)), bool(stats.get("promowatch/blocked")))

    @property
    def stored(self) -> int:
        return len(self.crawl.items)

    @property
    def dropped(self) -> str | None:
        return self.crawl.summary()


class HealthRule:
    """One check of a finished crawl, as Spidermon's monitors are: when `check` returns a text, the crawl
    gets `status` with that text as its error. The rules are read in order; the first that fails decides."""

    status: ClassVar[str]
    description: ClassVar[str]

    def check(self, facts: CrawlFacts) -> str | None:
        raise NotImplementedError


class BlockPage(HealthRule):
    status, description = "blocked", "the site answered with a block or challenge page"

    def check(self, facts):
        return (_join(*facts.errors) or "block page") if facts.blocked else None


class EndedEarly(HealthRule):
    status, description = "failed", "the crawl did not run to its end (shut down, closed by an error)"

    def check(self, facts):
        return None if facts.reason in NORMAL_ENDS else _join(f"crawl ended: {facts.reason}", *facts.errors)


class NoValidOffer(HealthRule):
    status, description = "failed", "not one valid offer was read"

    def check(self, facts):
        if facts.stored:
            return None
        return _join(*facts.errors, facts.dropped and f"no valid offer: {facts.dropped}") or facts.nothing


class TooFewOffers(HealthRule):
    status, description = "partial", "fewer offers than the operator's minimum"

    def check(self, facts):
        if facts.stored >= facts.min_offers:
            return None
        return _join(f"only {facts.stored} offers, expected at least {facts.min_offers}", *facts.errors, facts.dropped)


class CatalogueShrank(HealthRule):
    """A page that lost half its offers is more likely half-read than half-emptied: the crawl changes nothing.
    A catalogue too small for halves to mean much (fewer than SHRINK_FROM offers) is not judged, and a size
    read the same by SHRINK_CONFIRM crawls in a row is the site's new catalogue, accepted."""

    status, description = "partial", "half the offers of the previous healthy crawl or fewer"

    def check(self, facts):
        if not facts.previous or facts.previous < SHRINK_FROM or facts.stored * 2 > facts.previous:
            return None
        if facts.since[: SHRINK_CONFIRM - 1] == (facts.stored,) * (SHRINK_CONFIRM - 1):
            return None
        return _join(f"only {facts.stored} offers, the previous healthy crawl had {facts.previous}", facts.dropped)


class DownloadErrors(HealthRule):
    status, description = "partial", "a page could not be fetched, or the spider raised"

    def check(self, facts):
        return _join(*facts.errors, facts.dropped) if facts.errors else None


class TooManyInvalidCards(HealthRule):
    status, description = "partial", f"more than {DROPPED_SHARE_PARTIAL:.0%} of the cards seen failed validation"

    def check(self, facts):
        return facts.dropped if facts.crawl.too_many_dropped() else None


#: every crawl's health, in order: a Scrapy crawl's and an import's alike
HEALTH_RULES: tuple[HealthRule, ...] = (
    BlockPage(),
    EndedEarly(),
    NoValidOffer(),
    TooFewOffers(),
    CatalogueShrank(),
    DownloadErrors(),
    TooManyInvalidCards(),
)


def crawl_status(facts: CrawlFacts) -> tuple[str, str | None]:
    """(status, error text) of a finished crawl: the first rule that fails, else healthy. The error text of
    a healthy crawl that dropped cards names them (it is the crawl's note, shown where its error is)."""
    for rule in HEALTH_RULES:
        error = rule.check(facts)
        if error is not None:
            return rule.status, error
    return "healthy", facts.dropped


@dataclass
class StoredCrawl:
    """A crawl as it was judged and stored: what every entry point reports and hands to the after-crawl step."""

    operator: str
    run_id: int
    status: str
    error: str | None
    finish_reason: str
    offers: int  # valid offers read
    stored: int  # offers written (0 for a crawl that was not healthy)
    items_scraped: int  # cards seen
    new_versions: int
    dropped: dict[str, int] = field(default_factory=dict)
    dropped_cards: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return self.status == "healthy"


def store_crawl(
    facts: CrawlFacts, *, operator: str, started_at: datetime, database_url: str | None = None
) -> StoredCrawl:
    """Judge the crawl by the health rules and store it in one transaction (only a healthy crawl touches
    offers); the record every entry point reports."""
    from storage.repository import catalogue_sizes, record_crawl

    if facts.previous is None:
        previous, since = catalogue_sizes(operator, SHRINK_CONFIRM, database_url)
        facts = replace(facts, previous=previous, since=tuple(since))
    status, error = crawl_status(facts)
    crawl = facts.crawl
    result = record_crawl(
        operator=operator,
        started_at=started_at,
        finish_reason=facts.reason,
        status=status,
        items=crawl.items,
        items_scraped=crawl.seen,
        dropped=crawl.dropped,
        error=error,
        database_url=database_url,
        invalid_keys=crawl.seen_invalid_keys,
        dropped_cards=crawl.cards,
    )
    return StoredCrawl(
        operator=operator,
        run_id=result.run_id,
        status=status,
        error=error,
        finish_reason=facts.reason,
        offers=len(crawl.items),
        stored=result.stored,
        items_scraped=crawl.seen,
        new_versions=result.new_versions,
        dropped=dict(crawl.dropped),
        dropped_cards=list(crawl.cards),
        errors=list(facts.errors),
    )


def _join(*parts: str | None) -> str:
    return "; ".join(p for p in parts if p)
