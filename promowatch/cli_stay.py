"""`promowatch stay`, defined on the CLI's Typer app by `register(app)`: what a stay costs on every card a
traveller could take, cheapest first.

The rules are contract/stay.py's (the same for the stay alerts); this module reads the options and the stored
offers and prints the ranking. Prices in another currency go through the configured rates' euro converter;
without rates only euro prices are ranked and the others are listed apart, never mixed.
"""

from __future__ import annotations

from typing import Optional

import typer
from rich.markup import escape

from promowatch.cli_common import (
    Column,
    console,
    count,
    err,
    euro,
    fail,
    fit_table,
    gb,
    print_json,
)

#: how a traveller calls each plan type
KINDS = {
    "prepaid": "local SIM",
    "postpaid": "local SIM",
    "data_only": "local data SIM",
    "voice_only": "local SIM",
    "tourist": "tourist SIM",
    "esim_trip": "travel eSIM",
    "esim_subscription": "eSIM subscription",
}


def money(cents: int | None, currency: str = "EUR") -> str:
    """Euro as every table shows it ("9,99 €"); another currency by its code ("25,00 USD")."""
    if currency == "EUR" or cents is None:
        return euro(cents)
    return f"{cents / 100:.2f} {currency}".replace(".", ",")


def _row(card, rank: str) -> list[str]:
    name = " + ".join(dict.fromkeys(p["name"] for p in card.plans))
    total = money(card.total_eur_cents)
    if card.currency != "EUR":
        own = money(card.total_cents, card.currency)
        total = f"{total}\n[dim]{own}[/]" if total else own
    from alerts.render import stay_phrases  # the phrases' English (alerts/templates/en/_stay.j2)

    included = stay_phrases("en", card.included)
    if card.fees_cents:
        fees = money(card.fees_cents, card.currency).replace(" ", "\u00a0")  # a price is never split over lines
        included.append(f"SIM and activation {fees}")
    watch = escape("\n".join(stay_phrases("en", card.watch)))
    return [
        rank,
        f"{escape(card.operator)}: {escape(name)}\n[dim]{escape(KINDS.get(card.plan_type, card.plan_type))}[/]",
        total,
        escape("\n".join(included)),
        watch if card.full_speed else f"[yellow]{watch}[/]",
    ]


def _columns() -> list[Column]:
    """What a traveller reads first stays when the terminal is narrow: the card, the total, what to watch (the
    offers' keys are in --json)."""
    return [
        Column("#", "right"),
        Column("card", fold=18),
        Column("stay total", "right"),
        Column("included", keep=50, fold=16),
        Column("watch", keep=70, fold=16),
    ]


def _stay_text(stay) -> str:
    need = f", {gb(stay.gb)} GB" if stay.gb else ""
    wishes = [w for w, on in (("5G", stay.only_5g), ("eSIM", stay.esim_only)) if on]
    origin = f", porting from {stay.origin}" if stay.origin else ""
    return f"{stay.days} days{need}{', ' + ' and '.join(wishes) + ' only' if wishes else ''}{origin}, " + (
        f"arriving {stay.arrival.isoformat()}"
    )


def print_costs(costs) -> None:
    """The ranking, the cards listed apart (no rate for their currency) and what was left out, by reason."""
    title = f"{_stay_text(costs.stay)}: {count(len(costs.ranked), 'card')}, cheapest first"
    rows = [_row(card, str(n)) for n, card in enumerate(costs.ranked, 1)]
    console.print(fit_table(title, _columns(), rows))
    if costs.apart:
        rows = [_row(card, "–") for card in costs.apart]
        apart = f"{count(len(costs.apart), 'card')} priced in a currency with no rate to euro: not ranked"
        console.print(fit_table(apart, _columns(), rows))
    if costs.excluded:
        from alerts.render import stay_left_out

        reasons: dict[str, int] = {}
        for e in costs.excluded:
            reasons[stay_left_out("en", e.code)] = reasons.get(stay_left_out("en", e.code), 0) + 1
        listed = ", ".join(f"{why} {n}" for why, n in sorted(reasons.items(), key=lambda r: (-r[1], r[0])))
        console.print(
            f"[dim]left out: {escape(listed)} (--json lists each with its reason)[/]", highlight=False, soft_wrap=True
        )


def register(app: typer.Typer) -> None:
    """Define `stay` on the CLI's app."""

    @app.command()
    def stay(
        days: int = typer.Option(..., "--days", help="how many days you stay in Italy (1 to 366)"),
        need_gb: Optional[str] = typer.Option(None, "--gb", help="GB of data over the whole stay, e.g. 20 or 1,5"),
        only_5g: bool = typer.Option(False, "--5g", help="only cards with 5G"),
        origin: Optional[str] = typer.Option(
            None, "--from", help="the Italian operator whose number you could bring (opens porting-only offers)"
        ),
        esim_only: bool = typer.Option(False, "--esim-only", help="only cards that come as an eSIM"),
        arrive: Optional[str] = typer.Option(
            None,
            "--arrive",
            help="the day you arrive, YYYY-MM-DD (promotions ended by then are left out; default today)",
        ),
        as_json: bool = typer.Option(False, "--json", help="print the ranking, the cards apart and what was left out"),
    ):
        """What your stay costs on every card you could take: local SIMs, tourist SIMs and travel eSIMs."""
        from contract.offer import OPERATORS
        from contract.stay import converter, read_stay, stay_costs
        from storage.environment import configured_rates
        from storage.repository import list_offers

        try:
            wanted = read_stay(days, need_gb, only_5g, origin, esim_only, arrive, "--", OPERATORS)
        except ValueError as exc:
            fail(str(exc))
        to_eur, day = converter(configured_rates())  # PROMOWATCH_RATES_FILE: checked at the entry point
        costs = stay_costs(list_offers(), wanted, to_eur=to_eur, rate_day=day)
        if as_json:
            print_json(costs.as_dict())
            return
        print_costs(costs)
        if not costs.ranked and not costs.apart:
            err.print("[yellow]no card covers this stay: see what was left out and why with --json[/]")
