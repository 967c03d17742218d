"""`promowatch import` and `promowatch events`, defined on the CLI's Typer app by `register(app)`.

(`register` rather than a module-level `from promowatch.cli import app`: under `python -m promowatch.cli`
the CLI module is `__main__`, and importing `promowatch.cli` again would define the commands on a copy.)

`import` is a crawl whose items come from a file, held to a Scrapy crawl's rules: its cards go through
`CrawlItems`, it is judged and stored by `store_crawl` (spiders/crawl_rules.py) and then handed to the same
after-crawl step (`alerts.after_crawl`). Heavy imports happen inside the commands.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from promowatch.cli_common import (
    Column,
    console,
    count,
    err,
    fail,
    fit_table,
    gb,
    money,
    operator_or_exit,
    period,
    print_json,
    when,
)

KIND_COLOURS = {
    "new": "green",
    "returned": "green",
    "price_drop": "bold green",
    "price_rise": "red",
    "changed": "yellow",
    "removed": "red",
    "expiring": "magenta",
}


class ImportUsageError(Exception):
    """A usage error of `promowatch import` (exit code 2, nothing recorded)."""


def import_items(
    raw_items: list, operator: str | None = None, min_offers: int = 1, database_url: str | None = None
) -> dict:
    """Record a list of offer items as one crawl of one operator, then detect its changes."""
    from alerts.after_crawl import after_crawl, send_now
    from contract.clock import utcnow
    from contract.offer import OPERATORS, InvalidOffer
    from spiders.crawl_rules import CrawlFacts, CrawlItems, store_crawl
    from storage.environment import setting

    started = utcnow()
    if not isinstance(raw_items, list):
        raise ImportUsageError(f"expected a JSON list of offer items, got {type(raw_items).__name__}")
    if operator is not None and operator not in OPERATORS:
        raise ImportUsageError(f"unknown operator {operator!r}; known: {', '.join(OPERATORS)}")
    not_objects = [(n, r) for n, r in enumerate(raw_items, 1) if not isinstance(r, dict)]
    if not_objects:
        n, first = not_objects[0]
        raise ImportUsageError(
            f"{len(not_objects)} of {count(len(raw_items), 'item')} {'is' if len(not_objects) == 1 else 'are'} "
            "not an offer object "
            f"(item {n} is {type(first).__name__} {json.dumps(first)[:40]}): the file must be a JSON list of "
            "objects, as `promowatch parse --json` prints; nothing recorded"
        )
    named = [r.get("operator") for r in raw_items if r.get("operator") is not None]
    if operator is None:
        found = sorted(set(map(str, named)))
        if not found:
            raise ImportUsageError("cannot tell the operator: the list has no item naming one; pass --operator")
        if len(found) > 1:
            raise ImportUsageError(f"items of several operators ({', '.join(found)}): import one operator at a time")
        operator = found[0]
        if operator not in OPERATORS:
            raise ImportUsageError(f"unknown operator {operator!r} in the items; known: {', '.join(OPERATORS)}")
    else:
        others = sorted({str(o) for o in named if o != operator})
        if others:
            strays = sum(1 for o in named if o != operator)
            raise ImportUsageError(
                f"{count(strays, 'item')} {'is' if strays == 1 else 'are'} of operator {', '.join(others)}, "
                f"not {operator}"
            )
    crawl = CrawlItems(operator)
    for raw in raw_items:
        try:
            crawl.add(raw)
        except InvalidOffer:
            continue
    if not crawl.items:  # the user's file, not the operator's page: no crawl to record
        reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(crawl.dropped.items(), key=lambda r: -r[1]))
        raise ImportUsageError(
            "empty list: no offer to import; nothing recorded"
            if not raw_items
            else f"no valid offer in {count(len(raw_items), 'item')} (dropped: {reasons}); nothing recorded "
            "(the fields an item needs: operator, offer_key, name, url, plan_type, price_cents, period_days)"
        )
    facts = CrawlFacts("import", crawl, min_offers, nothing="empty list: no offer to import")
    stored = store_crawl(facts, operator=operator, started_at=started, database_url=database_url)
    wake = send_now(database_url) if setting("PROMOWATCH_SEND_AFTER_CRAWL") else None
    result = after_crawl(stored.run_id, operator, stored.status, database_url=database_url, wake=wake)
    return {
        "crawl_run_id": stored.run_id,
        "operator": operator,
        "status": stored.status,
        "error": stored.error,
        "offers": stored.stored,
        "dropped": stored.dropped,
        "dropped_cards": stored.dropped_cards,
        "new_versions": stored.new_versions,
        "detected": result.detected,
        "events": result.events or [],
    }


def _since(text: str | None) -> datetime | None:
    """--since as an aware time: with its offset or Z as given; without one, in the local zone the tables show
    (cli_common.when), so a time copied from a table means what it says."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        fail(
            f"--since {text!r} is not an ISO date or date-time (e.g. 2026-09-15, 2026-09-15T08:00 in your zone, "
            "2026-09-15T08:00+01:00 or 2026-09-15T07:00Z)"
        )
    return (moment if moment.tzinfo else moment.astimezone()).astimezone(timezone.utc)


def _price(event: dict) -> str:
    before, after = event.get("price_before"), event.get("price_after")
    currency = (event.get("item") or {}).get("currency") or "EUR"
    if before is not None and after is not None and before != after:
        return f"{money(before, currency)} → {money(after, currency)}"
    return money(after if after is not None else before, currency)


def _change_text(changes: dict, currency: str = "EUR") -> str:
    def show(field, value):
        if value is None:
            return "—"
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, list):
            return ",".join(map(str, value)) or "[]"
        if field.endswith("_cents") and isinstance(value, int):
            return money(value, currency)
        if field == "period_days" and isinstance(value, int):
            return period(value)
        if isinstance(value, float):
            return gb(value)
        return str(value)

    return "\n".join(f"{field}: {show(field, a)} → {show(field, b)}" for field, (a, b) in changes.items())


def events_table(events: list[dict], title: str) -> Table:
    """The events, as many columns as the terminal holds; times in the reader's zone, named."""
    columns = [
        Column("time", keep=60),
        Column("operator", keep=70),
        Column("offer / key", fold=18),
        Column("kind"),
        Column("price", "right", keep=80),
        Column("changed", keep=40, fold=24),
    ]
    rows = []
    for e in events:
        name = (e.get("item") or {}).get("name") or e["offer_key"]
        colour = KIND_COLOURS.get(e["kind"], "white")
        rows.append(
            [
                when(e["created_at"]),
                e["operator"],
                f"{escape(name)}\n[dim]{escape(e['offer_key'])}[/]",
                f"[{colour}]{e['kind']}[/]",
                _price(e),
                escape(_change_text(e.get("changes") or {}, (e.get("item") or {}).get("currency") or "EUR")),
            ]
        )
    return fit_table(title, columns, rows)


def register(app: typer.Typer) -> None:
    """Define `import` and `events` on the CLI's app."""

    @app.command("import")
    def import_(
        file: Path = typer.Argument(..., help="JSON list of offer items (what `promowatch parse --json` prints)"),
        operator: Optional[str] = typer.Option(
            None, "--operator", help="the items' operator (slug, name or alias; default: the one the items name)"
        ),
        min_offers: int = typer.Option(1, "--min-offers", help="fewer valid offers (1 or more) make the crawl partial"),
        as_json: bool = typer.Option(False, "--json", help="print the summary and events as JSON"),
    ):
        """Record a file of offer items as one crawl of one operator, then detect what changed."""
        if operator is not None:
            from contract.offer import OPERATORS

            operator = operator_or_exit(operator, OPERATORS)
        if min_offers < 1:
            fail(f"--min-offers {min_offers} is less than 1: write how many valid offers a healthy import needs")
        if file.is_dir():
            fail(f"{file} is a folder: give the JSON file of offer items (what `promowatch parse --json` prints)")
        if not file.exists():
            fail(f"no such file: {file}")
        if not file.is_file():
            fail(f"{file} is not a regular file: give the JSON file of offer items")
        try:
            raw = json.loads(file.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            fail(f"{file} is not JSON: {exc}")
        except OSError as exc:
            fail(f"{file} cannot be read: {exc.strerror or exc}", code=1)
        try:
            summary = import_items(raw, operator=operator, min_offers=min_offers)
        except ImportUsageError as exc:
            fail(f"{file}: {exc}")
        if as_json:
            print_json(summary)
        else:
            colour = "green" if summary["status"] == "healthy" else "red"
            console.print(
                f"{summary['operator']}: crawl {summary['crawl_run_id']} [{colour}]{summary['status']}[/], "
                f"{count(summary['offers'], 'offer')}, {count(summary['new_versions'], 'new version')}, "
                f"dropped {sum(summary['dropped'].values())}",
                highlight=False,
            )
            if summary["status"] == "healthy" and summary["error"]:  # the cards dropped, named
                err.print(f"[yellow]{escape(summary['error'])}[/]", highlight=False)
            if summary["events"]:
                console.print(events_table(summary["events"], title=count(len(summary["events"]), "event")))
            elif summary["detected"]:
                console.print("no change events")
        if summary["status"] != "healthy":
            err.print(f"[red]crawl {summary['status']}: {escape(summary['error'] or '')}[/]", highlight=False)
            raise typer.Exit(1)
        if not summary["detected"]:
            err.print("[red]change detection failed; the crawl is stored and will be detected with the next one[/]")
            raise typer.Exit(1)

    @app.command()
    def events(
        operator: Optional[str] = typer.Option(
            None, "--operator", help="only this operator's events (slug, name or alias, any case)"
        ),
        kind: Optional[str] = typer.Option(
            None, "--kind", help="new, returned, price_drop, price_rise, changed, removed, expiring"
        ),
        since: Optional[str] = typer.Option(
            None,
            "--since",
            help="ISO date or date-time; in your local zone (as the tables show times) unless it ends in an offset "
            "(+01:00) or Z",
        ),
        limit: int = typer.Option(100, "--limit", min=1, help="at most this many events (the newest)"),
        as_json: bool = typer.Option(False, "--json", help="print the events as JSON instead of a table"),
    ):
        """The change events detected, newest first."""
        from alerts.detect import KINDS
        from contract.offer import OPERATORS
        from storage.repository import list_events

        if operator:
            operator = operator_or_exit(operator, OPERATORS)
        if kind and kind not in KINDS:
            fail(f"unknown kind: {kind}; known: {', '.join(KINDS)}")
        rows = list_events(operator=operator, kind=kind, since=_since(since), limit=limit)
        if as_json:
            print_json(rows)
        else:
            console.print(events_table(rows, title=f"{len(rows)} events"))
