"""Delivery: the transactional outbox's sender (docs/architecture.md; guarantees in README's "Alerts").

A sender works in three steps, so that nothing is lost whenever the process dies:
1. **claim** (`claim_due`): one short transaction moves the due rows, and `sending` rows whose lease ran out
   (a sender died), to ``sending``; a re-checking UPDATE lets each row move only once, even on SQLite, and on
   PostgreSQL concurrent senders skip each other's locked rows.
2. **send**: outside any transaction, on a bounded thread pool, one ``apprise.Apprise()`` per channel URL so
   each channel gets its own result (kept and reused for the next message to that URL), with explicit timeouts
   and Apprise's own retries off (one try is one request); `classify` names a failure from what Apprise logged
   for that very call. A message is rendered once per event, language and zone; only the "why you got this"
   line and the footer are per row.
   A channel that answers 429 or a 5xx is slowed down (`ChannelPauses`): its rows are deferred, not tried.
3. **record** (`_record_batch`): results in small batches, one transaction each: ``sent``, a failure retried
   with back-off, or ``dead``; a failure that may have delivered (ambiguous) waits much longer and gets few
   tries. Only the current claimer records a failure, and ``sent`` is never overwritten.
`send_due` runs the steps once; `send_loop` keeps going (promowatch/senders.py runs several in processes).
Everything this module logs, returns or stores shows channel URLs masked (alerts.masking).
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, cast
from urllib.parse import parse_qs

from sqlalchemy import CursorResult, and_, func, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col

from alerts.masking import _masking, _scheme_only, lend_plugins, mask_text, mask_url, sub_urls, take_plugin
from alerts.price_context import price_contexts
from alerts.why import filters_of
from contract.clock import utcnow
from storage.engine import get_engine
from storage.models import Notification, Offer, OfferEvent, Subscription, SubscriptionChannel
from storage.repository import as_utc, event_dict

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())  # a library: the application decides where records go

LEASE = timedelta(minutes=10)  # a `sending` row older than this was left by a dead sender
BACKOFF_BASE = timedelta(seconds=60)
BACKOFF_CAP = timedelta(hours=6)
MAX_ATTEMPTS = 6
AMBIGUOUS_BACKOFF = timedelta(minutes=30)  # after a try that may have delivered: 30 min, 1 h, 2 h, ...
AMBIGUOUS_BACKOFF_CAP = timedelta(hours=24)
AMBIGUOUS_MAX_ATTEMPTS = 3  # ambiguous failures before the row is dead (each may have been a delivery)
CONNECT_TIMEOUT = 5.0  # seconds, per channel, unless its URL sets cto=
READ_TIMEOUT = 15.0  # seconds, per channel, unless its URL sets rto=; well inside the lease
STATUSES = ("pending", "sending", "sent", "dead")
#: what `notifications --status` also takes: the words `send` prints for rows (see `status_filter`)
VIEWS = ("failed", "ambiguous", "skipped", "leased")
ERROR_CHARS = 1000
CLAIM_TRIES = 10

_IN = 500  # ids per IN (...) list


# --------------------------------------------------------------------------------------------- sending


@dataclass
class Outcome:
    ok: bool
    error: str | None = None  # masked
    permanent: bool = False  # retrying cannot help (the URL is unusable)
    kind: str | None = None  # a failure's kind: one of KINDS
    status: int | None = None  # the HTTP status Apprise reported for a failed call
    retry_after: float | None = None  # seconds the channel asked us to wait (Retry-After), when Apprise reported it
    deferred_until: datetime | None = None  # not tried: its channel is slowed down until then (back-pressure)

    @property
    def ambiguous(self) -> bool:
        return self.kind in AMBIGUOUS


@dataclass(frozen=True)
class Policy:
    """How hard a row is tried: attempts and back-offs, and the timeouts every channel gets."""

    max_attempts: int = MAX_ATTEMPTS
    ambiguous_max_attempts: int = AMBIGUOUS_MAX_ATTEMPTS
    ambiguous_backoff: timedelta = AMBIGUOUS_BACKOFF
    connect_timeout: float = CONNECT_TIMEOUT
    read_timeout: float = READ_TIMEOUT
    #: the site's address for the links every message ends with (PROMOWATCH_BASE_URL wins; alerts.links)
    base_url: str | None = None
    #: send to guarded channels (hosts subscribers typed) also when they resolve to private addresses
    allow_private_addresses: bool = False
    #: the display name of the sender of every email (`[mail] name`); a channel URL's own `name=` wins
    sender_name: str | None = None
    #: the service's SMTP account (`[mail]`, an alerts.channels.MailSettings): self-service email channels are
    #: sent through it as it is now (alerts.channels.sendable_url)
    mail: Any = None


#: failure kind -> what the row's error says first. The first six happen before anything is sent.
KINDS = {
    "refused": "connection refused (not sent)",
    "connect_failed": "could not connect (not sent)",
    "dns": "DNS: host name not found (not sent)",
    "connect_timeout": "timed out connecting (not sent)",
    "tls": "TLS failed (not sent)",
    "unusable": "unusable channel URL",
    "http": "HTTP {status}",
    "timeout_after_send": "timed out after sending{within} (it may have arrived)",
    "closed_after_send": "connection closed after sending, no answer (it may have arrived)",
    "render": "render failed",
    "other": "failed",
    "skipped": "not sent",
    "deferred": "not sent: the channel is slowed down",
}
#: why a guarded channel (a host a subscriber typed) is not sent to by an Apprise that cannot be told not to
#: follow redirects (its `redirect=` URL argument came with Apprise 2.x)
UNGUARDED = "refused, not sent: this Apprise follows HTTP redirects (no redirect= option): upgrade Apprise"
#: the kinds where the request went out and no answer came: retried rarely (each try may be a duplicate)
AMBIGUOUS = frozenset({"timeout_after_send", "closed_after_send"})

# How requests/urllib3/smtplib word each failure (what Apprise's plugins log at DEBUG: "Socket Exception: ..."),
# first match wins: a connect timeout's text also says "timed out".
_RULES = (
    ("connect_timeout", re.compile(r"ConnectTimeout|connect timeout=|Connection to \S+ timed out", re.I)),
    (
        "dns",
        re.compile(
            r"NameResolution|Failed to resolve|Name or service not known|nodename nor servname|"
            r"getaddrinfo failed|Temporary failure in name resolution|No address associated",
            re.I,
        ),
    ),
    ("refused", re.compile(r"Connection refused|actively refused|Errno 111\b|ECONNREFUSED", re.I)),
    ("tls", re.compile(r"SSLError|\[SSL|CERTIFICATE_VERIFY_FAILED|certificate verify failed|TLS", re.I)),
    (
        "connect_failed",
        re.compile(r"Failed to establish a new connection|No route to host|Network is unreachable", re.I),
    ),
    ("timeout_after_send", re.compile(r"Read timed out|read timeout=|\btimed out\b|TimeoutError", re.I)),
    (
        "closed_after_send",
        re.compile(
            r"Connection aborted|RemoteDisconnected|Connection reset|"
            r"Connection unexpectedly closed|Server disconnected|BrokenPipe",
            re.I,
        ),
    ),
)
_HTTP_STATUS = re.compile(r"\berror=(\d{3})\b|\bHTTP(?: error| status)?[ :=]+(\d{3})\b", re.I)
_READ_TIMEOUT = re.compile(r"read timeout=([\d.]+)")


def classify(lines: list[str]) -> tuple[str, str]:
    """(kind, label) of a failed send from what Apprise logged for it (any level, masked)."""
    text = "\n".join(lines)
    status = _HTTP_STATUS.search(text)
    if status:
        return "http", KINDS["http"].format(status=status.group(1) or status.group(2))
    for kind, rule in _RULES:
        if rule.search(text):
            within = _READ_TIMEOUT.search(text) if kind == "timeout_after_send" else None
            return kind, KINDS[kind].format(within=f", no answer within {float(within.group(1)):g} s" if within else "")
    return "other", KINDS["other"]


class UnusableURL(ValueError):
    """Apprise cannot use this channel URL; the message is masked."""


def _apprise():
    """Apprise, imported on the first send: a sender with nothing due (most of its runs) never loads it."""
    import apprise

    return apprise


def _apprise2() -> bool:
    return int(_apprise().__version__.split(".")[0]) >= 2


@lru_cache(maxsize=1)
def _asset():
    """Apprise 2 runs a service with a time budget in its shared pool (os.cpu_count() + 4 workers: on a small
    machine that, not `concurrency`, would bound every sender). Without the budget the send runs in the calling
    thread, our pool bounds it, and its wait is bounded by the plugin's own socket timeouts (seconds, retries
    off), well inside the lease. One asset (settings only) serves every send."""
    apprise = _apprise()
    return apprise.AppriseAsset(service_timeout=0) if _apprise2() else apprise.AppriseAsset()


def _load(url: str, masked: str | None = None):
    """An Apprise object holding only `url`, or UnusableURL with Apprise's reason (masked)."""
    apprise = _apprise()
    apobj = apprise.Apprise(asset=_asset())
    if apobj.add(url) and len(apobj) == 1:
        return apobj
    masked = masked or mask_url(url)
    with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:  # again, for the reason
        apprise.Apprise(asset=_asset()).add(url)
    reason = "; ".join(line for line in captured.getvalue().splitlines() if line.strip())
    # Apprise's reason quotes the URL half-masked ("p...3"): show no URL but the scheme-only form
    reason = sub_urls(mask_text(reason, url, masked), _scheme_only) if reason else ""
    raise UnusableURL(f"Apprise cannot use the channel URL {masked}: {reason or 'unknown service or missing parts'}")


class _AppriseDetail(logging.Handler):
    """While sends run, Apprise's logger lets DEBUG records through, so that each call's own capture
    (``notify(log_level=DEBUG)``, `AppriseResult.logs()`) holds the exception its plugin logs at DEBUG only
    ("Socket Exception: ... Read timed out"), which tells a refused connection from a timeout after sending.

    The application must not get those records: for as long as it is active, this handler on the ``apprise``
    logger passes on to the handlers above it only the records the logger's own level would have let through
    (propagation is off meanwhile), as logging's own propagation would. Reference-counted: concurrent sends
    share one activation."""

    def __init__(self):
        super().__init__(logging.NOTSET)
        self._users_lock = threading.Lock()
        self._users = 0
        self._saved: tuple[int, bool] | None = None
        self.threshold = logging.WARNING

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno < self.threshold:
            return
        node = logging.getLogger("apprise").parent
        while node is not None:  # what Logger.callHandlers does above the apprise logger
            for handler in node.handlers:
                if record.levelno >= handler.level:
                    handler.handle(record)
            node = node.parent if node.propagate else None

    @contextmanager
    def active(self):
        logger = logging.getLogger("apprise")
        with self._users_lock:
            if not self._users and logger.getEffectiveLevel() > logging.DEBUG:
                self._saved, self.threshold = (logger.level, logger.propagate), logger.getEffectiveLevel()
                logger.addHandler(self)
                logger.setLevel(logging.DEBUG)
                logger.propagate = False
            self._users += 1
        try:
            yield
        finally:
            with self._users_lock:
                self._users -= 1
                if not self._users and self._saved is not None:
                    logger.setLevel(self._saved[0])
                    logger.propagate = self._saved[1]
                    logger.removeHandler(self)
                    self._saved = None


_detail = _AppriseDetail()


def _channel_settings(service, url: str, policy: Policy) -> None:
    """Explicit timeouts on the channel's plugin (its URL's own ``cto``/``rto`` win), and no retries inside
    Apprise: one attempt of ours is one request, so a slow channel is not sent the message again within the
    attempt. These are the service's public settings, the ones the URL arguments set."""
    args = {key.lower() for key in parse_qs(url.partition("?")[2])}
    if "cto" not in args and hasattr(service, "socket_connect_timeout"):
        # email: Apprise gives smtplib this one timeout for the whole SMTP conversation, reads included
        email = url.split("://", 1)[0].lower() in ("mailto", "mailtos")
        service.socket_connect_timeout = (
            max(policy.connect_timeout, policy.read_timeout) if email else policy.connect_timeout
        )
    if "rto" not in args and hasattr(service, "socket_read_timeout"):
        service.socket_read_timeout = policy.read_timeout
    if hasattr(service, "retry"):
        service.retry = 0


def _reasons(result) -> tuple[list[str], list[str]]:
    """(what Apprise reported at WARNING and above, the exceptions and Retry-After it logged at DEBUG) of a
    failed call."""
    shown, details = [], []
    for entry in result.logs():
        if entry.level in ("DEBUG", "TRACE"):
            # "Socket Exception: ...", "... asked to retry after 30 second(s)": not the payload or the URL
            if "Exception" in entry.message or _RETRY_AFTER_WORDS.search(entry.message):
                details.append(entry.message)
        elif entry.level not in ("INFO",):
            shown.append(entry.message)
    return shown, details


_RETRY_AFTER_WORDS = re.compile(r"retry[- _]?after", re.I)
_RETRY_AFTER_SECONDS = re.compile(
    r"retry[- _]?after\b\D{0,30}?(\d+(?:\.\d+)?)\s*(?:s\b|sec|second|$|[.;,)])", re.I | re.M
)
_RETRY_AFTER_DATE = re.compile(
    r"retry[- _]?after\W{1,3}([A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT)", re.I
)
RETRY_AFTER_CAP = 3600.0  # seconds: a longer Retry-After is taken as this (a typo must not park a channel for days)


def retry_after(lines: list[str], now: datetime | None = None) -> float | None:
    """The wait (seconds) a channel asked for, when Apprise's log of the call reports its Retry-After (seconds or
    an HTTP date); None when it does not. Apprise's generic webhooks (json://, form://, xml://) report the status
    only, not the header: then the caller's own per-channel back-off applies."""
    from email.utils import parsedate_to_datetime

    text = "\n".join(lines)
    if found := _RETRY_AFTER_DATE.search(text):
        try:
            when = parsedate_to_datetime(found.group(1))
        except (TypeError, ValueError):
            return None
        return min(max(0.0, (when - (now or utcnow())).total_seconds()), RETRY_AFTER_CAP)
    if found := _RETRY_AFTER_SECONDS.search(text):
        return min(float(found.group(1)), RETRY_AFTER_CAP)
    return None


@dataclass
class _Loaded:
    plugin: Any  # the channel URL's Apprise plugin (NotifyBase)
    extras: dict  # a json:// channel's own payload extras (its :key=value arguments), before a message's data


class ChannelPool:
    """A sender process's loaded channels: the Apprise plugin of a channel URL is loaded once and reused by the
    next message to that URL (parsing the URL and loading the plugin cost about as much as a send; the plugin
    the masking loaded the URL into is taken, not loaded again). A plugin is used by one thread at a time
    (checked out, checked in); at most `keep` idle ones are kept, least recently used dropped first. Each
    thread sends through one Apprise object of its own, holding the plugin of the message under way (an
    Apprise object per channel would set up its locale per channel)."""

    def __init__(self, policy: Policy, keep: int = 512):
        self.policy, self.keep = policy, keep
        self._local = threading.local()
        self._lock = threading.Lock()
        self._idle: OrderedDict[str, list[_Loaded]] = OrderedDict()
        self._count = 0

    def checkout(self, url: str, masked: str) -> _Loaded:
        with self._lock:
            stack = self._idle.get(url)
            if stack:
                loaded = stack.pop()
                self._count -= 1
                if not stack:
                    del self._idle[url]
                return loaded
        plugin = take_plugin(url)  # loaded by the masking (a sender lends: alerts.masking.lend_plugins)
        if plugin is None:
            plugin = _load(url, masked)[0]  # UnusableURL
        _channel_settings(plugin, url, self.policy)
        return _Loaded(plugin, dict(getattr(plugin, "payload_extras", None) or {}))

    def manager(self):
        """This thread's Apprise object (empty between sends)."""
        apobj = getattr(self._local, "apobj", None)
        if apobj is None:
            apobj = self._local.apobj = _apprise().Apprise(asset=_asset())
        return apobj

    def checkin(self, url: str, loaded: _Loaded) -> None:
        with self._lock:
            self._idle.setdefault(url, []).append(loaded)
            self._idle.move_to_end(url)
            self._count += 1
            while self._count > self.keep:
                _, stack = next(iter(self._idle.items()))
                stack.pop(0)
                self._count -= 1
                if not stack:
                    self._idle.popitem(last=False)


def deliver(
    url: str,
    title: str,
    body: str,
    masked: str | None = None,
    policy: Policy | None = None,
    notify_type: str = "info",
    data: dict | None = None,
    html: bool = False,
    channels: ChannelPool | None = None,
) -> Outcome:
    """Send one message to one channel URL; never raises. `notify_type`: Apprise's (info, success, warning);
    `data`: what a JSON channel's payload carries beside the title and the message (README "JSON payload");
    `html`: `body` is HTML (email: Apprise sends it with its plain-text rendering, multipart/alternative);
    `channels`: a sender's pool of loaded channels to take the URL's plugin from (else it is loaded)."""
    masked = masked or mask_url(url)
    policy = policy or Policy()
    details: list[str] = []
    with _masking.active(url, masked):
        pool = channels or ChannelPool(policy)
        try:
            loaded = pool.checkout(url, masked)
        except UnusableURL as exc:
            return Outcome(False, str(exc)[:ERROR_CHARS], permanent=True, kind="unusable")
        except Exception as exc:  # noqa: BLE001 — a plugin failing to load: a failure of this row
            return Outcome(False, mask_text(f"failed: {type(exc).__name__}: {exc}", url, masked)[:ERROR_CHARS])
        apobj = pool.manager()
        apobj.add(loaded.plugin)
        apprise = _apprise()
        reusable = False  # a plugin that raised is not reused
        try:
            if hasattr(loaded.plugin, "payload_extras"):  # json:// — its `:key=value` arguments' extras, and ours
                loaded.plugin.payload_extras = {**loaded.extras, **(data or {})}
            kind = apprise.NotifyType(notify_type)
            body_format = apprise.NotifyFormat.HTML if html else apprise.NotifyFormat.TEXT
            if _apprise2():  # the call's own log entries: isolated from the other threads' sends
                with _detail.active():
                    result = apobj.notify(
                        body=body,
                        title=title,
                        notify_type=kind,
                        body_format=body_format,
                        log_level=logging.DEBUG,
                    )
                ok = bool(result)
                lines, details = ([], []) if ok else _reasons(result)
            else:  # pragma: no cover - Apprise 1.x: process-wide capture
                with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:
                    ok = apobj.notify(body=body, title=title, notify_type=kind, body_format=body_format)
                lines = captured.getvalue().splitlines()
            reusable = True
        except Exception as exc:  # a plugin bug must not take the batch down
            ok, lines = False, [f"{type(exc).__name__}: {exc}"]
        finally:
            apobj.clear()  # this thread's Apprise object holds only the message under way
        if reusable and channels is not None:
            channels.checkin(url, loaded)
    if ok:
        return Outcome(True)
    lines = [line.strip() for line in lines if line.strip()]
    kind, label = classify(lines + details)
    reason = "; ".join(dict.fromkeys(lines)) or "Apprise reported a failure"
    status = _HTTP_STATUS.search("\n".join(lines))
    return Outcome(
        False,
        mask_text(f"{label}: {reason}", url, masked)[:ERROR_CHARS],
        kind=kind,
        status=int(status.group(1) or status.group(2)) if kind == "http" and status else None,
        retry_after=retry_after(lines + details),
    )


# --------------------------------------------------------------------------------------------- the outbox


@dataclass
class _Job:
    id: int
    attempts: int
    claimed_at: datetime
    ambiguous_failures: int = 0
    url: str = ""
    masked: str = ""
    lang: str = "it"
    tz: str = "Europe/Rome"
    events: list = field(default_factory=list)  # event dicts: one, or a digest's
    digest: str | None = None  # the digest key: render all `events` as one digest
    skip: str | None = None  # nothing to send (subscription gone): recorded dead, not a failure
    message: str | None = None  # a message about the subscription itself: confirm | test
    service: str = ""  # the channel URL's scheme
    guarded: bool = False  # a host the subscriber typed: public addresses only, no redirects
    footer: dict | None = None  # the subscription's manage and unsubscribe links
    confirm: str | None = None  # the confirm link of a confirm message
    now: datetime | None = None  # when the message is written: relative times ("ends tomorrow") count from it
    stay: dict | None = None  # a stay message: the saved stay and its cheapest card now and before
    filters: dict | None = None  # the subscription's filters: what the "why you got this" line names
    created_at: datetime | None = None  # when the row was queued: deferrals (back-pressure) end a day after


@dataclass
class SendReport:
    claimed: int = 0
    reclaimed: int = 0  # of which were left `sending` by a sender that died (lease expired)
    sent: int = 0
    failed: int = 0  # will be retried
    ambiguous: int = 0  # of the failed and dead: sent, no answer (it may have arrived)
    dead: int = 0
    skipped: int = 0  # the subscription or channel is gone: marked dead, not sent
    deferred: int = 0  # not tried: their channel answered 429 (or is slowed down after a 5xx); due again later
    seconds: float = 0.0
    rows: list = field(default_factory=list)  # per row: id, status, attempts, due_at, kind, error (masked)
    leased: int = 0  # rows left `sending` by another sender (running, or killed) whose lease has not run out
    leased_until: str | None = None  # ISO UTC: when the last of those leases runs out

    @property
    def ok(self) -> bool:
        return not (self.failed or self.dead)

    def as_dict(self) -> dict:
        return asdict(self)


_utc = as_utc  # stored times come back naive from SQLite


def backoff(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed attempt: 60 s, 120 s, 240 s, ... at most 6 h."""
    return min(BACKOFF_BASE * 2 ** max(attempts - 1, 0), BACKOFF_CAP)


def ambiguous_backoff(failures: int, base: timedelta = AMBIGUOUS_BACKOFF) -> timedelta:
    """How long to wait after the `failures`-th ambiguous failure: base, 2 x base, ... at most 24 h."""
    return min(base * 2 ** max(failures - 1, 0), max(AMBIGUOUS_BACKOFF_CAP, base))


def _lock_for_claim(query, engine):
    """The one dialect switch of delivery: on PostgreSQL concurrent senders skip each other's locked rows."""
    if engine.dialect.name == "postgresql":
        return query.with_for_update(skip_locked=True)
    return query


def _due(now: datetime, lease: timedelta):
    N = Notification
    return or_(
        and_(col(N.status) == "pending", col(N.due_at) <= now),
        and_(col(N.status) == "sending", or_(col(N.claimed_at).is_(None), col(N.claimed_at) <= now - lease)),
    )


def claim_due(engine, now: datetime, limit: int, lease: timedelta = LEASE) -> tuple[list[int], int]:
    """Claim up to `limit` due rows (oldest due first) in one short transaction: (their ids, how many reclaimed).

    The UPDATE re-checks that each row is still due; when another sender moved one of them in between (no row
    locks: SQLite), the transaction is rolled back and the claim tried again, so a row is claimed by exactly
    one sender and the ids returned are exactly the rows this call moved.
    """
    N = Notification
    due = _due(now, lease)
    for _ in range(CLAIM_TRIES):
        with Session(engine) as session, session.begin():
            query = select(col(N.id), col(N.status)).where(due).order_by(col(N.due_at), col(N.id)).limit(limit)
            found = session.execute(_lock_for_claim(query, engine)).all()
            if not found:
                return [], 0
            ids = [r.id for r in found]
            moved = cast(
                CursorResult,  # what an UPDATE gives; Session.execute is typed for any statement
                session.execute(
                    update(N)
                    .where(col(N.id).in_(ids), due)
                    .values(status="sending", claimed_at=now)
                    .execution_options(synchronize_session=False)
                ),
            ).rowcount
            if moved == len(ids):
                return ids, sum(1 for r in found if r.status == "sending")
            session.rollback()  # another sender took some of them first: look again
    log.warning("outbox: could not claim rows after %d tries (other senders busy); nothing claimed", CLAIM_TRIES)
    return [], 0


def _by_id(session: Session, model, ids) -> dict:
    ids = sorted(set(ids))
    out: dict[int, Any] = {}
    for start in range(0, len(ids), _IN):
        chunk = ids[start : start + _IN]
        out.update((row.id, row) for row in session.execute(select(model).where(model.id.in_(chunk))).scalars())
    return out


def _prepare(engine, ids: list[int], links=None) -> list[_Job]:
    """Read the claimed rows with their channels, subscriptions and events (in a few queries). `links`
    (alerts.links.Links): the signed links each message ends with."""
    lend_plugins(_asset())  # each channel URL is loaded once: masked here, then sent with that plugin
    with Session(engine) as session:
        rows = _by_id(session, Notification, ids)
        channels = _by_id(session, SubscriptionChannel, [n.channel_id for n in rows.values()])
        subs = _by_id(session, Subscription, [n.subscription_id for n in rows.values()])
        wanted = [i for n in rows.values() for i in ([n.event_id] if n.event_id is not None else n.event_ids or [])]
        events = {i: event_dict(e) for i, e in _by_id(session, OfferEvent, wanted).items()}
        for event_id, context in price_contexts(session, list(events.values())).items():
            events[event_id]["context"] = context  # one query for the batch, whoever the events go to
    jobs = []
    for nid in ids:
        n = rows[nid]
        job = _Job(n.id, n.attempts, _utc(n.claimed_at), n.ambiguous_failures or 0, created_at=_utc(n.created_at))
        jobs.append(job)
        channel, sub = channels.get(n.channel_id), subs.get(n.subscription_id)
        statuses = (
            {"confirm": ("pending",), "test": ("active", "paused"), "stay": ("active",)}.get(n.kind or "")
            if n.event_id is None
            else None
        )
        if (
            channel is None
            or sub is None
            or not (sub.status in statuses if statuses else sub.active)
            or channel.subscription_id != sub.id
        ):
            job.skip = "subscription or channel no longer active: not sent"
            continue
        job.url, job.masked = channel.url, mask_url(channel.url)  # not url_masked: that may show header values
        job.lang, job.tz = sub.lang, sub.timezone
        job.filters = filters_of(sub)
        job.service, job.guarded = channel.service, bool(channel.guarded)
        if links is not None:
            job.footer = links.footer(sub.id, sub.link_key)
        if statuses:
            job.message = n.kind
            if n.kind == "confirm" and links is not None:
                job.confirm = links.url("confirm", sub.id, sub.link_key)
            if n.kind == "stay":
                job.stay = {"days": sub.stay_days, "gb": sub.stay_gb, **(sub.stay_cheapest or {})}
            continue
        if n.event_id is not None and not n.digest:
            job.events = [events[n.event_id]] if n.event_id in events else []
        else:
            job.digest = n.digest or "daily"
            job.events = sorted(
                (events[i] for i in dict.fromkeys(n.event_ids or []) if i in events),
                key=lambda e: (e["created_at"] or "", e["id"]),
            )
        if not job.events:
            job.skip = "its event(s) no longer exist: not sent"
    return jobs


def _render_and_send(
    job: _Job, policy: Policy | None = None, cache: dict | None = None, channels: ChannelPool | None = None
) -> Outcome:
    """A worker's part: render the row's message in the subscriber's language and time zone, send it.

    `cache`: the messages of one batch (one `now`) by event, language and zone, without what is the
    subscriber's own (the "why you got this" line, the footer): a price drop that goes to many subscribers is
    rendered once per language and zone, not once per row."""
    from alerts import render  # Jinja2 and the templates, loaded on the first message to send

    kind = "info"  # Apprise's notify type
    data: dict[str, Any] | None = None  # what a JSON channel's payload carries
    try:
        if job.message == "confirm":
            message = render.render_confirm(job.lang, job.confirm or "", job.footer)
        elif job.message == "test":
            message = render.render_test(job.lang, job.footer)
        elif job.message == "stay":
            message = render.render_stay(job.lang, job.stay or {}, job.footer)
        elif job.digest:
            message = render.render_digest(
                job.events, job.lang, job.tz, job.digest, footer=job.footer, now=job.now, sub=job.filters
            )
            data = {"digest": job.digest, "events": [render.event_data(e) for e in job.events]}
        elif cache is None:
            message = render.render_event(
                job.events[0], job.lang, job.tz, footer=job.footer, now=job.now, sub=job.filters
            )
            kind, data = render.notify_type(job.events[0]["kind"]), {"event": render.event_data(job.events[0])}
        else:
            event = job.events[0]
            view_key = ("view", event["id"], job.tz)
            view = cache.get(view_key)
            if view is None:
                view = cache[view_key] = render.event_view_in(event, job.tz, job.now)
            key = (event["id"], job.lang, job.tz)
            if key not in cache:
                cache[key] = (
                    render.event_message(view, job.lang),
                    render.notify_type(event["kind"]),
                    {"event": render.event_data(event)},
                )
            bare, kind, data = cache[key]
            # what differs per subscriber: the "why you got this" line (their filters) and the footer's links
            why = render.why_lines(job.filters, [view])
            message = render.with_footer(render.with_why(bare, view, job.lang, why), job.lang, job.footer)
    except Exception as exc:  # a rendering bug: a failure of this row, retried (maybe after a fix)
        return Outcome(
            False,
            mask_text(f"render failed: {type(exc).__name__}: {exc}", job.url, job.masked)[:ERROR_CHARS],
            kind="render",
        )
    url = job.url
    if job.guarded:
        from alerts.channels import ChannelError, check_public_host, guard_host, without_redirects

        if "redirect" not in _apprise().URLBase.template_args:  # an Apprise without redirect= would follow them
            return Outcome(False, UNGUARDED, permanent=True, kind="unusable")
        if not (policy and policy.allow_private_addresses):
            try:
                check_public_host(*guard_host(url))
            except ChannelError as exc:
                return Outcome(False, f"refused, not sent: {exc}"[:ERROR_CHARS], permanent=True, kind="unusable")
        url = without_redirects(url)
    from alerts.channels import ChannelError, sendable_url

    try:  # a self-service email channel: through today's [mail] account, masked as the URL it is sent to
        sent_to, masked = sendable_url(url, policy.mail if policy else None), job.masked
    except ChannelError as exc:
        return Outcome(False, f"not sent: {exc}"[:ERROR_CHARS], kind="unusable")
    if sent_to != url:
        url, masked = sent_to, mask_url(sent_to)
    body, html = message.body, False
    if job.service in ("mailto", "mailtos"):
        if job.footer:
            url = with_unsubscribe_headers(url, job.footer["unsubscribe"])
        if policy and policy.sender_name:
            url = with_sender_name(url, policy.sender_name)
        try:
            event = job.events[0] if len(job.events) == 1 and not job.digest else None
            body, html = render.render_html(message, job.lang, event, job.now), True
        except Exception as exc:
            return Outcome(False, f"render failed: {type(exc).__name__}: {exc}"[:ERROR_CHARS], kind="render")
    return deliver(url, message.title, body, masked, policy, kind, data, html, channels)


def with_sender_name(url: str, name: str) -> str:
    """An email channel URL with the sender's display name (Apprise's `name=` argument), unless it names one."""
    from urllib.parse import parse_qs, quote

    if "name" in {key.lower() for key in parse_qs(url.partition("?")[2])}:
        return url
    return url + ("&" if "?" in url else "?") + f"name={quote(name, safe='')}"


def with_unsubscribe_headers(url: str, unsubscribe: str) -> str:
    """An email channel URL with the RFC 8058 one-click unsubscribe headers, as Apprise's email plugin takes
    extra headers: `+Name=value` URL arguments."""
    from urllib.parse import quote

    return (
        url
        + ("&" if "?" in url else "?")
        + f"+List-Unsubscribe={quote(f'<{unsubscribe}>', safe='')}"
        + f"&+List-Unsubscribe-Post={quote('List-Unsubscribe=One-Click', safe='')}"
    )


def _failure_values(job: _Job, outcome: Outcome, at: datetime, policy: Policy) -> dict[str, Any]:
    """The row after a failed attempt: pending again with its back-off, or dead (the error says why)."""
    attempts = job.attempts + 1
    ambiguous = job.ambiguous_failures + (1 if outcome.ambiguous else 0)
    error = outcome.error or KINDS["other"]
    if outcome.permanent:
        dead = True
    elif outcome.ambiguous and ambiguous >= policy.ambiguous_max_attempts:
        dead = True
        error = f"{error} [dead: sent {ambiguous}x without an answer (each may have arrived); not tried again]"
    elif attempts >= policy.max_attempts:
        dead = True
    else:
        dead = False
        wait = ambiguous_backoff(ambiguous, policy.ambiguous_backoff) if outcome.ambiguous else backoff(attempts)
        if outcome.ambiguous:
            error = f"{error} [next try in {_span(wait)}; dead after {policy.ambiguous_max_attempts} such tries]"
    values: dict[str, Any] = dict(
        status="dead" if dead else "pending",
        claimed_at=None,
        attempts=attempts,
        ambiguous_failures=ambiguous,
        failure_kind=outcome.kind or "other",
        last_error=error[:ERROR_CHARS],
    )
    if not dead:
        values["due_at"] = at + wait
    return values


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


# --------------------------------------------------------------------------------------------- back-pressure

PAUSE_BASE = 2.0  # seconds a channel answering 429/5xx (without a Retry-After we can read) is left alone, doubling
PAUSE_CAP = 300.0  # ... at most this long
DEFER_LIMIT = timedelta(days=1)  # a row deferred by a slowed-down channel for longer counts its tries again
FLUSH_ROWS = 100  # results recorded in one transaction ...
DB_RETRY = 5.0  # seconds a looping sender waits after a database error
FLUSH_SECONDS = 0.1  # ... or after this long: the rows a killed sender sent but did not record stay few


def channel_key(url: str) -> str:
    """What a channel's back-pressure is kept by: the scheme and host of its URL (lower case, no credentials).
    It can hold a secret (a bot token as host): log `channel_key(masked URL)`, never this one."""
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0].split("?", 1)[0].rsplit("@", 1)[-1]
    return f"{scheme.lower()}://{host.lower()}"


class ChannelPauses:
    """A sender process's slowed-down channels: one that answered 429 or a 5xx is not sent to again until its
    Retry-After (when Apprise reports it) or our own pause (2 s, doubling with each failure in a row, at most
    5 min) has passed; its rows are deferred meanwhile, while the other channels keep flowing. Each sender
    process learns on its own (nothing shared): a few requests more, no coordination."""

    def __init__(self, keep: int = 10_000):
        self.keep = keep
        self._lock = threading.Lock()
        self._state: OrderedDict[str, tuple[datetime, int, int]] = OrderedDict()  # key -> (until, strikes, status)

    def until(self, key: str, now: datetime) -> tuple[datetime, int] | None:
        """(until when, the status that slowed it down) while the channel `key` is slowed down."""
        with self._lock:
            state = self._state.get(key)
        return (state[0], state[2]) if state and state[0] > now else None

    def slow_down(self, key: str, now: datetime, status: int, wait: float | None, label: str) -> datetime:
        with self._lock:
            _, strikes, _ = self._state.get(key, (now, 0, status))
            strikes += 1
            seconds = wait if wait is not None else min(PAUSE_BASE * 2 ** (strikes - 1), PAUSE_CAP)
            until = now + timedelta(seconds=seconds)
            previous = self._state.get(key)
            if previous and previous[0] > until:  # a longer pause already set by another thread stands
                until = previous[0]
            self._state[key] = (until, strikes, status)
            self._state.move_to_end(key)
            while len(self._state) > self.keep:
                self._state.popitem(last=False)
        log.warning(
            "channel %s answered HTTP %d: not sent to for %.0f s%s",
            label,
            status,
            (until - now).total_seconds(),
            " (its Retry-After)" if wait is not None else "",
        )
        return until

    def recovered(self, key: str) -> None:
        if key in self._state:
            with self._lock:
                self._state.pop(key, None)


# --------------------------------------------------------------------------------------------- recording


def _result_values(job: _Job, outcome: Outcome, at: datetime, policy: Policy) -> dict[str, Any]:
    """The row after a result that is not a success (skipped, deferred, failed); recorded only by its claimer."""
    young = job.created_at is None or job.created_at > at - DEFER_LIMIT
    if job.skip:
        return dict(status="dead", claimed_at=None, last_error=job.skip, failure_kind="skipped")
    if outcome.deferred_until is not None and young and (outcome.kind == "deferred" or outcome.status == 429):
        # not sent, or refused with 429 (RFC 6585: not processed): later, and not a try
        return dict(
            status="pending",
            claimed_at=None,
            due_at=outcome.deferred_until,
            failure_kind=outcome.kind,
            last_error=(outcome.error or KINDS["deferred"])[:ERROR_CHARS],
        )
    values = _failure_values(job, outcome, at, policy)
    if outcome.deferred_until is not None and "due_at" in values:  # a 5xx: the row's back-off, at least the pause
        values["due_at"] = max(values["due_at"], outcome.deferred_until)
    return values


def _record_batch(
    engine, results: list[tuple[_Job, Outcome]], at: datetime, policy: Policy, report: SendReport, keep_rows=True
) -> None:
    """The results of many rows in one transaction. A success is recorded whoever claimed the row (a late
    success of a stale claim still counts) but never touches a `sent` row; anything else only by the row's
    current claimer (status `sending`, the claim's time), so a stale sender cannot undo a newer claim."""
    N = Notification
    sent = [job for job, outcome in results if outcome.ok and not job.skip]
    sent_ids = {job.id for job in sent}
    others = [
        (job, outcome, _result_values(job, outcome, at, policy)) for job, outcome in results if job.id not in sent_ids
    ]
    recorded: set[int] = set()
    with engine.begin() as conn:
        ids = [job.id for job in sent]
        for start in range(0, len(ids), _IN):
            recorded.update(
                conn.execute(
                    update(N)
                    .where(col(N.id).in_(ids[start : start + _IN]), col(N.status) != "sent")
                    .values(
                        status="sent",
                        sent_at=at,
                        claimed_at=None,
                        attempts=col(N.attempts) + 1,
                        last_error=None,
                        failure_kind=None,
                    )
                    .returning(col(N.id))
                ).scalars()
            )
        for job, _, values in others:
            claimer = and_(col(N.status) == "sending", col(N.claimed_at) == job.claimed_at)
            if conn.execute(update(N).where(col(N.id) == job.id, claimer).values(**values)).rowcount:
                recorded.add(job.id)
        missing = [job.id for job, _ in results if job.id not in recorded]
        now_status = (
            {i: s for i, s in conn.execute(select(col(N.id), col(N.status)).where(col(N.id).in_(missing)))}
            if missing
            else {}
        )
    report.sent += sum(1 for job in sent if job.id in recorded)
    if keep_rows:
        report.rows.extend(
            {"id": j.id, "channel": j.masked, "status": "sent", "attempts": j.attempts + 1} | _NO_ERROR
            for j in sent
            if j.id in recorded
        )
    for job, outcome, values in others:
        if job.id in recorded:
            _count(job, outcome, values, report, keep_rows)
    for job, outcome in results:
        if job.id not in recorded:
            status = "sent" if outcome.ok else values_status(outcome)
            log.warning(
                "notification %s: result %s not recorded, the row was claimed again or already sent", job.id, status
            )
            report.rows.append(
                {
                    "id": job.id,
                    "channel": job.masked,
                    "status": now_status.get(job.id),
                    "superseded": True,  # this sender's result came too late: another claim or a success stands
                    "attempts": job.attempts,
                    "due_at": None,
                    "kind": outcome.kind,
                    "error": outcome.error,
                }
            )
    if not keep_rows:
        del report.rows[:-ROWS_KEPT]


_NO_ERROR = {"due_at": None, "kind": None, "error": None}


def values_status(outcome: Outcome) -> str:
    return "pending" if outcome.kind == "deferred" else "failed"


def _count(job: _Job, outcome: Outcome, values: dict, report: SendReport, keep_rows: bool) -> None:
    status = values["status"]
    attempts = values.get("attempts", job.attempts)
    if job.skip:
        report.skipped += 1
    elif "attempts" not in values:  # deferred: not a try
        report.deferred += 1
    elif status == "dead":
        report.dead += 1
        report.ambiguous += outcome.ambiguous
        log.error(
            "notification %s to %s is dead after %d attempt(s): %s", job.id, job.masked, attempts, values["last_error"]
        )
    else:
        report.failed += 1
        report.ambiguous += outcome.ambiguous
        log.warning(
            "notification %s to %s failed (attempt %d, next at %s): %s",
            job.id,
            job.masked,
            attempts,
            values["due_at"].isoformat(timespec="seconds"),
            values["last_error"],
        )
    if keep_rows or status == "dead":  # a looping sender: only the dead ones, the last ROWS_KEPT (trimmed above)
        report.rows.append(
            {
                "id": job.id,
                "channel": job.masked,
                "status": status,
                "attempts": attempts,
                "due_at": values["due_at"].isoformat() if "due_at" in values else None,
                "kind": values.get("failure_kind"),
                "error": values.get("last_error"),
            }
        )


ROWS_KEPT = 1000  # a looping sender keeps only its last dead rows in its report


def leased(engine, now: datetime, lease: timedelta = LEASE) -> tuple[int, datetime | None]:
    """How many rows are `sending` under a lease that has not run out (another sender is on them, or one was
    killed), and when the last of those leases runs out (UTC)."""
    N = Notification
    with Session(engine) as session:
        count, newest = session.execute(
            select(func.count(col(N.id)), func.max(col(N.claimed_at))).where(
                col(N.status) == "sending", col(N.claimed_at) > now - lease
            )
        ).one()
    return count, (_utc(newest) + lease if newest is not None else None)


def _outbox_empty(engine, now: datetime) -> bool:
    """Nothing due now and nothing being sent (by anyone: a killed sender's rows come back after their lease)."""
    N = Notification
    with engine.connect() as conn:
        busy = conn.execute(
            select(col(N.id))
            .where(or_(and_(col(N.status) == "pending", col(N.due_at) <= now), col(N.status) == "sending"))
            .limit(1)
        ).first()
    return busy is None


# --------------------------------------------------------------------------------------------- the sender


class _Worker:
    """One sender: claims batches, sends them on its thread pool (each channel's Apprise object reused, a
    message rendered once per event, language and zone), records the results in small batches."""

    def __init__(self, engine, policy: Policy, concurrency: int, batch: int, lease: timedelta, clock, links, keep_rows):
        self.engine, self.policy, self.batch, self.lease, self.clock = engine, policy, batch, lease, clock
        self.links, self.keep_rows = links, keep_rows
        self.concurrency = max(1, concurrency)
        self.pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="promowatch-send")
        self.channels = ChannelPool(policy)
        self.pauses = ChannelPauses()
        self.report = SendReport()
        self.in_flight: dict[Future, _Job] = {}
        self.finished: queue.SimpleQueue[Future] = queue.SimpleQueue()  # in_flight's futures as they finish
        self.done: list[tuple[_Job, Outcome]] = []
        self.flushed = time.monotonic()

    def claim(self, limit: int | None = None) -> int:
        """Claim due rows and hand them to the pool; how many were claimed."""
        ids, reclaimed = claim_due(self.engine, self.clock(), limit or self.batch, self.lease)
        self.report.claimed += len(ids)
        self.report.reclaimed += reclaimed
        if not ids:
            return 0
        jobs = _prepare(self.engine, ids, self.links)
        now, cache = self.clock(), dict[tuple, Any]()
        for job in jobs:
            if job.skip:
                self.done.append((job, Outcome(False)))
                continue
            job.now = now
            self.start(job, cache)
        return len(ids)

    def start(self, job: _Job, cache: dict) -> None:
        future = self.pool.submit(self.send, job, cache)
        self.in_flight[future] = job
        future.add_done_callback(self.finished.put)  # collect() takes them in the order they finish

    def send(self, job: _Job, cache: dict) -> Outcome:
        now = self.clock()
        if now - job.claimed_at > self.lease * 0.8:  # waited too long: another sender may take it any moment
            return Outcome(False, "not sent: its claim ran out before its turn", kind="deferred", deferred_until=now)
        key = channel_key(job.url)
        paused = self.pauses.until(key, now)
        if paused:
            until, status = paused
            label = channel_key(job.masked)
            return Outcome(
                False,
                f"{KINDS['deferred']}: {label} answered HTTP {status}; "
                f"not before {until.isoformat(timespec='seconds')}",
                kind="deferred",
                deferred_until=until,
            )
        outcome = _render_and_send(job, self.policy, cache, self.channels)
        if outcome.ok:
            self.pauses.recovered(key)
        elif outcome.status is not None and (outcome.status == 429 or outcome.status >= 500):
            label = channel_key(job.masked)
            outcome.deferred_until = self.pauses.slow_down(
                key, self.clock(), outcome.status, outcome.retry_after, label
            )
        return outcome

    def collect(self, timeout: float) -> None:
        """Take the sends finished so far, waiting up to `timeout` for the first one. (One queue fed by the
        futures' callbacks: `concurrent.futures.wait` on every future in flight costs as much as they are many.)"""
        if not self.in_flight:
            return
        finished: list[Future] = []
        try:
            finished.append(self.finished.get(timeout=timeout) if timeout > 0 else self.finished.get_nowait())
            while True:
                finished.append(self.finished.get_nowait())
        except queue.Empty:
            pass
        for future in finished:
            job = self.in_flight.pop(future, None)
            if job is None:  # cancelled by release_queued, already handed back
                continue
            try:
                outcome = future.result()
            except Exception as exc:  # noqa: BLE001 — a bug in our code: this row fails, the batch goes on
                log.exception("notification %s: sending failed", job.id)
                outcome = Outcome(False, f"failed: {type(exc).__name__}"[:ERROR_CHARS])
            self.done.append((job, outcome))

    def flush(self, force: bool = False) -> None:
        due = len(self.done) >= FLUSH_ROWS or time.monotonic() - self.flushed >= FLUSH_SECONDS or not self.in_flight
        if self.done and (force or due):
            # one transaction: when it fails (database gone), the results stay here for the next flush
            _record_batch(self.engine, self.done, self.clock(), self.policy, self.report, self.keep_rows)
            self.done = []
            self.flushed = time.monotonic()

    def release_queued(self) -> int:
        """Stopping: the claimed rows not started yet go back to pending (their claim only), not sent."""
        queued = [(f, j) for f, j in self.in_flight.items() if f.cancel()]
        for future, _ in queued:
            del self.in_flight[future]
        N = Notification
        with self.engine.begin() as conn:
            for _, job in queued:
                conn.execute(
                    update(N)
                    .where(col(N.id) == job.id, col(N.status) == "sending", col(N.claimed_at) == job.claimed_at)
                    .values(status="pending", claimed_at=None)
                )
        return len(queued)

    def drain(self) -> None:
        """Wait for the sends under way (each bounded by the channel timeouts) and record them."""
        while self.in_flight:
            self.collect(0.2)
            self.flush()
        self.flush(force=True)


def _warm_up() -> None:
    """Load Apprise, its plugins and the templates before the first claim: loading takes seconds on a busy
    machine, and the claimed rows would wait for it under their lease."""
    from alerts import render

    apprise = _apprise()
    apprise.Apprise(asset=_asset()).add("json://localhost/")
    for lang in render.LANGS:
        render._env(lang).get_template("event.txt.j2")


def _clock(now: datetime | None):
    fixed = _utc(now)
    return (lambda: fixed) if fixed is not None else utcnow


def send_due(
    database_url: str | None = None,
    now: datetime | None = None,
    limit: int = 500,
    concurrency: int = 8,
    max_attempts: int = MAX_ATTEMPTS,
    lease: timedelta = LEASE,
    policy: Policy | None = None,
) -> SendReport:
    """Claim the due outbox rows (at most `limit`), send them (at most `concurrency` at a time), record the results.

    `policy` sets attempts, back-offs and the channels' timeouts (default: `Policy(max_attempts=max_attempts)`).
    The report also says how many rows other senders (running, or killed) still hold under their lease."""
    started = time.perf_counter()
    policy = policy or Policy(max_attempts=max_attempts)
    engine = get_engine(database_url)
    clock = _clock(now)
    from alerts.links import site_links
    from alerts.subscriptions import purge_pending

    purge_pending(database_url, clock())  # unconfirmed requests older than 48 h: erased
    worker = _Worker(engine, policy, concurrency, limit, lease, clock, None, keep_rows=True)
    with _detail.active(), worker.pool:
        ids, worker.report.reclaimed = claim_due(engine, clock(), limit, lease)
        worker.report.claimed = len(ids)
        if ids:
            worker.links = site_links(policy.base_url, database_url)
            jobs = _prepare(engine, ids, worker.links)
            moment, cache = clock(), dict[tuple, Any]()
            for job in jobs:
                if job.skip:
                    worker.done.append((job, Outcome(False)))
                else:
                    job.now = moment
                    worker.start(job, cache)
            worker.drain()
    report = worker.report
    report.rows.sort(key=lambda r: r["id"])
    _note_leased(engine, clock(), lease, report)
    report.seconds = time.perf_counter() - started
    _log_report("outbox", report)
    return report


def send_loop(
    database_url: str | None = None,
    *,
    policy: Policy | None = None,
    concurrency: int = 16,
    batch: int | None = None,
    lease: timedelta = LEASE,
    stop=None,
    until_empty: bool = False,
    idle_poll: float = 0.5,
    max_seconds: float | None = None,
) -> SendReport:
    """Send until `stop` (a threading/multiprocessing Event) is set: claim a batch whenever the pool runs low,
    look again every `idle_poll` seconds while nothing is due (new rows go out within that), record results in
    small batches. `until_empty`: return once nothing is due and nothing is being sent by anyone; `max_seconds`:
    return after that long whatever is left. On stop, the rows claimed but not started go back to the outbox
    and the sends under way finish (bounded by the channel timeouts) and are recorded."""
    started = time.perf_counter()
    policy = policy or Policy()
    stop = stop or threading.Event()
    engine = get_engine(database_url)
    clock = utcnow
    batch = batch or 8 * max(1, concurrency)
    deadline = time.monotonic() + max_seconds if max_seconds else None
    from alerts.links import site_links
    from alerts.subscriptions import purge_pending

    links = site_links(policy.base_url, database_url)
    _warm_up()
    worker = _Worker(engine, policy, concurrency, batch, lease, clock, links, keep_rows=False)
    next_claim = purge_at = progress_at = time.monotonic()
    with _detail.active(), worker.pool:
        while not stop.is_set() and not (deadline and time.monotonic() >= deadline):
            if time.monotonic() >= purge_at:
                purge_pending(database_url, clock())  # unconfirmed requests older than 48 h: erased
                purge_at = time.monotonic() + 600
            try:
                if len(worker.in_flight) <= 2 * worker.concurrency and time.monotonic() >= next_claim:
                    if not worker.claim():
                        next_claim = time.monotonic() + idle_poll
                        if not worker.in_flight and not worker.done:
                            if until_empty and _outbox_empty(engine, clock()):
                                break
                            stop.wait(idle_poll)
                            continue
                worker.collect(0.05 if worker.in_flight else 0)
                worker.flush()
            except SQLAlchemyError as exc:  # the database is away: its rows wait under their lease
                log.error("sender: database error, trying again in %.0f s: %s", DB_RETRY, str(exc).splitlines()[0])
                next_claim = time.monotonic() + DB_RETRY
                stop.wait(min(DB_RETRY, 1.0))
            if time.monotonic() >= progress_at:
                progress_at = time.monotonic() + 10
                _log_report("sender", worker.report, time.perf_counter() - started)
        released = worker.release_queued()
        worker.drain()
    worker.report.seconds = time.perf_counter() - started
    if released:
        log.info("sender stopping: %d claimed notifications not started went back to the outbox", released)
    _log_report("sender", worker.report)
    return worker.report


def _log_report(what: str, report: SendReport, seconds: float | None = None) -> None:
    log.info(
        "%s: %d claimed (%d reclaimed), %d sent, %d failed (%d ambiguous), %d dead, %d skipped, %d deferred in %.2f s",
        what,
        report.claimed,
        report.reclaimed,
        report.sent,
        report.failed,
        report.ambiguous,
        report.dead,
        report.skipped,
        report.deferred,
        report.seconds if seconds is None else seconds,
    )


def _note_leased(engine, now: datetime, lease: timedelta, report: SendReport) -> None:
    count, until = leased(engine, now, lease)
    report.leased, report.leased_until = count, (until.isoformat() if until else None)


def send_test(url: str, lang: str = "it", policy: Policy | None = None) -> Outcome:
    """Send the test message to one URL. UnusableURL (masked) when Apprise cannot use it."""
    masked = mask_url(url)
    with _masking.active(url, masked):
        _load(url)  # raises UnusableURL
    from alerts.render import render_test

    message = render_test(lang)
    return deliver(url, message.title, message.body, masked, policy)


def status_filter(status: str):
    """The WHERE clause of `notifications --status`: a stored status, or one of the words `send` prints
    (VIEWS): failed (pending again after a failed try), ambiguous (a try may have delivered without an answer:
    possibly a duplicate), skipped (subscription or channel gone), leased (= sending: claimed by a sender that
    is running or was stopped mid-send). ValueError for anything else."""
    N = Notification
    where = {
        "failed": and_(col(N.status) == "pending", col(N.attempts) > 0),
        "ambiguous": col(N.ambiguous_failures) > 0,
        "skipped": col(N.failure_kind) == "skipped",
        "leased": col(N.status) == "sending",
        **{s: col(N.status) == s for s in STATUSES},
    }
    if status not in where:
        raise ValueError(f"unknown status: {status}; known: {', '.join(STATUSES + VIEWS)}")
    return where[status]


def list_notifications(
    status: str | None = None, limit: int | None = 100, database_url: str | None = None
) -> list[dict]:
    """Outbox rows, newest first, with the channel's masked URL (never the raw one) and the offer's name."""
    N, C, Of = Notification, SubscriptionChannel, Offer
    query = (
        select(N, col(C.url), col(C.service), col(Of.name))
        .join(C, col(C.id) == col(N.channel_id), isouter=True)
        .join(Of, and_(col(Of.operator) == col(N.operator), col(Of.offer_key) == col(N.offer_key)), isouter=True)
        .order_by(col(N.id).desc())
    )
    if status:
        query = query.where(status_filter(status))
    if limit:
        query = query.limit(limit)

    def iso(moment):
        return _utc(moment).isoformat() if moment else None

    with Session(get_engine(database_url)) as session:
        return [
            {
                "id": n.id,
                "subscription_id": n.subscription_id,
                "channel_id": n.channel_id,
                "channel": mask_url(url) if url else None,
                "service": service,
                "kind": n.kind,
                "operator": n.operator,
                "offer_key": n.offer_key,
                "offer_name": name,
                "event_id": n.event_id,
                "event_ids": list(n.event_ids or []),
                "digest": n.digest,
                "price_cents": n.price_cents,
                "status": n.status,
                "attempts": n.attempts,
                "failure_kind": n.failure_kind,
                "ambiguous_failures": n.ambiguous_failures or 0,
                "created_at": iso(n.created_at),
                "due_at": iso(n.due_at),
                "claimed_at": iso(n.claimed_at),
                "sent_at": iso(n.sent_at),
                "last_error": n.last_error,
            }
            for n, url, service, name in session.execute(query)
        ]


def retry_dead(ids: list[int], database_url: str | None = None, now: datetime | None = None) -> list[int]:
    """Give dead notifications a new life: pending, due now, their tries counted afresh (the last error is
    kept until the next result). Only dead rows change: a row sent or still being tried is left alone, so a
    retry never sends a message twice. The ids that were revived."""
    now = now or utcnow()
    engine = get_engine(database_url)
    with Session(engine) as session:
        dead = list(
            session.execute(
                select(col(Notification.id)).where(col(Notification.id).in_(ids), col(Notification.status) == "dead")
            )
            .scalars()
            .all()
        )
        if dead:
            session.execute(
                update(Notification)
                .where(col(Notification.id).in_(dead), col(Notification.status) == "dead")
                .values(status="pending", due_at=now, claimed_at=None, attempts=0, ambiguous_failures=0)
            )
            session.commit()
    if dead:
        log.info("notification(s) %s back in the outbox, due now", ", ".join(f"#{i}" for i in dead))
    return dead
