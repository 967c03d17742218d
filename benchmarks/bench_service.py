"""Service benchmark: promowatch's resident service cycle, beside the peers or as a soak.

python benchmarks/bench_service.py peers [--cycles 7]
    The real captures of ../shared/real-pages served from 127.0.0.1 (every answer new bytes, same offers, as
    ../shared/peers/run_peers.sh serves them to urlwatch and changedetection.io); the spiders pointed at that
    server by PROMOWATCH_MIRROR; one resident Service (scheduler.py) runs cycles of crawl, store, detect,
    match, send. Per steady cycle: wall, CPU of the service process plus its crawl worker, RSS of both, offers
    read. Run ../shared/peers/run_peers.sh in the same session for the peers' figures.
python benchmarks/bench_service.py soak [--cycles 100]
    The bundled fixtures offline, all operators, --cycles cycles in one service: RSS at cycles 10 and N, cycle
    wall time, open files of both processes.
python benchmarks/bench_service.py faults
    One cycle of the fixtures served over HTTP with faults injected on some operators (500, block page, empty
    page, slow answer): the others unaffected, the faulty ones no removed events and one admin alert each.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "real-pages"
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def _proc_figures(pids: list[int]) -> dict:
    import psutil

    cpu = rss = files = 0.0
    for pid in pids:
        try:
            p = psutil.Process(pid)
            t = p.cpu_times()
            cpu += t.user + t.system
            rss += p.memory_info().rss
            files += p.num_fds()
        except psutil.NoSuchProcess:
            pass
    return {"cpu_s": cpu, "rss_mib": rss / 2**20, "fds": int(files)}


def _proc_mib(pid: int, file: str, key: str) -> float:
    """A kB figure of /proc/<pid>/<file> (Linux) in MiB; 0 when the process is gone."""
    try:
        return int(next(line for line in open(f"/proc/{pid}/{file}") if line.startswith(key)).split()[1]) / 1024
    except (OSError, StopIteration):
        return 0.0


def _service(tmp: Path, operators: list[str], admin: list[str] | None = None, fixtures: str | None = None):
    from promowatch.service_config import load_config
    from scheduler import Service

    lines = ["[worker]", "recycle_after = 100000", ""]
    if admin:
        lines += ["[health]", "threshold = 1", "admin_channels = [" + ", ".join(json.dumps(a) for a in admin) + "]", ""]
    cfg = tmp / "config.toml"
    cfg.write_text("\n".join(lines), "utf-8")
    config = load_config(cfg)
    for op in list(config.schedules):
        if op not in operators:
            del config.schedules[op]
    url = f"sqlite:///{tmp / 'service.db'}"
    # as the systemd unit does (ExecStartPre=promowatch db upgrade): migrations run in their own process,
    # so the long-running service never loads Alembic
    import subprocess

    subprocess.run(
        [sys.executable, "-m", "promowatch", "db", "upgrade"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        env={**os.environ, "PROMOWATCH_DATABASE_URL": url},
    )
    return Service(config, database_url=url, fixtures_dir=fixtures)


def _cycle(service) -> tuple[float, dict, object]:
    start = time.perf_counter()
    report = service.run_cycle()
    return time.perf_counter() - start, report


def _start_urls(ops: list[str]) -> dict[str, str]:
    """Each operator's offers page, asked of a child process so that this one never imports Scrapy."""
    import subprocess

    code = (
        "import json,sys; from spiders.registry import spider_class; "
        "print(json.dumps({op: spider_class(op).start_urls[0] for op in sys.argv[1:]}))"
    )
    out = subprocess.run([sys.executable, "-c", code, *ops], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def _serve_cycles(ops: list[str], tmp: str, fixtures: str | None) -> None:
    """The service as it runs, in its own process: one Service; a cycle for each line read from stdin, one
    JSON line written per cycle. It imports nothing to measure itself (not even psutil), so what is
    measured is the service alone: the benchmark measures it from outside, between cycles."""
    service = _service(Path(tmp), ops, fixtures=fixtures)
    try:
        for n, _ in enumerate(sys.stdin):
            wall, report = _cycle(service)
            print(
                json.dumps(
                    {
                        "cycle": n,
                        "wall_s": wall,
                        "crawls": {c.operator: [c.status, c.offers, c.events or 0] for c in report.crawls},
                    }
                ),
                flush=True,
            )
    finally:
        service.stop()


class _ServiceProcess:
    """The `_cycles` child (the service) driven a cycle at a time; CPU, RSS, PSS, peak RSS and open files of
    it and of its whole process tree (the crawl worker) read between cycles."""

    def __init__(self, ops: list[str], tmp: str, env: dict, fixtures: str | None = None):
        import subprocess

        cmd = [sys.executable, __file__, "_cycles", "--ops", ",".join(ops), "--tmp", tmp]
        self.proc = subprocess.Popen(
            cmd + (["--fixtures", fixtures] if fixtures else []),
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def tree(self) -> list[int]:
        import psutil

        return [self.proc.pid, *(c.pid for c in psutil.Process(self.proc.pid).children(recursive=True))]

    def cycle(self) -> dict:
        before_pids = self.tree()
        before, own_before = _proc_figures(before_pids), _proc_figures([self.proc.pid])
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        row = json.loads(self.proc.stdout.readline())
        pids = self.tree()
        after, own = _proc_figures(pids), _proc_figures([self.proc.pid])
        row["cpu_s"] = after["cpu_s"] - (before["cpu_s"] if pids == before_pids else 0.0)  # a new worker: all its CPU
        row.update(
            rss_mib=after["rss_mib"],
            fds=after["fds"],
            service_rss_mib=own["rss_mib"],
            service_cpu_s=own["cpu_s"] - own_before["cpu_s"],
            worker_rss_mib=after["rss_mib"] - own["rss_mib"],
            pids=pids,
            processes=len(pids),
            # PSS: shared library pages split between the processes that map them; peak RSS as the kernel counts it
            pss_mib=sum(_proc_mib(pid, "smaps_rollup", "Pss:") for pid in pids),
            peaks_mib=[_proc_mib(pid, "status", "VmHWM") for pid in pids],
        )
        row["peak_mib"] = sum(row["peaks_mib"])
        return row

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=120)


def peers(cycles: int) -> None:
    from servers import PageServer

    if not REAL.is_dir():
        sys.exit(f"no real captures at {REAL}")
    ops = sorted(p.name for p in REAL.iterdir() if (p / "mobile.html").is_file())
    urls = _start_urls(ops)
    with tempfile.TemporaryDirectory() as tmp_name, PageServer(REAL) as server:
        tmp = Path(tmp_name)
        for op in ops:  # the mirror index: each operator's offers page -> its capture
            (tmp / "index" / op).mkdir(parents=True)
            (tmp / "index" / op / "index.json").write_text(json.dumps({urls[op]: "mobile.html"}))
        env = {
            **os.environ,
            "PROMOWATCH_MIRROR": server.url,
            "PROMOWATCH_MIRROR_INDEX": str(tmp / "index"),
            "PROMOWATCH_LOG_LEVEL": "ERROR",
        }
        env.pop("PROMOWATCH_FIXTURES_DIR", None)
        service = _ServiceProcess(ops, tmp_name, env)
        try:
            rows = [service.cycle() for _ in range(cycles + 1)]
        finally:
            service.close()
    cold, steady = rows[0], rows[1:]
    crawls = steady[-1]["crawls"]
    print(f"pages: {', '.join(ops)} from 127.0.0.1 (new bytes every answer); steady = median of {len(steady)} cycles")
    print(f"cold cycle (worker start + baseline crawl): wall {cold['wall_s']:.2f} s, RSS {cold['rss_mib']:.0f} MiB")
    print(
        f"steady cycle: wall {statistics.median(r['wall_s'] for r in steady):.3f} s, "
        f"CPU {statistics.median(r['cpu_s'] for r in steady):.3f} s (service + crawl worker, whole process tree), "
        f"RSS max {max(r['rss_mib'] for r in steady):.1f} MiB (whole tree), peak {steady[-1]['peak_mib']:.1f} MiB "
        f"({' + '.join(f'{p:.1f}' for p in steady[-1]['peaks_mib'])}), "
        f"PSS {max(r['pss_mib'] for r in steady):.1f} MiB (shared pages counted once)"
    )
    print(
        f"  of which the service process: CPU {statistics.median(r['service_cpu_s'] for r in steady):.3f} s, "
        f"RSS {max(r['service_rss_mib'] for r in steady):.1f} MiB; its children (the crawl worker) RSS "
        f"{max(r['worker_rss_mib'] for r in steady):.1f} MiB; processes in the tree: "
        f"{max(r['processes'] for r in steady)}"
    )
    print(
        f"offers read per cycle: {sum(c[1] for c in crawls.values())} "
        f"({', '.join(f'{op} {c[1]}' for op, c in crawls.items())}); all healthy: "
        f"{all(c[0] == 'healthy' for r in steady for c in r['crawls'].values())}; "
        f"events after the baseline: {sum(c[2] for r in steady for c in r['crawls'].values())}"
    )


def soak(cycles: int) -> None:
    from spiders.registry import OPERATORS

    env = {**os.environ, "PROMOWATCH_LOG_LEVEL": "ERROR"}
    env.pop("PROMOWATCH_MIRROR", None)
    with tempfile.TemporaryDirectory() as tmp_name:
        service = _ServiceProcess(list(OPERATORS), tmp_name, env, fixtures=str(ROOT / "spiders" / "fixtures"))
        marks, walls = {}, []
        try:
            for n in range(1, cycles + 1):
                row = service.cycle()
                walls.append(row["wall_s"])
                unhealthy = [(op, c[0]) for op, c in row["crawls"].items() if c[0] != "healthy"]
                if unhealthy:
                    print(f"cycle {n}: not healthy: {unhealthy}")
                if n in (1, 10, cycles) or n % 25 == 0:
                    marks[n] = row
                    print(
                        f"cycle {n:>4}: wall {row['wall_s']:.2f} s, RSS {row['rss_mib']:.1f} MiB "
                        f"({row['service_rss_mib']:.1f} + {row['worker_rss_mib']:.1f}), open files {row['fds']}",
                        flush=True,
                    )
        finally:
            service.close()
    growth = (marks[cycles]["rss_mib"] - marks[10]["rss_mib"]) / marks[10]["rss_mib"] * 100
    print(
        f"{cycles} cycles of {len(OPERATORS)} operators: wall median {statistics.median(walls):.2f} s, "
        f"max {max(walls):.2f} s; RSS cycle 10 {marks[10]['rss_mib']:.1f} MiB -> cycle {cycles} "
        f"{marks[cycles]['rss_mib']:.1f} MiB ({growth:+.1f} %); open files {marks[10]['fds']} -> {marks[cycles]['fds']}"
    )


def faults() -> None:
    from servers import HttpServer, PageServer

    from spiders.registry import OPERATORS
    from storage.repository import list_events

    injected = {"iliad": "500", "ho": "block", "kena": "empty", "spusu": "slow"}
    fixtures = ROOT / "spiders" / "fixtures"
    with tempfile.TemporaryDirectory() as tmp_name, PageServer(fixtures) as pages, HttpServer() as admin:
        tmp = Path(tmp_name)
        os.environ.update(
            PROMOWATCH_MIRROR=pages.url,
            PROMOWATCH_MIRROR_INDEX=str(fixtures),
            PROMOWATCH_LOG_LEVEL="ERROR",
            PROMOWATCH_DOWNLOAD_TIMEOUT="4",
        )
        os.environ.pop("PROMOWATCH_FIXTURES_DIR", None)
        service = _service(tmp, list(OPERATORS), admin=[f"json://127.0.0.1:{admin.port}/admin"])
        try:
            _, baseline = _cycle(service)
            pages.faults = injected
            wall, report = _cycle(service)
        finally:
            service.stop()
        alerts = admin.received
        events = list_events(database_url=f"sqlite:///{tmp / 'service.db'}", limit=None)
    status = {c.operator: c.status for c in report.crawls}
    print(f"baseline: {sum(c.status == 'healthy' for c in baseline.crawls)}/{len(baseline.crawls)} healthy")
    print(f"faulty cycle ({wall:.1f} s): " + ", ".join(f"{op} {injected[op]} -> {status[op]}" for op in injected))
    others = {op: s for op, s in status.items() if op not in injected}
    print(
        f"other operators healthy: {sum(s == 'healthy' for s in others.values())}/{len(others)}; "
        f"removed events: {sum(e['kind'] == 'removed' for e in events)}; admin alerts: {len(alerts)} "
        f"({', '.join(sorted(a['json'].get('title', '')[:60] for a in alerts))})"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=("peers", "soak", "faults", "_cycles"))
    ap.add_argument("--cycles", type=int)
    ap.add_argument("--ops")
    ap.add_argument("--tmp")
    ap.add_argument("--fixtures")
    args = ap.parse_args()
    if args.mode == "_cycles":
        _serve_cycles(args.ops.split(","), args.tmp, args.fixtures)
    elif args.mode == "peers":
        peers(args.cycles or 7)
    elif args.mode == "soak":
        soak(args.cycles or 100)
    else:
        faults()


if __name__ == "__main__":
    main()
