"""CSRF protection of the site's forms: a signed double-submit token tied to a cookie.

Why this way: the site keeps no server-side session. A visitor's browser holds a random value in an HttpOnly,
SameSite=Strict cookie; every form carries that value signed with the service secret (itsdangerous, its own
salt, expiring). A POST is accepted only when the form's token is validly signed, not expired, and names the
value of the cookie the same browser sent: another site can neither read the cookie nor sign a value. The
RFC 8058 one-click unsubscribe POST is the one exception (a mail client cannot carry a token): there the signed
link itself is the protection (web/manage.py).
"""

from __future__ import annotations

import hmac
import secrets
from typing import TypeVar

from fastapi import Request
from fastapi.responses import Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from storage.secret import service_secret

COOKIE = "csrf"
FIELD = "csrf_token"
#: how long a form stays usable after the page was served
MAX_AGE = 24 * 3600


def _serializer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(service_secret(request.app.state.database_url), salt="promowatch-csrf")


def _cookie_value(request: Request) -> str:
    """The browser's value, or a new one (kept in request.state so `set_cookie` sends it)."""
    value = request.cookies.get(COOKIE)
    if not value or len(value) > 64:
        value = getattr(request.state, "csrf_new", None) or secrets.token_urlsafe(32)
        request.state.csrf_new = value
    return value


def token(request: Request) -> str:
    """The token a form served in answer to `request` carries."""
    return str(_serializer(request).dumps(_cookie_value(request)))


R = TypeVar("R", bound=Response)


def set_cookie(request: Request, response: R) -> R:
    """Send the cookie the page's token is tied to, when the browser did not have one."""
    value = getattr(request.state, "csrf_new", None)
    if value:
        secure = request.url.scheme == "https"
        response.set_cookie(COOKIE, value, max_age=MAX_AGE, httponly=True, samesite="strict", secure=secure, path="/")
    return response


def valid(request: Request, form_token: object) -> bool:
    """Whether a POSTed form's token (the form's value: text, a file or None) is signed by us, not expired, and
    tied to this browser's cookie."""
    cookie = request.cookies.get(COOKIE)
    if not cookie or not isinstance(form_token, str) or not form_token:
        return False
    try:
        signed = _serializer(request).loads(form_token, max_age=MAX_AGE)
    except BadSignature:  # SignatureExpired is one
        return False
    return isinstance(signed, str) and hmac.compare_digest(signed.encode(), cookie.encode())
