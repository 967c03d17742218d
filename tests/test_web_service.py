"""`promowatch run` with `[web] enabled = true` serves the site too: a real service process answers HTTP on the
configured loopback port (the offers and the subscribe form), and stops it with itself on SIGTERM; a port
already taken is refused before the service starts, in one line."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from conftest import ROOT
from servers import free_port

pytestmark = pytest.mark.slow


def _config(tmp_path, port: int):
    config = tmp_path / "service.toml"
    config.write_text(
        '[schedule]\ninterval = "24h"\njitter = 0\nstartup_spread = 0\n'
        f'[web]\nenabled = true\nhost = "127.0.0.1"\nport = {port}\n',
        "utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMOWATCH_")}
    env.update(
        PROMOWATCH_DATABASE_URL=f"sqlite:///{tmp_path / 'pw.db'}",
        PROMOWATCH_CONFIG=str(config),
        PROMOWATCH_TODAY="2026-09-15",
    )
    return env


def _get(url: str) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Accept-Language": "en"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status, response.read().decode()


def test_run_serves_the_site_when_web_is_enabled(tmp_path):
    port = free_port()
    site = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "promowatch.cli", "run", "--offline"],
        cwd=ROOT,
        env=_config(tmp_path, port),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "the site did not answer within 60 s"
            try:
                status, _ = _get(f"{site}/healthz")
                break
            except OSError:
                time.sleep(0.2)
        status, form = _get(f"{site}/subscribe")
        assert status == 200 and "Get an alert" in form and 'name="csrf_token"' in form
        assert _get(f"{site}/offers")[0] == 200
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err[-3000:]
    assert f"site served on http://127.0.0.1:{port}/" in err
    with pytest.raises(OSError):  # the site stopped with the service
        _get(f"{site}/healthz")


def test_run_refuses_a_web_port_already_taken(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "promowatch.cli", "run", "--offline"],
            cwd=ROOT,
            env=_config(tmp_path, port),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and f"[web] cannot listen on 127.0.0.1:{port}" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
