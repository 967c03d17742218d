"""Answers of the read-only pages, feeds and API kept until the data they show changes.

What they show moves only when a crawl is stored or its events are detected, every few hours, while rendering
a page (the offers table, an offer's chart, a feed) costs far more than serving it again. So each answer is kept
with the data version it was made from (storage.figures.data_version: the latest crawl's and event's ids, one
small statement, read at most once a `VERSION_TTL` per process: reading it at every request cost more than
serving the kept page) and served again while that version holds and for at most `MAX_AGE` (a page
also depends on the clock: "lowest in 90 days", the chart's end). Only GET answers with status 200 and no
cookie set are kept, only under the read-only paths (never /admin, /metrics, /healthz or a subscriber's
page), keyed by host, path, query and the reader's language; least recently used answers go first (at most
`MAX_ENTRIES` answers, `MAX_BYTES` in all). An answer missing (first asked, or too old) is made once: the
requests for it that arrive meanwhile wait for that one (at most `WAIT_FOR_MAKER`) instead of each making it
again, which under 50 connections made a cold page's p99 1.2 s — once per worker process with several.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import cookie_parser

from storage.figures import data_version
from web.i18n import COOKIE, choose

#: the read-only areas whose answers depend only on the data version, the clock and the reader's language
CACHED = ("/offers", "/changes", "/operators", "/feeds/", "/api/v1/")
MAX_AGE = 60.0  # seconds
VERSION_TTL = 1.0  # seconds a data version read is trusted: a stored crawl shows at most this much later
MAX_ENTRIES = 512
MAX_BYTES = 64 * 1024 * 1024  # of all kept bodies together
MAX_BODY = 2 * 1024 * 1024  # of one body
WAIT_FOR_MAKER = 30.0  # seconds a request waits for the answer another request is making, then makes its own


@dataclass
class _Answer:
    version: tuple[int, int]
    made: float  # time.monotonic()
    start: dict  # the http.response.start message
    body: bytes
    route: object  # the route that made it (for the request metrics)


def _cached_path(path: str) -> bool:
    return path == "/" or path.startswith(CACHED)


class PageCache:
    def __init__(self, app, database_url: str | None):
        self.app = app
        self.database_url = database_url
        self.answers: OrderedDict[tuple, _Answer] = OrderedDict()
        self.size = 0  # bytes of the kept bodies
        self.version: tuple[tuple[int, int], float] | None = None  # the last data version read, and when
        self.making: dict[tuple, asyncio.Event] = {}  # the answers being made now, set when made

    async def _data_version(self) -> tuple[int, int]:
        now = time.monotonic()
        if self.version is None or now - self.version[1] >= VERSION_TTL:
            self.version = (await run_in_threadpool(data_version, self.database_url), now)
        return self.version[0]

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "GET" or not _cached_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        try:
            version = await self._data_version()
        except Exception:  # noqa: BLE001 — the page itself says what is wrong with the database
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        lang = choose(cookie_parser(headers.get("cookie", "")).get(COOKIE), headers.get("accept-language"))
        key = (headers.get("host"), scope.get("scheme"), scope["path"], scope.get("query_string", b""), lang)
        answer = self._fresh(key, version)
        if answer is None and key in self.making:  # another request is making it: its answer will do
            try:
                await asyncio.wait_for(self.making[key].wait(), WAIT_FOR_MAKER)
            except TimeoutError:
                pass
            answer = self._fresh(key, version)
        if answer is not None:
            self.answers.move_to_end(key)
            scope["route"] = answer.route
            await send(answer.start)
            await send({"type": "http.response.body", "body": answer.body})
            return
        self._drop(key)
        made = None  # set when this request is the one making the answer
        if key not in self.making:
            made = self.making[key] = asyncio.Event()
        try:
            await self._make(key, version, scope, receive, send)
        finally:
            if made is not None:
                del self.making[key]
                made.set()

    def _fresh(self, key: tuple, version: tuple[int, int]) -> _Answer | None:
        answer = self.answers.get(key)
        if answer and answer.version == version and time.monotonic() - answer.made < MAX_AGE:
            return answer
        return None

    async def _make(self, key: tuple, version: tuple[int, int], scope, receive, send) -> None:
        """Answer the request and keep the answer when it may be served again."""
        start: dict = {}
        chunks: list[bytes] = []

        async def keep(message):
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, keep)
        body = b"".join(chunks)
        kept_headers = Headers(raw=start.get("headers", []))
        if start.get("status") == 200 and "set-cookie" not in kept_headers and len(body) <= MAX_BODY:
            self._drop(key)  # another request may have kept it meanwhile
            self.answers[key] = _Answer(version, time.monotonic(), start, body, scope.get("route"))
            self.size += len(body)
            while len(self.answers) > MAX_ENTRIES or self.size > MAX_BYTES:
                self._drop(next(iter(self.answers)))

    def _drop(self, key: tuple) -> None:
        answer = self.answers.pop(key, None)
        if answer is not None:
            self.size -= len(answer.body)
