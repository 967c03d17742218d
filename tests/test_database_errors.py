"""A database that cannot be used ends every command with one line, never a traceback; a read-only one is read.

Each bad database (a damaged file, a missing folder, a URL that is not one, an unknown kind, a driver that is
not installed) × each command that opens the database, as real `promowatch` processes: exit 2 for a wrong
setting, 1 for a database that fails, exactly one line on stderr naming the file (or the URL, password
hidden). A read-only database (`mode=ro`: the tests run as root, whom file modes do not stop) serves the
reading commands without writing a byte, and the writing ones say it is read-only. Files we create are 0600
and the data folder 0700 under the usual umask 022; `db upgrade` says what it did.
"""

import hashlib
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import sysconfig
import tempfile

import processes
import pytest
from conftest import PROMOWATCH, ROOT, promowatch_without

pytestmark = pytest.mark.slow

PASSWORD = "s3cr3t-pw"


def offer(key, price):
    return {
        "operator": "iliad",
        "offer_key": key,
        "name": key.upper(),
        "url": f"https://www.iliad.it/{key}",
        "plan_type": "prepaid",
        "price_cents": price,
        "period_days": 30,
    }


def _env(url=None, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMOWATCH_")}
    if url is not None:
        env["PROMOWATCH_DATABASE_URL"] = url
    env["PROMOWATCH_TODAY"] = "2026-09-15"
    env.update(extra)
    return env


def pw(args, env, timeout=180, umask=None, command=PROMOWATCH):
    return processes.run(
        command + list(args),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=(lambda: os.umask(umask)) if umask is not None else None,
    )


def ok(args, env):
    proc = pw(args, env)
    assert proc.returncode == 0, f"{args} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def one_line(proc, code, *names):
    """Exit `code`, one line on stderr naming each of `names`, no traceback anywhere, no password."""
    text = proc.stderr.strip()
    assert proc.returncode == code, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr + proc.stdout
    assert len(text.splitlines()) == 1, text
    for name in names:
        assert name in text, (name, text)
    assert PASSWORD not in proc.stderr + proc.stdout
    return text


@pytest.fixture(scope="module")
def populated(tmp_path_factory):
    """A database at the head: one subscription, two crawls of iliad (so events, history, notifications)."""
    folder = tmp_path_factory.mktemp("populated")
    url = f"sqlite:///{folder / 'good.db'}"
    env = _env(url)
    ok(["subscribe", "--channel", "json://127.0.0.1:9/hook", "--lang", "en"], env)
    for n, items in enumerate(([offer("a", 999), offer("b", 699)], [offer("a", 899), offer("b", 699), offer("c", 1)])):
        (folder / f"{n}.json").write_text(json.dumps(items), "utf-8")
        ok(["import", str(folder / f"{n}.json")], env)
    return folder / "good.db"


@pytest.fixture(scope="module")
def items_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("items") / "items.json"
    path.write_text(json.dumps([offer("z", 500)]), "utf-8")
    return path


# every command that opens the database
COMMANDS = {
    "offers": ["offers"],
    "stay": ["stay", "--days", "10"],
    "events": ["events"],
    "history": ["history", "iliad", "a"],
    "status": ["status"],
    "subscribers": ["subscribers"],
    "notifications": ["notifications"],
    "send": ["send"],
    "subscribe": ["subscribe", "--channel", "json://127.0.0.1:9/hook"],
    "unsubscribe": ["unsubscribe", "1"],
    "import": ["import", "{items}"],
    "crawl": ["crawl", "iliad", "--offline"],
    "db upgrade": ["db", "upgrade"],
    "run --once": ["run", "--once", "--offline"],
}


def _not_a_database(tmp_path, populated):
    path = tmp_path / "noise.db"
    path.write_bytes(os.urandom(8192))
    return f"sqlite:///{path}", 1, [str(path), "damaged", "backup"]


def _malformed(tmp_path, populated):
    """A real database cut short (a disk that filled up, a copy interrupted): 'database disk image is malformed'."""
    path = tmp_path / "cut.db"
    path.write_bytes(populated.read_bytes()[: 5 * 4096])
    return f"sqlite:///{path}", 1, [str(path), "damaged", "backup"]


def _missing_folder(tmp_path, populated):
    path = tmp_path / "no" / "such" / "folder" / "promowatch.db"
    return f"sqlite:///{path}", 2, [str(path.parent), "does not exist"]


def _not_a_url(tmp_path, populated):
    return "promowatch.db on the server", 2, ["'promowatch.db on the server'", "not a database URL"]


def _unknown_kind(tmp_path, populated):
    return f"sqlight://user:{PASSWORD}@host/db", 2, ["sqlight://user:***@host/db", "unknown kind of database"]


def _driver_not_installed(tmp_path, populated):
    """The PostgreSQL driver not installed: the command runs in a process where psycopg cannot be imported
    (installed here for the PostgreSQL pass of the tests)."""
    return (
        f"postgresql+psycopg://promo:{PASSWORD}@127.0.0.1:9/promo",
        1,
        [
            "postgresql+psycopg://promo:***@127.0.0.1:9/promo",
            "'psycopg'",
            "not installed",
            "pip install 'psycopg[binary]'",
        ],
        promowatch_without("psycopg"),
    )


BAD = {
    "not_a_database": _not_a_database,
    "malformed": _malformed,
    "missing_folder": _missing_folder,
    "not_a_url": _not_a_url,
    "unknown_kind": _unknown_kind,
    "driver_not_installed": _driver_not_installed,
}


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("bad", list(BAD))
def test_a_database_that_cannot_be_used_is_one_line(tmp_path, populated, items_file, bad, command):
    url, code, names, *command_line = BAD[bad](tmp_path, populated)
    args = [a.replace("{items}", str(items_file)) for a in COMMANDS[command]]
    one_line(pw(args, _env(url), timeout=120, command=command_line[0] if command_line else PROMOWATCH), code, *names)
    assert not (tmp_path / "no").exists()  # a missing folder is not created on a guess


def _digest(path):
    with open(path, "rb") as file:
        return hashlib.sha256(file.read()).hexdigest()


@pytest.fixture(params=["wal", "delete"])
def read_only_copy(request, tmp_path, populated):
    """A copy of the populated database opened read-only, in WAL mode (as promowatch leaves it) or in rollback
    mode (switching it to WAL would be a write)."""
    path = tmp_path / "ro.db"
    shutil.copy(populated, path)
    with sqlite3.connect(path) as conn:
        assert conn.execute(f"PRAGMA journal_mode={request.param}").fetchone()[0] == request.param
    conn.close()
    return path, f"sqlite:///file:{path}?mode=ro&uri=true"


READING = {
    "offers": ["offers", "--json"],
    "stay": ["stay", "--days", "10", "--gb", "5", "--json"],
    "events": ["events", "--json"],
    "history": ["history", "iliad", "a", "--json"],
    "status": ["status", "--json"],
    "subscribers": ["subscribers", "--json"],
    "notifications": ["notifications", "--json"],
}


def _read(args, url):
    rows = json.loads(ok(args, _env(url)).stdout)
    if args[0] == "status":  # an operator never crawled is due "now": the moment of the call
        rows = [{k: v for k, v in r.items() if r.get("finished_at") or k != "next_run"} for r in rows]
    return rows


@pytest.fixture(scope="module")
def read_by_the_owner(populated):
    """What each reading command prints on the populated database, opened as usual (read once per module: the
    reads below compare with it)."""
    return {name: _read(args, f"sqlite:///{populated}") for name, args in READING.items()}


def test_reading_commands_work_on_a_read_only_database_and_write_nothing(read_only_copy, read_by_the_owner):
    path, url = read_only_copy
    digest = _digest(path)
    for name, args in READING.items():
        read_only = _read(args, url)
        assert read_only and read_only == read_by_the_owner[name], name
    assert _digest(path) == digest


WRITING = {
    "subscribe": ["subscribe", "--channel", "json://127.0.0.1:9/other"],
    "unsubscribe": ["unsubscribe", "1"],
    "import": ["import", "{items}"],
    "crawl": ["crawl", "iliad", "--offline"],
    "run --once": ["run", "--once", "--offline"],
}


@pytest.mark.parametrize("command", list(WRITING))
def test_writing_commands_say_the_database_is_read_only(read_only_copy, items_file, command):
    path, url = read_only_copy
    digest = _digest(path)
    args = [a.replace("{items}", str(items_file)) for a in WRITING[command]]
    one_line(pw(args, _env(url)), 1, str(path), "read-only")
    assert _digest(path) == digest


def _as_nobody():
    """The command prefix that runs this checkout's Python code as user nobody (setpriv), or skip: it needs root,
    setpriv and a Python of this version that nobody may run (the venv's may live under /root)."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to act as an unprivileged user")
    path = f"PYTHONPATH={ROOT}:{sysconfig.get_paths()['purelib']}"
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for python in (sys.executable, f"/usr/bin/{version}", f"/usr/local/bin/{version}"):
        prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "env", "HOME=/tmp", path, python]
        probe = subprocess.run(prefix + ["-c", "import sqlalchemy, sqlmodel, typer"], capture_output=True, timeout=60)
        if probe.returncode == 0:
            return prefix
    pytest.skip(f"no {version} that user nobody may run with this checkout's packages")


@pytest.mark.parametrize("folder_mode", [0o755, 0o1777], ids=["folder_read_only", "folder_writable"])
def test_a_database_another_user_owns_is_read_not_written(populated, read_by_the_owner, items_file, folder_mode):
    """The read-only database a user meets: the service's file (0644 here), read by someone else, in a folder
    they may not write (SQLite cannot create its -shm there) or may. Reading commands answer as for the owner,
    writing ones say read-only, and the file is not touched."""
    prefix = _as_nobody()
    folder = tempfile.mkdtemp(prefix="promowatch-ro-")
    try:
        path = os.path.join(folder, "service.db")
        shutil.copy(populated, path)
        os.chmod(path, 0o644)
        os.chmod(folder, folder_mode)
        items = os.path.join(folder, "items.json")
        shutil.copy(items_file, items)
        os.chmod(items, 0o644)
        digest = _digest(populated)

        def as_nobody(args):
            command = prefix[:5] + [f"PROMOWATCH_DATABASE_URL=sqlite:///{path}"] + prefix[5:]
            return subprocess.run(
                command + ["-m", "promowatch.cli"] + args, cwd=ROOT, capture_output=True, text=True, timeout=180
            )

        for name, args in READING.items():
            proc = as_nobody(args)
            assert proc.returncode == 0, f"{name}: {proc.stderr}"
            if name != "status":
                assert json.loads(proc.stdout) == read_by_the_owner[name], name
        for args in (
            ["subscribe", "--channel", "json://127.0.0.1:9/x"],
            ["import", items],
            ["run", "--once", "--offline"],
        ):
            one_line(as_nobody(args), 1, path, "read-only")
        assert _digest(path) == digest
    finally:
        shutil.rmtree(folder)


def test_a_read_only_database_behind_the_schema_is_not_migrated(tmp_path):
    path = tmp_path / "old.db"
    ok(["db", "upgrade", "0002"], _env(f"sqlite:///{path}"))
    digest = _digest(path)
    url = f"sqlite:///file:{path}?mode=ro&uri=true"
    for args in (["offers"], ["db", "upgrade"]):
        one_line(pw(args, _env(url)), 1, str(path), "read-only", "db upgrade")
    assert _digest(path) == digest


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_new_database_files_are_private_under_umask_022(tmp_path):
    """The default database (user data folder, created here) and one at an explicit URL: folder 0700, file 0600,
    and the -wal and -shm files SQLite creates beside it (while a connection is open) 0600."""
    xdg = tmp_path / "xdg"
    env = _env(None, XDG_DATA_HOME=str(xdg))
    assert pw(["db", "upgrade"], env, umask=0o022).returncode == 0
    explicit = tmp_path / "explicit.db"
    assert pw(["db", "upgrade"], _env(f"sqlite:///{explicit}"), umask=0o022).returncode == 0
    default = xdg / "promowatch" / "promowatch.db"
    assert _mode(default.parent) == 0o700
    for db in (default, explicit):
        assert _mode(db) == 0o600, db
        # a writer holds the database open (as the service does): its -wal and -shm exist while it runs
        code = (
            "import os, sqlite3, stat, sys; os.umask(0o022); c = sqlite3.connect(sys.argv[1]); "
            "c.execute('INSERT INTO alembic_version SELECT version_num || \"x\" FROM alembic_version'); c.commit(); "
            "print(' '.join(oct(stat.S_IMODE(os.stat(sys.argv[1] + s).st_mode)) for s in ('-wal', '-shm')))"
        )
        modes = subprocess.run([sys.executable, "-c", code, str(db)], capture_output=True, text=True, timeout=60)
        assert modes.stdout.split() == ["0o600", "0o600"], modes.stderr


def test_the_systemd_unit_sets_a_private_umask():
    unit = (ROOT / "docs" / "promowatch.service").read_text("utf-8")
    assert "\nUMask=0077\n" in unit


UPGRADES = [
    # (revision the database is at first, the argument, exit, what stdout or stderr says, revision after)
    (None, "nosuchrev", 2, "unknown schema revision 'nosuchrev'; known: 0001_initial", None),
    ("head", "0001", 0, "is at revision {head}, already past 0001_initial: nothing done", "head"),
    ("head", "head", 0, "is already at revision {head}: nothing to do", "head"),
    (None, "0002", 0, "upgraded from revision (empty) to 0002_offer_event", "0002_offer_event"),
    ("0002", "head", 0, "upgraded from revision 0002_offer_event to {head}", "head"),
    ("0002", "0001", 0, "is at revision 0002_offer_event, already past 0001_initial: nothing done", "0002_offer_event"),
    ("0009_from_the_future", "head", 1, "at schema revision '0009_from_the_future', which this promowatch", None),
]


@pytest.mark.parametrize("first, argument, code, says, after", UPGRADES)
def test_db_upgrade_says_what_it_did(tmp_path, first, argument, code, says, after):
    from storage.engine import HEAD_REVISION

    says = says.format(head=HEAD_REVISION)
    path = tmp_path / "up.db"
    env = _env(f"sqlite:///{path}")
    if first == "0009_from_the_future":
        ok(["db", "upgrade"], env)
        with sqlite3.connect(path) as conn:
            conn.execute("UPDATE alembic_version SET version_num = ?", (first,))
        conn.close()
    elif first:
        ok(["db", "upgrade", first], env)
    proc = pw(["db", "upgrade", argument], env)
    if code:
        one_line(proc, code, says)
    else:
        assert proc.returncode == 0 and says in proc.stdout and str(path) in proc.stdout, proc.stdout + proc.stderr
    if after:
        with sqlite3.connect(path) as conn:
            assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == after.replace(
                "head", HEAD_REVISION
            )
        conn.close()


def test_a_database_others_may_read_is_named_at_service_start(tmp_path):
    """A database created before files were made private: `run` warns (it does not change a file it did not
    create), naming the file, its mode and the fix."""
    from storage.engine import exposed

    path = tmp_path / "old.db"
    url = f"sqlite:///{path}"
    ok(["db", "upgrade"], _env(url))
    assert exposed(url) is None
    os.chmod(path, 0o644)
    assert exposed(url) == (
        f"others may read the database, which holds channel passwords: {path} (0644); run chmod 600 {path}* as "
        "its owner"
    )
