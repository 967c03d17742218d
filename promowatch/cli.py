"""The `promowatch` command line (Typer + Rich). Heavy imports happen inside the commands that need them."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from promowatch.cli_common import console, err, euro, fail, print_json

app = typer.Typer(
    help="Offers of Italian mobile operators: collect, store with history, compare.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


def _gb(item) -> str:
    if item.get("data_unlimited"):
        return "unlimited"
    return "" if item.get("data_gb") is None else f"{item['data_gb']:g}"


def _operators_or_exit(names: list[str], contract: bool = False) -> list[str]:
    """The names, if each is an operator with a spider (or, with `contract`, any operator of the contract)."""
    if contract:
        from spiders.items import OPERATORS
    else:
        from spiders.registry import OPERATORS

    unknown = [n for n in names if n not in OPERATORS]
    if unknown:
        err.print(f"[red]unknown operator(s): {', '.join(unknown)}[/]; known: {', '.join(OPERATORS)}")
        raise typer.Exit(2)
    return names or list(OPERATORS)


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head", help="a schema revision (or a unique start of one)")):
    """Apply the schema migrations (also done automatically on first use); never goes down."""
    from rich.markup import escape

    from storage.engine import database_url, shown, upgrade_to

    url = database_url()
    before, target, after = upgrade_to(url, revision)
    where = f"database {escape(shown(url))}"
    if before != after:
        console.print(
            f"{where} upgraded from revision {before or '(empty)'} to {after}", highlight=False, soft_wrap=True
        )
    elif after == target:
        console.print(f"{where} is already at revision {after}: nothing to do", highlight=False, soft_wrap=True)
    else:
        console.print(
            f"{where} is at revision {after}, already past {target}: nothing done (promowatch does not downgrade)",
            highlight=False,
            soft_wrap=True,
        )


@app.command()
def crawl(
    operators: List[str] = typer.Argument(None, help="operator slugs; all when omitted"),
    offline: bool = typer.Option(False, "--offline", help="answer from the bundled saved pages"),
    fixtures: Optional[Path] = typer.Option(None, "--fixtures", help="answer from saved pages in DIR"),
    as_json: bool = typer.Option(False, "--json"),
):
    """Run the spiders, store what they find, and print a summary per operator."""
    from rich.markup import escape
    from rich.progress import Progress, SpinnerColumn, TextColumn

    from promowatch.crawling import BUNDLED_FIXTURES, project_settings, run_crawls
    from storage.engine import check_database

    ops = _operators_or_exit(operators or [])
    if offline and fixtures:
        err.print("[red]--offline and --fixtures exclude each other[/]")
        raise typer.Exit(2)
    folder = BUNDLED_FIXTURES if offline else fixtures
    if folder is not None and not Path(folder).is_dir():
        err.print(f"[red]fixtures folder {folder} does not exist[/]")
        raise typer.Exit(2)
    settings = project_settings(str(folder) if folder else None)
    try:  # PROMOWATCH_FIXTURES_DIR from the environment: a missing folder is refused before any crawl starts
        from scrapy.exceptions import UsageError

        from spiders.fixtures_middleware import fixtures_root

        fixtures_root(settings)
    except UsageError as exc:
        fail(str(exc))
    check_database(settings.get("PROMOWATCH_DATABASE_URL"))  # usable and migrated before spiders start
    logging.getLogger("scrapy").setLevel(logging.WARNING)
    settings.set("LOG_LEVEL", os.environ.get("PROMOWATCH_LOG_LEVEL", "WARNING"))
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.fields[state]}"),
        console=err,
        transient=as_json,
        disable=as_json,
    ) as progress:
        tasks = {op: progress.add_task(op, total=None, state="0 offers") for op in ops}
        counts = dict.fromkeys(ops, 0)

        def on_item(op):
            counts[op] += 1
            progress.update(tasks[op], state=f"{counts[op]} offers")

        def on_done(op):
            progress.update(tasks[op], state=f"{counts[op]} offers, done", total=1, completed=1)

        stats = run_crawls(ops, settings, on_item=on_item, on_done=on_done)
    rows = []
    for op in ops:
        s = stats[op]
        dropped = {k.rsplit("/", 1)[-1]: v for k, v in s.items() if k.startswith("promowatch/dropped/")}
        rows.append(
            {
                "operator": op,
                "status": s.get("promowatch/status", "failed"),
                "crawl_run_id": s.get("promowatch/crawl_run_id"),
                "offers": s.get("item_scraped_count", 0),
                "new_versions": s.get("promowatch/new_versions", 0),
                "dropped": dropped,
                "dropped_cards": s.get("promowatch/dropped_cards") or [],
                "errors": s.get("promowatch/errors") or [],
                "error": s.get("promowatch/error"),
            }
        )
    if as_json:
        print_json(rows)
    else:
        table = Table(title="crawl")
        for col in ("operator", "status", "offers", "new versions", "dropped", "error / dropped cards"):
            table.add_column(col)
        for r in rows:
            colour = "green" if r["status"] == "healthy" else "red"
            table.add_row(
                r["operator"],
                f"[{colour}]{r['status']}[/]",
                str(r["offers"]),
                str(r["new_versions"]),
                ", ".join(f"{k}: {v}" for k, v in r["dropped"].items()) or "0",
                escape(r["error"] or ""),
            )
        console.print(table)
    if any(r["status"] != "healthy" for r in rows):
        raise typer.Exit(1)


@app.command()
def parse(
    operator: str,
    file: Path,
    url: Optional[str] = typer.Option(None, help="URL the page was saved from"),
    today: Optional[str] = typer.Option(None, help="crawl day for year-less dates (ISO)"),
    as_json: bool = typer.Option(False, "--json"),
):
    """Parse one saved page into offer items (no database).

    Follow-up pages (details, JSON endpoints) are read from an `index.json` beside the file when there is one.
    """
    from spiders.items import InvalidOffer, normalise
    from spiders.saved_page import index_beside, parse_file

    _operators_or_exit([operator])
    if not file.is_file():
        err.print(f"[red]no such file: {file}[/]")
        raise typer.Exit(2)
    items, dropped = [], {}
    saved_url, pages = index_beside(file)
    for raw in parse_file(operator, file, url=url or saved_url, today=today, pages=pages):
        try:
            items.append(normalise(raw))
        except InvalidOffer as exc:
            dropped[exc.reason] = dropped.get(exc.reason, 0) + 1
    if as_json:
        print_json(items)
    else:
        _offers_table(items, title=f"{operator}: {file.name}")
        if dropped:
            err.print(f"dropped: {dropped}")
    if not items:
        err.print("[yellow]no offer found on this page[/]")
        raise typer.Exit(1)


def _offers_table(items: list[dict], title: str) -> None:
    from storage.offer_query import eur_per_gb_cents

    table = Table(title=title)
    for col, justify in (
        ("operator", "left"),
        ("offer", "left"),
        ("type", "left"),
        ("price", "right"),
        ("days", "right"),
        ("GB", "right"),
        ("€/GB", "right"),
        ("5G", "center"),
        ("activation", "right"),
        ("who", "left"),
        ("promo until", "left"),
    ):
        table.add_column(col, justify=justify)
    for it in items:
        who = it.get("eligibility", "all")
        if it.get("eligible_from"):
            who += " from " + ",".join(it["eligible_from"])
        per_gb = eur_per_gb_cents(it)
        table.add_row(
            it["operator"],
            it["name"],
            it["plan_type"],
            euro(it["price_cents"]),
            str(it["period_days"]),
            _gb(it),
            "" if per_gb is None or it.get("data_unlimited") else f"{per_gb / 100:.3f}".replace(".", ","),
            ("yes*" if it.get("data_5g_limited") else "yes") if it.get("data_5g") else "",
            euro(it.get("activation_cents")),
            who,
            it.get("promo_until") or "",
        )
    console.print(table)


def _cents_option(text: Optional[str], flag: str) -> Optional[int]:
    if text is None:
        return None
    from spiders.parsing import money_cents

    cents = money_cents(text)
    if cents is None or cents < 0:
        err.print(f"[red]{flag} {text!r} is not an amount in euro[/] (e.g. 9,99 or 10)")
        raise typer.Exit(2)
    return cents


@app.command()
def offers(
    operator: List[str] = typer.Option(None, "--operator", help="only these operators (repeatable)"),
    plan_type: List[str] = typer.Option(None, "--plan-type", help="prepaid, postpaid, tourist, data_only, ..."),
    max_price: Optional[str] = typer.Option(None, "--max-price", help="euro per period, e.g. 9,99"),
    min_gb: Optional[float] = typer.Option(None, "--min-gb", help="at least this many GB (unlimited passes)"),
    only_5g: bool = typer.Option(False, "--5g", help="only offers with 5G"),
    origin: Optional[str] = typer.Option(None, "--from", help="what a customer of this operator can take by porting"),
    sort: str = typer.Option("operator", "--sort", help="price | gb | eur-per-gb | operator"),
    as_json: bool = typer.Option(False, "--json"),
):
    """The offers currently stored, filtered and sorted."""
    from spiders.items import PLAN_TYPES
    from storage.offer_query import SORTS, OfferFilter, sort_offers
    from storage.repository import list_offers

    ops = _operators_or_exit(list(operator), contract=True) if operator else []
    if origin:
        _operators_or_exit([origin], contract=True)
    bad = [p for p in plan_type or [] if p not in PLAN_TYPES]
    if bad or sort not in SORTS:
        err.print(
            f"[red]unknown {'plan type ' + ', '.join(bad) if bad else 'sort ' + sort}[/]; "
            f"known: {', '.join(PLAN_TYPES if bad else SORTS)}"
        )
        raise typer.Exit(2)
    wanted = OfferFilter(
        operators=set(ops),
        plan_types=set(plan_type or []),
        max_price_cents=_cents_option(max_price, "--max-price"),
        min_gb=min_gb,
        only_5g=only_5g,
        origin=origin,
    )
    items = sort_offers([i for i in list_offers(ops[0] if len(ops) == 1 else None) if wanted.matches(i)], sort)
    if as_json:
        print_json(items)
    else:
        title = f"{len(items)} offers" + (f" a customer of {origin} can take by porting" if origin else "")
        _offers_table(items, title=title)


@app.command()
def history(operator: str, offer_key: str, as_json: bool = typer.Option(False, "--json")):
    """Every version an offer has had."""
    from storage.repository import offer_history

    versions = offer_history(operator, offer_key)
    if versions is None:
        err.print(f"[red]no offer {offer_key!r} of {operator}[/]")
        raise typer.Exit(1)
    if as_json:
        print_json(versions)
        return
    table = Table(title=f"{operator} / {offer_key}")
    for col in ("from", "to", "price", "GB", "activation", "promo until"):
        table.add_column(col)
    for v in versions:
        it = v["item"]
        table.add_row(
            v["valid_from"][:19],
            (v["valid_to"] or "now")[:19],
            euro(it["price_cents"]),
            _gb(it),
            euro(it.get("activation_cents")),
            it.get("promo_until") or "",
        )
    console.print(table)


def _fact(value) -> str:
    if value is None:
        return "?"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return ", ".join(value) if isinstance(value, list) else str(value)


@app.command()
def operators(as_json: bool = typer.Option(False, "--json")):
    """Every operator: network, 5G, eSIM, top-up and renewal, offers page, app ('?' = not confirmed)."""
    from promowatch.operator_facts import load
    from spiders.items import OPERATORS as ALL
    from spiders.registry import OPERATORS, spider_class

    facts = load()
    rows = []
    for op in ALL:
        spider = spider_class(op) if op in OPERATORS else None
        rows.append(
            {
                "operator": op,
                **{k: v for k, v in facts.get(op, {}).items()},
                "spider": spider is not None,
                "start_urls": list(spider.start_urls) if spider else [],
                "min_offers": spider.min_offers if spider else None,
            }
        )
    if as_json:
        print_json(rows)
        return
    table = Table(title="operators ('?' = not confirmed)")
    for col in (
        "operator",
        "network",
        "5G",
        "eSIM",
        "top up online",
        "renews",
        "from",
        "billing",
        "app",
        "offers page",
        "min offers",
    ):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r.get("name", r["operator"]),
            _fact(r.get("host_network")) if not r.get("network_note") else r["network_note"],
            _fact(r.get("has_5g")),
            _fact(r.get("esim")),
            _fact(r.get("top_up_online")),
            _fact(r.get("renews_automatically")),
            _fact(r.get("renews_from")),
            _fact(r.get("billing")),
            _fact(r.get("app")),
            r.get("offers_page") or "",
            "no spider" if r["min_offers"] is None else str(r["min_offers"]),
        )
    console.print(table)


@app.command()
def status(as_json: bool = typer.Option(False, "--json")):
    """Each operator: last crawl, status, offers, failures in a row, next scheduled crawl (by the service config)."""
    from promowatch.cli_service import next_run_times
    from spiders.registry import OPERATORS
    from storage.repository import last_crawls

    last = last_crawls()
    upcoming = next_run_times()
    rows = [
        {**last.get(op, {"operator": op, "status": "never crawled"}), "next_run": upcoming.get(op)} for op in OPERATORS
    ]
    if as_json:
        print_json(rows)
        return
    table = Table(title="status")
    for col in ("operator", "last crawl", "status", "offers", "dropped", "failures in a row", "next run", "error"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["operator"],
            (r.get("finished_at") or "")[:19],
            r["status"],
            str(r.get("items_stored", "")),
            str(r.get("items_dropped", "")),
            str(r.get("consecutive_failures", "")),
            (r.get("next_run") or "")[:19],
            (r.get("error") or "")[:80],
        )
    console.print(table)


# commands defined in their own modules, on this same app (imports there stay lazy)
from promowatch import cli_events, cli_outbox, cli_service, cli_subscriptions  # noqa: E402

for _module in (cli_events, cli_subscriptions, cli_outbox, cli_service):
    _module.register(app)


def main() -> None:
    """The command line. A database that cannot be used (storage.engine.DatabaseUnavailable, or a driver error
    that `explain` recognises) ends any command with one line: exit 2 for a wrong setting, 1 otherwise."""
    try:
        app()
    except Exception as exc:
        problem = _database_problem(exc)
        if problem is None:
            raise
        try:
            fail(str(problem), problem.exit_code)
        except typer.Exit as done:
            sys.exit(done.exit_code)


def _database_problem(exc: Exception):
    if "storage.engine" not in sys.modules and not type(exc).__module__.startswith("sqlalchemy"):
        return None  # nothing opened a database: not a database error
    from storage.engine import explain

    try:
        return explain(exc)
    except Exception:  # noqa: BLE001 — explaining must not hide the original error
        return None


if __name__ == "__main__":
    main()
