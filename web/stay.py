"""The stay page: what a stay in Italy costs on every card a traveller could take, as `promowatch stay` ranks it.

The form's fields are the command's options (`days`, `gb`, `5g`, `from`, `esim_only`, `arrive`) read by the same
contract.stay.read_stay, ranked by the same stay_costs with the same configured euro rates, so a shared URL and
the command give one answer. A plain GET form: no JavaScript, every stay a link.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from alerts.render import Amount
from contract.offer import OPERATORS
from contract.stay import StayInputError, converter, read_stay, stay_costs
from storage.environment import configured_rates
from storage.repository import list_offers
from web.i18n import WORDS
from web.templating import language, page

router = APIRouter(include_in_schema=False)
FIELDS = ("days", "gb", "5g", "from", "esim_only", "arrive")
_ON = ("1", "on", "true", "yes")
#: how each language quotes what a visitor typed
_QUOTES = {"it": "«{}»", "en": "“{}”", "zh": "“{}”"}


def input_problem(lang: str, exc: StayInputError) -> str:
    """A stay typed wrong, in the page's language (the template escapes it)."""
    params = dict(exc.params)
    params["value"] = _QUOTES[lang].format(params.get("value", ""))
    return WORDS[lang][f"stay_err_{exc.code.removeprefix('stay_')}"].format(**params)


def _form(params) -> dict[str, str]:
    """The fields as given (last value, stripped), to show the form again."""
    return {name: (params.getlist(name) or [""])[-1].strip() for name in FIELDS}


def _row(card) -> dict:
    """One card as the page shows it: its plans (each linked to its offer page), totals that know their currency."""
    plans = list({p["offer_key"]: p for p in card.plans}.values())
    return {
        "card": card,
        "plans": plans,
        "eur": None if card.total_eur_cents is None else Amount(card.total_eur_cents),
        "own": Amount(card.total_cents, card.currency),
        "fees": Amount(card.fees_cents, card.currency) if card.fees_cents else None,
    }


@router.get("/stay")
def stay(request: Request):
    form = _form(request.query_params)
    context: dict[str, Any] = {"form": form, "operators": OPERATORS, "costs": None, "rows": [], "apart": []}
    context["message"] = None
    if not form["days"]:
        return page(request, "stay.html", **context)
    try:
        wanted = read_stay(
            form["days"],
            form["gb"],
            form["5g"].lower() in _ON,
            form["from"],
            form["esim_only"].lower() in _ON,
            form["arrive"],
            known_operators=OPERATORS,
        )
    except StayInputError as exc:
        return page(request, "stay.html", status=400, **context | {"message": input_problem(language(request), exc)})
    to_eur, day = converter(configured_rates())  # PROMOWATCH_RATES_FILE: checked when the service starts
    costs = stay_costs(list_offers(database_url=request.app.state.database_url), wanted, to_eur=to_eur, rate_day=day)
    reasons: dict[str, int] = {}
    for e in costs.excluded:
        reasons[e.code] = reasons.get(e.code, 0) + 1
    context |= {
        "costs": costs,
        "rows": [_row(c) for c in costs.ranked],
        "apart": [_row(c) for c in costs.apart],
        "reasons": sorted(reasons.items(), key=lambda r: (-r[1], r[0])),
    }
    return page(request, "stay.html", **context)
