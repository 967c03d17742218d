"""`promowatch capture OP`: a page as a fixture folder, with the offers the spider reads on it today as a draft.

Repairing a spider starts from the page that broke it: a live page (`--url`, or the spider's start pages) or the
pages the last unhealthy crawl kept (`--kept`, spiders/keep_pages.py). The folder it writes has the layout of
`spiders/fixtures/<op>/` (the pages, `index.json`, one `<page>.expected.json` per page) so that
`PROMOWATCH_FIXTURES_DIR` and `promowatch parse` read it at once. The expected files are a draft for a person to
check against the page. Captured pages are the operator's content: they stay out of the repository
(`captures/` is ignored); the repository's fixtures are written by us in the structure they show
(docs/architecture.md, "Repairing an operator").
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Optional
from urllib.parse import urlparse

import typer
from rich.markup import escape

from promowatch.cli_common import console, day_or_exit, fail, operator_or_exit, print_json

FETCH_TIMEOUT = 30


def _fetch(url: str) -> bytes:
    """One page as a polite client fetches it: the project's User-Agent, robots.txt obeyed, a time limit."""
    from urllib import robotparser
    from urllib.request import Request, urlopen

    from spiders.settings import USER_AGENT

    parts = urlparse(url)
    robots_url = f"{parts.scheme}://{parts.netloc}/robots.txt"
    robots = robotparser.RobotFileParser(robots_url)
    try:
        with urlopen(Request(robots_url, headers={"User-Agent": USER_AGENT}), timeout=FETCH_TIMEOUT) as answer:
            robots.parse(answer.read().decode("utf-8", "replace").splitlines())
    except OSError:  # no robots.txt (404 and the like): nothing forbidden
        robots.parse([])
    if not robots.can_fetch(USER_AGENT, url):
        raise OSError(f"robots.txt of {parts.netloc} does not allow fetching {url}")
    with urlopen(Request(url, headers={"User-Agent": USER_AGENT}), timeout=FETCH_TIMEOUT) as answer:
        return answer.read()


def _file_name(url: str, body: bytes, taken: set[str]) -> str:
    stem = re.sub(r"[^a-z0-9]+", "-", urlparse(url).path.rsplit("/", 1)[-1].lower()).strip("-")
    stem = re.sub(r"-(html?|json|php|aspx?)$", "", stem) or "index"
    suffix = ".json" if body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"[") else ".html"
    name, n = stem + suffix, 2
    while name in taken:
        name, n = f"{stem}-{n}{suffix}", n + 1
    taken.add(name)
    return name


def capture_pages(operator: str, pages: list[tuple[str, bytes]], into: Path, today: str | None = None) -> list[dict]:
    """Write `pages` ([(url, bytes)]) as the fixture folder `into/<operator>/`, each with its draft expected file;
    what each page gave (file, url, offers, dropped reasons)."""
    from contract.offer import InvalidOffer, normalise
    from spiders.saved_page import parse_file

    folder = into / operator
    folder.mkdir(parents=True, exist_ok=True)
    index_file = folder / "index.json"
    index = json.loads(index_file.read_text("utf-8")) if index_file.exists() else {}
    taken = {e if isinstance(e, str) else e["file"] for e in index.values()}
    written = []
    for url, body in pages:
        known = index.get(url)
        name = known if isinstance(known, str) else _file_name(url, body, taken)
        (folder / name).write_bytes(body)
        index[url] = name
        written.append((url, name))
    index_file.write_text(json.dumps(index, ensure_ascii=False, indent=1) + "\n", "utf-8")
    files = {u: folder / (e if isinstance(e, str) else e["file"]) for u, e in index.items()}
    report = []
    for url, name in written:
        items, dropped = [], {}
        try:
            raw = parse_file(operator, folder / name, url=url, today=today, pages=files)
        except Exception as exc:  # noqa: BLE001 — the page is kept; the spider's failure is the news
            raw, dropped = [], {f"spider failed: {type(exc).__name__}: {exc}": 1}
        for item in raw:
            try:
                items.append(normalise(item))
            except InvalidOffer as exc:
                dropped[exc.reason] = dropped.get(exc.reason, 0) + 1
        expected = folder / f"{name}.expected.json"
        expected.write_text(json.dumps(items, ensure_ascii=False, indent=1) + "\n", "utf-8")
        report.append(
            {
                "url": url,
                "file": str(folder / name),
                "expected": str(expected),
                "offers": len(items),
                "dropped": dropped,
            }
        )
    return report


def register(app: typer.Typer) -> None:
    """Define `capture` on the CLI's app."""

    @app.command()
    def capture(
        operator: str = typer.Argument(..., metavar="OP", help="operator (slug, name or alias)"),
        url: Optional[str] = typer.Option(None, "--url", help="fetch this page (default: the spider's start pages)"),
        kept: bool = typer.Option(False, "--kept", help="the pages the newest unhealthy crawl kept, not a fetch"),
        into: Path = typer.Option(Path("captures"), "--into", help="write the folder DIR/<op>/ here"),
        today: Optional[str] = typer.Option(None, "--today", help="crawl day for dates without a year, YYYY-MM-DD"),
        as_json: bool = typer.Option(False, "--json", help="print what each page gave as JSON"),
    ):
        """Save a live or kept page as a fixture folder, with the offers parsed today as a draft expected file."""
        from spiders.keep_pages import keep_root, kept_crawls, read_kept
        from spiders.registry import spider_class

        operator = operator_or_exit(operator)
        today = day_or_exit(today, "--today")
        if kept and url:
            fail("--kept and --url exclude each other")
        if url is not None and not re.match(r"https?://[^/\s]+", url):
            fail(f"--url {url}: an http(s) URL is expected")
        if into.exists() and not into.is_dir():
            fail(f"--into {into} is a file, not a folder")
        if kept:
            found = kept_crawls(operator, keep_root())
            if not found:
                fail(
                    f"no kept page of {operator} in {keep_root() / operator}: pages are kept after an unhealthy "
                    "crawl; capture a live page with --url or without options",
                    code=1,
                )
            record, pages = read_kept(found[0])
            source = f"kept from the {record['status']} crawl of {record['finished_at']} ({record.get('error') or ''})"
        else:
            pages = []
            for page_url in [url] if url else spider_class(operator).start_urls:
                try:
                    pages.append((page_url, _fetch(page_url)))
                except OSError as exc:  # HTTPError (a status), URLError (refused, DNS), a timeout, robots.txt
                    code = getattr(exc, "code", None)
                    why = f"HTTP {code} {getattr(exc, 'reason', '')}" if code else getattr(exc, "reason", None) or exc
                    fail(f"cannot fetch {page_url}: {why}", code=1)
            source = "fetched now"
        report = capture_pages(operator, pages, into, today)
        if as_json:
            print_json({"operator": operator, "source": source, "pages": report})
            return
        console.print(f"{operator}: {len(report)} page(s) {escape(source)}", highlight=False)
        for page in report:
            dropped = ", ".join(f"{k}: {v}" for k, v in page["dropped"].items())
            console.print(
                f"  {escape(page['file'])}: {page['offers']} offer(s)"
                + (f", dropped {escape(dropped)}" if dropped else ""),
                highlight=False,
            )
        console.print(
            f"Draft: check every figure of {escape(str(into / operator))}/*.expected.json against the page, repair"
            f" the spider until `PROMOWATCH_FIXTURES_DIR={escape(str(into))} promowatch crawl {operator}` reads it"
            " right, then write the repository's fixture in that structure (docs/architecture.md).",
            highlight=False,
        )
