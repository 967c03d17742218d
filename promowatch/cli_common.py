"""What every `promowatch` command prints through: the consoles, JSON output, money, and the one-line failure.

One place, so that every command fails the same way (one red line on stderr, exit 2 for bad input, 1 for a
failure) and formats money the same way.
"""

from __future__ import annotations

import json
import sys
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

console = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True)


def print_json(data) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr (markup in `message` is shown as typed), then exit `code`."""
    err.print(f"[red]{escape(message)}[/]", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def euro(cents) -> str:
    """Integer cents as Italian money ("9,99 €"); "" for None."""
    return "" if cents is None else f"{cents / 100:.2f} €".replace(".", ",")
