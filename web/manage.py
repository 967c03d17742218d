"""The manage and unsubscribe pages, reached only through the signed links every message ends with.

Why a signed link and nothing else: a subscriber has no account; the link (alerts/links.py) names the
subscription and is refused when forged, altered, for another purpose or another subscription. Every change
goes through alerts.subscriptions (update_settings, pause, resume, unsubscribe, queue_test, erase), the
functions the CLI uses. Forms carry the CSRF token (web/csrf.py); the RFC 8058 one-click POST
(`List-Unsubscribe=One-Click`, sent by a mail client without any page) is accepted on the signed link alone.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, RedirectResponse

from alerts.detect import KINDS
from alerts.links import LinkError
from alerts.subscriptions import (
    DIGESTS,
    SubscriptionError,
    erase,
    manage_view,
    open_link,
    pause,
    queue_test,
    resume,
    unsubscribe,
    update_settings,
)
from contract.offer import OPERATORS, PLAN_TYPES
from web import csrf
from web.subscribe import (
    addresses_masked,
    form_values,
    link_page,
    link_problem,
    links,
    manage_url,
    opened,
    problem_text,
    read_settings,
    show,
    shown_channels,
)
from web.subscribe_words import WORDS
from web.templating import language

router = APIRouter(include_in_schema=False, dependencies=[Depends(addresses_masked)])
log = logging.getLogger("promowatch.web")
DONE = ("saved", "paused", "resumed", "test", "unsubscribed")


def _db(request: Request) -> str | None:
    return request.app.state.database_url


def _euro(cents) -> str:
    return "" if cents is None else f"{int(cents) // 100}.{int(cents) % 100:02d}"


def stored_values(settings: dict) -> dict:
    """The form's values from a subscription's stored settings (manage_view's "settings")."""
    per_gb = settings["max_eur_per_gb_cents"]
    return {
        "operator": list(settings["operators"] or []),
        "plan_type": list(settings["plan_types"] or []),
        "kind": list(settings["kinds"] or []),
        "max_price": _euro(settings["max_price_cents"]),
        "min_gb": "" if settings["min_gb"] is None else f"{settings['min_gb']:g}",
        "5g": "1" if settings["only_5g"] else "",
        "from": settings["origin"] or "",
        "max_eur_per_gb": _euro(per_gb if per_gb is None else round(per_gb)),
        "max_year_cost": _euro(settings["max_year_cents"]),
        "lang": settings["lang"],
        "digest": settings["digest"],
        "tz": settings["timezone"],
        "quiet": f"{settings['quiet_start']}-{settings['quiet_end']}" if settings["quiet_start"] else "",
        "rearm_hours": str(settings["rearm_hours"]),
    }


def manage_page(request: Request, token: str, sid: int, values=None, errors=None, problem="", status=200):
    view = manage_view(sid, _db(request))
    done = request.query_params.get("done")
    return show(
        request,
        "manage.html",
        status,
        view=view,
        channel=shown_channels(view),
        token=token,
        values=values or stored_values(view["settings"]),
        errors=errors or {},
        problem=problem,
        done=done if done in DONE else None,
        operators=OPERATORS,
        plan_types=PLAN_TYPES,
        kinds=KINDS,
        digests=DIGESTS,
    )


@router.get("/manage/{token}")
def manage(request: Request, token: str):
    sid = opened(request, token, "manage")
    return manage_page(request, token, sid) if isinstance(sid, int) else sid


@router.post("/manage/{token}")
async def manage_post(request: Request, token: str):
    sid = opened(request, token, "manage")
    if not isinstance(sid, int):
        return sid
    form = await request.form()
    lang = language(request)
    words = WORDS[lang]
    if not csrf.valid(request, form.get(csrf.FIELD)):
        return manage_page(request, token, sid, problem=words["form_expired"], status=403)
    action = form.get("action")
    here = f"/manage/{quote(token, safe='')}"
    if action == "erase":
        if form.get("erase_confirm") != "1":
            return manage_page(request, token, sid, problem=words["erase_unchecked"], status=422)
        erase(sid, _db(request))
        log.info("web subscription %s erased by its subscriber", sid)
        return show(request, "message.html", title=words["erased_title"], text=words["erased_text"])
    if action == "save":
        values = form_values(form)
        arguments, errors = read_settings(values, lang)
        if errors:
            return manage_page(request, token, sid, values, errors, words["fix_fields"], status=422)
        try:
            update_settings(sid, _db(request), **arguments)
        except SubscriptionError as exc:
            return manage_page(request, token, sid, values, problem=problem_text(lang, exc), status=422)
        done = "saved"
    elif action in ("pause", "resume", "unsubscribe"):
        {"pause": pause, "resume": resume, "unsubscribe": unsubscribe}[str(action)](sid, _db(request))
        done = {"pause": "paused", "resume": "resumed", "unsubscribe": "unsubscribed"}[str(action)]
    elif action == "test":
        try:
            queue_test(sid, _db(request))
        except SubscriptionError as exc:
            return manage_page(request, token, sid, problem=problem_text(lang, exc), status=409)
        done = "test"
    else:
        return manage_page(request, token, sid, status=400)
    return RedirectResponse(f"{here}?done={done}", status_code=303)


@router.get("/unsubscribe/{token}")
def unsubscribe_page(request: Request, token: str):
    """The one-click confirm page a link opens (a GET never unsubscribes: mail scanners open links)."""
    return link_page(request, token, "unsubscribe", "unsubscribe.html")


@router.post("/unsubscribe/{token}")
async def unsubscribe_post(request: Request, token: str):
    form = await request.form()
    one_click = form.get("List-Unsubscribe") == "One-Click"
    try:
        sid = open_link(token, "unsubscribe", links(request), _db(request))
    except LinkError as exc:
        if one_click:
            return PlainTextResponse(str(exc), status_code=410 if exc.reason == "expired" else 400)
        return link_problem(request, exc)
    words = WORDS[language(request)]
    if not one_click and not csrf.valid(request, form.get(csrf.FIELD)):
        return show(request, "message.html", 403, title=words["unsubscribe_title"], text=words["form_expired"])
    unsubscribe(sid, _db(request))
    log.info("web subscription %s unsubscribed (%s)", sid, "one-click" if one_click else "page")
    if one_click:
        return PlainTextResponse("unsubscribed")
    return show(
        request,
        "message.html",
        title=words["unsubscribed_title"],
        text=words["unsubscribed_text"],
        manage=manage_url(request, "unsubscribe", token),
    )
