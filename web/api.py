"""The read-only JSON API, `/api/v1/...`: offers (the offers page's filters and orders), one offer with its
history and events, change events, operators. Money in integer cents (EUR), times in UTC ISO 8601, exactly as
storage hands them out (the same dicts `promowatch ... --json` prints); the OpenAPI schema is FastAPI's, at
/api/v1/openapi.json.
"""

from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict

from alerts.detect import KINDS
from contract.catalogue import load as catalogue
from contract.offer_query import eur_per_gb_cents, twelve_month_cents
from storage.repository import find_offers, last_crawls, list_events, offer_detail
from web.query import BadQuery, kind_param, offer_query, operator_param, since_param

router = APIRouter(prefix="/api/v1", tags=["read"])


class Offer(BaseModel):
    """An offer item (docs/architecture.md) with when it was first and last seen."""

    model_config = ConfigDict(extra="allow")
    operator: str
    offer_key: str
    name: str
    url: str
    plan_type: str
    price_cents: int
    period_days: int
    activation_cents: Optional[int] = None
    data_gb: Optional[float] = None
    data_unlimited: bool = False
    data_5g: bool = False
    eligibility: str = "all"
    eligible_from: list[str] = []
    first_seen: str
    last_seen: str
    twelve_month_cents: int
    eur_per_gb_cents: Optional[float] = None


class Offers(BaseModel):
    count: int
    offers: list[Offer]


class Version(BaseModel):
    version_id: int
    crawl_run_id: int
    valid_from: str
    valid_to: Optional[str]
    content_hash: str
    item: dict


class Event(BaseModel):
    id: int
    crawl_run_id: int
    offer_id: int
    operator: str
    offer_key: str
    kind: str
    created_at: str
    price_before: Optional[int]
    price_after: Optional[int]
    changes: dict
    item: dict
    version_id: Optional[int]


class OfferHistory(BaseModel):
    offer: Offer
    active: bool
    versions: list[Version]
    events: list[Event]


class Operator(BaseModel):
    model_config = ConfigDict(extra="allow")
    operator: str
    name: str
    last_crawl: Optional[dict]


def _bad(exc: BadQuery):
    return HTTPException(status_code=400, detail=str(exc))


def _priced(item: dict) -> dict:
    return {**item, "twelve_month_cents": twelve_month_cents(item), "eur_per_gb_cents": eur_per_gb_cents(item)}


@router.get(
    "/offers",
    response_model=Offers,
    summary="Current offers",
    description="Filters and orders as the offers page: operator (repeatable), plan_type (repeatable), max_price "
    "(euro, e.g. 9,99), min_gb, 5g=1, from (operator a customer ports from), who (tourist, foreign_born), "
    "sort (price, gb, eur-per-gb, year, operator).",
)
def offers(request: Request):
    try:
        query = offer_query(request.query_params)
    except BadQuery as exc:
        raise _bad(exc) from None
    items = find_offers(query.wanted, query.sort, request.app.state.database_url)
    return {"count": len(items), "offers": [_priced(i) for i in items]}


@router.get("/offers/{operator}/{offer_key:path}", response_model=OfferHistory, summary="One offer with its history")
def offer(request: Request, operator: str, offer_key: str):
    try:
        operator = operator_param(operator)
    except BadQuery as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    detail = offer_detail(operator, offer_key, database_url=request.app.state.database_url)
    if detail is None:
        raise HTTPException(status_code=404, detail=f"no offer {offer_key!r} of {operator}")
    current = detail["offer"]
    return {**detail, "offer": _priced(current), "active": current["active"]}


@router.get("/events", response_model=list[Event], summary="Change events, newest first")
def events(
    request: Request,
    operator: Optional[str] = None,
    kind: Optional[str] = Query(None, description=", ".join(KINDS)),
    since: Optional[str] = Query(None, description="YYYY-MM-DD (Europe/Rome) or ISO date-time with offset"),
    limit: int = Query(100, ge=1, le=1000),
):
    try:
        slug = operator_param(operator) if operator else None
        kind = kind_param(kind or "", KINDS)
        moment = since_param(since, request.app.state.zone)
    except BadQuery as exc:
        raise _bad(exc) from None
    return list_events(operator=slug, kind=kind, since=moment, limit=limit, database_url=request.app.state.database_url)


@router.get("/operators", response_model=list[Operator], summary="Operators: traveller facts and last crawl")
def operators(request: Request):
    crawls = last_crawls(request.app.state.database_url)
    return [{"operator": op, **facts, "last_crawl": crawls.get(op)} for op, facts in catalogue().items()]
