"""The site: `create_app()` builds the FastAPI application that `promowatch web` serves with Uvicorn.

A factory so tests and the service build as many as they need, each on its own database: the database URL
(None: storage's default, PROMOWATCH_DATABASE_URL or the user's data file), the reader's time zone and the
configuration live in `app.state`, where every router reads them. Areas are routers (pages, feeds, API,
health); a new area (the subscription pages) is one more `include_router`. Nothing is fetched from outside:
the stylesheet is served from web/static, the interactive API docs (which load scripts from a CDN) are off, the
OpenAPI schema is on.

Several worker processes (`promowatch web --workers N`) need Uvicorn to import the app in each of them:
`from_setup` is that factory ("web.app:from_setup"). It builds the same app from what the command resolved,
written by `write_setup` to a JSON file only its user can read (it holds the mail password and tokens: never
a command line, never the environment) whose path PROMOWATCH_WEB_SETUP gives.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from alerts.channels import ChannelSettings, MailSettings
from alerts.render import DEFAULT_TZ
from web import admin, api, feeds, health, manage, metrics, pages, stay, subscribe
from web.cache import PageCache
from web.security import SecurityHeaders

STATIC = Path(__file__).with_name("static")
#: the environment variable naming the setup file `from_setup` reads
SETUP = "PROMOWATCH_WEB_SETUP"


def create_app(database_url: str | None = None, timezone: str = DEFAULT_TZ, config: dict | None = None) -> FastAPI:
    """The site on `database_url`, times shown in `timezone`; `config` (the service configuration's sections,
    e.g. "web", "mail") is kept in `app.state.config` for the areas that need it."""
    app = FastAPI(
        title="promowatch",
        summary="Offers of Italian mobile operators, their price history and changes (read-only)",
        version="1",
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
    )
    app.state.database_url = database_url
    app.state.zone = ZoneInfo(timezone)
    app.state.config = dict(config or {})
    app.add_middleware(SecurityHeaders)
    app.add_middleware(PageCache, database_url=database_url)
    app.state.metrics = metrics.registry(database_url)
    app.add_middleware(metrics.RequestMetrics, registry=app.state.metrics)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for area in (pages, stay, feeds, api, health, subscribe, manage, metrics, admin):
        app.include_router(area.router)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        if request.url.path.startswith("/api/") or exc.status_code != 404:
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        return pages.not_found(request)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError):
        problems = "; ".join(f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in exc.errors())
        return JSONResponse({"detail": problems}, status_code=400)

    return app


def write_setup(path: Path, database_url: str | None, timezone: str, config: dict) -> None:
    """Keep what `create_app` is given in `path` (JSON, mode 0600) for `from_setup`. `config` holds plain values
    (base_url, {"admin_token": ...} as "web") and the ChannelSettings as "channels"."""
    plain = {**config, "channels": asdict(config["channels"])} if config.get("channels") else dict(config)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump({"database_url": database_url, "timezone": timezone, "config": plain}, out)


def from_setup() -> FastAPI:
    """The site as `write_setup` kept it in the file PROMOWATCH_WEB_SETUP names: Uvicorn's factory in every
    worker process."""
    setup = json.loads(Path(os.environ[SETUP]).read_text("utf-8"))
    config = setup["config"]
    channels = config.get("channels")
    if channels:
        mail = MailSettings(**channels["mail"]) if channels.get("mail") else None
        config["channels"] = ChannelSettings(**{**channels, "allowed": tuple(channels["allowed"]), "mail": mail})
    return create_app(setup["database_url"], timezone=setup["timezone"], config=config)
