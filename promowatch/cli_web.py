"""`promowatch web`: the site (web/app.py) on the database the other commands use, served by Uvicorn.

Defined on the CLI's Typer app by `register(app)`, like the other command modules. The database is opened (and
migrated) before the server starts, so a wrong PROMOWATCH_DATABASE_URL is one line and exit 2, not a page of
errors on the first request; a port already taken is refused the same way. The service configuration
(`--config`, else PROMOWATCH_CONFIG) gives the subscribe pages the operator's `[mail]` and `[channels]`, the
links' `[web] base_url`, the address to listen on (`[web] host` / `port`, which --host / --port override) and
the proxies whose X-Forwarded-For is believed (`[web] trusted_proxies`) and the admin token (`[web]
admin_token`). `promowatch run` starts this command as its child when `[web] enabled = true`.

`--workers N` / `[web] workers` (N > 1): Uvicorn's worker processes share the port, each building the site
through the factory web.app:from_setup from a setup file in a private run folder (mkdtemp, 0700) that also
holds prometheus_client's multiprocess folder (/metrics adds up every worker's requests). The folder is removed
when the server stops. The service secret is read (made, on a new installation) here, before the workers start,
so two of them never race to make it.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Any, Optional

import typer

from promowatch.cli_common import console, fail
from promowatch.service_config import MAX_WEB_WORKERS


def _port_free(host: str, port: int) -> str | None:
    """None when `host:port` can be listened on, else why not (in words)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def register(app: typer.Typer) -> None:
    """Define `web` on the CLI's app."""

    @app.command()
    def web(
        host: Optional[str] = typer.Option(
            None, "--host", help="address to listen on (0.0.0.0: every interface) [default: [web] host, 127.0.0.1]"
        ),
        port: Optional[int] = typer.Option(
            None, "--port", min=1, max=65535, help="TCP port to listen on [default: [web] port, 8000]"
        ),
        tz: str = typer.Option("Europe/Rome", "--tz", help="the time zone pages show times in (IANA name)"),
        config: Optional[Path] = typer.Option(None, "--config", help="TOML config (default: $PROMOWATCH_CONFIG)"),
        workers: Optional[int] = typer.Option(
            None,
            "--workers",
            min=1,
            max=MAX_WEB_WORKERS,
            help="worker processes serving the site, e.g. one per core [default: [web] workers, 1]",
        ),
    ):
        """Serve the site: offers, price history, what changed, operators, feeds, JSON API, subscribe and manage."""
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        from promowatch.service_config import ConfigError, load_config
        from storage.engine import database_url, get_engine, shown
        from storage.secret import service_secret

        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            fail(f"--tz {tz!r} is not a time zone: give an IANA name such as Europe/Rome or UTC")
        try:
            cfg = load_config(config)
        except ConfigError as exc:
            fail(f"configuration: {exc}")
        host = host or cfg.web.host
        port = port or cfg.web.port
        workers = workers or cfg.web.workers
        url = database_url()
        get_engine(url)  # opened and migrated now: a bad database is one line before anything listens
        service_secret(url)  # made now (new installation), not by several workers at once
        problem = _port_free(host, port)
        if problem:
            fail(f"cannot listen on {host}:{port} ({problem}): choose another --port or stop what uses it", code=1)
        import uvicorn

        from web.app import SETUP, create_app, write_setup

        shown_host = f"[{host}]" if ":" in host else host
        processes = f", {workers} worker processes" if workers > 1 else ""
        console.print(
            f"promowatch web: http://{shown_host}:{port}/ on database {shown(url)}{processes} (Ctrl-C stops)",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )
        site_config = {
            "channels": cfg.channel_settings(),
            "base_url": cfg.web.base_url,
            "web": {"admin_token": cfg.web.admin_token},
        }
        server: dict[str, Any] = {
            "host": host,
            "port": port,
            "log_level": "warning",
            "access_log": False,  # an access log would name the signed links (and a subscriber's IP)
            "proxy_headers": True,
            "forwarded_allow_ips": list(cfg.web.trusted_proxies),
        }
        if workers == 1:
            uvicorn.run(create_app(url, timezone=tz, config=site_config), **server)
            return
        run_dir = Path(tempfile.mkdtemp(prefix="promowatch-web-"))
        try:
            (run_dir / "metrics").mkdir()
            write_setup(run_dir / "setup.json", url, tz, site_config)
            os.environ[SETUP] = str(run_dir / "setup.json")  # the workers inherit the environment
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(run_dir / "metrics")
            uvicorn.run("web.app:from_setup", factory=True, workers=workers, **server)
        finally:
            shutil.rmtree(run_dir, ignore_errors=True)
