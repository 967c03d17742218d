"""Secret masking for channel URLs.

Why a module of its own: channel URLs carry passwords and tokens, and every text that is printed, logged or
stored about a channel goes through here — the outbox CLI, the outbox's ``last_error``, the sender's log records and
what it returns. `mask_url` gives the masked URL (Apprise's privacy mode, custom header values hidden
too); `mask_text` replaces the raw URL and every secret part of it (`_secrets`) in any text. While a URL is in
use, `_masking` (a logging filter on Apprise's and urllib3's loggers) masks their records too, so a DEBUG log
of the process does not carry the secret either. alerts.deliver re-exports these names.
"""

from __future__ import annotations

import logging
import re
import threading
from contextlib import contextmanager
from functools import lru_cache
from urllib.parse import quote, unquote


def _scheme_only(url: str) -> str:
    head = url.split("://", 1)[0] if "://" in url else ""
    return f"{head}://****" if re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]{0,31}", head) else "****"


_HEADER_ARG = re.compile(r"([?&](?:\+|%2B)[^=&#]+=)[^&#]*", re.IGNORECASE)


@lru_cache(maxsize=4096)
def mask_url(url: str) -> str:
    """The URL as Apprise shows it in privacy mode, custom header values (`+X-Api-Key=...`, often a token)
    hidden too (Apprise shows them); for a URL Apprise cannot load, only its scheme."""
    import apprise  # here, not at the top: a worker whose sender finds nothing due never loads Apprise (3.7 MiB)

    plugin = apprise.Apprise.instantiate(url)
    if plugin is None:
        return _scheme_only(url)
    return _HEADER_ARG.sub(r"\1****", plugin.url(privacy=True))


_ANY_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]{0,31}://\S*")
_PART = re.compile(r"[^/:@?&=#,;+\s]+")


@lru_cache(maxsize=4096)
def _secrets(url: str, masked: str) -> tuple[str, ...]:
    """The parts of `url` that its masked form hides (passwords, tokens, ...), longest first."""
    shown = (masked, unquote(masked))
    found: set[str] = set()
    for text in {url, unquote(url)}:
        for part in _PART.findall(text.split("://", 1)[-1]):
            if len(part) >= 3 and not any(part in s for s in shown):
                found.update((part, quote(part, safe="")))
    import apprise

    plugin = apprise.Apprise.instantiate(url)
    if plugin is not None:  # the plugin's private values, even where one happens to appear in the masked form
        private = [getattr(plugin, "password", None)]
        for name, spec in {**plugin.template_tokens, **plugin.template_args}.items():
            if spec.get("private"):
                private.append(getattr(plugin, spec.get("map_to", name), None))
        found.update(v for v in private if isinstance(v, str) and len(v) >= 3)
    return tuple(sorted(found, key=len, reverse=True))


def mask_text(text: str, url: str, masked: str | None = None) -> str:
    """`text` with the raw `url` replaced by its masked form and every secret part of it by ****."""
    masked = masked or mask_url(url)
    for raw in _raw_forms(url, masked):
        text = text.replace(raw, masked)
    for secret in _secrets(url, masked):
        text = text.replace(secret, "****")
    return text


def _raw_forms(url: str, masked: str) -> list[str]:
    """The spellings of `url` to replace by `masked` (none that the masked form itself contains: nothing hidden)."""
    return [raw for raw in sorted({url, unquote(url)}, key=len, reverse=True) if raw not in masked]


class _MaskingFilter(logging.Filter):
    """Masks the secrets of the URLs in use in every record of the loggers it is attached to.

    The secret parts of a URL are worked out only when a record comes (on a successful send at the default
    WARNING level there is none); a record logged while they are being worked out (Apprise loading the URL
    again) has the raw URL replaced by the masked one.
    """

    LOGGERS = ("apprise", "urllib3.connectionpool", "urllib3.connection")

    def __init__(self):
        super().__init__()
        self._lock = threading.Lock()
        self._active: dict[tuple[str, str], int] = {}  # (url, masked) -> users
        self._busy = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            active = list(self._active)
        if not active:
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record: let logging report it as usual
            return True
        exc_text = record.exc_text or (
            logging.Formatter().formatException(record.exc_info) if record.exc_info else None
        )
        nested = getattr(self._busy, "on", False)
        self._busy.on = True
        try:
            for url, masked in active:
                secrets = () if nested else _secrets(url, masked)
                for old, new in [(raw, masked) for raw in _raw_forms(url, masked)] + [(x, "****") for x in secrets]:
                    message = message.replace(old, new)
                    exc_text = exc_text.replace(old, new) if exc_text else exc_text
        finally:
            self._busy.on = nested
        record.msg, record.args, record.exc_text = message, None, exc_text
        return True

    @contextmanager
    def active(self, url: str, masked: str):
        key = (url, masked)
        with self._lock:
            if not self._active:
                for name in self.LOGGERS:
                    logging.getLogger(name).addFilter(self)
            self._active[key] = self._active.get(key, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                self._active[key] -= 1
                if not self._active[key]:
                    del self._active[key]
                if not self._active:
                    for name in self.LOGGERS:
                        logging.getLogger(name).removeFilter(self)


_masking = _MaskingFilter()
