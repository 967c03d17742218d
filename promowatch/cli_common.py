"""What every `promowatch` command prints through: the consoles, JSON output, money, and the one-line failure.

One place, so that every command fails the same way (one red line on stderr, exit 2 for bad input, 1 for a
failure), reads its options the same way (one money parser, one day parser, one operator resolver) and formats
money, GB and times the same way. Tables are sized to the terminal: `console` honours `COLUMNS` and is 160
columns wide when stdout is not a terminal and `COLUMNS` is not set.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Iterable, NoReturn, Optional

import typer
from rich.console import Console, JustifyMethod, OverflowMethod
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from contract.amounts import gb_option, money_option


def _width() -> Optional[int]:
    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    return None if sys.stdout.isatty() else 160


console = Console(width=_width())
err = Console(stderr=True)


def print_json(data) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr (markup in `message` is shown as typed), then exit `code`."""
    err.print(f"[red]{escape(message)}[/]", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def count(n: int, noun: str) -> str:
    """ "1 event", "2 events", "0 events"."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def euro(cents) -> str:
    """Integer cents as Italian money ("9,99 €"); "" for None."""
    return "" if cents is None else f"{cents / 100:.2f} €".replace(".", ",")


def gb(value) -> str:
    """A quantity of GB with the decimal comma money has ("1,5"); "" for None."""
    return "" if value is None else f"{value:g}".replace(".", ",")


def gb_or_exit(text: Optional[str], flag: str) -> Optional[float]:
    try:
        return gb_option(text, flag)
    except ValueError as exc:
        fail(str(exc))


def money_or_exit(text: Optional[str], flag: str) -> Optional[int]:
    try:
        return money_option(text, flag)
    except ValueError as exc:
        fail(str(exc))


def day_or_exit(text: Optional[str], flag: str) -> Optional[str]:
    """An ISO day (YYYY-MM-DD) typed as an option, as typed; exit 2 with the accepted format otherwise."""
    if text is None:
        return None
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
            raise ValueError
        return date.fromisoformat(text.strip()).isoformat()
    except ValueError:
        fail(f"{flag} {text!r} is not a day: use YYYY-MM-DD, e.g. 2026-09-15")


def operator_or_exit(name: str, known: Optional[Iterable[str]] = None, what: str = "operator") -> str:
    """The slug of the operator `name` means (slug, display name or alias, any case); exit 2 with the known
    names and a close match otherwise."""
    from contract.catalogue import UnknownOperator, resolve_operator

    try:
        return resolve_operator(name, known, what)
    except UnknownOperator as exc:
        fail(str(exc))


def when(moment) -> str:
    """A stored time (UTC; ISO text or datetime) in the reader's local zone, the zone named:
    "2026-12-07 14:05 CET"; "" for None."""
    if moment in (None, ""):
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    local = moment.astimezone()
    return local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or local.strftime("%z"))


def period(days) -> str:
    """What a price is per: "day", "week", "4 weeks", "month", "year" or "N days"."""
    if days is None:
        return ""
    return {1: "day", 7: "week", 28: "4 weeks", 30: "month", 31: "month", 365: "year", 366: "year"}.get(
        int(days), f"{days} days"
    )


@dataclass
class Column:
    """A column of a table sized to the terminal (`fit_table`)."""

    header: str
    justify: JustifyMethod = "left"
    #: the columns with the lowest `keep` go first when the terminal is too narrow (None: never dropped)
    keep: Optional[int] = None
    #: long text (names) wraps at spaces to this many cells at least, never inside a word (keys and URLs are
    #: copied by users); other columns are never wrapped
    fold: Optional[int] = None
    #: a footnote shown under the table when this column is shown (e.g. what a mark in it means)
    note: Optional[str] = None
    #: long text (an error) may be shortened to this many cells with a visible "…" (the full text is in --json)
    cut: Optional[int] = None


def _lines(markup: str) -> list[str]:
    return [Text.from_markup(line).plain for line in markup.split("\n")]


def _cells(markup: str) -> int:
    return max((Text(line).cell_len for line in _lines(markup)), default=0)


def _word(markup: str) -> int:
    """The widest word (text between spaces) of a cell: a wrapped column is never narrower."""
    return max((Text(word).cell_len for line in _lines(markup) for word in line.split()), default=0)


def first_words(text: str, limit: int) -> str:
    """The first words of `text` within `limit` characters, "…" when shortened (the full text is in --json)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0] if " " in text[: limit - 1] else text[: limit - 1]
    return cut.rstrip(" ,;:") + "…"


def fit_table(
    title: str,
    columns: list[Column],
    rows: list[list[str]],
    caption: Optional[str] = None,
    width=None,
    hidden_hint: str = "widen the terminal or use --json",
) -> Table:
    """A Rich table that fits `width` (default: the console's): the least kept columns are left out until
    the others fit with their prices, numbers, times, keys and URLs whole; names wrap at spaces (never inside
    a word); `cut` columns are shortened with "…". A dim line under the table names the columns left out."""
    width = width or console.width
    natural = [max([_cells(c.header), *(_cells(r[i]) for r in rows)]) for i, c in enumerate(columns)]
    needed = []
    for i, c in enumerate(columns):
        if c.fold:
            needed.append(max(min(natural[i], c.fold), _word(c.header), *(_word(r[i]) for r in rows)))
        elif c.cut:
            needed.append(min(natural[i], max(c.cut, _cells(c.header))))
        else:
            needed.append(natural[i])
    shown = list(range(len(columns)))

    def total() -> int:
        return sum(needed[i] + 3 for i in shown) + 1

    while total() > width:
        droppable = [i for i in shown if columns[i].keep is not None]
        if not droppable:
            break
        shown.remove(min(droppable, key=lambda i: (columns[i].keep, -i)))
    excess = total() - width
    for i in sorted(shown, key=lambda i: -needed[i]):  # still too wide: a word longer than the room must fold
        fold = columns[i].fold
        if excess > 0 and fold:
            give = min(excess, needed[i] - max(fold, _word(columns[i].header)))
            if give > 0:
                needed[i] -= give
                excess -= give
    widths = {i: needed[i] for i in shown}
    spare = max(width - total(), 0)
    for i in shown:  # the room left goes to the wrapped and cut columns, in order, up to what they need whole
        if columns[i].fold or columns[i].cut:
            extra = min(spare, natural[i] - widths[i])
            widths[i] += extra
            spare -= extra
    hidden = [columns[i].header for i in range(len(columns)) if i not in shown]
    notes = [columns[i].note for i in shown if columns[i].note]
    if hidden:
        count = f"{len(hidden)} column{'' if len(hidden) == 1 else 's'} hidden"
        notes.append(f"[dim]{count} ({escape(', '.join(hidden))}): {hidden_hint}[/]")
    caption = "\n".join(filter(None, [caption, *notes])) or None
    table = Table(title=title, caption=caption, caption_justify="left")
    for i in shown:
        c = columns[i]
        overflow: OverflowMethod = "fold" if c.fold else "ellipsis"
        table.add_column(c.header, justify=c.justify, overflow=overflow, no_wrap=not c.fold, width=widths[i])
    for r in rows:
        table.add_row(*(r[i] for i in shown))
    return table
