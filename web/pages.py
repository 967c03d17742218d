"""The HTML pages: offers, one offer with its price history, what changed, operators, the language switch.

Each page reads storage through the functions the command line uses (storage.repository: find_offers,
offer_detail, list_events, last_crawls; the operator catalogue of contract/), never a query of its own.
Every form is a plain GET form, so pages work without JavaScript and every URL can be shared. A filter that
cannot be read shows the form again (400) with what was typed and one line in the page's language.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from alerts.detect import KINDS
from alerts.render import event_view, priced_item
from contract.catalogue import load as catalogue
from contract.clock import utcnow
from contract.offer import FIELDS, OPERATORS, PLAN_TYPES
from storage.repository import find_offers, last_crawls, list_events, offer_detail
from web.chart import LOW_WINDOW, is_low, lowest_since, step_chart, steps
from web.i18n import COOKIE, NATIVE, query_error_text
from web.query import (
    PAGE_SORTS,
    WHO,
    BadQuery,
    kind_param,
    offer_query,
    operator_param,
    since_param,
    typed_query,
)
from web.templating import language, page

router = APIRouter(include_in_schema=False)
#: the fields of an offer's page shown in its own rows (the rest come from the offer's item, in FIELDS order)
SHOWN_APART = ("operator", "offer_key", "name", "url", "price_cents")
EVENTS_SHOWN = 100


def _db(request: Request):
    return request.app.state.database_url


def not_found(request: Request):
    return page(request, "error.html", status=404, title_key="not_found", message=None)


@router.get("/")
@router.get("/offers")
def offers(request: Request):
    problem: BadQuery | None = None
    try:
        query = offer_query(request.query_params)
    except BadQuery as exc:
        problem, query = exc, typed_query(request.query_params)
    items = [] if problem else find_offers(query.wanted, query.sort, _db(request))
    return page(
        request,
        "offers.html",
        status=400 if problem else 200,
        **problem_context(request, problem),
        query=query,
        items=[priced_item(i) for i in items],
        operators=OPERATORS,
        plan_types=PLAN_TYPES,
        sorts=PAGE_SORTS,
        who=WHO,
    )


def problem_context(request: Request, problem: BadQuery | None) -> dict:
    """What a filter form shows above a filter it cannot read: the line in the page's language, the field to mark."""
    if problem is None:
        return {"problem": None, "invalid": None}
    return {"problem": query_error_text(language(request), problem.code, problem.params), "invalid": problem.field}


def subscribe_link(item: dict) -> str:
    """/subscribe with the filters of "this offer, cheaper": its operator and type, a price below today's, at
    least its data, 5G when it has it."""
    params = [("operator", item["operator"]), ("plan_type", item["plan_type"])]
    params.append(("max_price", f"{max(item['price_cents'] - 1, 0) / 100:.2f}"))
    if item.get("data_gb") and not item.get("data_unlimited"):
        params.append(("min_gb", f"{item['data_gb']:g}"))
    if item.get("data_5g"):
        params.append(("5g", "1"))
    return "/subscribe?" + urlencode(params)


@router.get("/offers/{operator}/{offer_key:path}")
def offer(request: Request, operator: str, offer_key: str):
    try:
        operator = operator_param(operator)
    except BadQuery:
        return not_found(request)
    detail = offer_detail(operator, offer_key, database_url=_db(request))
    if detail is None:
        return not_found(request)
    now = utcnow()
    current = detail["offer"]
    history = steps(detail["versions"], now if current["active"] else current["last_seen"])
    zone = request.app.state.zone
    return page(
        request,
        "offer.html",
        offer=priced_item(current),
        fields=[f for f in FIELDS if f not in SHOWN_APART],
        versions=detail["versions"],
        chart=step_chart(history),
        low_90=lowest_since(history, now - LOW_WINDOW),
        is_low=current["active"] and is_low(history, now),
        events=[(e, event_view(e, zone)) for e in detail["events"]],
        subscribe=subscribe_link(current),
    )


@router.get("/changes")
def changes(request: Request, operator: str = "", kind: str = "", since: str = ""):
    zone = request.app.state.zone
    problem: BadQuery | None = None
    slug, chosen = None, {"operator": operator.strip(), "kind": kind.strip(), "since": since.strip()}
    try:
        slug = operator_param(operator) if operator.strip() else None
        chosen["operator"] = slug or ""  # the option to select again, even when another filter is wrong
        picked = kind_param(kind, KINDS)
        moment = since_param(since, zone)
    except BadQuery as exc:
        problem, events = exc, []
    else:
        events = list_events(operator=slug, kind=picked, since=moment, limit=EVENTS_SHOWN, database_url=_db(request))
    return page(
        request,
        "changes.html",
        status=400 if problem else 200,
        **problem_context(request, problem),
        events=[(e, event_view(e, zone)) for e in events],
        operators=OPERATORS,
        kinds=KINDS,
        chosen=chosen,
        feed="/feeds/events.atom?" + (f"operator={slug}&" if slug else "") + f"lang={language(request)}",
    )


@router.get("/operators")
def operators(request: Request):
    return page(request, "operators.html", catalogue=catalogue(), crawls=last_crawls(_db(request)))


@router.get("/lang/{code}")
def switch_language(request: Request, code: str, next: str = "/"):
    """Keep the visitor's language in a cookie (HttpOnly, SameSite=Lax, Secure over HTTPS) and go back to the page
    they were on (a path on this site only: never an open redirect)."""
    target = next if next.startswith("/") and not next.startswith("//") and "\\" not in next else "/"
    response = RedirectResponse(target, status_code=303)
    if code in NATIVE:
        year, secure = 365 * 24 * 3600, request.url.scheme == "https"
        response.set_cookie(COOKIE, code, max_age=year, httponly=True, samesite="lax", secure=secure, path="/")
    return response
