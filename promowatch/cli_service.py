"""`promowatch run` (the foreground service) and `promowatch run --once` (one full cycle), by `register(app)`.

`run` checks its options, the config and the database (it opens, is migrated, is not damaged, can be
written), then becomes the lean service process (promowatch/serve.py: logs to
stderr, stops cleanly on SIGTERM/SIGINT through `Service.stop`). `run --once` crawls
every operator through the crawl worker (detection and matching happen in the pipeline), sends the due
notifications, checks the sources' health, prints a summary, and exits 0 only if every crawl was healthy and
detected and no notification failed; 1 otherwise; 2 for a usage or configuration error.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import timezone
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from promowatch.cli_common import Column, console, count, err, fail, fit_table
from promowatch.serve import scheduler_module, setup_logging


def _load(config_path: Optional[Path]):
    from promowatch.service_config import ConfigError, load_config

    try:
        return load_config(config_path)
    except ConfigError as exc:
        fail(f"configuration: {exc}")


def next_run_times(database_url: str | None = None) -> dict[str, str | None]:
    """Each operator's next scheduled crawl (ISO, UTC) by the config and its last crawl. A config that cannot
    be read ends the command with its one line (exit 2), as for `run`: a blank "next run" would hide it.

    An estimate without jitter: what the service would do, computed without asking the running service.
    """
    from storage.repository import last_crawls

    config = _load(None)
    runs = scheduler_module().next_runs(config, last_crawls(database_url))
    return {
        op: (moment.astimezone(timezone.utc).isoformat(timespec="seconds") if moment else None)
        for op, moment in runs.items()
    }


def _print_cycle(report) -> None:
    columns = [
        Column("operator"),
        Column("status"),
        Column("offers", "right", keep=50),
        Column("new versions", "right", keep=30),
        Column("events", "right", keep=40),
        Column("seconds", "right", keep=20),
        Column("error", fold=24),  # a failed crawl's reason is never hidden
    ]
    rows = [
        [
            c.operator,
            f"[{'green' if c.status == 'healthy' else 'red'}]{c.status}[/]",
            str(c.offers),
            str(c.new_versions),
            "-" if c.events is None else str(c.events),
            f"{c.seconds:.1f}",
            escape(c.error or ""),
        ]
        for c in report.crawls
    ]
    hint = "widen the terminal or see `promowatch status`"
    console.print(fit_table("crawls", columns, rows, width=console.width, hidden_hint=hint))
    notes = Table(title="notifications")
    for col in ("sent", "failed", "dead", "skipped"):
        notes.add_column(col, justify="right")
    if report.send is not None:
        notes.add_row(*(str(report.send.get(k, 0)) for k in ("sent", "failed", "dead", "skipped")))
        console.print(notes)
    else:
        console.print(
            "notifications: not sent ("
            + ("sender disabled in the config)" if report.sender_available else "the sender is not installed)")
        )
    for m in report.health:
        reached = m["delivered"]
        if not reached and not m["failed"]:  # no channel failed and none was reached: there is none
            outcome = escape("no admin channel is configured ([health] admin_channels)")
        else:
            outcome = f"{count(reached, 'admin channel')} reached"
        console.print(f"health {m['kind']}: {escape(m['title'])} — {outcome}", highlight=False)
    healthy = sum(c.status == "healthy" for c in report.crawls)
    colour = "green" if report.ok else "red"
    console.print(
        f"[{colour}]{healthy}/{len(report.crawls)} operators healthy; "
        f"{count(sum(c.offers for c in report.crawls), 'offer')}, "
        f"{count(sum(c.events or 0 for c in report.crawls), 'event')}[/]",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Define `run` on the CLI's app."""

    @app.command()
    def run(
        once: bool = typer.Option(False, "--once", help="one full cycle (crawl, detect, match, send), then exit"),
        offline: bool = typer.Option(False, "--offline", help="answer from the bundled saved pages"),
        fixtures: Optional[Path] = typer.Option(None, "--fixtures", help="answer from saved pages in DIR"),
        config: Optional[Path] = typer.Option(None, "--config", help="TOML config (default: $PROMOWATCH_CONFIG)"),
        as_json: bool = typer.Option(False, "--json", help="with --once: print the cycle's summary as JSON"),
    ):
        """Run the service: scheduled crawls, sender and health alerts (foreground, logs to stderr)."""
        from promowatch.crawling import BUNDLED_FIXTURES

        if offline and fixtures:
            fail("--offline and --fixtures exclude each other")
        if as_json and not once:
            fail("--json goes with --once")
        folder = BUNDLED_FIXTURES if offline else fixtures
        if folder is not None and not Path(folder).is_dir():
            fail(f"fixtures folder {folder} does not exist")
        cfg = _load(config)
        env_folder = os.environ.get("PROMOWATCH_FIXTURES_DIR")
        if folder is None and not cfg.fixtures_dir and env_folder and not Path(env_folder).is_dir():
            fail(f"PROMOWATCH_FIXTURES_DIR={env_folder}: no such folder; point it at saved pages or unset it")
        # a damaged, read-only or unreachable database: one line here (main() prints it), not a crawl worker
        # failing every crawl of the cycle with its traceback, nor a service that starts and fails for months
        from storage.engine import check_database, exposed

        check_database()
        if warning := exposed():
            err.print(f"[yellow]{escape(warning)}[/]", highlight=False, soft_wrap=True)
        if not once and cfg.web.enabled:  # the site's port: one line now, not a child failing in the log
            from promowatch.cli_web import _port_free

            if problem := _port_free(cfg.web.host, cfg.web.port):
                fail(
                    f"[web] cannot listen on {cfg.web.host}:{cfg.web.port} ({problem}): change [web] port in the "
                    "configuration or stop what uses it",
                    code=1,
                )
        if not once:  # the long-running process: replaced by the lean one (promowatch/serve.py), same PID
            args = (
                [sys.executable, "-m", "promowatch.serve"]
                + (["--config", str(config)] if config else [])
                + (["--fixtures", str(Path(folder).resolve())] if folder else [])
            )
            sys.stdout.flush()
            sys.stderr.flush()
            os.execv(sys.executable, args)
        setup_logging("WARNING")
        sched = scheduler_module()
        service = sched.Service(cfg, fixtures_dir=str(Path(folder).resolve()) if folder else None)
        try:
            report = service.run_cycle()
        finally:
            service.worker.shutdown(grace=cfg.shutdown_grace)
        if as_json:
            sys.stdout.write(json.dumps(report.as_dict(), ensure_ascii=False, indent=2, default=str) + "\n")
        else:
            _print_cycle(report)
        raise typer.Exit(0 if report.ok else 1)
