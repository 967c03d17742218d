"""`promowatch send`, `promowatch notifications` and `promowatch test-notify`, defined by `register(app)`.

Channel URLs carry secrets: these commands print only masked URLs and masked errors (alerts.deliver masks them).
Times are stored in UTC and shown in the reader's zone (the system's, or TZ), the zone named. The words `send`
prints for rows (pending, dead, failed, ambiguous, skipped, leased = sending) are all `--status` values of
`notifications`. Heavy imports (Apprise, the database) happen inside the commands.
"""

from __future__ import annotations

from datetime import datetime
from typing import Optional

import typer
from rich.markup import escape

from promowatch.cli_common import Column, console, count, err, fail, fit_table, print_json

STATUS_COLOURS = {"pending": "yellow", "sending": "cyan", "sent": "green", "dead": "red"}
LANGS = ("it", "en", "zh")


def _when(iso: str | None) -> str:
    """An ISO UTC time in the reader's zone, the zone named: "2026-12-02 10:00 CET"."""
    if not iso:
        return ""
    return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M %Z")


def _short_url(masked: str | None) -> str:
    """A masked URL without its query (Apprise's defaults: method, retry, overflow, ...); --json has it all."""
    return (masked or "").split("?", 1)[0]


def _offer(row: dict) -> str:
    """The offer as a person knows it: operator and name (the key only when the offer is gone)."""
    if row["digest"]:
        return f"digest {row['digest']} ({count(len(row['event_ids']), 'event')})"
    if row.get("offer_name"):
        return f"{row['operator'] or ''} {row['offer_name']}".strip()
    if row["operator"] or row["offer_key"]:
        return f"{row['operator'] or ''} {row['offer_key'] or ''}".strip()
    return f"event {row['event_id']}" if row["event_id"] is not None else ""


def _due(row: dict) -> str:
    """When it was sent, when it is due, or (claimed by a sender) until when its lease holds."""
    if row["status"] == "sent":
        return _when(row["sent_at"])
    if row["status"] == "sending" and row["claimed_at"]:
        from alerts.deliver import LEASE

        return f"leased until {_when((datetime.fromisoformat(row['claimed_at']) + LEASE).isoformat())}"
    return _when(row["due_at"])


def _status(row: dict) -> str:
    colour = STATUS_COLOURS.get(row["status"], "white")
    text = f"[{colour}]{row['status']}[/]"
    if row.get("ambiguous_failures"):  # a try went out without an answer: the channel may have it already
        text += f" [magenta](maybe delivered {row['ambiguous_failures']}x)[/]"
    return text


def notifications_table(rows: list[dict], title: str):
    """The outbox rows, as many columns as the terminal holds: the channel URL whole, the error's first words
    ("…" when shortened: `--json` has it all)."""
    columns = [
        Column("id", "right"),
        Column("subscription", "right", keep=20),
        Column("channel", keep=75),
        Column("kind", keep=60),
        Column("offer", keep=70, fold=8),
        Column("status", fold=10),
        Column("attempts", "right", keep=30),
        Column("due / sent", keep=50, fold=10),
        Column("last error", keep=72, cut=16),
    ]
    table_rows = []
    for r in rows:
        channel = _short_url(r["channel"]) or f"channel {r['channel_id']}"
        table_rows.append(
            [
                str(r["id"]),
                str(r["subscription_id"]),
                escape(channel),
                escape(r["kind"] or ("digest" if r["digest"] else "")),
                escape(_offer(r)),
                _status(r),
                str(r["attempts"]),
                _due(r),
                escape(" ".join((r["last_error"] or "").split())),
            ]
        )
    return fit_table(title, columns, table_rows)


def register(app: typer.Typer) -> None:
    """Define `send`, `notifications`, `retry` and `test-notify` on the CLI's app."""

    @app.command()
    def send(
        limit: int = typer.Option(500, "--limit", min=1, help="at most this many notifications (one run)"),
        concurrency: Optional[int] = typer.Option(
            None, "--concurrency", min=1, max=256, help="sends at the same time, per worker ([sender] concurrency: 16)"
        ),
        loop: bool = typer.Option(False, "--loop", help="keep sending as rows come due, until stopped (SIGTERM)"),
        workers: Optional[int] = typer.Option(
            None, "--workers", min=1, max=64, help="with --loop: sender processes ([sender] workers: 1)"
        ),
        batch: Optional[int] = typer.Option(
            None, "--batch", min=1, max=10_000, help="with --loop: rows claimed at a time (8 x concurrency)"
        ),
        until_empty: bool = typer.Option(
            False, "--until-empty", help="with --loop: exit once nothing is due and nothing is being sent"
        ),
        max_seconds: Optional[float] = typer.Option(
            None, "--max-seconds", min=0.1, help="with --loop: exit after this long whatever is left"
        ),
        lease_seconds: Optional[float] = typer.Option(
            None,
            "--lease-seconds",
            min=1,
            max=86400,
            help="a row claimed longer ago than this by a sender that died is sent again (600)",
        ),
        idle_poll: float = typer.Option(
            0.5, "--idle-poll", min=0.05, max=60, help="with --loop: seconds between looks while nothing is due"
        ),
        max_attempts: int = typer.Option(6, "--max-attempts", min=1, help="a notification is dead after these"),
        ambiguous_max_attempts: int = typer.Option(
            3,
            "--ambiguous-max-attempts",
            min=1,
            help="dead after this many tries that were sent but got no answer (each may have arrived)",
        ),
        read_timeout: float = typer.Option(
            15.0,
            "--read-timeout",
            min=0.1,
            max=300,
            help="seconds to wait for a channel's answer (URL rto= wins)",
        ),
        connect_timeout: float = typer.Option(
            5.0,
            "--connect-timeout",
            min=0.1,
            max=300,
            help="seconds to connect to a channel (URL cto= wins)",
        ),
        as_json: bool = typer.Option(False, "--json", help="print the send report (every row's result) as JSON"),
    ):
        """Send the notifications that are due; exit 1 when any failed. With --loop, keep sending (several
        worker processes with --workers; more hosts may run it against one PostgreSQL database)."""
        from datetime import timedelta

        from alerts.deliver import LEASE, Policy, send_due
        from promowatch.serve import setup_logging
        from promowatch.service_config import ConfigError, load_config

        setup_logging("WARNING")  # the sender's log lines at PROMOWATCH_LOG_LEVEL, as in the service
        try:  # the site's address for the links in messages, and the guarded channels' rule, as the service
            config = load_config()
        except ConfigError as exc:
            fail(str(exc))
        if not loop and (workers or until_empty or max_seconds or batch):
            fail("--workers, --batch, --until-empty and --max-seconds go with --loop")
        policy = Policy(
            max_attempts=max_attempts,
            ambiguous_max_attempts=ambiguous_max_attempts,
            read_timeout=read_timeout,
            connect_timeout=connect_timeout,
            base_url=config.web.base_url,
            allow_private_addresses=config.sender_policy()["allow_private_addresses"],
            sender_name=config.sender_name,
            mail=config.sender_policy()["mail"],
        )
        concurrency = concurrency or config.sender.concurrency
        lease = timedelta(seconds=lease_seconds) if lease_seconds else LEASE
        if loop:
            from promowatch.senders import run_senders

            totals = run_senders(
                workers or config.sender.workers,
                policy=policy,
                concurrency=concurrency,
                batch=batch,
                lease=lease,
                until_empty=until_empty,
                idle_poll=idle_poll,
                max_seconds=max_seconds,
            )
            if as_json:
                print_json(totals)
            else:
                console.print(
                    f"sent [green]{totals['sent']}[/] · failed [yellow]{totals['failed']}[/] · dead "
                    f"[red]{totals['dead']}[/] · deferred {totals['deferred']} · skipped {totals['skipped']} — "
                    f"{totals['workers']} worker(s), {totals['seconds']:.2f} s",
                    highlight=False,
                )
            if totals.get("crashed"):
                raise typer.Exit(1)
            return
        report = send_due(limit=limit, concurrency=concurrency, policy=policy, lease=lease)
        if as_json:
            print_json(report.as_dict())
        else:
            line = (
                f"sent [green]{report.sent}[/] · failed [yellow]{report.failed}[/] (will retry) · "
                f"dead [red]{report.dead}[/]"
            )
            if report.ambiguous:
                line += f" · [magenta]{report.ambiguous}[/] of them ambiguous (sent, no answer: may have arrived)"
            if report.skipped:
                line += f" · skipped {report.skipped} (subscription gone)"
            if report.reclaimed:
                line += f" · {report.reclaimed} reclaimed after an expired lease"
            console.print(f"{line} — {report.claimed} due, {report.seconds:.2f} s", highlight=False)
            for row in report.rows:
                if row.get("superseded"):
                    console.print(
                        f"  #{row['id']} {escape(_short_url(row['channel']))}: result not recorded, the row was "
                        f"claimed again meanwhile (now {row['status']})",
                        highlight=False,
                        soft_wrap=True,
                    )
                elif row["status"] in ("pending", "dead"):
                    then = f", next try {_when(row['due_at'])}" if row["status"] == "pending" else ""
                    colour = STATUS_COLOURS[row["status"]]
                    console.print(
                        f"  #{row['id']} {escape(_short_url(row['channel']))}: [{colour}]"
                        f"{row['status']}[/] after {count(row['attempts'], 'attempt')}{then}: "
                        f"{escape(row['error'] or '')}",
                        highlight=False,
                        soft_wrap=True,
                    )
            if report.leased:
                console.print(
                    f"[cyan]{count(report.leased, 'notification')} leased[/] (status sending) by another sender "
                    f"or one that was stopped mid-send, until {_when(report.leased_until)}; a later `send` takes the "
                    f"unfinished ones then (`promowatch notifications --status sending`)",
                    highlight=False,
                    soft_wrap=True,
                )
        if not report.ok:
            raise typer.Exit(1)

    @app.command()
    def notifications(
        status: Optional[str] = typer.Option(
            None,
            "--status",
            help="pending, sending, sent, dead; or failed (to be retried), ambiguous (may have arrived without an "
            "answer), skipped (subscription gone), leased (= sending)",
        ),
        limit: int = typer.Option(100, "--limit", min=1, help="at most this many rows (the newest)"),
        as_json: bool = typer.Option(False, "--json", help="print the rows as JSON (every field, channel masked)"),
    ):
        """The notification outbox, newest first (channel URLs masked)."""
        from alerts.deliver import STATUSES, VIEWS, list_notifications

        if status and status not in STATUSES + VIEWS:
            fail(f"unknown status: {status}; known: {', '.join(STATUSES + VIEWS)}")
        rows = list_notifications(status=status, limit=limit)
        if as_json:
            print_json(rows)
        else:
            console.print(notifications_table(rows, title=count(len(rows), "notification")))

    @app.command()
    def retry(
        ids: list[int] = typer.Argument(
            ..., metavar="ID...", help="dead notifications (`notifications --status dead`)"
        ),
    ):
        """Put dead notifications back in the outbox, due now (the next `send` tries them afresh)."""
        from alerts.deliver import retry_dead

        revived = retry_dead(ids)
        if revived:
            console.print(f"back in the outbox, due now: {', '.join(f'#{i}' for i in revived)}")
        others = [i for i in dict.fromkeys(ids) if i not in revived]
        if others:
            err.print(
                f"[yellow]not dead (sent, still being tried, or unknown), left alone: "
                f"{', '.join(f'#{i}' for i in others)}[/]"
            )
            raise typer.Exit(1)

    @app.command("test-notify")
    def test_notify(
        url: str = typer.Argument(..., help="an Apprise URL, e.g. mailto://... or tgram://..."),
        lang: str = typer.Option("it", "--lang", help="it, en or zh"),
    ):
        """Send one test message to an Apprise URL."""
        from alerts.deliver import UnusableURL, send_test
        from alerts.masking import mask_url
        from promowatch.serve import setup_logging

        setup_logging("WARNING")  # the sender's log lines at PROMOWATCH_LOG_LEVEL, as in the service

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
