"""`promowatch web --workers N`: several Uvicorn worker processes on one port must behave as one site.

A real `promowatch web --workers 2` on a free loopback port and a real SQLite file. Which worker answers a
connection is the kernel's choice, so the tests keep HTTP/1.1 connections open and ask the operating system
(psutil) which worker process holds each one, until they hold one connection to each worker: then every
claim ("both workers' requests are counted", "the rate limit holds across workers") is exercised on both,
not on whichever worker happened to accept. The server must stop whole on SIGTERM and on Ctrl-C (SIGINT): no
worker left, its run folder (setup file, metrics files) removed. A bad worker count is one line.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import stat
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import processes
import psutil
import pytest
from conftest import ROOT
from servers import free_port

from alerts.channels import ChannelSettings, MailSettings
from web.subscribe import RATE_LIMITS

WORKERS = 2


def _env(tmp_path: Path, config: str = "") -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROMOWATCH_", "PROMETHEUS_"))}
    (tmp_path / "service.toml").write_text(config, "utf-8")
    (tmp_path / "tmp").mkdir(exist_ok=True)
    env.update(
        PROMOWATCH_DATABASE_URL=f"sqlite:///{tmp_path / 'pw.db'}",
        PROMOWATCH_CONFIG=str(tmp_path / "service.toml"),
        TMPDIR=str(tmp_path / "tmp"),  # where the server's run folder is made: the test looks into it
    )
    return env


class Server:
    """`promowatch web --workers 2` on a free port, its worker processes and one open connection to each."""

    def __init__(self, tmp_path: Path, args: tuple[str, ...] = ("--workers", str(WORKERS)), config: str = ""):
        self.port = free_port()
        self.tmp = tmp_path / "tmp"
        self.log = tmp_path / "web.log"
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "promowatch", "web", "--port", str(self.port), *args],
                cwd=ROOT,
                env=_env(tmp_path, config),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.connections: dict[int, http.client.HTTPConnection] = {}  # worker pid -> a connection it holds

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"promowatch web exited {self.proc.returncode}: {self.log.read_text()}"
            try:
                if self.get(http.client.HTTPConnection("127.0.0.1", self.port, timeout=2), "/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"promowatch web did not answer in {timeout} s: {self.log.read_text()}")

    def processes(self) -> list[psutil.Process]:
        return psutil.Process(self.proc.pid).children(recursive=True)

    def owner(self, conn: http.client.HTTPConnection) -> int | None:
        """The pid of the worker holding the server's end of `conn`."""
        assert conn.sock is not None
        mine = conn.sock.getsockname()[1]
        for process in self.processes():
            try:
                ends = process.net_connections(kind="tcp")
            except psutil.NoSuchProcess:
                continue
            if any(c.laddr and c.laddr.port == self.port and c.raddr and c.raddr.port == mine for c in ends):
                return process.pid
        return None

    def connect_to_every_worker(self, tries: int = 60) -> None:
        """Open connections (each answered once, so it is accepted) until one is held by each worker."""
        for _ in range(tries):
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            assert self.get(conn, "/healthz")[0] == 200
            pid = self.owner(conn)
            if pid is not None and pid not in self.connections:
                self.connections[pid] = conn
                if len(self.connections) == WORKERS:
                    return
            else:
                conn.close()
        raise AssertionError(f"{tries} connections reached only workers {sorted(self.connections)}")

    @staticmethod
    def get(conn: http.client.HTTPConnection, path: str, headers: dict | None = None) -> tuple[int, str, dict]:
        conn.request("GET", path, headers={"Accept-Language": "en", **(headers or {})})
        answer = conn.getresponse()
        return answer.status, answer.read().decode(), dict(answer.getheaders())

    def run_folders(self) -> list[Path]:
        return sorted(self.tmp.glob("promowatch-web-*"))

    def stop(self, how: signal.Signals = signal.SIGTERM) -> int:
        for conn in self.connections.values():
            conn.close()
        if self.proc.poll() is None:
            self.proc.send_signal(how)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            for process in [*self.processes(), psutil.Process(self.proc.pid)]:
                process.kill()
            self.proc.wait(timeout=10)
            raise AssertionError(f"promowatch web did not stop on {how.name} within 30 s") from None


def _requests_counted(text: str, route: str) -> float:
    return sum(
        float(n)
        for n in re.findall(
            rf'^promowatch_web_requests_total\{{code="200",method="GET",route="{route}"\}} (\S+)$', text, re.M
        )
    )


@pytest.mark.slow
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_two_workers_serve_count_every_request_and_stop_whole(tmp_path, how):
    server = Server(tmp_path)
    try:
        server.wait_ready()
        server.connect_to_every_worker()
        workers = list(server.connections)
        assert len(workers) == WORKERS
        for conn in server.connections.values():  # the pages answer on each worker
            for path in ("/offers", "/subscribe", "/api/v1/offers", "/healthz"):
                assert server.get(conn, path)[0] == 200, path
        first = server.connections[workers[0]]
        before = server.get(first, "/metrics")[1]
        per_worker = 7
        for _ in range(per_worker):
            for conn in server.connections.values():
                assert server.get(conn, "/offers")[0] == 200
        for conn in server.connections.values():  # whichever worker is scraped counts both workers' requests
            status, text, _ = server.get(conn, "/metrics")
            assert status == 200
            assert _requests_counted(text, "/offers") - _requests_counted(before, "/offers") == per_worker * WORKERS
            # the database's figures are collected once, not once per worker
            assert text.count("# TYPE promowatch_crawls_total counter") == 1
            assert text.count("# TYPE promowatch_web_requests_total counter") == 1
        (folder,) = server.run_folders()
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert stat.S_IMODE((folder / "setup.json").stat().st_mode) == 0o600
        every = [p.pid for p in server.processes()]
        assert set(workers) <= set(every)
        assert server.stop(how) == 0, server.log.read_text()
        gone, alive = psutil.wait_procs([psutil.Process(pid) for pid in every if psutil.pid_exists(pid)], timeout=10)
        assert alive == [], f"left running after {how.name}: {alive}"
        assert server.run_folders() == []  # setup file and metrics files removed
        assert "Traceback" not in server.log.read_text()
    finally:
        server.stop()


@pytest.mark.slow
def test_the_subscribe_rate_limit_holds_across_workers(tmp_path):
    server = Server(tmp_path)
    try:
        server.wait_ready()
        server.connect_to_every_worker()
        conns = list(server.connections.values())
        # one browser: its CSRF cookie and token from one worker are good at the other (same service secret)
        _, page, headers = server.get(conns[0], "/subscribe")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        cookie = headers["set-cookie"].split(";")[0]
        form = urllib.parse.urlencode({"csrf_token": token, "channel_kind": "email", "channel_value": "x"})

        def post(conn: http.client.HTTPConnection) -> int:
            conn.request(
                "POST",
                "/subscribe",
                body=form,
                headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
            )
            answer = conn.getresponse()
            answer.read()
            return answer.status

        limit = RATE_LIMITS["ip"][0]
        answers = [post(conns[n % WORKERS]) for n in range(limit)]  # half on each worker
        assert answers == [422] * limit  # counted, then refused for its channel (no [mail] here)
        assert [post(conn) for conn in conns] == [429] * WORKERS  # the limit counted both workers' requests
    finally:
        server.stop()


@pytest.mark.slow
def test_run_starts_the_configured_workers_and_stops_them(tmp_path):
    port = free_port()
    config = (
        '[schedule]\ninterval = "24h"\njitter = 0\nstartup_spread = 0\n'
        f'[web]\nenabled = true\nhost = "127.0.0.1"\nport = {port}\nworkers = {WORKERS}\n'
    )
    env = _env(tmp_path, config)
    env["PROMOWATCH_TODAY"] = "2026-09-15"
    proc = subprocess.Popen(
        [sys.executable, "-m", "promowatch.cli", "run", "--offline"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (metrics := list((tmp_path / "tmp").glob("promowatch-web-*/metrics"))):
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "the site's workers did not start within 60 s"
            time.sleep(0.2)
        served: set[str] = set()
        for _ in range(60):  # new connections until both workers have answered (each writes its own file)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                assert Server.get(conn, "/healthz")[0] == 200
            except OSError:
                time.sleep(0.2)
                continue
            finally:
                conn.close()
            served = {f.name for f in metrics[0].glob("counter_*.db")}
            if len(served) == WORKERS:
                break
        assert len(served) == WORKERS, served
        family = psutil.Process(proc.pid).children(recursive=True)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err[-3000:]
        _, alive = psutil.wait_procs([p for p in family if p.is_running()], timeout=10)
        assert alive == []
        assert list((tmp_path / "tmp").glob("promowatch-web-*")) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@pytest.mark.parametrize(
    "args, config, expected",
    [
        (("--workers", "0"), "", "--workers 0: input should be greater than or equal to 1"),
        (("--workers", "many"), "", "--workers many: input should be a valid integer"),
        ((), "[web]\nworkers = 0\n", "[web] workers: expected a whole number of at least 1, got 0"),
        ((), "[web]\nworkers = 500\n", "[web] workers: at most 64, got 500"),
    ],
)
def test_a_bad_worker_count_is_one_line(tmp_path, args, config, expected):
    done = processes.run(
        [sys.executable, "-m", "promowatch", "web", "--port", str(free_port()), *args],
        cwd=ROOT,
        env=_env(tmp_path, config),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], done.stderr


def test_the_setup_file_gives_the_workers_the_same_site(tmp_path, monkeypatch):
    from web.app import SETUP, from_setup, write_setup

    channels = ChannelSettings(
        allowed=("email", "telegram"),
        mail=MailSettings(host="smtp.example.org", sender="a@example.org", user="u", password="pw-secret"),
        telegram_bot_token="123:tok",
    )
    config = {"channels": channels, "base_url": "https://deals.example.org", "web": {"admin_token": "t" * 20}}
    write_setup(tmp_path / "setup.json", "sqlite:///x.db", "UTC", config)
    assert stat.S_IMODE((tmp_path / "setup.json").stat().st_mode) == 0o600
    monkeypatch.setenv(SETUP, str(tmp_path / "setup.json"))
    app = from_setup()
    assert app.state.database_url == "sqlite:///x.db" and app.state.zone.key == "UTC"
    assert app.state.config == config


@pytest.mark.slow
def test_the_service_kills_a_stuck_site_with_its_workers(tmp_path, monkeypatch):
    """`promowatch run`'s WebChild: when the site does not stop on SIGTERM in time, the kill reaches its workers."""
    import threading

    from promowatch.serve import WebChild
    from promowatch.service_config import load_config

    port = free_port()
    env = _env(tmp_path, f'[web]\nenabled = true\nhost = "127.0.0.1"\nport = {port}\nworkers = {WORKERS}\n')
    for name in [k for k in os.environ if k.startswith(("PROMOWATCH_", "PROMETHEUS_"))]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    child = WebChild(load_config(), env["PROMOWATCH_CONFIG"], threading.Event())
    child.start()
    family: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 60
        while len(family := _family(child)) < 1 + WORKERS:
            assert time.monotonic() < deadline, "the site's workers did not start within 60 s"
            time.sleep(0.2)
        assert child.proc is not None
        os.kill(child.proc.pid, signal.SIGSTOP)  # stuck: SIGTERM does nothing until the kill
        started = time.monotonic()
        child.close()
        assert 9 < time.monotonic() - started < 30
        _, alive = psutil.wait_procs(family, timeout=10)
        assert alive == [], f"left running: {alive}"
    finally:
        child.stop.set()
        for process in [*family, *_family(child)]:  # none, unless the test failed
            if process.is_running():
                process.kill()


def _family(child) -> list[psutil.Process]:
    """`promowatch web` and its worker processes (the multiprocessing helpers beside them too)."""
    if child.proc is None or child.proc.poll() is not None:
        return []
    site = psutil.Process(child.proc.pid)
    return [site, *site.children(recursive=True)]
