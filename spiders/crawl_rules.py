"""The rules that turn what a crawl saw into its items and its status, for every way a crawl enters.

The Scrapy pipeline (`spiders/pipelines.py`) and `promowatch import` both collect their items with
`CrawlItems` and decide the crawl's status with `crawl_status`, so a page and a file of items are held to
the same rules. A card that fails validation is dropped, but it was seen: when it names its `offer_key`,
storage keeps that offer as it was (present, last good version, no event) instead of counting it missing.
The crawl records which cards were dropped and why; more than `DROPPED_SHARE_PARTIAL` of the cards
dropped as invalid makes the crawl `partial` (a page read that badly is not trusted to change anything).
"""

from __future__ import annotations

from contract.offer import InvalidOffer, normalise

#: a crawl in which more than this share of the cards seen failed validation is `partial`, not healthy
DROPPED_SHARE_PARTIAL = 0.20
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


def crawl_status(
    *,
    reason: str,
    crawl: CrawlItems,
    min_offers: int,
    stats: dict | None = None,
    nothing: str = "no offer found on the page (layout changed?)",
) -> tuple[str, str | None]:
    """(status, error text) of a finished crawl. The error text of a healthy crawl that dropped cards names
    them (it is the crawl's note, shown where its error is); `nothing` says what an empty crawl means."""
    stats = stats or {}
    errors = stats_errors(stats)
    dropped = crawl.summary()
    stored = len(crawl.items)
    if stats.get("promowatch/blocked"):
        return "blocked", _join(*errors) or "block page"
    if reason not in NORMAL_ENDS:
        return "failed", _join(f"crawl ended: {reason}", *errors)
    if stored == 0:
        return "failed", _join(*errors, dropped and f"no valid offer: {dropped}") or nothing
    if stored < min_offers:
        return "partial", _join(f"only {stored} offers, expected at least {min_offers}", *errors, dropped)
    if errors:
        return "partial", _join(*errors, dropped)
    if crawl.too_many_dropped():
        return "partial", dropped
    return "healthy", dropped


def _join(*parts: str | None) -> str:
    return "; ".join(p for p in parts if p)
