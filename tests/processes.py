"""`promowatch` command lines as real processes, forked from a warm interpreter instead of started cold.

Most of a `python -m promowatch` process's time goes into importing SQLAlchemy, SQLModel, Apprise's plugins
and our models, and the suite runs hundreds of them (figures: README, "Run the tests"). `run` gives each a real
process all the same - its own pid, environment, working directory, file descriptors, exit status and
interpreter shutdown - but forks it from a "zygote" (one per test process, started on first use) that has
already imported those modules; the command itself runs as `python -m` would run it.

What a fork cannot reproduce goes to a fresh interpreter through `subprocess.run`: any other command, an
environment whose interpreter start-up settings differ (PYTHON* variables, the locale), a second command while
one is running, and every command when PROMOWATCH_TEST_FRESH_PROCESSES=1. Modules that read the environment or
the working directory when imported (the command line's own, the spiders', the web's) are not preloaded.
"""

from __future__ import annotations

import json
import locale
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

#: what the zygote imports before it forks: third-party libraries and the storage/alerts modules, none of which
#: reads the environment, the working directory or a clock when imported
PRELOAD = (
    "sqlalchemy",
    "sqlmodel",
    "typer",
    "rich.console",
    "rich.table",
    "jinja2",
    "babel.dates",
    "babel.numbers",
    "requests",
    "apprise",
    "storage.models",
    "storage.repository",
    "alerts.subscriptions",
    "alerts.deliver",
    "alerts.render",
)
#: `python -m <one of these>` is a promowatch command line
MODULES = ("promowatch", "promowatch.cli")
#: variables the interpreter reads when it starts (a forked process keeps its parent's start-up)
_STARTUP = ("LANG", "LC_ALL", "LC_CTYPE")


def _startup(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith("PYTHON") or k in _STARTUP}


def _decode(data: bytes) -> str:
    """As subprocess.run(text=True) decodes: the locale's encoding, universal newlines."""
    text = data.decode(locale.getpreferredencoding(False))
    return text.replace("\r\n", "\n").replace("\r", "\n")


class _Zygote:
    """The client side: one warm interpreter, one command at a time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.proc: subprocess.Popen | None = None
        self.pending = b""
        self.forked = 0  # commands run through the zygote (its tests check they were)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PROMOWATCH_")}

    def _start(self) -> subprocess.Popen:
        if self.proc is None or self.proc.poll() is not None:
            self.pending = b""
            root = str(Path(__file__).resolve().parents[1])
            self.proc = subprocess.Popen(
                [sys.executable, __file__, "--zygote"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                cwd=root,
                env=self.env,
            )
            ready = self._read(time.monotonic() + 120)
            if ready != {"ready": True}:
                raise RuntimeError(f"the test zygote did not start: {ready}")
        return self.proc

    def _read(self, deadline: float) -> dict | None:
        """The zygote's next reply, or None when the deadline passes first (its replies are read off the pipe
        here, unbuffered: a reply already read must not wait for the pipe to become readable again)."""
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.pending:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                raise RuntimeError("the test zygote exited")
            self.pending += chunk
        line, _, self.pending = self.pending.partition(b"\n")
        return json.loads(line)

    def run(self, cmd, env, cwd, timeout, input_bytes):
        with tempfile.TemporaryDirectory(prefix="promowatch-cmd-") as folder:
            files = {name: os.path.join(folder, name) for name in ("in", "out", "err")}
            for name, data in (("in", input_bytes or b""), ("out", b""), ("err", b"")):
                Path(files[name]).write_bytes(data)
            request = {"module": cmd[2], "argv": list(cmd[3:]), "env": env, "cwd": str(cwd or os.getcwd()), **files}
            proc = self._start()
            assert proc.stdin is not None
            proc.stdin.write(json.dumps(request).encode() + b"\n")
            proc.stdin.flush()
            started = self._read(time.monotonic() + 60)
            if not started:
                raise RuntimeError("the test zygote did not fork")
            pid = started["pid"]
            self.forked += 1
            deadline = time.monotonic() + (timeout if timeout is not None else 10**6)
            done = self._read(deadline)
            timed_out = done is None
            if timed_out:  # as subprocess.run: kill it, wait for it, raise TimeoutExpired with what it wrote
                os.kill(pid, signal.SIGKILL)
                done = self._read(time.monotonic() + 60)
            out, err = (Path(files[name]).read_bytes() for name in ("out", "err"))
        if timed_out:
            raise subprocess.TimeoutExpired(cmd, timeout, output=_decode(out), stderr=_decode(err))
        assert done is not None
        return subprocess.CompletedProcess(cmd, done["returncode"], _decode(out), _decode(err))


_zygote = _Zygote()  # one per test process


def forked() -> int:
    """How many commands this test process has run through its zygote."""
    return _zygote.forked


def run(cmd, *, env=None, cwd=None, timeout=None, input=None, check=False, capture_output=True, text=True, **popen):
    """subprocess.run(cmd, ...) with the same arguments, a `promowatch` command line forked from the warm
    interpreter when it can be (its output captured as text, no other Popen argument)."""
    cmd = [str(part) for part in cmd]
    env = dict(os.environ if env is None else env)
    warm = (
        os.environ.get("PROMOWATCH_TEST_FRESH_PROCESSES") != "1"
        and capture_output
        and text
        and not any(popen.values())
        and len(cmd) >= 3
        and cmd[0] == sys.executable
        and cmd[1] == "-m"
        and cmd[2] in MODULES
        and _startup(env) == _startup(_zygote.env)
    )
    if not (warm and _zygote.lock.acquire(blocking=False)):
        return subprocess.run(
            cmd, env=env, cwd=cwd, timeout=timeout, input=input, check=check, capture_output=capture_output,
            text=text, **popen,
        )  # fmt: skip
    try:
        proc = _zygote.run(cmd, env, cwd, timeout, input.encode() if isinstance(input, str) else input)
    finally:
        _zygote.lock.release()
    if check and proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, cmd, proc.stdout, proc.stderr)
    return proc


# --- the zygote itself: `python tests/processes.py --zygote` -------------------------------------------------


def _serve() -> dict:
    """Preload, then fork a child per request; returns only in a child, with its request."""
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)
    import apprise

    apprise.Apprise().add("json://localhost")  # Apprise loads its plugins on first use: once, here
    import gc

    gc.freeze()  # the preloaded modules' objects: not traversed by a command's collections, nor at its exit
    replies = os.fdopen(os.dup(1), "w")
    requests = os.fdopen(os.dup(0), "r")
    replies.write(json.dumps({"ready": True}) + "\n")
    replies.flush()
    for line in requests:
        request = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            replies.close()
            requests.close()
            return request
        replies.write(json.dumps({"pid": pid}) + "\n")
        replies.flush()
        _, status = os.waitpid(pid, 0)
        replies.write(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}) + "\n")
        replies.flush()
    sys.exit(0)


def _become(request: dict) -> None:
    """Turn the forked child into the process `python -m <module> <argv>` would have started."""
    for fd, name, flags in ((0, "in", os.O_RDONLY), (1, "out", os.O_WRONLY), (2, "err", os.O_WRONLY)):
        opened = os.open(request[name], flags)
        os.dup2(opened, fd)
        os.close(opened)
    os.environ.clear()
    os.environ.update(request["env"])
    time.tzset()
    os.chdir(request["cwd"])
    sys.path[0] = request["cwd"]  # `python -m` puts the working directory first
    sys.argv = [sys.argv[0], *request["argv"]]


if __name__ == "__main__" and sys.argv[1:] == ["--zygote"]:
    sys.path[0] = str(Path(__file__).resolve().parents[1])
    _request = _serve()
    _become(_request)
    import runpy

    runpy.run_module(_request["module"], run_name="__main__", alter_sys=True)
