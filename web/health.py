"""`/healthz` for whoever runs the site: is the database reachable, and how old is each operator's last crawl.

503 when the database cannot be read (the reason in one line, the URL's password masked by storage's message),
200 otherwise: a stale crawl is the scheduler's business, shown here for monitoring to alert on.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from contract.clock import utcnow
from contract.offer import OPERATORS
from storage.repository import as_utc, last_crawls

router = APIRouter(include_in_schema=False)


@router.api_route("/healthz", methods=["GET", "HEAD"])
def healthz(request: Request):
    try:
        crawls = last_crawls(request.app.state.database_url)
    except Exception as exc:  # noqa: BLE001 — any failure to read is "unreachable", said in one line
        reason = " ".join(str(exc).split())[:300] or type(exc).__name__
        return JSONResponse({"database": "unreachable", "error": reason}, status_code=503)
    now = utcnow()
    operators: dict[str, dict] = {}
    for op in OPERATORS:
        run = crawls.get(op)
        if run is None:
            operators[op] = {"last_crawl": None, "age_seconds": None, "status": None}
            continue
        finished = as_utc(datetime.fromisoformat(run["finished_at"]))
        operators[op] = {
            "last_crawl": run["finished_at"],
            "age_seconds": int((now - finished).total_seconds()),
            "status": run["status"],
        }
    return {"database": "ok", "operators": operators}
