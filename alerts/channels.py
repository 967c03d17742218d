"""Channels from what a person has: an email address, an ntfy topic, a Telegram chat id, a key, a webhook URL.

Why: a visitor never types an Apprise URL or SMTP credentials; the operator configures once what the service
sends through (`ChannelSettings`), and `build_channel` checks the one value a person typed (one-line
`ChannelError`) and builds the URL. Where the subscriber chooses the host (their own ntfy or Bark server) it must
resolve to public addresses only (SSRF), unless the operator allows private ones; such a channel is `guarded`:
the sender checks its host again before every send and tells Apprise `redirect=no` (docs/architecture.md).
Discord and Slack webhooks are accepted on their services' own hosts only. An email channel is stored as the
address alone (`service-mail:<address>`); the Apprise URL with the service's SMTP account is built from `[mail]`
when a message is sent (`sendable_url`), so a new password or server reaches every subscriber.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from alerts.masking import mask_url

#: a self-service email channel as stored: "service-mail:<address>", email to that address through the service's
#: own SMTP account (`[mail]`); never an Apprise URL, so nothing can send to it without the current [mail]
SERVICE_MAIL = "service-mail:"
KINDS = ("email", "ntfy", "telegram", "pushover", "discord", "slack", "wxpusher", "serverchan", "pushplus", "bark")
MAIL_MODES = ("starttls", "ssl", "insecure")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL = re.compile(rf"^[A-Za-z0-9.!#$%&'*+/=^_`{{|}}~-]{{1,64}}@{_LABEL}(?:\.{_LABEL})+$")
_TOPIC = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_TELEGRAM_CHAT = re.compile(r"^(?:-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{4,31})$")
_PUSHOVER_KEY = re.compile(r"^[A-Za-z0-9]{30}$")
_WXPUSHER_UID = re.compile(r"^UID_[A-Za-z0-9]{10,64}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{8,128}$")
_DISCORD = re.compile(r"^/api/webhooks/(\d{5,30})/([A-Za-z0-9_-]{20,200})/?$")
_SLACK = re.compile(r"^/services/([A-Z0-9]{6,20})/([A-Z0-9]{6,20})/([A-Za-z0-9]{10,64})/?$")
DISCORD_HOSTS = frozenset({"discord.com", "discordapp.com", "ptb.discord.com", "canary.discord.com"})
SLACK_HOSTS = frozenset({"hooks.slack.com"})
#: kind -> (what a person types, what is expected in words, the URL, the operator's token it needs)
_KEYED = {
    "telegram": (
        _TELEGRAM_CHAT,
        "a chat id is a number (e.g. 123456789 or -100123456789) or @channelname",
        "tgram://{token}/{value}",
        "telegram_bot_token",
    ),
    "pushover": (
        _PUSHOVER_KEY,
        "a user key is 30 letters and digits (Pushover's dashboard shows it)",
        "pover://{value}@{token}",
        "pushover_app_token",
    ),
    "wxpusher": (
        _WXPUSHER_UID,
        "your UID starts with UID_ (WxPusher shows it after you follow the app)",
        "wxpusher://{token}/{value}",
        "wxpusher_app_token",
    ),
    "serverchan": (_TOKEN, "a key is 8 to 128 letters, digits, - and _", "schan://{value}", None),
    "pushplus": (_TOKEN, "a key is 8 to 128 letters, digits, - and _", "pushplus://{value}", None),
}
#: kind -> the code of its ChannelError for a value of the wrong form
_KEY_CODES = {
    "telegram": "telegram_chat",
    "pushover": "pushover_key",
    "wxpusher": "wxpusher_uid",
    "serverchan": "key",
    "pushplus": "key",
}
#: kind -> (the service's own hosts, the webhook path, what a person pastes)
_WEBHOOKS = {
    "discord": (DISCORD_HOSTS, _DISCORD, "https://discord.com/api/webhooks/<id>/<token>"),
    "slack": (SLACK_HOSTS, _SLACK, "https://hooks.slack.com/services/T…/B…/…"),
}


#: every ChannelError's code: what a page words in its reader's language (web/subscribe_words.py ERRORS)
CODES = (
    "unknown_kind",
    "kind_not_offered",
    "kind_not_set_up",
    "empty",
    "not_email",
    "ntfy_topic_or_server",
    "ntfy_topic",
    "telegram_chat",
    "pushover_key",
    "wxpusher_uid",
    "key",
    "webhook_url",
    "bark_key",
    "server_not_url",
    "server_port",
    "server_dns",
    "server_private",
)


class ChannelError(ValueError):
    """A channel a subscriber asked for that cannot be made; one line, without any secret (the CLI's English).
    `code` (one of CODES) and `params` say the same for a page that words it in its reader's language; the
    params never hold what was typed, only the kind of channel and a server's host."""

    def __init__(self, message: str, code: str, **params):
        assert code in CODES, code
        super().__init__(message)
        self.code, self.params = code, params


@dataclass(frozen=True)
class MailSettings:
    """The SMTP account the service sends email through (`[mail]`)."""

    host: str
    sender: str  # the From address
    port: int = 587
    user: str | None = None
    password: str | None = None
    mode: str = "starttls"  # starttls | ssl | insecure (no TLS: a relay on the same machine, tests)


@dataclass(frozen=True)
class ChannelSettings:
    """What the operator allows and provides for self-service channels (`[channels]`, `[mail]`)."""

    allowed: tuple[str, ...] = ("email",)
    mail: MailSettings | None = None
    telegram_bot_token: str | None = None
    pushover_app_token: str | None = None
    wxpusher_app_token: str | None = None
    ntfy_server: str = "https://ntfy.sh"
    bark_server: str = "https://api.day.app"
    allow_private_addresses: bool = False

    def usable(self) -> tuple[str, ...]:
        """The allowed kinds the service can send to (each one's account or token is configured)."""
        return tuple(k for k in self.allowed if _missing(k, self) is None)


def _missing(kind: str, settings: ChannelSettings) -> str | None:
    """What the operator has not configured for `kind`, or None."""
    return {
        "email": None if settings.mail else "[mail]",
        "telegram": None if settings.telegram_bot_token else "[channels] telegram_bot_token",
        "pushover": None if settings.pushover_app_token else "[channels] pushover_app_token",
        "wxpusher": None if settings.wxpusher_app_token else "[channels] wxpusher_app_token",
    }.get(kind)


def public_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """An address on the public internet: not loopback, private, link-local (metadata), shared, reserved,
    multicast or unspecified; an IPv4-mapped IPv6 address is judged by its IPv4 address."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_public_host(host: str, port: int | None = None) -> None:
    """ChannelError unless every address `host` resolves to is public."""
    try:
        infos = socket.getaddrinfo(host, port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise ChannelError(
            f"the server {host} cannot be found (DNS): check its name", "server_dns", host=host
        ) from None
    for *_, address in infos:
        ip = ipaddress.ip_address(str(address[0]).split("%", 1)[0])
        if not public_address(ip):
            raise ChannelError(
                f"the server {host} is not on the public internet ({ip} is a loopback, private, link-local or "
                "reserved address): use a public server",
                "server_private",
                host=host,
                ip=str(ip),
            )


def _server(text: str, what: str, settings: ChannelSettings) -> tuple[str, str, int | None]:
    """(scheme, host[:port], port) of a server URL a subscriber typed; checked public unless allowed."""
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        raise ChannelError(
            f"{what}: {text.strip()[:80]!r} is not a server address like https://ntfy.example.org",
            "server_not_url",
            kind=what,
        )
    try:
        port = parts.port
    except ValueError:
        raise ChannelError(
            f"{what}: the port of {parts.netloc[:80]!r} is not a number from 1 to 65535", "server_port", kind=what
        ) from None
    if not settings.allow_private_addresses:
        check_public_host(parts.hostname, port)
    netloc = parts.hostname + (f":{port}" if port else "")
    return parts.scheme, netloc, port


def _q(text: str) -> str:
    return quote(text, safe="")


def mail_url(mail: MailSettings, to: str) -> str:
    """The Apprise URL that sends to the address `to` through the service's SMTP account."""
    scheme = "mailto" if mail.mode == "insecure" else "mailtos"
    auth = f"{_q(mail.user)}:{_q(mail.password or '')}@" if mail.user else ""
    return (
        f"{scheme}://{auth}{mail.host}:{mail.port}?smtp={_q(mail.host)}&mode={mail.mode}"
        f"&from={_q(mail.sender)}&to={_q(to)}"
    )


def service_mail_address(url: str) -> str | None:
    """The address of a stored self-service email channel (`service-mail:<address>`), else None."""
    return url[len(SERVICE_MAIL) :] if url.startswith(SERVICE_MAIL) else None


def sendable_url(url: str, mail: MailSettings | None) -> str:
    """The Apprise URL a message to the stored channel `url` goes to: a self-service email channel through the
    current `[mail]` account (`mail`); any other channel URL as it is. ChannelError when [mail] is missing."""
    address = service_mail_address(url)
    if address is None:
        return url
    if mail is None:
        raise ChannelError(
            "email through the service's mail account, but [mail] is not configured where messages are sent",
            "kind_not_set_up",
            kind="email",
        )
    return mail_url(mail, address)


def build_channel(kind: str, value: str, settings: ChannelSettings) -> dict:
    """{"url", "url_masked", "service", "guarded", "shown"} for the channel `kind` made of what a person typed.

    `shown` is what a page or the consent record may show of it (the address partly hidden, no token)."""
    if kind not in KINDS:
        raise ChannelError(f"unknown kind of channel {kind!r}; one of {', '.join(KINDS)}", "unknown_kind", kind=kind)
    if kind not in settings.allowed:
        raise ChannelError(
            f"{kind} is not offered by this service; choose one of {', '.join(settings.usable())}",
            "kind_not_offered",
            kind=kind,
        )
    missing = _missing(kind, settings)
    if missing:
        raise ChannelError(
            f"{kind} is not set up on this service ({missing} is missing in its configuration)",
            "kind_not_set_up",
            kind=kind,
        )
    value = (value or "").strip()
    if not value:
        raise ChannelError(f"{kind}: nothing was typed", "empty", kind=kind)
    guarded = False
    if kind == "email":
        if not _EMAIL.match(value) or len(value) > 254:
            raise ChannelError(f"email: {value[:80]!r} is not an email address like name@example.com", "not_email")
        assert settings.mail is not None  # _missing said so otherwise
        url, shown = SERVICE_MAIL + value, f"email: {mask_address(value)}"
    elif kind == "ntfy":
        if "://" in value:  # their own server: https://ntfy.example.org/topic
            parts = urlsplit(value)
            topic = parts.path.strip("/")
            if not _TOPIC.match(topic):
                raise ChannelError(
                    "ntfy: write a topic (letters, digits, - and _) or https://server/topic", "ntfy_topic_or_server"
                )
            scheme, netloc, _ = _server(f"{parts.scheme}://{parts.netloc}", "ntfy", settings)
            guarded = True
        else:
            topic = value
            if not _TOPIC.match(topic):
                raise ChannelError("ntfy: a topic is 1 to 64 letters, digits, - and _", "ntfy_topic")
            scheme, netloc = urlsplit(settings.ntfy_server).scheme, urlsplit(settings.ntfy_server).netloc
        url = f"{'ntfys' if scheme == 'https' else 'ntfy'}://{netloc}/{topic}"
        shown = f"ntfy: {netloc}/{topic[:2]}****"
    elif kind in _KEYED:
        pattern, expected, template, token = _KEYED[kind]
        if not pattern.match(value):
            raise ChannelError(f"{kind}: {expected}", _KEY_CODES[kind], kind=kind)
        url = template.format(value=value, token=getattr(settings, token) if token else "")
        shown = f"{kind}: {_hide(value)}"
    elif kind in ("discord", "slack"):
        hosts, path, example = _WEBHOOKS[kind]
        parts = urlsplit(value)
        m = path.match(parts.path)
        if parts.scheme != "https" or (parts.hostname or "") not in hosts or not m:
            raise ChannelError(f"{kind}: paste the webhook URL, {example}", "webhook_url", kind=kind, example=example)
        url, shown = f"{kind}://{'/'.join(m.groups())}", f"{kind}: webhook {_hide(m.group(1))}"
    else:  # bark: a device key, or https://their.server/<device key>
        if "://" in value:
            parts = urlsplit(value)
            key = parts.path.strip("/")
            scheme, netloc, _ = _server(f"{parts.scheme}://{parts.netloc}", "bark", settings)
            guarded = True
        else:
            key = value
            scheme, netloc = urlsplit(settings.bark_server).scheme, urlsplit(settings.bark_server).netloc
        if not _TOKEN.match(key):
            raise ChannelError(
                "bark: a device key is 8 to 128 letters, digits, - and _ (the Bark app shows it)", "bark_key"
            )
        url = f"{'barks' if scheme == 'https' else 'bark'}://{netloc}/{key}"
        shown = f"bark: {netloc}/{_hide(key)}"
    return {
        "url": url,
        "url_masked": mask_url(url),
        # an email channel: the scheme its URL has when sent (alerts.deliver adds the email headers by it)
        "service": sendable_url(url, settings.mail).partition("://")[0],
        "guarded": guarded,
        "shown": shown,
    }


def _hide(text: str) -> str:
    """The first two characters, the rest hidden: enough to tell one's own channels apart."""
    return f"{text[:2]}****"


def mask_address(address: str) -> str:
    """ "mario.rossi@example.com" -> "m****@example.com"."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}****@{domain}"


_ADDRESS_IN_TEXT = re.compile(r"([A-Za-z0-9_+-])[A-Za-z0-9._%+-]*(@|%40)([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")


def shown_channel(url: str) -> str:
    """A stored channel as a subscriber's page may show it: masked (alerts.masking), email addresses too."""
    address = service_mail_address(url)
    if address is not None:
        return f"email: {mask_address(address)}"
    return _ADDRESS_IN_TEXT.sub(r"\1****\2\3", mask_url(url))


def guard_host(url: str) -> tuple[str, int | None]:
    """(host, port) a guarded channel URL sends to."""
    parts = urlsplit(url)
    return parts.hostname or "", parts.port


def without_redirects(url: str) -> str:
    """The URL with Apprise's `redirect=no`: its plugins then pass allow_redirects=False to requests."""
    return url + ("&" if "?" in url else "?") + "redirect=no"
