"""Loopback servers for delivery tests and the benchmark: a real SMTP server (aiosmtpd) and a real HTTP server
(http.server in a thread), both on 127.0.0.1, both recording what they receive.

    with SmtpServer() as smtp:            # mailto://127.0.0.1:{smtp.port}?from=...&to=...
        ...; smtp.wait_for(1, timeout=5)  # -> [email.message.EmailMessage]

    with HttpServer() as http:            # json://127.0.0.1:{http.port}/hook
        http.rule("/flaky", fail_first=1)  # answer 500 to the first POST to /flaky, then 200
        http.rule("/down", fail_first=10**9)
        http.rule("/slow", delay=3)        # answer POSTs to /slow after 3 s (past a client's read timeout)
        http.rule("/drop", drop=True)      # read the request, close the connection without an answer
        http.rule("/moved", redirect="http://127.0.0.2:9/inside")   # answer 307 with that Location
        http.delay = 0.05                  # answer every request after 50 ms
        http.wait_for(1, timeout=5)        # -> [{"path", "json", "headers"}]

    with PageServer(FIXTURES, faults={"iliad": "500"}) as pages:   # PROMOWATCH_MIRROR=pages.url

Every wait is bounded: `wait_for` raises AssertionError after `timeout` seconds.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Recorder:
    def __init__(self):
        self._items: list = []
        self._cond = threading.Condition()

    def _add(self, item) -> None:
        with self._cond:
            self._items.append(item)
            self._cond.notify_all()

    @property
    def received(self) -> list:
        with self._cond:
            return list(self._items)

    def wait_for(self, count: int, timeout: float = 5.0) -> list:
        """The first `count` items received, waiting at most `timeout` seconds for them."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._items) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"{type(self).__name__}: {len(self._items)} of {count} received after {timeout} s"
                    )
                self._cond.wait(left)
            return list(self._items)


class SmtpServer(_Recorder):
    """aiosmtpd on 127.0.0.1, no TLS, no AUTH; `received` holds parsed EmailMessage objects."""

    def __init__(self):
        super().__init__()
        self.port = free_port()
        self.envelopes: list[tuple[str, list[str]]] = []
        self._controller = None

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self._add(message)
        return "250 OK"

    def __enter__(self) -> "SmtpServer":
        from aiosmtpd.controller import Controller

        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, ready_timeout=5.0)
        self._controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self._controller.stop()


class HttpServer(_Recorder):
    """A threaded HTTP server on 127.0.0.1 recording JSON POSTs; per-path failure rules and a global delay."""

    def __init__(self, delay: float = 0.0):
        super().__init__()
        self.delay = delay
        self._rules: dict[str, dict] = {}
        self._hits: dict[str, int] = {}
        self._lock = threading.Lock()
        self.in_flight = self.max_in_flight = 0  # requests being answered now / at most at one time
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                status = recorder._status_for(self.path)
                rule = recorder._rule_for(self.path)
                if rule.get("drop"):
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if rule.get("redirect"):  # 307: a client that follows it posts the same request there
                    self.send_response(307)
                    self.send_header("Location", rule["redirect"])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                with recorder._lock:
                    recorder.in_flight += 1
                    recorder.max_in_flight = max(recorder.max_in_flight, recorder.in_flight)
                try:
                    delay = rule.get("delay", recorder.delay)
                    if delay:
                        time.sleep(delay)
                finally:
                    with recorder._lock:
                        recorder.in_flight -= 1
                try:
                    payload = json.loads(raw.decode("utf-8")) if raw else None
                except ValueError:
                    payload = raw.decode("utf-8", "replace")
                if status < 400:
                    recorder._add({"path": self.path, "json": payload, "headers": dict(self.headers)})
                body = b"{}" if status < 400 else b'{"error": "boom"}'
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):  # the sender was killed mid-request
                    pass

            def do_GET(self):
                body = json.dumps(
                    {
                        "received": len(recorder.received),
                        "max_in_flight": recorder.max_in_flight,
                        "hits": recorder._hits,
                    }
                ).encode()
                self.send_response(200 if self.path == "/_stats" else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # keep test output quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.request_queue_size = 256
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path: str = "/hook", user: str | None = None, password: str | None = None) -> str:
        auth = f"{user}:{password}@" if user else ""
        return f"json://{auth}127.0.0.1:{self.port}{path}"

    def rule(
        self,
        path: str,
        fail_first: int = 0,
        status: int = 500,
        delay: float | None = None,
        drop: bool = False,
        redirect: str | None = None,
    ) -> None:
        """Answer `status` to the first `fail_first` POSTs to `path` (then 200); with `delay`, answer after that
        many seconds (instead of the server's `delay`); with `drop`, close the connection without an answer; with
        `redirect`, answer 307 to that address. Every POST counts in `hits` when it arrives, answered or not."""
        rule = {"fail_first": fail_first, "status": status, "drop": drop, "redirect": redirect}
        if delay is not None:
            rule["delay"] = delay
        with self._lock:
            self._rules[path] = rule

    def _rule_for(self, path: str) -> dict:
        with self._lock:
            return dict(self._rules.get(path.split("?", 1)[0], {}))

    def hits(self, path: str) -> int:
        """POSTs to `path` so far, answered or failed."""
        with self._lock:
            return self._hits.get(path, 0)

    def _status_for(self, path: str) -> int:
        bare = path.split("?", 1)[0]
        with self._lock:
            seen = self._hits.get(bare, 0)
            self._hits[bare] = seen + 1
            rule = self._rules.get(bare)
            return rule["status"] if rule and seen < rule["fail_first"] else 200

    def __enter__(self) -> "HttpServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class PageServer:
    """Operator pages from a folder (`<op>/<file>`, the fixtures layout) over HTTP on 127.0.0.1, as a CMS serves
    them: every answer has new bytes (a per-request comment; trailing spaces for JSON) but the same offers.
    `faults[op]` injects a fault for one operator: "500", "block" (a challenge page), "empty", "slow" (answers
    after `slow_seconds`)."""

    BLOCK = b"<html><head><title>Attention Required! | Cloudflare</title></head><body>cf-chl captcha</body></html>"

    def __init__(self, root, faults: dict | None = None, slow_seconds: float = 8.0):
        from pathlib import Path

        self.root, self.faults, self.slow_seconds, self.served = (
            Path(root).resolve(),
            dict(faults or {}),
            slow_seconds,
            0,
        )
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802
                status, body, kind = owner.answer(self.path)
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Cache-Control", "no-store")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def answer(self, path: str) -> tuple[int, bytes, str]:
        rel = path.split("?", 1)[0].lstrip("/")
        fault = self.faults.get(rel.split("/", 1)[0])
        target = (self.root / rel).resolve()
        kind = "application/json" if target.suffix == ".json" else "text/html; charset=utf-8"
        if fault == "slow":
            time.sleep(self.slow_seconds)
        if fault == "500":
            return 500, b"Internal Server Error", "text/plain"
        if fault == "block":
            return 200, self.BLOCK, kind
        if fault == "empty":
            return 200, b"", kind
        if not (target.is_file() and self.root in target.parents):
            return 404, b"not found", "text/plain"
        self.served += 1
        tail = " " * (self.served % 7) if target.suffix == ".json" else f"\n<!-- request {self.served} -->"
        return 200, target.read_bytes() + tail.encode(), kind

    def __enter__(self) -> "PageServer":
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def main() -> None:
    """`python tests/servers.py [--delay S]`: an HttpServer in its own process (the benchmark's channel, so that
    answering does not compete with the sender for the interpreter); prints its port, serves until stdin closes."""
    import argparse
    import sys

    ap = argparse.ArgumentParser()
    ap.add_argument("--delay", type=float, default=0.0)
    args = ap.parse_args()
    with HttpServer(delay=args.delay) as server:
        print(server.port, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
