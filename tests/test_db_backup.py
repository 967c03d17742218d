"""`promowatch db backup FILE`: a consistent copy of a SQLite database while another connection keeps writing to
it (SQLite's online backup API), never overwriting a file; on PostgreSQL one line that says to use pg_dump.

The writer commits ten rows at a time, each row numbered: a consistent backup holds a whole number of those
transactions, rows 1..n without a hole, and the writer is not held up while the backup runs (WAL).
"""

import os
import sqlite3
import threading
import time

import pytest
from conftest import PROMOWATCH, run
from test_db_copy import T0, contents, fill

from storage.backup import backup_sqlite
from storage.engine import DatabaseUnavailable, get_engine

PASSWORD = "s3cr3t-Pw"


def _bulk(path, rows: int) -> None:
    with sqlite3.connect(path) as conn:
        conn.executemany(
            "INSERT INTO rate_limit_hit (id, bucket, key_hash, at) VALUES (?, 'bulk', ?, ?)",
            ((n, f"{n:064x}", T0.isoformat(sep=" ")) for n in range(1, rows + 1)),
        )
    conn.close()


class Writer(threading.Thread):
    """Commits 10 numbered rows per transaction until stopped (at most `limit` transactions)."""

    def __init__(self, path, first: int, limit: int = 200_000):
        super().__init__(daemon=True)
        self.path, self.next, self.limit = path, first, limit
        self.commits: list[float] = []
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self):
        try:
            conn = sqlite3.connect(self.path, timeout=30)
            conn.execute("PRAGMA synchronous=NORMAL")
            while not self.stop.is_set() and len(self.commits) < self.limit:
                with conn:
                    conn.executemany(
                        "INSERT INTO rate_limit_hit (id, bucket, key_hash, at) VALUES (?, 'live', 'k', ?)",
                        ((self.next + n, T0.isoformat(sep=" ")) for n in range(10)),
                    )
                self.next += 10
                self.commits.append(time.monotonic())
            conn.close()
        except BaseException as exc:  # noqa: BLE001 — reported by the test
            self.error = exc


def test_a_backup_taken_while_another_connection_writes_is_consistent(tmp_path):
    path = tmp_path / "live.db"
    get_engine(f"sqlite:///{path}").dispose()  # migrated, in WAL mode as promowatch leaves it
    _bulk(path, 20_000)  # a few MB: the backup takes long enough for commits to happen meanwhile
    writer = Writer(path, first=20_001)
    writer.start()
    overlapped = False
    try:
        deadline = time.monotonic() + 60
        n = 0
        while time.monotonic() < deadline and n < 10 and (n < 3 or not overlapped):
            while len(writer.commits) < 5 * (n + 1) and writer.is_alive() and time.monotonic() < deadline:
                time.sleep(0.01)  # the writer is under way
            target = tmp_path / f"backup-{n}.db"
            started = time.monotonic()
            done = backup_sqlite(f"sqlite:///{path}", target)
            ended = time.monotonic()
            overlapped |= any(started < t < ended for t in writer.commits)
            assert done.file == target and done.revision is not None
            assert oct(target.stat().st_mode & 0o777) == "0o600"
            with sqlite3.connect(target) as copy:
                assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
                assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # one self-contained file
                ids = [row[0] for row in copy.execute("SELECT id FROM rate_limit_hit ORDER BY id")]
            copy.close()
            assert ids == list(range(1, len(ids) + 1))  # no hole: every transaction whole, none skipped
            assert len(ids) >= 20_000 and len(ids) % 10 == 0
            n += 1
    finally:
        writer.stop.set()
        writer.join(timeout=30)
    assert writer.error is None, writer.error
    assert len(writer.commits) > 5 * n  # the writer went on while backups were taken
    assert overlapped, "no commit of the writer happened while a backup ran: WAL writers must not wait"
    assert not list(tmp_path.glob("*.part"))


def test_what_a_backup_refuses(tmp_path):
    with pytest.raises(DatabaseUnavailable, match="use pg_dump|PostgreSQL's own tool: pg_dump") as pg:
        backup_sqlite(f"postgresql+psycopg://promo:{PASSWORD}@127.0.0.1:5432/promo", tmp_path / "b.db")
    assert PASSWORD not in str(pg.value) and "pg_dump --format=custom" in str(pg.value)
    assert "'postgresql://promo@127.0.0.1:5432/promo'" in str(pg.value)
    with pytest.raises(DatabaseUnavailable, match="does not exist"):
        backup_sqlite(f"sqlite:///{tmp_path / 'none.db'}", tmp_path / "b.db")
    assert not (tmp_path / "none.db").exists()
    source = tmp_path / "s.db"
    get_engine(f"sqlite:///{source}").dispose()
    (tmp_path / "taken.db").write_bytes(b"an earlier backup")
    with pytest.raises(DatabaseUnavailable, match="already exists"):
        backup_sqlite(f"sqlite:///{source}", tmp_path / "taken.db")
    assert (tmp_path / "taken.db").read_bytes() == b"an earlier backup"
    with pytest.raises(DatabaseUnavailable, match="does not exist: create it"):
        backup_sqlite(f"sqlite:///{source}", tmp_path / "no" / "b.db")


@pytest.mark.slow
def test_the_command(tmp_path):
    source = f"sqlite:///{tmp_path / 'pw.db'}"
    fill(source)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMOWATCH_")}
    env["PROMOWATCH_DATABASE_URL"] = source
    proc = run(PROMOWATCH + ["db", "backup", str(tmp_path / "b.db")], env)
    assert f"backed up {source} to {tmp_path / 'b.db'}" in proc.stdout and "integrity check ok" in proc.stdout
    assert contents(f"sqlite:///{tmp_path / 'b.db'}") == contents(source)
    again = run(PROMOWATCH + ["db", "backup", str(tmp_path / "b.db")], env, check=False)
    assert again.returncode == 2 and len(again.stderr.strip().splitlines()) == 1 and "already exists" in again.stderr
    env["PROMOWATCH_DATABASE_URL"] = f"postgresql+psycopg://promo:{PASSWORD}@127.0.0.1:5432/promo"
    pg = run(PROMOWATCH + ["db", "backup", str(tmp_path / "pg.db")], env, check=False)
    line = pg.stderr.strip()
    assert pg.returncode == 2 and len(line.splitlines()) == 1 and "pg_dump" in line and "Traceback" not in line, line
    assert PASSWORD not in pg.stdout + pg.stderr and not (tmp_path / "pg.db").exists()
