"""The PROMOWATCH_* environment variables: each one's allowed values and default, defined once.

Why one module: the engine, detection, the Scrapy settings, the pipeline and the service each read some of
them. Reading through these definitions they cannot disagree, and `check_environment()`, called at the start
of every entry point (`promowatch`, `scrapy crawl`, the service), refuses a bad value with one line that names
the variable, what is expected and how to get the default, before anything runs or is recorded.
Standard library only (and `contract.rates`, itself standard library), so every layer can import it.
PROMOWATCH_DATABASE_URL, PROMOWATCH_CONFIG and
PROMOWATCH_FIXTURES_DIR are checked where they are used (storage.engine, the service config, the crawl), which
say more about what is wrong with them.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Mapping

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
MIN_OFFERS_PREFIX = "PROMOWATCH_MIN_OFFERS_"


class BadEnvironment(ValueError):
    """A PROMOWATCH_* variable has a value promowatch cannot use; the message is one line (exit 2)."""

    exit_code = 2


def _whole(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not re.fullmatch(r"[+]?\d+", text.strip()):
            raise ValueError
        value = int(text)
        if value < low:
            raise ValueError
        return value

    return parse


def _seconds(text: str) -> float:
    value = float(text)
    if not 0 < value < float("inf"):  # also refuses nan
        raise ValueError
    return value


def _flag(text: str) -> bool:
    low = text.strip().lower()
    if low in _TRUE or low in _FALSE:
        return low in _TRUE
    raise ValueError


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text.strip().upper() not in allowed:
            raise ValueError
        return text.strip().upper()

    return parse


def _day(text: str) -> str:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
        raise ValueError
    return date.fromisoformat(text.strip()).isoformat()


def _web_address(text: str) -> str:
    if not re.fullmatch(r"https?://[^/\s]+/?", text.strip()):
        raise ValueError
    return text.strip()


def _secret(length: int) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if len(text.strip()) < length:
            raise ValueError
        return text.strip()

    return parse


def site_address(text: str) -> str:
    """A site's public address, http(s)://host[:port][/path], without its trailing slash; ValueError otherwise."""
    if not re.fullmatch(r"https?://[^/\s?#]+(/[^\s?#]*)?", text.strip()):
        raise ValueError
    return text.strip().rstrip("/")


def _folder(text: str) -> str:
    if not Path(text).expanduser().is_dir():
        raise ValueError
    return text


def _file(text: str) -> str:
    if not Path(text).expanduser().is_file():
        raise ValueError
    return text


def _any_folder(text: str) -> str:
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise ValueError
    return text


@dataclass(frozen=True)
class Variable:
    name: str
    parse: Callable[[str], Any]  # raises ValueError for a value it refuses
    expected: str  # what a good value is, in words
    default: Any = None
    default_text: str = ""  # how to get the default: "unset it for ..."
    secret: bool = False  # its value is never shown, not even in the error about it


VARIABLES: dict[str, Variable] = {
    v.name: v
    for v in (
        Variable(
            "PROMOWATCH_SQLITE_SYNCHRONOUS", _choice("NORMAL", "FULL", "EXTRA"), "NORMAL, FULL or EXTRA", "NORMAL"
        ),
        Variable(
            "PROMOWATCH_LOG_LEVEL",
            _choice(*LOG_LEVELS),
            "one of " + ", ".join(LOG_LEVELS),
            None,
            "unset it for the default (WARNING for commands, INFO for the service)",
        ),
        Variable("PROMOWATCH_DOWNLOAD_TIMEOUT", _seconds, "a number of seconds > 0", 30),
        Variable("PROMOWATCH_REMOVED_AFTER", _whole(1), "a whole number of crawls ≥ 1", 2),
        Variable("PROMOWATCH_EXPIRING_DAYS", _whole(0), "a whole number of days ≥ 0", 3),
        Variable("PROMOWATCH_TODAY", _day, "a day as YYYY-MM-DD", None, "unset it for today (UTC)"),
        Variable("PROMOWATCH_SEND_AFTER_CRAWL", _flag, "1 or 0 (also true/false, yes/no, on/off)", False),
        Variable("PROMOWATCH_COOKIES", _flag, "1 or 0 (also true/false, yes/no, on/off)", False),
        Variable("PROMOWATCH_BROWSER", _flag, "1 or 0 (also true/false, yes/no, on/off)", False),
        Variable(
            "PROMOWATCH_CHROMIUM", _file, "the chromium program's file", "/usr/bin/chromium", "unset it for the default"
        ),
        Variable(
            "PROMOWATCH_KEEP_PAGES", _whole(0), "a whole number of kept crawls per operator ≥ 0 (0: keep none)", 3
        ),
        Variable(
            "PROMOWATCH_KEEP_DIR",
            _any_folder,
            "a folder (made if missing)",
            None,
            "unset it for kept-pages/ beside the database",
        ),
        Variable(
            "PROMOWATCH_RATES_FILE",
            _file,
            "the ECB daily reference rates file (eurofxref-daily.xml) saved on this machine",
            None,
            "unset it to show prices in other currencies without their euro equivalent",
        ),
        Variable(
            "PROMOWATCH_SECRET_KEY",
            _secret(32),
            "a random text of at least 32 characters (e.g. from `python3 -c 'import secrets; "
            "print(secrets.token_urlsafe(48))'`)",
            None,
            "unset it for a key made once and kept in secret.key beside the database",
            secret=True,
        ),
        Variable(
            "PROMOWATCH_ADMIN_TOKEN",
            _secret(16),
            "a random text of at least 16 characters, the password of the site's /admin",
            None,
            "unset it for [web] admin_token of the configuration, else no admin area",
            secret=True,
        ),
        Variable(
            "PROMOWATCH_BASE_URL",
            site_address,
            "the site's public address, http(s)://host[:port][/path]",
            None,
            "unset it for [web] base_url of the configuration, else http://127.0.0.1:8000",
        ),
        Variable(
            "PROMOWATCH_MIRROR",
            _web_address,
            "the mirror's base address, http(s)://host:port",
            None,
            "unset it for a live crawl",
        ),
        Variable(
            "PROMOWATCH_MIRROR_INDEX",
            _folder,
            "a folder of saved pages (DIR/<operator>/index.json)",
            None,
            "unset it for a live crawl",
        ),
    )
}


def _shown(value: str) -> str:
    text = shlex.quote(value) if value.isprintable() else repr(value)
    return text if len(text) <= 80 else text[:79] + "…"


def _problem(name: str, value: str, expected: str, default_text: str) -> BadEnvironment:
    return BadEnvironment(f"{name}={_shown(value)}: {expected} is expected; {default_text}")


def _default_text(var: Variable) -> str:
    if var.default_text:
        return var.default_text
    shown = {True: "1", False: "0"}.get(var.default, var.default) if isinstance(var.default, bool) else var.default
    return f"unset it for the default {shown}"


def setting(name: str, environ: Mapping[str, str] | None = None) -> Any:
    """The value of the variable `name` as its definition reads it; its default when unset or empty.
    BadEnvironment (one line) when its value is not allowed."""
    var = VARIABLES[name]
    raw = (os.environ if environ is None else environ).get(name)
    if raw is None or raw.strip() == "":
        return var.default
    try:
        return var.parse(raw)
    except ValueError:
        raise _problem(name, "****" if var.secret else raw, var.expected, _default_text(var)) from None


def setting_or_default(name: str, environ: Mapping[str, str] | None = None) -> Any:
    """As `setting`, but its default for a value not allowed: for module-level reads (Scrapy's settings module)
    that must not fail on import; the entry points refuse the value with `check_environment` first."""
    try:
        return setting(name, environ)
    except BadEnvironment:
        return VARIABLES[name].default


def log_level(default: str, environ: Mapping[str, str] | None = None) -> str:
    """PROMOWATCH_LOG_LEVEL (upper case), else `default`."""
    return setting("PROMOWATCH_LOG_LEVEL", environ) or default


def min_offers(operator: str, environ: Mapping[str, str] | None = None) -> int | None:
    """PROMOWATCH_MIN_OFFERS_<OP>: the operator's healthy-crawl threshold, or None when not set."""
    name = MIN_OFFERS_PREFIX + operator.upper()
    raw = (os.environ if environ is None else environ).get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        return _whole(1)(raw)
    except ValueError:
        raise _problem(
            name, raw, "a whole number of offers ≥ 1", "unset it for the spider's own threshold (promowatch operators)"
        ) from None


def configured_rates(environ: Mapping[str, str] | None = None):
    """The euro rates of PROMOWATCH_RATES_FILE (a `contract.rates.Rates`), None when it is not set; each file
    read once per process and modification. BadEnvironment (one line) for a file that is not the ECB's format."""
    path = setting("PROMOWATCH_RATES_FILE", environ)
    if not path:
        return None
    from contract.rates import BadRates

    file = Path(path).expanduser()
    try:
        return _rates(str(file), file.stat().st_mtime_ns)
    except (BadRates, OSError) as exc:
        raise BadEnvironment(f"PROMOWATCH_RATES_FILE={_shown(path)}: {exc}") from None


def configured_rates_or_none():
    """As `configured_rates`, but None (logged) when the file cannot be used: the alerts' path, where a broken
    rates file must not stop detection (a price in another currency then passes no price filter)."""
    try:
        return configured_rates()
    except BadEnvironment as exc:
        import logging

        logging.getLogger(__name__).warning("%s: prices in other currencies are not compared in euro", exc)
        return None


@lru_cache(maxsize=4)
def _rates(path: str, _mtime: int):
    from contract.rates import Rates

    return Rates.load(path)


def check_environment(environ: Mapping[str, str] | None = None) -> None:
    """Every PROMOWATCH_* variable that is set holds a value promowatch can use; else BadEnvironment naming the
    first one that does not."""
    environ = os.environ if environ is None else environ
    for name in sorted(environ):
        if name in VARIABLES:
            setting(name, environ)
        elif name.startswith(MIN_OFFERS_PREFIX):
            from contract.offer import OPERATORS as operators  # the catalogue: every operator has a spider

            operator = name[len(MIN_OFFERS_PREFIX) :].lower()
            if operator not in operators:
                raise BadEnvironment(
                    f"{name}: there is no operator {operator!r}; the variable ends in one of "
                    f"{', '.join(o.upper() for o in operators)}"
                )
            min_offers(operator, environ)
    if environ.get("PROMOWATCH_MIRROR", "").strip() and not environ.get("PROMOWATCH_MIRROR_INDEX", "").strip():
        raise BadEnvironment(
            "PROMOWATCH_MIRROR is set without PROMOWATCH_MIRROR_INDEX: set it to the mirror's folder of saved pages "
            "(DIR/<operator>/index.json), or unset PROMOWATCH_MIRROR for a live crawl"
        )
