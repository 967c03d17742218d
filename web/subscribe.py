"""The subscribe and confirm pages: a visitor asks for alerts, then confirms through the signed link we sent.

Why through alerts.subscriptions only: the CLI and the site must accept, store and refuse alike, so every value
is checked by `settings_spec` (one field at a time, so the form can say what is wrong beside each field) and
`alerts.channels.build_channel`, and stored by `request_subscription` (pending, the consent record, the
confirmation queued in the outbox). Subscribe requests are counted per IP and per channel address through
`alerts.subscriptions.allow` (keyed hashes only). A channel address is never shown whole: the pages show the
masked form `manage_view` gives, and a channel's error never repeats what was typed. The back end's errors come
with a code and parameters, worded here in the page's language (web/subscribe_words.py ERRORS); their English
line is the CLI's.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from alerts.channels import ChannelError, ChannelSettings, build_channel
from alerts.detect import KINDS
from alerts.links import LinkError, Links, site_links
from alerts.subscriptions import (
    DIGESTS,
    SubscriptionError,
    allow,
    confirm,
    manage_view,
    open_link,
    request_subscription,
    settings_spec,
)
from contract.offer import OPERATORS, PLAN_TYPES
from web import csrf
from web.query import WHO
from web.subscribe_words import WORDS, error_text
from web.templating import language, page

log = logging.getLogger("promowatch.web")

_ADDRESS = re.compile(r"([A-Za-z0-9_+-])[A-Za-z0-9._%+-]*(@|%40)([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")


class _NoAddresses(logging.Filter):
    """Apprise logs each URL it loads (at DEBUG) with an email recipient whole: while a subscriber's page is
    being answered, an address is logged only as m****@example.com."""

    def __init__(self):
        super().__init__()
        self.lock, self.users = threading.Lock(), 0

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if "@" in text or "%40" in text:
            record.msg, record.args = _ADDRESS.sub(r"\1****\2\3", text), None
        return True

    def __call__(self) -> Iterator[None]:
        """The routers' dependency: the filter is on Apprise's logger while any of their requests runs."""
        apprise_log = logging.getLogger("apprise")
        with self.lock:
            self.users += 1
            if self.users == 1:
                apprise_log.addFilter(self)
        try:
            yield
        finally:
            with self.lock:
                self.users -= 1
                if not self.users:
                    apprise_log.removeFilter(self)


addresses_masked = _NoAddresses()
router = APIRouter(include_in_schema=False, dependencies=[Depends(addresses_masked)])

#: subscribe requests allowed per IP and per channel address: (how many, within what); app.state.config
#: "rate_limits" may set others ({"ip": (n, timedelta), "address": (n, timedelta)})
RATE_LIMITS = {"ip": (10, timedelta(hours=1)), "address": (5, timedelta(days=1))}
#: form field -> (argument of settings_spec, whether the field may repeat)
SETTING_FIELDS = {
    "operator": ("operators", True),
    "plan_type": ("plan_types", True),
    "kind": ("kinds", True),
    "max_price": ("max_price", False),
    "min_gb": ("min_gb", False),
    "5g": ("only_5g", False),
    "from": ("origin", False),
    "max_eur_per_gb": ("max_eur_per_gb", False),
    "max_year_cost": ("max_year_cost", False),
    "lang": ("lang", False),
    "digest": ("digest", False),
    "tz": ("tz", False),
    "quiet": ("quiet", False),
    "rearm_hours": ("rearm_hours", False),
}
CHANNEL_FIELDS = ("channel_kind", "channel_value")


def _db(request: Request) -> str | None:
    return request.app.state.database_url


def channel_settings(request: Request) -> ChannelSettings:
    """The operator's `[channels]` and `[mail]` (app.state.config "channels"), else email only, unconfigured."""
    settings = request.app.state.config.get("channels")
    return settings if isinstance(settings, ChannelSettings) else ChannelSettings()


def links(request: Request) -> Links:
    return site_links(request.app.state.config.get("base_url"), _db(request))


def show(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A page of the subscriber's area: its words as `s`, a CSRF token for its forms (and the cookie it is tied
    to), never cached (it may name a subscription)."""
    response = page(request, template, status, s=WORDS[language(request)], csrf=csrf.token(request), **context)
    response.headers["Cache-Control"] = "no-store"
    return csrf.set_cookie(request, response)


def form_values(params) -> dict[str, Any]:
    """What the form shows: every field as typed (lists for the repeatable ones), from a query string or a POST."""
    values: dict[str, Any] = {}
    for name, (_, many) in SETTING_FIELDS.items():
        given = [v.strip() for v in params.getlist(name) if isinstance(v, str) and v.strip()]
        values[name] = given if many else (given[-1] if given else "")
    for name in CHANNEL_FIELDS:
        value = params.get(name)
        values[name] = value.strip() if isinstance(value, str) else ""
    return values


def prefilled(request: Request) -> dict[str, Any]:
    """The form's values from the query string of the offers page or an offer's "tell me when this gets cheaper"
    (its filter names), the visitor's language and the site's zone where nothing is given."""
    values = form_values(request.query_params)
    tourist = [w for w in request.query_params.getlist("who") if WHO.get(w, ("",))[0] == "plan_type"]
    values["plan_type"] = list(dict.fromkeys(values["plan_type"] + [WHO[w][1] for w in tourist]))
    values["lang"] = values["lang"] or language(request)
    values["tz"] = values["tz"] or request.app.state.zone.key
    values["digest"] = values["digest"] or "off"
    values["rearm_hours"] = values["rearm_hours"] or "168"
    return values


def shown_channels(view: dict) -> str:
    """The subscription's channel as its pages show it: the consent record's (an email address partly hidden),
    else each channel masked (an operator's subscription has no consent record)."""
    if view.get("consent") and view["consent"].get("channel"):
        return str(view["consent"]["channel"])
    return ", ".join(c["shown"] for c in view["channels"])


def problem_text(lang: str, exc: SubscriptionError | ChannelError) -> str:
    """A back-end error in the page's language (its code and parameters; the English line is the CLI's)."""
    return error_text(lang, exc.code, exc.params)


def read_settings(values: dict[str, Any], lang: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The arguments of `settings_spec` from the form's values, and the error of each field that is not valid
    in the page's language `lang` (each field checked by settings_spec on its own: one message per field)."""
    arguments: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, (argument, many) in SETTING_FIELDS.items():
        value: Any = values.get(name) or ([] if many else None)
        if name == "5g":
            value = value in ("1", "on", "true", "yes")
        elif name == "rearm_hours":
            try:
                value = int(value or 168)
            except ValueError:
                errors[name] = error_text(lang, "not_whole_hours", {"value": value})
                continue
        elif name in ("lang", "digest", "tz") and value is None:
            continue
        try:
            settings_spec(**{argument: value})
        except SubscriptionError as exc:
            errors[name] = problem_text(lang, exc)
            continue
        arguments[argument] = value
    return arguments, errors


def form_page(request: Request, values: dict, errors: dict | None = None, problem: str = "", status: int = 200):
    settings = channel_settings(request)
    return show(
        request,
        "subscribe.html",
        status,
        values=values,
        errors=errors or {},
        problem=problem,
        operators=OPERATORS,
        plan_types=PLAN_TYPES,
        kinds=KINDS,
        digests=DIGESTS,
        channel_kinds=settings.usable(),
    )


def client_ip(request: Request) -> str:
    """The visitor's address (Uvicorn replaces the proxy's with X-Forwarded-For only from `[web]
    trusted_proxies`)."""
    return request.client.host if request.client else "unknown"


def _allowed(request: Request, bucket: str, key: str) -> bool:
    limit, window = {**RATE_LIMITS, **request.app.state.config.get("rate_limits", {})}[bucket]
    return allow(f"subscribe:{bucket}", key, limit, window, _db(request))


@router.get("/subscribe")
def subscribe_form(request: Request):
    return form_page(request, prefilled(request))


@router.post("/subscribe")
async def subscribe(request: Request):
    form = await request.form()
    values = form_values(form)
    values["lang"] = values["lang"] or language(request)  # none sent: the messages in the page's language
    words = WORDS[language(request)]
    if not csrf.valid(request, form.get(csrf.FIELD)):
        return form_page(request, values, problem=words["form_expired"], status=403)
    if not _allowed(request, "ip", client_ip(request)):
        return form_page(request, values, problem=words["rate_limited"], status=429)
    lang = language(request)  # the page's: its errors are worded in it
    arguments, errors = read_settings(values, lang)
    kind, typed = values["channel_kind"], values["channel_value"]
    settings = channel_settings(request)
    try:
        build_channel(kind, typed, settings)
    except ChannelError as exc:
        errors["channel_value"] = problem_text(lang, exc)  # its parameters never hold what was typed
    if errors:
        return form_page(request, values, errors, words["fix_fields"], status=422)
    if not _allowed(request, "address", f"{kind}:{typed}"):
        return form_page(request, values, problem=words["rate_limited_address"], status=429)
    try:
        asked = request_subscription(
            kind, typed, settings, source="web:subscribe", ip=client_ip(request), database_url=_db(request), **arguments
        )
    except SubscriptionError as exc:
        return form_page(request, values, problem=problem_text(lang, exc), status=422)
    log.info("web subscription %s asked for (%s, %s)", asked.subscription_id, kind, asked.status)
    return show(request, "subscribed.html", channel=shown_channels(manage_view(asked.subscription_id, _db(request))))


def link_problem(request: Request, exc: LinkError) -> HTMLResponse:
    words = WORDS[language(request)]
    message = words["link_expired"] if exc.reason == "expired" else words["link_invalid"]
    status = 410 if exc.reason == "expired" else 400
    return show(request, "message.html", status, title=words["link_title"], text=message)


def manage_url(request: Request, purpose: str, token: str) -> str:
    """The manage link of the subscription a valid token of `purpose` names (its path on this site)."""
    site = links(request)
    sid, key = site.read(purpose, token)
    return site.url("manage", sid, key).removeprefix(site.base_url)


def opened(request: Request, token: str, purpose: str) -> int | HTMLResponse:
    """The id of the subscription a signed link of `purpose` names, or the page saying why it cannot be used."""
    try:
        return open_link(token, purpose, links(request), _db(request))
    except LinkError as exc:
        return link_problem(request, exc)


def link_page(request: Request, token: str, purpose: str, template: str) -> HTMLResponse:
    """The page a confirm or unsubscribe link opens: the subscription's channel and the form's button."""
    sid = opened(request, token, purpose)
    if not isinstance(sid, int):
        return sid
    view = manage_view(sid, _db(request))
    manage = manage_url(request, purpose, token)
    return show(request, template, view=view, channel=shown_channels(view), token=token, manage=manage)


@router.get("/confirm/{token}")
def confirm_page(request: Request, token: str):
    """A page with the confirm button: a link opened by a mail scanner confirms nothing."""
    return link_page(request, token, "confirm", "confirm.html")


@router.post("/confirm/{token}")
async def confirm_post(request: Request, token: str):
    form = await request.form()
    words = WORDS[language(request)]
    if not csrf.valid(request, form.get(csrf.FIELD)):
        return show(request, "message.html", 403, title=words["confirm_title"], text=words["form_expired"])
    try:
        status = confirm(token, links(request), _db(request))
    except LinkError as exc:
        return link_problem(request, exc)
    if status != "active":
        text = words["not_pending"].format(status=words[f"status_{status}"])
        return show(request, "message.html", 409, title=words["confirm_title"], text=text)
    return show(
        request,
        "message.html",
        title=words["confirmed_title"],
        text=words["confirmed_text"],
        manage=manage_url(request, "confirm", token),
    )
