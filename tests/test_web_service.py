"""The site as the service runs it: `promowatch run` with `[web] enabled = true` answers HTTP on the configured
loopback port (the offers and the subscribe form) and stops it with itself on SIGTERM; a port already taken is
refused before the service starts, in one line; a real `promowatch web` counts subscribe requests under the
X-Forwarded-For address only when the request comes from a proxy of `[web] trusted_proxies`."""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import processes
import pytest
from conftest import ROOT
from servers import free_port
from test_web_browser import WebProcess

from web.subscribe import RATE_LIMITS

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
        proc = processes.run(
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


class Visitor:
    """A browser without a browser: keeps the cookies, fetches the subscribe form's token, posts the form."""

    def __init__(self, site: str):
        self.site = site
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def subscribe(self, forwarded_for: str) -> int:
        with self.opener.open(f"{self.site}/subscribe", timeout=5) as page:
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.read().decode()).group(1)
        form = urllib.parse.urlencode({"csrf_token": token, "channel_kind": "email", "channel_value": "x"}).encode()
        request = urllib.request.Request(
            f"{self.site}/subscribe", data=form, headers={"X-Forwarded-For": forwarded_for}
        )
        try:
            with self.opener.open(request, timeout=10) as answer:
                return answer.status
        except urllib.error.HTTPError as exc:
            return exc.code


@pytest.mark.parametrize("trusted", [True, False])
def test_the_rate_limit_believes_x_forwarded_for_only_from_a_trusted_proxy(tmp_path, trusted):
    env = _config(tmp_path, free_port())
    Path(env["PROMOWATCH_CONFIG"]).write_text(
        f'[web]\ntrusted_proxies = ["{"127.0.0.1" if trusted else "192.0.2.1"}"]\n', "utf-8"
    )
    web = WebProcess(env, tmp_path / "web.log")
    try:
        web.wait_ready()
        visitor = Visitor(web.url)
        first = [visitor.subscribe("203.0.113.5") for _ in range(RATE_LIMITS["ip"][0])]
        assert set(first) == {422}  # counted, then refused for its channel (no [mail] here)
        assert visitor.subscribe("203.0.113.5") == 429
        # another visitor behind the same proxy: counted apart only when the proxy is believed
        assert visitor.subscribe("203.0.113.6") == (422 if trusted else 429)
    finally:
        web.stop()
