"""The long-running service process: what `promowatch run` becomes once its arguments are checked.

Why a module of its own: the CLI (Typer, Rich, every command's module) is memory that a process running for
months never uses again. `promowatch run` checks its options and the config, then replaces itself (`os.execv`,
same PID: systemd, signals and logs are unaffected) with `python -m promowatch.serve`, which holds only the
scheduler (scheduler.py, APScheduler) and the crawl worker's handle. Storage, Apprise and Scrapy live in the
crawl worker.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path


def scheduler_module():
    """The root-level scheduler.py: from the checkout when running from it, else as installed."""
    if "scheduler" in sys.modules and hasattr(sys.modules["scheduler"], "Service"):
        return sys.modules["scheduler"]
    root = Path(__file__).resolve().parents[1]
    if (root / "scheduler.py").is_file() and str(root) not in sys.path:
        sys.path.insert(0, str(root))
    import scheduler

    return scheduler


def log_formatter(fmt: str = "%(asctime)s %(levelname)s %(name)s: %(message)s") -> logging.Formatter:
    """Log lines with their time in UTC, the zone named: "2026-12-07 13:34:16 UTC INFO ..."."""
    formatter = logging.Formatter(fmt, datefmt="%Y-%m-%d %H:%M:%S UTC")
    formatter.converter = time.gmtime
    return formatter


def setup_logging(default: str) -> None:
    """Logs to stderr at PROMOWATCH_LOG_LEVEL (else `default`), times in UTC; the libraries' chatter only from
    WARNING."""
    from storage.environment import log_level

    level = log_level(default.upper())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(log_formatter())
    logging.basicConfig(level=level, handlers=[handler])
    if level != "DEBUG":
        for name in ("apscheduler", "scrapy", "apprise"):
            logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))


class WebChild:
    """The site (`promowatch web`) as a child process of the service when `[web] enabled = true`: the scheduler
    process stays lean (no FastAPI, Jinja2 or Uvicorn in it) and a crash of one does not take the other down.
    Started again after 5 s when it dies; terminated (then killed) when the service stops. It runs in a process
    group of its own, so the kill also reaches the Uvicorn worker processes of `[web] workers` (killed alone,
    `promowatch web` would leave them serving)."""

    def __init__(self, config, config_path: str | None, stop: threading.Event):
        self.args = [
            sys.executable,
            "-m",
            "promowatch",
            "web",
            "--host",
            config.web.host,
            "--port",
            str(config.web.port),
        ]
        self.args += ["--config", config_path] if config_path else []
        self.stop = stop
        self.proc: subprocess.Popen | None = None
        self.thread = threading.Thread(target=self._keep, name="web", daemon=True)
        self.log = logging.getLogger("promowatch.web")

    def _keep(self) -> None:
        while not self.stop.is_set():
            self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, start_new_session=True)
            self.log.info("site served on http://%s:%s/ (pid %d)", self.args[5], self.args[7], self.proc.pid)
            code = self.proc.wait()
            if self.stop.wait(5.0):
                return
            self.log.error("the site's process ended (exit %s): starting it again", code)

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # the site and its worker processes
                proc.wait(timeout=5)
        self.thread.join(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="promowatch run", description="the promowatch service (foreground)")
    parser.add_argument("--config", help="TOML config (default: $PROMOWATCH_CONFIG)")
    parser.add_argument("--fixtures", help="answer every request from the saved pages in this folder")
    args = parser.parse_args(argv)
    from promowatch.service_config import ConfigError, load_config
    from storage.environment import BadEnvironment, check_environment

    try:
        check_environment()
    except BadEnvironment as exc:
        print(exc, file=sys.stderr)
        return 2
    try:
        config = load_config(Path(args.config) if args.config else None)
    except ConfigError as exc:
        print(f"configuration: {exc}", file=sys.stderr)
        return 2
    setup_logging("INFO")
    log = logging.getLogger("promowatch.scheduler")
    service = scheduler_module().Service(config, fixtures_dir=args.fixtures)
    stop = threading.Event()

    def on_signal(signum, _frame):
        log.warning("%s again: already stopping", signal.Signals(signum).name) if stop.is_set() else log.info(
            "%s: stopping", signal.Signals(signum).name
        )
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    mode = f"offline from {service.fixtures_dir}" if service.fixtures_dir else "live"
    log.info(
        "promowatch service starting (%s, %d operators, config %s)",
        mode,
        len(config.operators),
        config.path or "defaults",
    )
    web = WebChild(config, args.config or os.environ.get("PROMOWATCH_CONFIG"), stop) if config.web.enabled else None
    if web is not None:
        web.start()
    try:
        service.serve(stop)
    finally:
        if web is not None:
            web.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
