"""Secret masking for channel URLs.

Channel URLs carry passwords and tokens (userinfo, path, query and header arguments), and every text printed,
logged or stored about a channel goes through here: the CLI's tables and --json, the outbox's ``last_error``,
the admin alerts, the sender's log records. `mask_url` starts from Apprise's privacy mode (it knows which path
tokens of each service are secret) and masks every other value not known harmless; `mask_text` hides the raw
URL and each secret part of it in any text. While a URL is in use, a log record factory (`_MaskingFilter`)
masks every record the process creates, so no logger or handler added later can miss it.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from contextlib import contextmanager
from functools import lru_cache
from urllib.parse import quote, unquote

MASK = "****"

#: query keys whose values are not secrets: Apprise's own behaviour options and the recipients and senders of a
#: message (not credentials; their e-mail addresses are personal data, shown as a****@domain). Every other
#: key's value is masked, whatever the service: tokens, keys, passwords, and whatever a service adds later.
_HARMLESS = frozenset(
    {
        # Apprise's options of every service
        "format",
        "overflow",
        "emojis",
        "verify",
        "rto",
        "cto",
        "retry",
        "wait",
        "optional",
        "store",
        "tz",
        "lang",
        "method",
        "image",
        "avatar",
        "priority",
        "mode",
        "batch",
        # options of the documented services (email, Telegram, Discord, Slack, ntfy, Pushover, Gotify)
        "smtp",
        "port",
        "content",
        "detect",
        "silent",
        "preview",
        "album",
        "mdv",
        "tts",
        "footer",
        "footer_logo",
        "fields",
        "timestamp",
        "blocks",
        "auth",
        "sound",
        # recipients and senders
        "to",
        "cc",
        "bcc",
        "from",
        "reply",
        "name",
    }
)

_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]{0,31}://)([^/?#]*)([^?#]*)(?:\?([^#]*))?(#.*)?$", re.DOTALL)
_ANY_URL = re.compile(r"""\b[A-Za-z][A-Za-z0-9+.-]{0,31}://[^\s'"<>]*""")  # a URL up to a space or quote
_PART = re.compile(r"[^/:@?&=#,;+\s]+")
#: an e-mail address in a URL's path or query (also with its @ percent-encoded): local part, domain
_EMAIL = re.compile(r"([A-Za-z0-9._%+-]+?)(@|%40)([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")


def mask_email(text: str) -> str:
    """Every e-mail address in `text` as its first character, ****, and its domain (m****@example.com)."""
    if "@" not in text and "%40" not in text:  # the pattern's lazy local part tries every word: skip the search
        return text
    return _EMAIL.sub(
        lambda m: f"{m.group(1)[0]}{MASK}{m.group(2)}{m.group(3)}" if m.group(1) != MASK[0] else m.group(0), text
    )


def sub_urls(text: str, replace: Callable[[str], str]) -> str:
    """`_ANY_URL.sub(lambda m: replace(m.group(0)), text)`, searching only near each "://": the pattern tried at
    every letter of a long text (a message in a log record) cost more than the rest of the masking. A URL's
    scheme is at most 32 characters, so the next match starts at most 32 before the next "://"."""
    out: list[str] = []
    last = 0
    while (colon := text.find("://", last)) >= 0:
        found = _ANY_URL.search(text, max(last, colon - 32))
        if found is None:
            break
        out += (text[last : found.start()], replace(found.group(0)))
        last = found.end()
    if not out:
        return text
    out.append(text[last:])
    return "".join(out)


def _scheme_only(url: str) -> str:
    head = url.split("://", 1)[0] if "://" in url else ""
    return f"{head}://{MASK}" if re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]{0,31}", head) else MASK


def _harmless(key: str, private: frozenset = frozenset()) -> bool:
    name = unquote(key).strip()
    return name[:1] not in "+-:" and name.lower() in _HARMLESS and name.lower() not in private


def _hide(url: str, private: frozenset = frozenset()) -> str:
    """`url` with its userinfo secrets and every query value not known harmless replaced by ****. Idempotent;
    only string work (no Apprise), so it serves for any URL found in a log record too."""
    m = _URL.match(url)
    if not m:
        return url
    scheme, netloc, path, query, fragment = m.groups()
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user, colon, _password = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{host}" if colon and user else f"{MASK}@{host}"
    if query:
        pairs = []
        for pair in query.split("&"):
            key, eq, value = pair.partition("=")
            pairs.append(pair if not eq or not value or _harmless(key, private) else f"{key}={MASK}")
        query = mask_email("&".join(pairs))
    path = mask_email(path)
    return f"{scheme}{netloc}{path}" + (f"?{query}" if query is not None else "") + (f"#{MASK}" if fragment else "")


_PIECE = re.compile(r"[^/:@?&=#]+")


def mask_unusable(url: str) -> str:
    """A channel URL nobody can parse (no scheme, a typo), masked like Apprise masks tokens: the scheme, and
    each piece between separators as its first...last character (*** when shorter than 4)."""
    scheme, sep, rest = url.strip().partition("://")
    if not sep:
        scheme, rest = "", url.strip()
    masked = _PIECE.sub(lambda m: f"{m.group(0)[0]}...{m.group(0)[-1]}" if len(m.group(0)) > 3 else "***", rest)
    return f"{scheme}://{masked}" if scheme else masked


class _Lender:
    """A sender masks each channel URL just before it sends to it, and both need the URL loaded by Apprise
    (about as costly as the send itself). While a sender lends (`lend_plugins`), the URL is loaded once, with
    the sender's asset, and the plugin that the masked form was read from is kept for the sender to take
    (`take_plugin`), at most `keep` of them, oldest dropped first."""

    def __init__(self, keep: int = 1024):
        self.keep = keep
        self.asset = None  # the sender's AppriseAsset while lending, else None: nothing kept
        self.spares: OrderedDict[str, object] = OrderedDict()
        self.lock = threading.Lock()

    def keep_spare(self, url: str, plugin) -> None:
        with self.lock:
            self.spares[url] = plugin
            while len(self.spares) > self.keep:
                self.spares.popitem(last=False)

    def take(self, url: str):
        with self.lock:
            return self.spares.pop(url, None)


_lender = _Lender()


def lend_plugins(asset) -> None:
    """Load channel URLs with `asset` from now on and keep each loaded plugin for `take_plugin`."""
    _lender.asset = asset


def take_plugin(url: str):
    """The plugin `url` was loaded into to be masked, if one is kept (only while lending), else None. Taken
    once: the caller owns it."""
    return _lender.take(url)


@lru_cache(maxsize=4096)
def _plugin_view(url: str) -> tuple[str | None, frozenset, tuple[str, ...]]:
    """(Apprise's privacy-mode URL or None when Apprise cannot load `url`, the names of the query arguments the
    plugin declares private, the plugin's private values). One Apprise load per URL."""
    import apprise  # here, not at the top: a worker whose sender finds nothing due never loads Apprise

    asset = _lender.asset
    with _masking.loading(url):
        plugin = (
            apprise.Apprise.instantiate(url, asset=asset) if asset is not None else apprise.Apprise.instantiate(url)
        )
    if plugin is None:
        return None, frozenset(), ()
    if asset is not None:
        _lender.keep_spare(url, plugin)
    tokens, args = plugin.template_tokens, plugin.template_args
    private_tokens = {name for name, spec in tokens.items() if spec.get("private")}
    names = frozenset(
        name.lower()
        for name, spec in args.items()
        if spec.get("private") or spec.get("alias_of") in private_tokens or spec.get("map_to") in private_tokens
    )
    values = [getattr(plugin, "password", None)]
    for name, spec in {**tokens, **args}.items():
        if spec.get("private"):
            values.append(getattr(plugin, spec.get("map_to", name), None))
    found = tuple(v for v in values if isinstance(v, str) and len(v) >= 3)
    return plugin.url(privacy=True), names, found


@lru_cache(maxsize=4096)
def mask_url(url: str) -> str:
    """The URL as Apprise shows it in privacy mode (its path tokens as ``f...t``), with every userinfo secret
    and every query value not known harmless (header, payload and GET arguments included) as ****; for a URL
    Apprise cannot load, only its scheme."""
    if url.startswith("service-mail:"):  # a self-service email channel: the address alone (alerts.channels)
        return mask_email(url)
    shown, private, _values = _plugin_view(url)
    return _scheme_only(url) if shown is None else _hide(shown, private)


def _hidden_values(url: str) -> list[str]:
    """What mask_url hides of `url` by its own rules: userinfo secrets and query values not known harmless."""
    m = _URL.match(url)
    if not m:
        return []
    found = []
    for pair in (m.group(4) or "").split("&"):
        key, eq, value = pair.partition("=")
        if eq and value and not _harmless(key):
            found.append(value)
    if "@" in m.group(2):
        user, colon, password = m.group(2).rsplit("@", 1)[0].partition(":")
        found.append(password if colon and user else m.group(2).rsplit("@", 1)[0])
    return found


@lru_cache(maxsize=4096)
def _secrets(url: str, masked: str) -> tuple[str, ...]:
    """The parts of `url` that its masked form hides (passwords, tokens, ...), longest first. Query keys are
    never secrets (replacing `user` everywhere would only garble the text); their hidden values are."""
    shown = (masked, unquote(masked))
    m = _URL.match(url)
    rest = (m.group(2) + m.group(3) + (m.group(5) or "")) if m else url.split("://", 1)[-1]
    candidates = _PART.findall(rest) + _PART.findall(unquote(rest))
    for value in _hidden_values(url):
        for text in (value, unquote(value)):
            candidates += [text, *_PART.findall(text)]
    found: set[str] = set()
    for part in candidates:
        if len(part) >= 3 and not any(part in s for s in shown):
            found.update((part, quote(part, safe="")))
    # the plugin's private values, even where one happens to appear in the masked form
    found.update(_plugin_view(url)[2])
    found.discard(MASK)
    return tuple(sorted(found, key=len, reverse=True))


def _hide_urls(text: str) -> str:
    """Every URL in `text` hidden by `_hide`, and every e-mail address in it masked."""
    return mask_email(sub_urls(text, _hide))


def mask_text(text: str, url: str, masked: str | None = None) -> str:
    """`text` with the raw `url` replaced by its masked form, every secret part of it by ****, and the userinfo
    secrets and non-harmless query values of any other URL in it (e.g. one Apprise quotes) by **** too."""
    masked = masked or mask_url(url)
    text = _replace_raw(text, url, masked)
    for secret in _secrets(url, masked):
        text = text.replace(secret, MASK)
    return _hide_urls(text)


@lru_cache(maxsize=4096)
def _raw_forms(url: str, masked: str) -> tuple[str, ...]:
    """The spellings of `url` to replace by `masked` (none that the masked form itself contains: nothing hidden)."""
    return tuple(raw for raw in sorted({url, unquote(url)}, key=len, reverse=True) if raw not in masked)


@lru_cache(maxsize=4096)
def _raw_pattern(url: str, masked: str) -> re.Pattern | None:
    """The raw spellings of `url` as whole URLs: not where one is the start of a longer URL (Apprise quoting it
    with its options appended), which its secrets' masking and `_hide` take care of."""
    forms = _raw_forms(url, masked)
    return re.compile("|".join(map(re.escape, forms)) + r"(?![\w?&/#=%@+~-])") if forms else None


def _replace_raw(text: str, url: str, masked: str) -> str:
    if not any(raw in text for raw in _raw_forms(url, masked)):  # most text names no URL: no pattern to build
        return text
    pattern = _raw_pattern(url, masked)
    return pattern.sub(lambda _m: masked, text) if pattern else text


class _MaskingFilter(logging.Filter):
    """Masks the secrets of the URLs in use in log records: installed as the process's log record factory (the
    one place every record of every logger passes, in every thread), so that no logger or handler can miss it.

    Records are masked only while some URL is in use (`active`) or being loaded by `_plugin_view` in this
    thread (`loading`); otherwise the factory passes them on untouched. A URL's secret parts are worked out
    only when a record comes; a record logged while they are being worked out (Apprise loading the URL again)
    has the raw URL replaced by the masked one and every URL in it hidden by `_hide`.
    """

    def __init__(self):
        super().__init__()
        self._lock = threading.Lock()
        self._active: dict[tuple[str, str], int] = {}  # (url, masked) -> users
        self._local = threading.local()  # .busy: working out secrets; .loading: URLs being loaded
        self._installed = False

    def _install(self) -> None:
        with self._lock:
            if self._installed:
                return
            make = logging.getLogRecordFactory()

            def factory(*args, **kwargs):
                record = make(*args, **kwargs)
                if self._active or getattr(self._local, "loading", None):
                    self.filter(record)
                return record

            logging.setLogRecordFactory(factory)
            self._installed = True

    def _mask(self, text: str, pairs: list[tuple[str, str, bool]]) -> str:
        for url, masked, full in pairs:
            text = _replace_raw(text, url, masked)
            if full:
                for secret in _secrets(url, masked):
                    text = text.replace(secret, MASK)
        return _hide_urls(text)

    def filter(self, record: logging.LogRecord) -> bool:
        nested = getattr(self._local, "busy", False)
        with self._lock:
            pairs = [(url, masked, not nested) for url, masked in self._active]
        pairs += [(url, _scheme_only(url), False) for url in getattr(self._local, "loading", None) or ()]
        if not pairs:
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record: let logging report it as usual
            return True
        exc_text = record.exc_text or (
            logging.Formatter().formatException(record.exc_info) if record.exc_info else None
        )
        self._local.busy = True
        try:
            message = self._mask(message, pairs)
            exc_text = self._mask(exc_text, pairs) if exc_text else exc_text
            stack = self._mask(record.stack_info, pairs) if record.stack_info else record.stack_info
        finally:
            self._local.busy = nested
        record.msg, record.args, record.exc_text, record.stack_info = message, None, exc_text, stack
        return True

    @contextmanager
    def active(self, url: str, masked: str):
        """Every log record created meanwhile (any logger, any thread) has `url`'s secrets masked."""
        self._install()
        key = (url, masked)
        with self._lock:
            self._active[key] = self._active.get(key, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                self._active[key] -= 1
                if not self._active[key]:
                    del self._active[key]

    @contextmanager
    def loading(self, url: str):
        """Records created meanwhile in this thread show `url` as its scheme only, every URL in them hidden."""
        self._install()
        stack = getattr(self._local, "loading", None)
        if stack is None:
            stack = self._local.loading = []
        stack.append(url)
        try:
            yield
        finally:
            stack.pop()


_masking = _MaskingFilter()


def in_use(url: str, masked: str | None = None):
    """Context manager: while `url` is in use, every log record of the process has its secrets masked."""
    return _masking.active(url, masked or mask_url(url))
