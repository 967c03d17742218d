"""`promowatch purge-sent`: the outbox's retention job by hand (alerts/retention.py), defined by `register(app)`.

The service runs the same job on its own (`[retention]` of the config); this command is for a database no
service looks after, or to purge now. It deletes only sent notifications, counted first.
"""

from __future__ import annotations

import typer

from promowatch.cli_common import console, count, print_json


def register(app: typer.Typer) -> None:
    @app.command("purge-sent")
    def purge_sent(
        older_than_days: int = typer.Option(
            90, "--older-than-days", min=1, help="delete the sent notifications sent more than this many days ago"
        ),
        batch: int = typer.Option(1000, "--batch", min=1, help="rows deleted per transaction"),
        max_seconds: float = typer.Option(
            600.0, "--max-seconds", min=1.0, help="stop after this long (run it again to go on)"
        ),
        as_json: bool = typer.Option(False, "--json", help="print the report as JSON"),
    ):
        """Delete old sent notifications, counted (figures keep them); pending, dead rows and history stay."""
        from alerts.retention import purge_sent as purge

        report = purge(older_than_days, batch=batch, max_seconds=max_seconds)
        if as_json:
            print_json(report.as_dict())
            return
        console.print(
            f"{count(report.purged, 'sent notification')} older than {older_than_days} days deleted "
            f"(counted in the figures) in {report.seconds:.1f} s"
            + ("" if report.finished else "; more are left: run it again"),
            highlight=False,
        )
        if report.kept_for_rearm:
            console.print(
                f"{count(report.kept_for_rearm, 'subscription')} with a re-arm window longer than {older_than_days} "
                "days: their sent notifications stay until the window is over",
                highlight=False,
            )
