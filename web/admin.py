"""`/admin` for whoever runs the service: each operator's crawl health and last run, the outbox by status, the
dead notifications (masked) with a retry button, the subscriptions by status.

HTTP Basic with the admin token as the password (any user name): the browser asks for it, no login form or
session to keep, and the token never appears in a URL or a log line (Uvicorn's access log shows no headers).
It is compared in constant time. The token comes from PROMOWATCH_ADMIN_TOKEN, else `[web] admin_token`; with
neither the area does not exist (404). The retry form carries a CSRF token derived from the admin token
(HMAC): a browser that holds the credentials sends them with any site's forged POST, never with that token.
Everything shown comes from the functions the command line uses (`status`, `notifications`, `retry`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from alerts.deliver import list_notifications, retry_dead
from contract.offer import OPERATORS
from storage.environment import setting
from storage.figures import figures
from storage.repository import last_crawls
from web.templating import language, page

router = APIRouter(prefix="/admin", include_in_schema=False)
REALM = "promowatch admin"
DEAD_SHOWN = 100
CRAWL_STATUSES = ("healthy", "partial", "blocked", "failed")
_basic = HTTPBasic(auto_error=False, realm=REALM)

WORDS = {
    "it": {
        "title": "Amministrazione",
        "crawls": "Letture per operatore",
        "last_run": "Ultima lettura",
        "dropped": "Scartate",
        "error": "Errore",
        "outbox": "Notifiche in coda, per stato",
        "subscriptions": "Iscrizioni, per stato",
        "dead": "Notifiche abbandonate",
        "no_dead": "Nessuna notifica abbandonata.",
        "channel": "Canale",
        "attempts": "Tentativi",
        "created": "Creata",
        "retry": "Riprova",
        "retried": "notifiche di nuovo in coda, da inviare ora",
        "count": "Quante",
        "none": "nessuna",
    },
    "en": {
        "title": "Admin",
        "crawls": "Crawls per operator",
        "last_run": "Last crawl",
        "dropped": "Dropped",
        "error": "Error",
        "outbox": "Outbox, by status",
        "subscriptions": "Subscriptions, by status",
        "dead": "Dead notifications",
        "no_dead": "No dead notification.",
        "channel": "Channel",
        "attempts": "Tries",
        "created": "Queued",
        "retry": "Retry",
        "retried": "notification(s) back in the outbox, due now",
        "count": "How many",
        "none": "none",
    },
    "zh": {
        "title": "管理",
        "crawls": "各运营商的抓取",
        "last_run": "最近抓取",
        "dropped": "丢弃",
        "error": "错误",
        "outbox": "发件箱（按状态）",
        "subscriptions": "订阅（按状态）",
        "dead": "已放弃的通知",
        "no_dead": "没有已放弃的通知。",
        "channel": "渠道",
        "attempts": "尝试次数",
        "created": "排队时间",
        "retry": "重试",
        "retried": "条通知已重新排队，立即发送",
        "count": "数量",
        "none": "无",
    },
}


def configured_token(request: Request) -> str | None:
    """PROMOWATCH_ADMIN_TOKEN, else `[web] admin_token` of the app's configuration (a mapping or WebConfig)."""
    token = setting("PROMOWATCH_ADMIN_TOKEN")
    if token:
        return token
    web = request.app.state.config.get("web")
    token = web.get("admin_token") if isinstance(web, Mapping) else getattr(web, "admin_token", None)
    return token or None


def admin_only(request: Request, credentials: HTTPBasicCredentials | None = Depends(_basic)) -> str:
    """The admin token when the request carries it as its Basic password; 401 otherwise, 404 with no token set."""
    token = configured_token(request)
    if token is None:
        raise HTTPException(404)
    given = credentials.password if credentials else ""
    if not secrets.compare_digest(given.encode(), token.encode()):
        raise HTTPException(
            401,
            "the admin area needs its token: HTTP Basic, any user name, the token as password",
            headers={"WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"'},
        )
    return token


def csrf_token(admin_token: str) -> str:
    return hmac.new(admin_token.encode(), b"promowatch admin form", hashlib.sha256).hexdigest()


@router.get("")
def admin(request: Request, retried: int | None = None, token: str = Depends(admin_only)):
    db = request.app.state.database_url
    f = figures(db)
    crawl_counts = {op: {s: f.crawls.get((op, s), 0) for s in CRAWL_STATUSES} for op in OPERATORS}
    response = page(
        request,
        "admin.html",
        a=WORDS[language(request)],
        operators=OPERATORS,
        statuses=CRAWL_STATUSES,
        crawls=last_crawls(db),
        crawl_counts=crawl_counts,
        outbox=f.outbox,
        subscriptions=f.subscribers,
        dead=list_notifications(status="dead", limit=DEAD_SHOWN, database_url=db),
        csrf=csrf_token(token),
        retried=retried,
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@router.post("/retry")
async def retry(request: Request, token: str = Depends(admin_only)):
    """A dead notification (the form's `id`) back in the outbox, due now (alerts.deliver.retry_dead)."""
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    if not hmac.compare_digest(form.get("csrf", [""])[0], csrf_token(token)):
        raise HTTPException(403, "the form's CSRF token is missing or wrong: reload /admin and try again")
    try:
        ids = [int(value) for value in form.get("id", [])]
    except ValueError:
        raise HTTPException(400, "id: a notification's number is expected") from None
    revived = await run_in_threadpool(retry_dead, ids, request.app.state.database_url)
    return RedirectResponse(f"/admin?retried={len(revived)}", status_code=303)
