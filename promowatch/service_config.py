"""The service's TOML configuration (`PROMOWATCH_CONFIG`): schedules, crawl worker, sender, health alerts, the
site's address, and what self-service subscriptions may use (`[mail]`, `[channels]`).

Every key has a default, so no file at all is a valid configuration (every operator every 6 h, jitter 15 min).
`docs/config.example.toml` documents every key. Durations are seconds (a number) or a string of
number+unit parts: "90s", "10m", "6h", "1d", "1h30m". Unknown tables or keys are errors (a typo must not
silently fall back to a default), and every error names the file, the table and the key.

The database is not configured here: it is `PROMOWATCH_DATABASE_URL`, as for every other command.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

if TYPE_CHECKING:
    from alerts.channels import ChannelSettings

DEFAULT_INTERVAL = 6 * 3600.0
DEFAULT_JITTER = 15 * 60.0
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_DAY_NAMES = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"}


class ConfigError(ValueError):
    """The configuration file cannot be used; the message says where and why."""


@dataclass(frozen=True)
class OperatorSchedule:
    operator: str
    interval: float | None = DEFAULT_INTERVAL  # seconds; None when `cron` is set
    cron: str | None = None  # five crontab fields, in `timezone`
    jitter: float = DEFAULT_JITTER  # seconds added at random to each run
    enabled: bool = True

    def describe(self) -> str:
        if self.cron or self.interval is None:
            return f"cron {self.cron!r}"
        return every(self.interval)


@dataclass(frozen=True)
class WorkerConfig:
    recycle_after: int = 50  # crawls per worker process, then a fresh one
    crawl_time_limit: float = 15 * 60.0  # seconds per crawl; Scrapy closes it, the worker is killed a bit later
    memory_limit_mb: int | None = 1024  # RSS of the worker; over it, the worker is recycled after its crawls
    start_timeout: float = 60.0  # how long a crawl may wait for a worker to pick it up
    parallel_crawls: int = 2  # crawls the worker runs at a time (the others wait their turn); 0: no cap


@dataclass(frozen=True)
class SenderConfig:
    enabled: bool = True
    interval: float = 60.0
    after_crawl: bool = True  # run the sender right after a crawl (new events go out at once)
    batch: int = 500
    # sends at the same time per sender process: a channel answering in 50 ms needs ~43 in flight for 850/s
    concurrency: int = 16
    # sender processes of `promowatch send --loop` (each claims its own rows; more hosts may run it too)
    workers: int = 1
    max_attempts: int = 6
    # a try that may have delivered (sent, no answer in time): tried again after this, doubling ...
    ambiguous_backoff: float = 30 * 60.0
    # ... and at most this many such tries (each may be a duplicate) before the row is dead
    ambiguous_max_attempts: int = 3
    connect_timeout: float = 5.0  # seconds, every channel, unless its URL sets cto=
    read_timeout: float = 15.0  # seconds, every channel, unless its URL sets rto=

    def policy(self) -> dict:
        """The sender's keyword arguments for `alerts.deliver.Policy` (plain numbers: they cross a pipe)."""
        return {
            "max_attempts": self.max_attempts,
            "ambiguous_max_attempts": self.ambiguous_max_attempts,
            "ambiguous_backoff": self.ambiguous_backoff,
            "connect_timeout": self.connect_timeout,
            "read_timeout": self.read_timeout,
        }


@dataclass(frozen=True)
class RetentionConfig:
    """`[retention]`: the job that deletes old sent notifications, counted (alerts/retention.py)."""

    keep_sent_days: int = 90  # a sent notification is deleted this long after it was sent; 0: kept forever
    interval: float = 3600.0  # how often the job runs
    batch: int = 1000  # rows per transaction


@dataclass(frozen=True)
class HealthConfig:
    threshold: int = 3  # unhealthy crawls in a row before the one alert
    interval: float = 300.0  # the health job (also run after every crawl)
    admin_channels: tuple[str, ...] = ()  # Apprise URLs; secrets: logged masked only


@dataclass(frozen=True)
class WebConfig:
    base_url: str | None = None  # the site's public address, for the links in messages (PROMOWATCH_BASE_URL wins)
    enabled: bool = False  # `promowatch run` serves the site too (a `promowatch web` child process)
    host: str = "127.0.0.1"
    port: int = 8000
    # the reverse proxies whose X-Forwarded-For names the visitor (the subscribe rate limit's IP)
    trusted_proxies: tuple[str, ...] = ("127.0.0.1",)
    admin_token: str | None = None  # the password of /admin (PROMOWATCH_ADMIN_TOKEN wins); None: no admin area
    workers: int = 1  # Uvicorn worker processes serving the site (one per core: docs/web.md)


@dataclass(frozen=True)
class ServiceConfig:
    schedules: dict[str, OperatorSchedule] = field(default_factory=dict)  # every operator with a spider
    timezone: str = "Europe/Rome"  # of cron expressions
    misfire_grace_time: float = 3600.0
    startup_spread: float = 60.0  # overdue operators start within this many seconds of a service start
    worker: WorkerConfig = field(default_factory=WorkerConfig)
    sender: SenderConfig = field(default_factory=SenderConfig)
    health: HealthConfig = field(default_factory=HealthConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    web: WebConfig = field(default_factory=WebConfig)
    # [channels] and [mail]: what self-service subscriptions may use; None when neither table is in the file
    # (the scheduler's process then never loads alerts.channels)
    channels: ChannelSettings | None = None
    sender_name: str | None = None  # [mail] name: the display name every email is sent under
    shutdown_grace: float = 60.0  # on SIGTERM, running crawls get this long to finish
    fixtures_dir: str | None = None  # offline service: answer from saved pages in this folder
    path: str | None = None  # the file it was read from

    @property
    def operators(self) -> list[str]:
        return [op for op, s in self.schedules.items() if s.enabled]

    def sender_policy(self) -> dict:
        """The sender's `alerts.deliver.Policy` keyword arguments: `[sender]`, the site's address for the links in
        every message, and whether guarded channels may be sent to private addresses."""
        return {
            **self.sender.policy(),
            "base_url": self.web.base_url,
            "allow_private_addresses": bool(self.channels and self.channels.allow_private_addresses),
            "sender_name": self.sender_name,
            "mail": self.channels.mail if self.channels else None,  # self-service email goes through it
        }

    def channel_settings(self) -> ChannelSettings:
        """`[channels]` and `[mail]`, or the defaults (email only, which needs `[mail]`)."""
        from alerts.channels import ChannelSettings

        return self.channels or ChannelSettings()


def parse_duration(value: Any, where: str, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigError(f'{where}: expected a duration (seconds, or e.g. "90s", "10m", "6h", "1d"), got {value!r}')
    if isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        parts = _DURATION.findall(text)
        if not text or _DURATION.sub("", text):
            if re.fullmatch(r"\d+(\.\d+)?", text):
                seconds = float(text)
            else:
                raise ConfigError(
                    f'{where}: {value!r} is not a duration (seconds, or e.g. "90s", "10m", "6h", "1d", "1h30m")'
                )
        else:
            seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    else:
        seconds = float(value)
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise ConfigError(f"{where}: {value!r} must be {'0 or more' if allow_zero else 'more than 0'}")
    return seconds


_SPANS = ((86400, "day", "days"), (3600, "h", "h"), (60, "min", "min"))


def format_duration(seconds: float | None) -> str:
    """A duration in natural units, as a person writes it: "90 s", "5 min", "1 h 30 min", "1 day", "2 days"."""
    if seconds is None:
        return ""
    rest, parts = float(seconds), []
    for size, one, many in _SPANS:
        if rest >= size:
            count = int(rest // size)
            parts.append(f"{count} {one if count == 1 else many}")
            rest -= count * size
    if rest or not parts:
        parts.append(f"{rest:g} s")
    return " ".join(parts)


def every(seconds: float) -> str:
    """ "every day", "every hour", "every minute", "every 5 min", "every 1 h 30 min"."""
    names: dict[float, str] = {86400: "day", 3600: "hour", 60: "minute", 1: "second"}
    named = names.get(float(seconds))
    return f"every {named}" if named else f"every {format_duration(seconds)}"


def validate_cron(expr: Any, where: str) -> str:
    if not isinstance(expr, str) or len(expr.split()) != 5:
        raise ConfigError(
            f"{where}: {expr!r} is not a crontab expression of five fields "
            f'(minute hour day month day-of-week, e.g. "15 7,19 * * *")'
        )
    dow = expr.split()[4]
    if re.search(r"\d", dow):
        raise ConfigError(
            f"{where}: write the day-of-week field with names (mon,tue,...,sun or mon-fri), not "
            f"numbers: {dow!r} (cron and APScheduler number the days differently)"
        )
    if any(name not in _DAY_NAMES for name in re.findall(r"[a-z]+", dow.lower())):
        raise ConfigError(f"{where}: unknown day name in {dow!r}; use mon, tue, wed, thu, fri, sat, sun")
    from apscheduler.triggers.cron import CronTrigger

    fields = expr.split()
    try:
        CronTrigger(minute=fields[0], hour=fields[1], day=fields[2], month=fields[3], day_of_week=fields[4])
    except ValueError as exc:
        raise ConfigError(f"{where}: {expr!r}: {exc}") from None
    return expr


class _Table:
    """A TOML table read key by key; `done()` rejects the keys nobody asked for."""

    def __init__(self, data: Any, name: str, source: str):
        if not isinstance(data, dict):
            where = f"[{name}]" if name else "top level"
            raise ConfigError(f"{source}: {where} must be a table, got {type(data).__name__}")
        self.data, self.name, self.source, self.seen = data, name, source, set[str]()

    @property
    def label(self) -> str:
        return f"[{self.name}]" if self.name else "top level"

    def where(self, key: str) -> str:
        return f"{self.source}: {self.label} {key}"

    def get(self, key: str, default: Any = None) -> Any:
        self.seen.add(key)
        return self.data.get(key, default)

    def has(self, key: str) -> bool:
        self.seen.add(key)
        return key in self.data

    def duration(self, key: str, default: float, allow_zero: bool = False) -> float:
        return parse_duration(self.get(key), self.where(key), allow_zero=allow_zero) if self.has(key) else default

    @overload
    def integer(self, key: str, default: int, minimum: int = 1) -> int: ...
    @overload
    def integer(self, key: str, default: None, minimum: int = 1) -> int | None: ...
    def integer(self, key: str, default: int | None, minimum: int = 1) -> int | None:
        value = self.get(key, default)
        if value is default:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ConfigError(f"{self.where(key)}: expected a whole number of at least {minimum}, got {value!r}")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self.get(key, default)
        if not isinstance(value, bool):
            raise ConfigError(f"{self.where(key)}: expected true or false, got {value!r}")
        return value

    @overload
    def string(self, key: str, default: str) -> str: ...
    @overload
    def string(self, key: str, default: None) -> str | None: ...
    def string(self, key: str, default: str | None) -> str | None:
        value = self.get(key, default)
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"{self.where(key)}: expected a string, got {value!r}")
        return value

    def table(self, key: str) -> "_Table":
        return _Table(self.get(key, {}), f"{self.name}.{key}" if self.name else key, self.source)

    def done(self, known: set[str] | None = None) -> None:
        extra = set(self.data) - (known or self.seen)
        if extra:
            key = sorted(extra)[0]
            close = difflib.get_close_matches(key, sorted(known or self.seen), n=1)
            hint = (
                f" (did you mean {close[0]!r}?)" if close else f"; known keys: {', '.join(sorted(known or self.seen))}"
            )
            raise ConfigError(f"{self.source}: unknown key {key!r} in {self.label}{hint}")


def _schedule(table: _Table, base: OperatorSchedule | None, operator: str) -> OperatorSchedule:
    if table.has("interval") and table.has("cron"):
        raise ConfigError(f"{table.source}: {table.label} has both interval and cron; choose one")
    interval, cron = (base.interval, base.cron) if base else (DEFAULT_INTERVAL, None)
    if table.has("interval"):
        interval, cron = table.duration("interval", DEFAULT_INTERVAL), None
    if table.has("cron"):
        interval, cron = None, validate_cron(table.get("cron"), table.where("cron"))
    jitter = table.duration("jitter", base.jitter if base else DEFAULT_JITTER, allow_zero=True)
    enabled = table.boolean("enabled", base.enabled if base else True)
    return OperatorSchedule(operator, interval, cron, jitter, enabled)


def parse_config(data: dict, source: str = "<config>", operators: list[str] | None = None) -> ServiceConfig:
    """A ServiceConfig from the parsed TOML; ConfigError when a value is wrong."""
    if operators is None:
        from spiders.registry import OPERATORS

        operators = list(OPERATORS)
    top = _Table(data, "", source)
    sched = top.table("schedule")
    default = _schedule(sched, None, "*")
    timezone = sched.string("timezone", "Europe/Rome")
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(timezone)
    except Exception:  # noqa: BLE001 — ZoneInfoNotFoundError, ValueError
        raise ConfigError(f'{sched.where("timezone")}: unknown time zone {timezone!r} (e.g. "Europe/Rome")') from None
    misfire = sched.duration("misfire_grace_time", 3600.0)
    spread = sched.duration("startup_spread", 60.0, allow_zero=True)
    per_op = sched.table("operators")
    for name in per_op.data:
        if name not in operators:
            close = difflib.get_close_matches(name, operators, n=1)
            raise ConfigError(
                f"{source}: [schedule.operators.{name}]: unknown operator"
                + (f" (did you mean {close[0]!r}?)" if close else f"; known: {', '.join(operators)}")
            )
    schedules = {}
    for op in operators:
        if per_op.has(op):
            own = per_op.table(op)
            schedules[op] = _schedule(own, default, op)
            own.done({"interval", "cron", "jitter", "enabled"})
        else:
            schedules[op] = replace(default, operator=op)
    sched.done(
        {"interval", "cron", "jitter", "enabled", "timezone", "misfire_grace_time", "startup_spread", "operators"}
    )

    w = top.table("worker")
    worker = WorkerConfig(
        recycle_after=w.integer("recycle_after", 50),
        crawl_time_limit=w.duration("crawl_time_limit", 15 * 60.0),
        memory_limit_mb=w.integer("memory_limit_mb", 1024, minimum=0) or None,  # 0: no limit
        start_timeout=w.duration("start_timeout", 60.0),
        parallel_crawls=w.integer("parallel_crawls", 2, minimum=0),
    )
    w.done({"recycle_after", "crawl_time_limit", "memory_limit_mb", "start_timeout", "parallel_crawls"})
    s = top.table("sender")
    sender = SenderConfig(
        enabled=s.boolean("enabled", True),
        interval=s.duration("interval", 60.0),
        after_crawl=s.boolean("after_crawl", True),
        batch=s.integer("batch", 500),
        concurrency=_at_most(s, "concurrency", s.integer("concurrency", 16), 256),
        workers=_at_most(s, "workers", s.integer("workers", 1), 64),
        max_attempts=s.integer("max_attempts", 6),
        ambiguous_backoff=s.duration("ambiguous_backoff", 30 * 60.0),
        ambiguous_max_attempts=s.integer("ambiguous_max_attempts", 3),
        connect_timeout=_timeout(s, "connect_timeout", 5.0),
        read_timeout=_timeout(s, "read_timeout", 15.0),
    )
    s.done(
        {
            "enabled",
            "interval",
            "after_crawl",
            "batch",
            "concurrency",
            "workers",
            "max_attempts",
            "ambiguous_backoff",
            "ambiguous_max_attempts",
            "connect_timeout",
            "read_timeout",
        }
    )
    h = top.table("health")
    channels = h.get("admin_channels", [])
    if isinstance(channels, str):
        channels = [channels]
    if not isinstance(channels, list) or not all(isinstance(c, str) and c.strip() for c in channels):
        raise ConfigError(
            f'{h.where("admin_channels")}: expected a list of Apprise URLs, e.g. ["mailto://user:pass@example.com"]'
        )
    for url in channels:
        if "://" not in url:
            raise ConfigError(f"{h.where('admin_channels')}: {_mask(url)!r} is not an Apprise URL (scheme://...)")
    health = HealthConfig(
        threshold=h.integer("threshold", 3),
        interval=h.duration("interval", 300.0),
        admin_channels=tuple(c.strip() for c in channels),
    )
    h.done({"threshold", "interval", "admin_channels"})
    r = top.table("retention")
    retention = RetentionConfig(
        keep_sent_days=r.integer("keep_sent_days", 90, minimum=0),
        interval=r.duration("interval", 3600.0),
        batch=r.integer("batch", 1000),
    )
    r.done({"keep_sent_days", "interval", "batch"})
    svc = top.table("service")
    shutdown_grace = svc.duration("shutdown_grace", 60.0, allow_zero=True)
    fixtures = svc.string("fixtures_dir", None) or None
    if fixtures:
        base = Path(source).parent if source and not source.startswith("<") else Path.cwd()
        fixtures = str((base / Path(fixtures).expanduser()).resolve())
        if not Path(fixtures).is_dir():
            raise ConfigError(f"{svc.where('fixtures_dir')}: {fixtures} is not a folder")
    svc.done({"shutdown_grace", "fixtures_dir"})
    web = _web(top.table("web"))
    channels = None
    sender_name = (top.table("mail").string("name", None) or "").strip() or None
    if top.has("channels") or top.has("mail"):
        channels = _channels(top.table("channels"), top.table("mail") if top.has("mail") else None)
    top.done({"schedule", "worker", "sender", "health", "retention", "service", "web", "mail", "channels"})
    return ServiceConfig(
        schedules=schedules,
        timezone=timezone,
        misfire_grace_time=misfire,
        startup_spread=spread,
        worker=worker,
        sender=sender,
        health=health,
        retention=retention,
        web=web,
        channels=channels,
        sender_name=sender_name,
        shutdown_grace=shutdown_grace,
        fixtures_dir=fixtures,
        path=None if source.startswith("<") else source,
    )


def _at_most(table, key: str, value: int, maximum: int) -> int:
    if value > maximum:
        raise ConfigError(f"{table.where(key)}: at most {maximum}, got {value}")
    return value


MAX_WEB_WORKERS = 64  # `[web] workers` / `promowatch web --workers`: more is a typo, not a machine
_PROXY = r"[0-9A-Fa-f.:/*]+"  # an IP address, a network or "*" (what Uvicorn's forwarded_allow_ips reads)


def _web(table: _Table) -> WebConfig:
    base_url = table.string("base_url", None)
    if base_url is not None:
        from storage.environment import site_address

        try:
            base_url = site_address(base_url)
        except ValueError:
            raise ConfigError(
                f"{table.where('base_url')}: {base_url[:80]!r} is not a site address like https://deals.example.org"
            ) from None
    port = table.integer("port", 8000)
    if port > 65535:
        raise ConfigError(f"{table.where('port')}: {port} is not a port (1 to 65535)")
    host = table.string("host", "127.0.0.1")
    if not host or not re.fullmatch(r"[A-Za-z0-9.:-]+", host):
        raise ConfigError(f"{table.where('host')}: {str(host)[:80]!r} is not an address to listen on, e.g. 127.0.0.1")
    proxies = table.get("trusted_proxies", ["127.0.0.1"])
    if isinstance(proxies, str):
        proxies = [proxies]
    if not isinstance(proxies, list) or not all(isinstance(p, str) and re.fullmatch(_PROXY, p) for p in proxies):
        raise ConfigError(f'{table.where("trusted_proxies")}: expected a list of IP addresses, e.g. ["127.0.0.1"]')
    admin_token = _secret(table, "admin_token")
    if admin_token is not None and len(admin_token) < 16:
        raise ConfigError(f"{table.where('admin_token')}: at least 16 characters are expected (its value is not shown)")
    workers = _at_most(table, "workers", table.integer("workers", 1), MAX_WEB_WORKERS)
    table.done({"base_url", "enabled", "host", "port", "trusted_proxies", "admin_token", "workers"})
    return WebConfig(
        base_url=base_url,
        enabled=table.boolean("enabled", False),
        host=host,
        port=port,
        trusted_proxies=tuple(proxies),
        admin_token=admin_token,
        workers=workers,
    )


def _secret(table: _Table, key: str) -> str | None:
    """A token or password: a non-empty string, never shown in an error."""
    value = table.get(key)
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise ConfigError(f"{table.where(key)}: expected a non-empty string (its value is not shown here)")
    return value.strip() if value else None


def _server(table: _Table, key: str, default: str) -> str:
    value = table.string(key, default)
    if not re.fullmatch(r"https?://[^/\s?#@]+/?", value or ""):
        raise ConfigError(f"{table.where(key)}: {str(value)[:80]!r} is not a server address like {default}")
    return value.rstrip("/")


def _channels(table: _Table, mail_table: _Table | None) -> ChannelSettings:
    from alerts.channels import KINDS, MAIL_MODES, ChannelSettings, MailSettings

    mail = None
    if mail_table is not None:
        host, sender = mail_table.string("host", None), mail_table.string("from", None)
        if not host or not sender or "@" not in sender:
            raise ConfigError(
                f"{mail_table.source}: [mail] needs host (the SMTP server) and from (the sender's address), "
                'e.g. host = "smtp.example.org", from = "alerts@example.org"'
            )
        mode = mail_table.string("mode", "starttls")
        if mode not in MAIL_MODES:
            raise ConfigError(f"{mail_table.where('mode')}: {mode!r}; one of {', '.join(MAIL_MODES)}")
        port = mail_table.integer("port", 465 if mode == "ssl" else 587)
        if port > 65535:
            raise ConfigError(f"{mail_table.where('port')}: {port} is not a port (1 to 65535)")
        mail = MailSettings(
            host=host.strip(),
            sender=sender.strip(),
            port=port,
            user=mail_table.string("user", None) or None,
            password=_secret(mail_table, "password"),
            mode=mode,
        )
        mail_table.done({"host", "from", "mode", "port", "user", "password", "name"})
    allowed = table.get("allowed", ["email"])
    if isinstance(allowed, str):
        allowed = [allowed]
    if not isinstance(allowed, list) or any(kind not in KINDS for kind in allowed):
        raise ConfigError(f"{table.where('allowed')}: expected a list of channel kinds out of {', '.join(KINDS)}")
    defaults = ChannelSettings()
    settings = ChannelSettings(
        allowed=tuple(dict.fromkeys(allowed)),
        mail=mail,
        telegram_bot_token=_secret(table, "telegram_bot_token"),
        pushover_app_token=_secret(table, "pushover_app_token"),
        wxpusher_app_token=_secret(table, "wxpusher_app_token"),
        ntfy_server=_server(table, "ntfy_server", defaults.ntfy_server),
        bark_server=_server(table, "bark_server", defaults.bark_server),
        allow_private_addresses=table.boolean("allow_private_addresses", False),
    )
    table.done(
        {
            "allowed",
            "telegram_bot_token",
            "pushover_app_token",
            "wxpusher_app_token",
            "ntfy_server",
            "bark_server",
            "allow_private_addresses",
        }
    )
    return settings


#: a channel's timeouts must leave the send well inside the outbox lease (alerts.deliver.LEASE, 10 min)
MAX_CHANNEL_TIMEOUT = 300.0


def _timeout(table: _Table, key: str, default: float) -> float:
    value = table.duration(key, default)
    if value > MAX_CHANNEL_TIMEOUT:
        raise ConfigError(
            f"{table.where(key)}: {format_duration(value)} is too long; at most {format_duration(MAX_CHANNEL_TIMEOUT)} "
            f"(a send must end well inside the outbox's 10 min lease)"
        )
    return value


def _mask(url: str) -> str:
    from alerts.masking import mask_unusable  # no secret of a mistyped admin URL in the error either

    return mask_unusable(url)


def load_config(path: str | os.PathLike | None = None) -> ServiceConfig:
    """The configuration from `path`, else from PROMOWATCH_CONFIG, else the defaults."""
    path = path or os.environ.get("PROMOWATCH_CONFIG") or None
    if not path:
        return parse_config({}, "<defaults>")
    file = Path(path).expanduser()
    if not file.exists():
        raise ConfigError(
            f"configuration file {file} does not exist: fix PROMOWATCH_CONFIG or --config, or unset it for the "
            "defaults (docs/config.example.toml shows every key)"
        )
    if not file.is_file():
        raise ConfigError(f"configuration file {file} is not a file: PROMOWATCH_CONFIG or --config names a TOML file")
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"configuration file {file} cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from None
    return parse_config(data, str(file))
