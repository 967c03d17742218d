"""The `promowatch` command line (Typer + Rich). Heavy imports happen inside the commands that need them."""

from __future__ import annotations

import logging
import math
import re
import sys
from pathlib import Path
from typing import Any, List, Optional

import typer
from rich.markup import escape

from promowatch.cli_common import (
    Column,
    console,
    count,
    day_or_exit,
    err,
    euro,
    fail,
    first_words,
    fit_table,
    gb,
    gb_or_exit,
    money,
    money_or_exit,
    operator_or_exit,
    period,
    print_json,
    rates_or_exit,
    when,
)

app = typer.Typer(
    help="Offers of Italian mobile operators: collect, store with history, compare.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema, copies and backups.", no_args_is_help=True)
app.add_typer(db_app, name="db")


def _gb(item) -> str:
    if item.get("data_unlimited"):
        return "unlimited"
    return gb(item.get("data_gb"))


def _operators_or_exit(names: list[str], with_spider: bool = True) -> list[str]:
    """The slugs of the names (slug, display name or alias, any case), each an operator with a spider (or, not
    `with_spider`, any operator of the catalogue); all of them when `names` is empty."""
    if not with_spider:
        from contract.offer import OPERATORS as contract_operators

        known = list(contract_operators)
    else:
        from spiders.registry import OPERATORS as spider_operators

        known = list(spider_operators)
    return list(dict.fromkeys(operator_or_exit(n, known) for n in names)) or known


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head", help="a schema revision (or a unique start of one)")):
    """Apply the schema migrations (also done automatically on first use); never goes down."""

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


@db_app.command("copy")
def db_copy(
    source: str = typer.Argument(
        ..., metavar="SRC_URL", help="the database to copy, e.g. sqlite:////path/promowatch.db"
    ),
    destination: str = typer.Argument(
        ..., metavar="DST_URL", help="an empty database, e.g. postgresql+psycopg://user:password@host/name"
    ),
):
    """Copy every row of one database into another, empty one (e.g. SQLite into PostgreSQL), and verify it."""
    from storage.copy import copy_database
    from storage.engine import shown

    where = f"{escape(shown(source))} -> {escape(shown(destination))}"
    console.print(f"copying {where}", highlight=False, soft_wrap=True)
    copied = copy_database(
        source,
        destination,
        progress=lambda table, rows: console.print(f"  {table}: {count(rows, 'row')}", highlight=False),
    )
    total = sum(t.rows for t in copied)
    console.print(
        f"copied {count(total, 'row')} in {count(len(copied), 'table')}; verified: the row count and content hash "
        "of every table are equal in both databases",
        highlight=False,
        soft_wrap=True,
    )


@db_app.command("backup")
def db_backup(file: Path = typer.Argument(..., metavar="FILE", help="the backup file to write (must not exist)")):
    """A consistent copy of the SQLite database, taken safely while the service runs (PostgreSQL: use pg_dump)."""
    from storage.backup import backup_sqlite
    from storage.engine import database_url, shown

    url = database_url()
    done = backup_sqlite(url, file)
    console.print(
        f"backed up {escape(shown(url))} to {escape(str(done.file))} ({done.size} bytes, schema revision "
        f"{done.revision or '(empty)'}); integrity check ok",
        highlight=False,
        soft_wrap=True,
    )


@app.command()
def crawl(
    operators: List[str] = typer.Argument(
        None, metavar="OP", help="operators (slug, name or alias, any case); all when omitted"
    ),
    offline: bool = typer.Option(False, "--offline", help="answer from the bundled saved pages"),
    fixtures: Optional[Path] = typer.Option(None, "--fixtures", help="answer from saved pages in DIR"),
    as_json: bool = typer.Option(False, "--json", help="print the summary per operator as JSON"),
):
    """Run the spiders, store what they find, and print a summary per operator."""
    from rich.progress import Progress, SpinnerColumn, TextColumn

    from promowatch.crawling import BUNDLED_FIXTURES, project_settings, run_crawls
    from storage.engine import check_database
    from storage.environment import log_level

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
    settings.set("LOG_LEVEL", log_level("WARNING"))
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
            progress.update(tasks[op], state=count(counts[op], "offer"))

        def on_done(op):
            progress.update(tasks[op], state=f"{count(counts[op], 'offer')}, done", total=1, completed=1)

        crawled = run_crawls(ops, settings, on_item=on_item, on_done=on_done)
    rows = []
    for op in ops:
        stored, result = crawled[op].stored, crawled[op].result
        row: dict[str, Any] = {"operator": op, "status": "failed", "crawl_run_id": None, "offers": 0, "new_versions": 0}
        row |= {"dropped": {}, "dropped_cards": [], "errors": [], "error": "crawl ended without being stored"}
        if stored is not None:  # else the crawl ended before the pipeline could store it (its log says why)
            row |= {"status": stored.status, "crawl_run_id": stored.run_id, "offers": stored.offers}
            row |= {"new_versions": stored.new_versions, "dropped": stored.dropped, "error": stored.error}
            row |= {"dropped_cards": stored.dropped_cards, "errors": stored.errors}
        row["events"] = result.event_count if result is not None else None
        rows.append(row)
    if as_json:
        print_json(rows)
    else:
        columns = [
            Column("operator"),
            Column("status"),
            Column("offers", "right", keep=50),
            Column("new versions", "right", keep=30),
            Column("dropped", "right", keep=20, fold=10),
            Column("error / dropped cards", fold=24),  # a failed crawl's reason is never hidden
        ]
        table_rows = [
            [
                r["operator"],
                f"[{'green' if r['status'] == 'healthy' else 'red'}]{r['status']}[/]",
                str(r["offers"]),
                str(r["new_versions"]),
                escape(", ".join(f"{k}: {v}" for k, v in r["dropped"].items())) or "0",
                escape(r["error"] or ""),
            ]
            for r in rows
        ]
        console.print(fit_table("crawl", columns, table_rows))
    if any(r["status"] != "healthy" for r in rows):
        raise typer.Exit(1)


def _page_kind(body: bytes) -> str:
    """What a saved page is by its first characters (a BOM and white space skipped): html, json or other."""
    if b"\x00" in body[:4096]:
        return "other"
    start = body.lstrip(b"\xef\xbb\xbf \t\r\n\f")[:1]
    return {b"<": "html", b"{": "json", b"[": "json"}.get(start, "other")


@app.command()
def parse(
    operator: str = typer.Argument(..., metavar="OP", help="operator (slug, name or alias, e.g. iliad, 1Mobile)"),
    file: Path = typer.Argument(..., help="the saved offers page (HTML; spusu: its JSON)"),
    url: Optional[str] = typer.Option(None, help="URL the page was saved from (default: the operator's offers page)"),
    today: Optional[str] = typer.Option(None, help="crawl day for dates without a year, YYYY-MM-DD"),
    as_json: bool = typer.Option(False, "--json", help="print the items as JSON instead of a table"),
):
    """Parse one saved page into offer items (no database).

    Follow-up pages (details, JSON endpoints) are read from an `index.json` beside the file when there is one.
    """
    from contract.offer import InvalidOffer, normalise
    from spiders.saved_page import index_beside, parse_file

    (operator,) = _operators_or_exit([operator])
    today = day_or_exit(today, "--today")
    if url is not None and not re.match(r"https?://[^/\s]+", url):
        fail(f"--url {url!r} is not a web address: write it as http(s)://host/path")
    if not file.is_file():
        if file.is_dir():
            fail(f"{file} is a folder, not a saved page")
        if file.exists():
            fail(f"{file} is not a regular file: give a saved HTML page of the operator")
        fail(f"no such file: {file}")
    kind = _page_kind(file.read_bytes())
    if kind == "other":
        fail(f"{file} is not an HTML page (a saved offers page starts with '<')")
    items: list[dict] = []
    dropped: dict[str, int] = {}
    try:
        saved_url, pages = index_beside(file)
        raw_items = parse_file(operator, file, url=url or saved_url, today=today, pages=pages)
    except Exception as exc:  # noqa: BLE001 — a page the spider cannot read is bad input, not a crash
        if kind == "json":
            fail(f"{file} is not an HTML page (it is JSON, which the {operator} spider does not read)")
        fail(f"{file}: the {operator} spider cannot read this page ({type(exc).__name__}: {exc})", code=1)
    for raw in raw_items:
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


def _price_text(it: dict, rates) -> str:
    """The price in its own currency; for another currency than euro, below it its euro equivalent at the
    configured rates, or that there is none."""
    from contract.offer_query import eur_cents

    currency = it.get("currency") or "EUR"
    shown = money(it["price_cents"], currency)
    if currency == "EUR":
        return shown
    converted = eur_cents(it, rates)
    return f"{shown}\n[dim]{'≈ ' + euro(converted) if converted is not None else 'no € rate'}[/]"


def _offers_table(items: list[dict], title: str, rates=None) -> None:
    """The offers, as many columns as the terminal holds: the name (its key below it), price and period, GB and
    5G first; prices are never cut, names wrap. A price in another currency shows its euro equivalent at the
    configured rates (PROMOWATCH_RATES_FILE), named with their day."""
    from contract.offer_query import eur_per_gb_cents

    capped = any(it.get("data_5g") and it.get("data_5g_limited") for it in items)
    five_g_note = "5G yes* = 5G at a capped speed" if capped else None
    foreign = any((it.get("currency") or "EUR") != "EUR" for it in items)
    if foreign:
        rate_note = (
            f"≈ € at the ECB reference rates of {rates.day}"
            if rates is not None
            else "no € rate: set PROMOWATCH_RATES_FILE to the ECB's eurofxref-daily.xml"
        )
    else:
        rate_note = None
    columns = [
        Column("operator", keep=70),
        Column("offer / key", fold=24),
        Column("type", keep=20),
        Column("price", "right", note=rate_note),
        Column("per", keep=90),
        Column("GB", "right", keep=80),
        Column("€/GB", "right", keep=40),
        Column("5G", "center", keep=60, note=five_g_note),
        Column("activation", "right", keep=50),
        Column("who", keep=30, fold=12),
        Column("promo until", keep=10),
    ]
    rows = []
    for it in items:
        who = it.get("eligibility", "all")
        if it.get("eligible_from"):
            who += " from " + ", ".join(it["eligible_from"])
        per_gb = eur_per_gb_cents(it, rates)
        rows.append(
            [
                it["operator"],
                f"{escape(it['name'])}\n[dim]{escape(it['offer_key'])}[/]",
                it["plan_type"],
                _price_text(it, rates),
                f"{it['period_days']} days, once" if it["plan_type"] == "esim_trip" else period(it.get("period_days")),
                _gb(it),
                "" if per_gb is None or it.get("data_unlimited") else f"{per_gb / 100:.3f}".replace(".", ","),
                ("yes*" if it.get("data_5g_limited") else "yes") if it.get("data_5g") else "",
                money(it.get("activation_cents"), it.get("currency") or "EUR"),
                who,
                it.get("promo_until") or "",
            ]
        )
    console.print(fit_table(title, columns, rows))


@app.command()
def offers(
    operator: List[str] = typer.Option(
        None, "--operator", help="only these operators (repeatable; slug, name or alias, any case)"
    ),
    plan_type: List[str] = typer.Option(
        None, "--plan-type", help="only these plan types (repeatable): prepaid, postpaid, tourist, esim_trip, ..."
    ),
    max_price: Optional[str] = typer.Option(None, "--max-price", help="at most this many euro per period, e.g. 9,99"),
    min_gb: Optional[str] = typer.Option(
        None, "--min-gb", help="at least this many GB, e.g. 10 or 1,5 (unlimited passes)"
    ),
    only_5g: bool = typer.Option(False, "--5g", help="only offers with 5G"),
    origin: Optional[str] = typer.Option(None, "--from", help="what a customer of this operator can take by porting"),
    sort: str = typer.Option(
        "operator",
        "--sort",
        help="price | gb | eur-per-gb (per 30 days, unlimited as the biggest bundle) | year (12-month cost) | operator",
    ),
    as_json: bool = typer.Option(False, "--json", help="print the offers as JSON instead of a table"),
):
    """The offers currently stored, filtered and sorted."""
    from contract.offer import OPERATORS, PLAN_TYPES
    from contract.offer_query import SORTS, OfferFilter, eur_cents
    from storage.repository import find_offers

    ops = _operators_or_exit(list(operator), with_spider=False) if operator else []
    if origin:
        origin = operator_or_exit(origin, OPERATORS, what="--from operator")
    bad = [p for p in plan_type or [] if p not in PLAN_TYPES]
    if bad or sort not in SORTS:
        fail(
            f"unknown {'plan type ' + ', '.join(bad) if bad else 'sort ' + sort}; "
            f"known: {', '.join(PLAN_TYPES if bad else SORTS)}"
        )
    wanted = OfferFilter(
        operators=set(ops),
        plan_types=set(plan_type or []),
        max_price_cents=money_or_exit(max_price, "--max-price"),
        min_gb=gb_or_exit(min_gb, "--min-gb"),
        only_5g=only_5g,
        origin=origin,
        rates=rates_or_exit(),
    )
    items = find_offers(wanted, sort)
    if as_json:
        day = wanted.rates.day.isoformat() if wanted.rates is not None else None
        print_json([{**i, "price_eur_cents": eur_cents(i, wanted.rates), "eur_rates_day": day} for i in items])
    else:
        title = count(len(items), "offer") + (f" a customer of {origin} can take by porting" if origin else "")
        _offers_table(items, title=title, rates=wanted.rates)


def _find_offer(operator: str, wanted: str) -> dict:
    """The stored offer (active or not) of `operator` whose key is `wanted`, or whose name is (any case), or whose
    name alone contains it; exit 1 with the close keys when none or several match."""
    import difflib

    from storage.repository import list_offers

    stored = list_offers(operator, active_only=False)
    folded = wanted.strip().casefold()
    for rule in (
        lambda o: o["offer_key"] == wanted,
        lambda o: o["offer_key"].casefold() == folded,
        lambda o: o["name"].casefold() == folded,
        lambda o: folded in o["name"].casefold(),
    ):
        found = [o for o in stored if rule(o)]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            keys = ", ".join(f"{o['offer_key']} ({o['name']})" for o in found[:8])
            fail(f"{wanted!r} matches {len(found)} offers of {operator}; give the key: {keys}", code=1)
    names = {o["offer_key"].casefold(): o["offer_key"] for o in stored}
    names.update({o["name"].casefold(): o["offer_key"] for o in stored})
    close = list(dict.fromkeys(names[c] for c in difflib.get_close_matches(folded, list(names), n=5, cutoff=0.5)))
    hint = f"; close keys: {', '.join(close)}" if close else f" (see `promowatch offers --operator {operator}`)"
    fail(f"no offer {wanted!r} of {operator}{hint}", code=1)


def _gaps(operator: str, offer_key: str) -> list[tuple[str, str | None]]:
    """(removed at, returned at or None) for each time the offer was withdrawn, oldest first."""
    from storage.repository import list_events

    events = [
        e
        for kind in ("removed", "returned")
        for e in list_events(operator=operator, kind=kind, limit=None)
        if e["offer_key"] == offer_key
    ]
    gaps: list[tuple[str, str | None]] = []
    for e in sorted(events, key=lambda e: (e["created_at"], e["id"])):
        if e["kind"] == "removed":
            gaps.append((e["created_at"], None))
        elif gaps and gaps[-1][1] is None:
            gaps[-1] = (gaps[-1][0], e["created_at"])
    return gaps


def _gap_text(back) -> str:
    return "removed → returned" if back else "removed"


@app.command()
def history(
    operator: str = typer.Argument(..., metavar="OP", help="operator (slug, name or alias, any case)"),
    offer: str = typer.Argument(
        ..., metavar="OFFER", help="the offer's key (`offers` shows it) or its name (a unique match, any case)"
    ),
    as_json: bool = typer.Option(False, "--json", help="print the versions as JSON instead of a table"),
):
    """Every version an offer has had, and when it was withdrawn and came back."""
    from contract.offer import OPERATORS
    from storage.repository import offer_history

    operator = operator_or_exit(operator, OPERATORS)
    offer_key = _find_offer(operator, offer)["offer_key"]
    versions = offer_history(operator, offer_key) or []
    if as_json:
        print_json(versions)
        return
    gaps = _gaps(operator, offer_key)

    def spans(v) -> list[tuple[str, str | None]]:
        """The stretches a version was on offer: from its start to its end (None: now), less the gaps."""
        out, start, end = [], v["valid_from"], v["valid_to"]
        for removed, back in gaps:
            if start is None or removed < start or (end is not None and removed >= end):
                continue
            out.append((start, removed))
            start = back if back is not None and (end is None or back < end) else None
        return out + ([(start, end)] if start is not None else [])

    rows = [
        (
            begin,
            when(begin),
            when(until) if until else "now",
            money(v["item"]["price_cents"], v["item"].get("currency") or "EUR"),
            _gb(v["item"]),
            money(v["item"].get("activation_cents"), v["item"].get("currency") or "EUR"),
            v["item"].get("promo_until") or "",
        )
        for v in versions
        for begin, until in spans(v)
    ]
    rows += [
        (removed, when(removed), when(back) if back else "now", "[dim]not offered[/]", "", "", _gap_text(back))
        for removed, back in gaps
    ]
    columns = [
        Column("from"),
        Column("to"),
        Column("price", "right"),
        Column("GB", "right", keep=50),
        Column("activation", "right", keep=40),
        Column("promo until", keep=60, fold=10),
    ]
    table_rows = [list(row[1:]) for row in sorted(rows, key=lambda r: r[0])]
    console.print(fit_table(f"{operator} / {escape(offer_key)}", columns, table_rows))


def _fact(value) -> str:
    if value is None:
        return "?"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return ", ".join(value) if isinstance(value, list) else str(value)


def _known(entry: dict, key: str) -> str:
    """A traveller's fact that may be unconfirmed: "unknown" for null; empty when the entry has no such key."""
    if key not in entry:
        return ""
    return "unknown" if entry[key] is None else _fact(entry[key])


def _hotspot(entry: dict) -> str:
    """A travel eSIM's hotspot: yes, "yes, 1 GB" (a day), no or ?; empty for an operator (not in its facts)."""
    if "hotspot" not in entry:
        return ""
    cap = entry.get("hotspot_gb_per_day")
    return f"yes, {gb(cap)} GB" if entry["hotspot"] and cap else _fact(entry["hotspot"])


@app.command()
def operators(as_json: bool = typer.Option(False, "--json", help="print the facts as JSON instead of a table")):
    """Every operator and travel-eSIM provider: network, 5G, eSIM, top-up and renewal, offers page, app, hotspot,
    the currency its prices are read in ('?' = not confirmed), how to pay from abroad and whether a codice fiscale
    is needed (unknown when not confirmed)."""
    from contract.catalogue import load
    from contract.offer import OPERATORS as ALL
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
                "currency": spider.currency if spider else None,
            }
        )
    if as_json:
        print_json(rows)
        return
    columns = [
        Column("operator"),
        Column("network", keep=60, fold=12),
        Column("kind", keep=55),
        Column("5G", keep=50),
        Column("eSIM", keep=45),
        Column("top up online", keep=20, fold=10),
        Column("renews", keep=30),
        Column("from", keep=15, fold=10),
        Column("billing", keep=25),
        Column("app", keep=40, fold=10),
        Column("hotspot", keep=35, note="hotspot N GB = N GB a day may be shared"),
        Column("prices in", keep=45),
        Column("offers page"),
        Column("min offers", "right", keep=5),
        Column("pay from abroad", keep=12, fold=10),
        Column("codice fiscale", keep=10),
    ]
    table_rows = [
        [
            escape(r.get("name", r["operator"])),
            escape(_fact(r.get("host_network")) if not r.get("network_note") else r["network_note"]),
            "travel eSIM" if r.get("kind") == "travel_esim" else "SIM",
            _fact(r.get("has_5g")),
            _fact(r.get("esim")),
            _fact(r.get("top_up_online") if r.get("top_up_online") or "top_up" not in r else r["top_up"]),
            _fact(r.get("renews_automatically")),
            _fact(r.get("renews_from")),
            _fact(r.get("billing")),
            escape(_fact(r.get("app"))),
            _hotspot(r),
            r.get("currency") or "",
            escape(r.get("offers_page") or ""),
            "no spider" if r["min_offers"] is None else str(r["min_offers"]),
            _known(r, "pay_from_abroad"),
            _known(r, "needs_codice_fiscale"),
        ]
        for r in rows
    ]
    console.print(fit_table("operators ('?' = not confirmed)", columns, table_rows))


@app.command()
def status(as_json: bool = typer.Option(False, "--json", help="print the status as JSON instead of a table")):
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
    columns = [
        Column("operator"),
        Column("last crawl", keep=60),
        Column("status", fold=7),
        Column("offers", "right", keep=50),
        Column("dropped", "right", keep=20),
        Column("failures in a row", "right", keep=40, fold=8),
        Column("next run", keep=30),
        Column("error", keep=55, fold=18),  # a failed operator's reason before its offers and next run
    ]
    table_rows = [
        [
            r["operator"],
            when(r.get("finished_at")),
            r["status"],
            str(r.get("items_stored", "")),
            str(r.get("items_dropped", "")),
            str(r.get("consecutive_failures", "")),
            when(r.get("next_run")),
            escape(first_words(r.get("error") or "", 60)),
        ]
        for r in rows
    ]
    console.print(fit_table("status", columns, table_rows, hidden_hint="widen the terminal or use status --json"))


# commands defined in their own modules, on this same app (imports there stay lazy)
from promowatch import (  # noqa: E402
    cli_capture,
    cli_events,
    cli_outbox,
    cli_retention,
    cli_service,
    cli_stay,
    cli_subscriptions,
    cli_web,
)

for _module in (cli_events, cli_subscriptions, cli_outbox, cli_retention, cli_service, cli_capture, cli_web, cli_stay):
    _module.register(app)


def main(args: list[str] | None = None) -> None:
    """The command line. Bad input ends any command with one line on stderr, exit 2: a PROMOWATCH_* variable
    that cannot be used (storage.environment, checked before anything runs; `--help` is shown whatever the
    environment) and a usage error (Click's, with the command and where to find its help). A database that cannot
    be used (storage.engine.DatabaseUnavailable, or a driver error that `explain` recognises) is one line too:
    exit 2 for a wrong setting, 1 otherwise."""
    from storage.environment import BadEnvironment, check_environment

    args = sys.argv[1:] if args is None else list(args)
    try:
        if "--help" not in args:
            check_environment()
        code = app(args, standalone_mode=False)  # Click's errors come here instead of its boxed messages
    except BadEnvironment as exc:
        code = _one_line(str(exc), exc.exit_code)
    except _CLICK_ERRORS as exc:
        code = _usage_error(exc, args)
    except typer.Abort:
        code = _one_line("aborted", 1)
    except Exception as exc:
        problem = _database_problem(exc)
        if problem is None:
            raise
        code = _one_line(str(problem), problem.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


_CLICK_ERRORS: type[Exception]
try:  # Typer's own copy of Click derives Click's exceptions from typer.TyperException
    _CLICK_ERRORS = typer.TyperException
except AttributeError:  # older Typer versions raise Click's own
    import click

    _CLICK_ERRORS = click.ClickException


def _one_line(message: str, code: int) -> int:
    try:
        fail(message, code)
    except typer.Exit as done:
        return done.exit_code
    return code


def _usage_error(exc, args: list[str]) -> int:
    """A Click error as one line: which command, what is wrong (with the value typed), where the help is."""
    ctx = getattr(exc, "ctx", None)
    code = getattr(exc, "exit_code", 2)
    if type(exc).__name__ == "NoArgsIsHelpError":  # the help was shown: a group or app called without a command
        return code
    command = ctx.command_path if ctx is not None else "promowatch"
    message = exc.format_message().strip().rstrip(".")
    param = getattr(exc, "param", None)
    typed = _typed(args, param) if param is not None else None
    if typed is not None and param is not None:
        hint = "/".join(param.opts)
        if _not_finite(typed):  # nan fails a range check, whose message would send the user astray
            message = f"{hint} {typed}: not a number; give a number such as 1 or 2.5"
        else:
            message = f"{hint} {typed}: {message.split(': ', 1)[-1].lower()}"
    elif message:
        message = message[0].lower() + message[1:]
    return _one_line(f"{command}: {message} (see {command} --help)", code)


def _not_finite(text: str) -> bool:
    try:
        return not math.isfinite(float(text))
    except ValueError:
        return False


def _typed(args: list[str], param) -> str | None:
    """What was typed for an option (`--opt VALUE` or `--opt=VALUE`, the last one); None for an argument."""
    if getattr(param, "param_type_name", "") != "option":
        return None
    typed = None
    for i, arg in enumerate(args):
        for opt in param.opts:
            if arg == opt and i + 1 < len(args):
                typed = args[i + 1]
            elif arg.startswith(opt + "="):
                typed = arg[len(opt) + 1 :]
    return typed


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
