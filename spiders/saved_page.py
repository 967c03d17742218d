"""Run one spider's parse callback over a saved page, without the Scrapy engine or a database.

Used by `promowatch parse OP FILE`, by the fixture tests and the real-page tests. Requests the
callback yields (follow-up pages) are answered from files beside the page when an index maps them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from scrapy import Request
from scrapy.http import HtmlResponse, TextResponse
from scrapy.settings import BaseSettings


def _response(url: str, body: bytes, request: Request | None = None):
    cls = TextResponse if body.lstrip()[:1] in (b"{", b"[") else HtmlResponse
    return cls(url=url, body=body, encoding="utf-8", request=request or Request(url))


def index_beside(path: str | Path) -> tuple[str | None, dict[str, Path]]:
    """(the URL the page was saved from, every saved URL -> file) from an `index.json` beside it, if any."""
    import json

    folder = Path(path).resolve().parent
    index_file = folder / "index.json"
    if not index_file.exists():
        return None, {}
    entries = json.loads(index_file.read_text("utf-8"))
    pages = {u: folder / (e if isinstance(e, str) else e["file"]) for u, e in entries.items()}
    own = next((u for u, f in pages.items() if f == Path(path).resolve()), None)
    return own, pages


def parse_file(
    operator: str,
    path: str | Path,
    url: str | None = None,
    today: str | None = None,
    pages: dict[str, Path] | None = None,
) -> list[dict]:
    """Items the spider yields for the saved page at `path` (follow-ups answered from `pages`)."""
    from spiders.registry import spider_class

    cls = spider_class(operator)
    spider = cls()
    # only the values a parse callback reads: Scrapy's full default Settings would be built for every page
    spider.settings = BaseSettings({"PROMOWATCH_TODAY": today} if today else {})
    url = url or cls.start_urls[0]
    items: list[dict] = []
    queue: list[tuple[TextResponse, Callable | None, dict]] = [(_response(url, Path(path).read_bytes()), None, {})]
    seen = 0
    while queue and seen < 50:  # bounded: a spider cannot loop us forever
        response, callback, kwargs = queue.pop(0)
        seen += 1
        for out in (callback or spider.parse)(response, **kwargs):
            if isinstance(out, Request):
                target = (pages or {}).get(out.url)
                if target is not None:
                    queue.append((_response(out.url, Path(target).read_bytes(), out), out.callback, out.cb_kwargs))
            else:
                items.append(dict(out))
    return items
