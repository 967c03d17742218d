"""`promowatch send`, `promowatch notifications` and `promowatch test-notify`, defined by `register(app)`.

Channel URLs carry secrets: these commands print only masked URLs and masked errors (alerts.deliver masks them).
Heavy imports (Apprise, the database) happen inside the commands.
"""

from __future__ import annotations

from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from promowatch.cli_common import console, fail, print_json

STATUS_COLOURS = {"pending": "yellow", "sending": "cyan", "sent": "green", "dead": "red"}
LANGS = ("it", "en", "zh")


def _when(iso: str | None) -> str:
    return (iso or "")[:16].replace("T", " ")


def _short_url(masked: str | None) -> str:
    """A masked URL without its query (Apprise's defaults: method, retry, overflow, ...); --json has it all."""
    return (masked or "").split("?", 1)[0]


def _offer(row: dict) -> str:
    if row["digest"]:
        return f"digest {row['digest']} ({len(row['event_ids'])} events)"
    if row["operator"] or row["offer_key"]:
        return f"{row['operator'] or ''} {row['offer_key'] or ''}".strip()
    return f"event {row['event_id']}" if row["event_id"] is not None else ""


def notifications_table(rows: list[dict], title: str) -> Table:
    table = Table(title=title)
    for col, justify in (
        ("id", "right"),
        ("subscription", "right"),
        ("channel", "left"),
        ("kind", "left"),
        ("offer", "left"),
        ("status", "left"),
        ("attempts", "right"),
        ("due (UTC)", "left"),
        ("last error", "left"),
    ):
        table.add_column(col, justify=justify, overflow="fold")
    for r in rows:
        colour = STATUS_COLOURS.get(r["status"], "white")
        channel = _short_url(r["channel"]) or f"channel {r['channel_id']}"
        table.add_row(
            str(r["id"]),
            str(r["subscription_id"]),
            escape(channel),
            escape(r["kind"] or ("digest" if r["digest"] else "")),
            escape(_offer(r)),
            f"[{colour}]{r['status']}[/]",
            str(r["attempts"]),
            _when(r["sent_at"]) if r["status"] == "sent" else _when(r["due_at"]),
            escape((r["last_error"] or "")[:200]),
        )
    return table


def register(app: typer.Typer) -> None:
    """Define `send`, `notifications` and `test-notify` on the CLI's app."""

    @app.command()
    def send(
        limit: int = typer.Option(500, "--limit", min=1, help="at most this many notifications"),
        concurrency: int = typer.Option(8, "--concurrency", min=1, help="sends at the same time"),
        max_attempts: int = typer.Option(6, "--max-attempts", min=1, help="a notification is dead after these"),
        as_json: bool = typer.Option(False, "--json"),
    ):
        """Send the notifications that are due; exit 1 when any failed."""
        from alerts.deliver import send_due

        report = send_due(limit=limit, concurrency=concurrency, max_attempts=max_attempts)
        if as_json:
            print_json(report.as_dict())
        else:
            line = (
                f"sent [green]{report.sent}[/] · failed [yellow]{report.failed}[/] (will retry) · "
                f"dead [red]{report.dead}[/]"
            )
            if report.skipped:
                line += f" · skipped {report.skipped} (subscription gone)"
            if report.reclaimed:
                line += f" · {report.reclaimed} reclaimed after an expired lease"
            console.print(f"{line} — {report.claimed} due, {report.seconds:.2f} s", highlight=False)
            for row in report.rows:
                if row["status"] in ("pending", "dead"):
                    then = f", next try {_when(row['due_at'])} UTC" if row["status"] == "pending" else ""
                    colour = STATUS_COLOURS[row["status"]]
                    console.print(
                        f"  #{row['id']} {escape(_short_url(row['channel']))}: [{colour}]"
                        f"{row['status']}[/] after {row['attempts']} attempt(s){then}: "
                        f"{escape(row['error'] or '')}",
                        highlight=False,
                        soft_wrap=True,
                    )
        if not report.ok:
            raise typer.Exit(1)

    @app.command()
    def notifications(
        status: Optional[str] = typer.Option(None, "--status", help="pending, sending, sent, dead"),
        limit: int = typer.Option(100, "--limit", min=1),
        as_json: bool = typer.Option(False, "--json"),
    ):
        """The notification outbox, newest first (channel URLs masked)."""
        from alerts.deliver import STATUSES, list_notifications

        if status and status not in STATUSES:
            fail(f"unknown status: {status}; known: {', '.join(STATUSES)}")
        rows = list_notifications(status=status, limit=limit)
        if as_json:
            print_json(rows)
        else:
            console.print(notifications_table(rows, title=f"{len(rows)} notifications"))

    @app.command("test-notify")
    def test_notify(
        url: str = typer.Argument(..., help="an Apprise URL, e.g. mailto://... or tgram://..."),
        lang: str = typer.Option("it", "--lang", help="it, en or zh"),
    ):
        """Send one test message to an Apprise URL."""
        from alerts.deliver import UnusableURL, mask_url, send_test

        if lang not in LANGS:
            fail(f"unknown language: {lang}; known: {', '.join(LANGS)}")
        try:
            outcome = send_test(url, lang=lang)
        except UnusableURL as exc:
            fail(str(exc), 2)
        if outcome.permanent:
            fail(outcome.error or "unusable URL", 2)
        if not outcome.ok:
            fail(f"sending failed to {_short_url(mask_url(url))}: {outcome.error}", 1)
        console.print(
            f"[green]test message sent[/] to {escape(_short_url(mask_url(url)))}", highlight=False, soft_wrap=True
        )
