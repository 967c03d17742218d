"""Signed links of a subscription: confirm, manage, unsubscribe (itsdangerous, keyed by the service secret).

Why signed and not stored tokens: every message carries a manage and an unsubscribe link, and nothing needs to
be written to make one. A link names the subscription's id and its random `link_key` and is signed for one
purpose (the purpose is the signature's salt, so a manage link is not an unsubscribe link); a changed id, key,
purpose or signature is refused, and `alerts.subscriptions` acts only when the key matches the stored one, so a
link never acts on another subscriber, also not on a new subscription that reuses an erased one's id. A
confirm link expires after 48 h, the others after a year (every new message brings fresh ones).

The site's address: PROMOWATCH_BASE_URL, else `[web] base_url` of the configuration (passed in), else
http://127.0.0.1:8000 (what `promowatch web` serves by default). The web pages live at /confirm/<token>,
/manage/<token> and /unsubscribe/<token> (also the RFC 8058 one-click POST target).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from storage.environment import setting
from storage.secret import service_secret

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
CONFIRM_MAX_AGE = timedelta(hours=48)
LINK_MAX_AGE = timedelta(days=366)
MAX_AGE = {"confirm": CONFIRM_MAX_AGE, "manage": LINK_MAX_AGE, "unsubscribe": LINK_MAX_AGE}
PATHS = {"confirm": "/confirm/", "manage": "/manage/", "unsubscribe": "/unsubscribe/"}


class LinkError(ValueError):
    """A link that cannot be used: `reason` is "expired" or "invalid" (forged, altered, for another purpose)."""

    def __init__(self, reason: str):
        super().__init__(
            "this link has expired: ask for a new one" if reason == "expired" else "this link is not valid"
        )
        self.reason = reason


@dataclass(frozen=True)
class Links:
    base_url: str
    secret: bytes

    def _serializer(self, purpose: str) -> URLSafeTimedSerializer:
        if purpose not in PATHS:
            raise ValueError(f"no link for {purpose!r}; one of {', '.join(PATHS)}")
        return URLSafeTimedSerializer(self.secret, salt=f"promowatch-{purpose}")

    def token(self, purpose: str, subscription_id: int, link_key: str) -> str:
        return self._serializer(purpose).dumps([int(subscription_id), link_key])

    def url(self, purpose: str, subscription_id: int, link_key: str) -> str:
        return f"{self.base_url}{PATHS[purpose]}{self.token(purpose, subscription_id, link_key)}"

    def footer(self, subscription_id: int, link_key: str) -> dict[str, str]:
        """The two links every message ends with."""
        return {p: self.url(p, subscription_id, link_key) for p in ("manage", "unsubscribe")}

    def read(self, purpose: str, token: str) -> tuple[int, str]:
        """(subscription id, link key) of a token signed for `purpose` and not expired; LinkError otherwise."""
        try:
            value = self._serializer(purpose).loads(token, max_age=int(MAX_AGE[purpose].total_seconds()))
        except SignatureExpired:
            raise LinkError("expired") from None
        except BadSignature:
            raise LinkError("invalid") from None
        if (
            not isinstance(value, list)
            or len(value) != 2
            or not isinstance(value[0], int)
            or not isinstance(value[1], str)
        ):
            raise LinkError("invalid")
        return value[0], value[1]


def site_links(base_url: str | None = None, database_url: str | None = None) -> Links:
    """The links of this installation: PROMOWATCH_BASE_URL, else `base_url` (the configuration's), else the
    local default; the service secret of the database's installation."""
    base = setting("PROMOWATCH_BASE_URL") or (base_url or "").strip().rstrip("/") or DEFAULT_BASE_URL
    return Links(base, service_secret(database_url))
