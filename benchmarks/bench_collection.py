"""Collection benchmark: bare parsel (baseline) vs `parse` vs the full stored pipeline, same pages, one run.

Each phase runs in its own child process so its peak RSS is its own. Then the wall time and CPU of
one whole `promowatch crawl --offline` process beside the import floor (`import scrapy, sqlmodel`).
Run: python benchmarks/bench_collection.py [--rounds N] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "real-pages"
sys.path.insert(0, str(ROOT))
from spiders.registry import OPERATORS  # noqa: E402  (only operators with a spider)


def pages() -> list[tuple[str, Path, str | None]]:
    """(operator, file, url) for every bundled fixture page with expectations, plus the real captures."""
    out = []
    for op in OPERATORS:
        folder = ROOT / "spiders" / "fixtures" / op
        index = json.loads((folder / "index.json").read_text()) if (folder / "index.json").exists() else {}
        for url, entry in index.items():
            name = entry if isinstance(entry, str) else entry["file"]
            if (folder / f"{name}.expected.json").exists():
                out.append((op, folder / name, url))
        if (REAL / op / "mobile.html").exists():
            out.append((op, REAL / op / "mobile.html", None))
    return out


def card_selectors() -> dict[str, str | None]:
    """What a bare extraction selects: each operator's card nodes, from its spider's `cards` (None: the page is
    JSON). Read here, in the parent, so the baseline child does not import Scrapy."""
    from spiders.registry import spider_class

    return {op: getattr(spider_class(op), "cards", "body") for op in OPERATORS}


def phase(name: str, rounds: int, db: str, cards: dict | None = None) -> dict:
    sys.path.insert(0, str(ROOT))
    cards = cards or {}
    todo = pages()
    texts = [(op, p.read_bytes(), url) for op, p, url in todo]
    if name == "parsel":
        from parsel import Selector

        def work():
            n = 0
            for op, body, _ in texts:
                selector = cards.get(op, "body")
                if selector is None:
                    n += len(json.loads(body))
                    continue
                for card in Selector(text=body.decode("utf-8", "replace")).css(selector):
                    n += len(" ".join(card.css("*::text").getall()))
            return n
    else:
        from contract.offer import InvalidOffer, normalise
        from spiders.saved_page import parse_file

        def items_of(op, path, url):
            got = []
            for raw in parse_file(op, path, url=url, today="2026-09-15"):
                try:
                    got.append(normalise(raw))
                except InvalidOffer:
                    pass
            return got

        if name == "parse":

            def work():
                return sum(len(items_of(op, p, url)) for op, p, url in todo)
        else:
            os.environ["PROMOWATCH_DATABASE_URL"] = db
            from contract.clock import utcnow
            from storage.repository import record_crawl

            def work():
                n = 0
                for op, p, url in todo:
                    got = items_of(op, p, url)
                    record_crawl(
                        operator=op,
                        started_at=utcnow(),
                        finish_reason="finished",
                        status="healthy",
                        items=got,
                        items_scraped=len(got),
                        dropped={},
                        error=None,
                    )
                    n += len(got)
                return n

    work()  # warm-up (imports, first migration)
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(rounds):
        work()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return {
        "phase": name,
        "pages": len(todo) * rounds,
        "seconds": elapsed,
        "cpu_s": cpu,
        "pages_per_s": len(todo) * rounds / elapsed,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def timed(cmd: list[str], env: dict) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"rc": proc.returncode, "wall_s": wall, "cpu_s": cpu, "tail": proc.stderr[-400:] if proc.returncode else ""}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each phase; the best one counts")
    ap.add_argument("--phase")
    ap.add_argument("--db")
    ap.add_argument("--cards", help="JSON: operator -> card selector (given by the parent)")
    args = ap.parse_args()
    if args.phase:
        print(json.dumps(phase(args.phase, args.rounds, args.db, json.loads(args.cards or "{}"))))
        return
    cards = json.dumps(card_selectors())
    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite:///{tmp}/bench.db"
        best: dict[str, dict] = {}
        for _ in range(args.repeat):  # phases in rotation, best of N each: this VM's speed drifts by tens of %
            for name in ("parsel", "parse", "stored"):
                out = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--phase",
                        name,
                        "--rounds",
                        str(args.rounds),
                        "--db",
                        db,
                        "--cards",
                        cards,
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
                got = json.loads(out)
                if name not in best or got["seconds"] < best[name]["seconds"]:
                    best[name] = got
        results = [best["parsel"], best["parse"], best["stored"]]
        print(f"best of {args.repeat} runs per phase, {args.rounds} rounds over the pages each")
        base, base_cpu = results[0]["seconds"], results[0]["cpu_s"]
        print(
            f"{'phase':<8} {'pages':>6} {'seconds':>8} {'pages/s':>9} {'x parsel':>9} {'CPU s':>7} "
            f"{'x parsel CPU':>13} {'peak RSS MiB':>13}"
        )
        for r in results:
            print(
                f"{r['phase']:<8} {r['pages']:>6} {r['seconds']:>8.3f} {r['pages_per_s']:>9.1f} "
                f"{r['seconds'] / base:>9.2f} {r['cpu_s']:>7.3f} {r['cpu_s'] / base_cpu:>13.2f} "
                f"{r['peak_rss_mib']:>13.1f}"
            )
        env = {**os.environ, "PROMOWATCH_DATABASE_URL": f"sqlite:///{tmp}/crawl.db"}
        floor = timed([sys.executable, "-c", "import scrapy, sqlmodel"], env)
        crawls = [
            timed([sys.executable, "-m", "promowatch.cli", "crawl", "--offline", "--json"], env) for _ in range(3)
        ]
        print(
            "\nimport floor (python -c 'import scrapy, sqlmodel'):"
            f" wall {floor['wall_s']:.2f} s, CPU {floor['cpu_s']:.2f} s"
        )
        for i, c in enumerate(crawls, 1):
            print(
                f"promowatch crawl --offline ({len(OPERATORS)} operators) run {i}: wall {c['wall_s']:.2f} s, "
                f"CPU {c['cpu_s']:.2f} s, exit {c['rc']} {c['tail']}"
            )


if __name__ == "__main__":
    main()
