"""`promowatch web`: the site (web/app.py) on the database the other commands use, served by Uvicorn.

Defined on the CLI's Typer app by `register(app)`, like the other command modules. The database is opened (and
migrated) before the server starts, so a wrong PROMOWATCH_DATABASE_URL is one line and exit 2, not a page of
errors on the first request; a port already taken is refused the same way. The service configuration
(`--config`, else PROMOWATCH_CONFIG) gives the subscribe pages the operator's `[mail]` and `[channels]`, the
links' `[web] base_url`, the address to listen on (`[web] host` / `port`, which --host / --port override) and
the proxies whose X-Forwarded-For is believed (`[web] trusted_proxies`). `promowatch run` starts this command as
its child when `[web] enabled = true`.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Optional

import typer

from promowatch.cli_common import console, fail


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
    ):
        """Serve the site: offers, price history, what changed, operators, feeds, JSON API, subscribe and manage."""
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        from promowatch.service_config import ConfigError, load_config
        from storage.engine import database_url, get_engine, shown

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
        url = database_url()
        get_engine(url)  # opened and migrated now: a bad database is one line before anything listens
        problem = _port_free(host, port)
        if problem:
            fail(f"cannot listen on {host}:{port} ({problem}): choose another --port or stop what uses it", code=1)
        import uvicorn

        from web.app import create_app

        shown_host = f"[{host}]" if ":" in host else host
        console.print(
            f"promowatch web: http://{shown_host}:{port}/ on database {shown(url)} (Ctrl-C stops)",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )
        site = create_app(url, timezone=tz, config={"channels": cfg.channel_settings(), "base_url": cfg.web.base_url})
        uvicorn.run(
            site,
            host=host,
            port=port,
            log_level="warning",
            access_log=False,  # an access log would name the signed links (and a subscriber's IP)
            proxy_headers=True,
            forwarded_allow_ips=list(cfg.web.trusted_proxies),
        )
