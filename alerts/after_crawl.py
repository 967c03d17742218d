"""The one step after a crawl is stored: detect its changes, match them to subscribers, wake the sender.

Every way a crawl enters calls it — `scrapy crawl` (through `promowatch.scrapy_after_crawl`), `promowatch
crawl`, `promowatch import` and the service's crawl worker — so they all come to the same events and
outbox rows, and report them through one result object. Only a healthy crawl is compared; a detection that
fails leaves the crawl stored and pending, and the next detection of the operator takes it first.
Matching happens inside detection's transaction (the events and their outbox rows are written together); the
saved stays (alerts/stay_alerts.py) are compared after it, in their own, when the crawl raised events.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from alerts.detect import count_by_kind, detect_after_crawl

log = logging.getLogger(__name__)

#: why a healthy crawl has no events to report
DETECTION_FAILED = "change detection failed; it stays pending for the next crawl"


@dataclass
class AfterCrawlResult:
    """What came of one stored crawl after it: its events (None: not compared) and what was sent at once."""

    run_id: int
    operator: str
    status: str
    events: list[dict] | None = None
    error: str | None = None  # detection failed (the crawl stays pending)
    sent: int | None = None  # None: the sender was not woken here
    send_failed: int | None = None
    by_kind: dict[str, int] = field(default_factory=dict)

    @property
    def detected(self) -> bool:
        return self.events is not None

    @property
    def event_count(self) -> int | None:
        return None if self.events is None else len(self.events)


def after_crawl(
    run_id: int,
    operator: str,
    status: str,
    *,
    database_url: str | None = None,
    wake: Callable[[], object] | None = None,
) -> AfterCrawlResult:
    """Detect and match the stored crawl `run_id`; call `wake` (the sender) when it queued anything.

    `wake` may return a delivery report (`alerts.deliver.SendReport`): its counts are kept on the result. A
    failing `wake` is logged and loses nothing: the rows stay in the outbox for the next sender run."""
    result = AfterCrawlResult(run_id, operator, status)
    if status != "healthy":
        return result
    result.events = detect_after_crawl(run_id, database_url)
    if result.events is None:
        result.error = DETECTION_FAILED
        return result
    result.by_kind = count_by_kind(result.events)
    log.info("%s crawl %d: %d change events %s", operator, run_id, len(result.events), result.by_kind or "")
    if result.events:
        _watch_stays(database_url)
    if result.events and wake is not None:
        try:
            report = wake()
        except Exception:  # noqa: BLE001 — the crawl and its events are stored; the outbox keeps the rows
            log.exception("sending after the crawl failed; the notifications stay in the outbox")
        else:
            result.sent = getattr(report, "sent", None)
            result.send_failed = getattr(report, "failed", None)
            if result.sent is not None:
                log.info("sent %d notifications, %d failed (retried later)", result.sent, result.send_failed or 0)
    return result


def _watch_stays(database_url: str | None) -> int:
    """The saved stays' messages (alerts.stay_alerts); a failure is logged and never undoes the crawl's events."""
    from alerts.stay_alerts import watch_stays

    try:
        return watch_stays(database_url)
    except Exception:  # noqa: BLE001 — the crawl and its events are stored; the stays are looked at next time
        log.exception("saved stays could not be compared after the crawl; they are compared after the next one")
        return 0


def send_now(database_url: str | None = None) -> Callable[[], object]:
    """A `wake` for a manual refresh that sends at once: the due outbox rows, through `promowatch send`'s sender."""

    def wake():
        from alerts.deliver import send_due

        return send_due(database_url=database_url)

    return wake
