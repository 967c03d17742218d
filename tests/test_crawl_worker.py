"""The crawl worker as real child processes on a real SQLite file: reuse, recycling, hang, crash, memory, stop.

The faults are downloader middlewares defined here and handed to the worker as extra Scrapy settings (the
worker's child process imports this module); every wait is bounded.
"""

import os
import threading
import time

import pytest
from conftest import FIXTURES

from promowatch.crawl_worker import CrawlWorker, WorkerCallError, WorkerStopped
from storage.repository import crawl_run, last_crawls

pytestmark = pytest.mark.slow  # real processes and servers


class HangMiddleware:
    """Blocks the worker's reactor: a crawl that never ends (the worker must be killed)."""

    def process_request(self, request, spider=None):
        if not request.url.endswith("robots.txt"):
            time.sleep(float(os.environ.get("PW_TEST_HANG_SECONDS", "600")))


class CrashMiddleware:
    """The worker process dies in the middle of a crawl."""

    def process_request(self, request, spider=None):
        os._exit(3)


class SlowMiddleware:
    """Each page takes PW_TEST_SLOW_SECONDS without blocking the reactor; when and which, appended to a file."""

    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    async def process_request(self, request, spider=None):
        import asyncio

        spider = self.crawler.spider

        if request.url.endswith("robots.txt"):
            return None
        with open(os.environ["PW_TEST_SLOW_LOG"], "a") as f:
            f.write(f"start {spider.name} {time.monotonic()}\n")
        await asyncio.sleep(float(os.environ.get("PW_TEST_SLOW_SECONDS", "1")))
        with open(os.environ["PW_TEST_SLOW_LOG"], "a") as f:
            f.write(f"end {spider.name} {time.monotonic()}\n")
        return None


HANG = {"DOWNLOADER_MIDDLEWARES": {"test_crawl_worker.HangMiddleware": 10}}
SLOW = {"DOWNLOADER_MIDDLEWARES": {"test_crawl_worker.SlowMiddleware": 10}}
CRASH = {"DOWNLOADER_MIDDLEWARES": {"test_crawl_worker.CrashMiddleware": 10}}


@pytest.fixture
def worker(tmp_db):
    made = []

    def make(**kwargs):
        kwargs.setdefault("database_url", tmp_db)
        kwargs.setdefault("fixtures_dir", str(FIXTURES))
        w = CrawlWorker(**kwargs)
        made.append(w)
        return w

    yield make
    for w in made:
        w.shutdown(grace=5)


def timed(seconds, fn, *args, **kwargs):
    """fn(...) in a thread, failing the test if it takes longer than `seconds`."""
    box = {}

    def target():
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"{fn.__name__} still running after {seconds} s"
    if "error" in box:
        raise box["error"]
    return box["value"]


def test_two_crawls_in_one_child_then_recycled_after_n(worker, tmp_db):
    w = worker(recycle_after=2)
    [first] = timed(60, w.crawl, ["iliad"])
    [second] = timed(60, w.crawl, ["iliad"])
    assert first.status == second.status == "healthy", (first, second)
    assert first.worker_pid == second.worker_pid and first.worker_pid != os.getpid()
    assert first.offers > 0 and first.new_versions == first.offers and second.new_versions == 0
    assert first.events == 0 and second.events == 0  # baseline, then nothing changed
    assert first.crawl_run_id < second.crawl_run_id
    [third] = timed(60, w.crawl, ["vodafone"])
    assert third.status == "healthy" and third.worker_pid != first.worker_pid  # recycled after 2 crawls
    assert w.workers_started == 2
    assert last_crawls(tmp_db)["iliad"]["consecutive_failures"] == 0


def test_recycled_workers_leave_no_open_pipe_behind(worker):
    """Months of recycling must not leak the parent's file descriptors: each retired worker's pipes close."""
    w = worker(recycle_after=1)
    timed(60, w.crawl, ["iliad"])
    deadline = time.monotonic() + 30
    while len(w._children) > 1:  # the first worker retires after its crawl
        assert time.monotonic() < deadline
        time.sleep(0.05)
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(3):
        [outcome] = timed(60, w.crawl, ["iliad"])
        assert outcome.status == "healthy"
    while w._children and not all(c.exited.is_set() for c in w._children if c is not w._current):
        assert time.monotonic() < deadline + 60
        time.sleep(0.05)
    time.sleep(0.5)
    assert w.workers_started == 4
    assert len(os.listdir("/proc/self/fd")) <= before + 2  # at most the current worker's two pipe ends more


def test_a_hung_crawl_is_killed_recorded_failed_and_the_next_one_works(worker, tmp_db):
    w = worker(time_limit=2, kill_grace=1)
    started = time.monotonic()
    [hung] = timed(30, w.crawl, ["iliad"], settings=HANG)
    assert time.monotonic() - started < 20
    assert hung.status == "failed" and hung.finish_reason == "worker_killed"
    assert "time limit" in hung.error and "iliad" in hung.error
    run = crawl_run(hung.crawl_run_id, tmp_db)
    assert run["status"] == "failed" and run["finish_reason"] == "worker_killed" and "time limit" in run["error"]
    [after] = timed(60, w.crawl, ["iliad"])
    assert after.status == "healthy" and after.worker_pid != hung.worker_pid and after.offers > 0


def test_a_crashed_worker_is_recorded_and_restarted(worker, tmp_db):
    w = worker()
    [crashed] = timed(60, w.crawl, ["iliad"], settings=CRASH)
    assert crashed.status == "failed" and crashed.finish_reason == "worker_crashed"
    assert "exit code 3" in crashed.error
    assert crawl_run(crashed.crawl_run_id, tmp_db)["error"] == crashed.error
    [after] = timed(60, w.crawl, ["iliad"])
    assert after.status == "healthy" and after.worker_pid != crashed.worker_pid


def test_memory_limit_recycles_the_worker(worker):
    w = worker(memory_limit_mb=1)  # any Python process is over 1 MiB: recycled after every crawl
    [a] = timed(60, w.crawl, ["iliad"])
    [b] = timed(60, w.crawl, ["iliad"])
    assert a.status == b.status == "healthy" and a.worker_pid != b.worker_pid


def test_rss_is_read_without_psutil_and_agrees_with_it():
    """The service process reads its worker's memory from /proc: psutil (2.6 MiB) is not loaded for it."""
    import subprocess
    import sys

    code = (
        "import os, sys; from promowatch.crawl_worker import rss_bytes; n = rss_bytes(os.getpid()); "
        "print(n, 'psutil' in sys.modules, rss_bytes(2 ** 22 + 7))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    rss, loaded, gone = out.stdout.split()
    assert loaded == "False" and gone == "None" and int(rss) > 5 * 2**20
    psutil = pytest.importorskip("psutil")
    from promowatch.crawl_worker import rss_bytes

    ours, theirs = rss_bytes(os.getpid()), psutil.Process().memory_info().rss
    assert abs(ours - theirs) < 4 * 2**20


def test_one_crawl_per_operator_at_a_time_and_stop_records_interrupted(worker, tmp_db, monkeypatch):
    monkeypatch.setenv("PW_TEST_HANG_SECONDS", "30")
    w = worker(time_limit=60)
    box = {}
    thread = threading.Thread(target=lambda: box.setdefault("r", w.crawl(["iliad"], settings=HANG)), daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while w.pid is None or "iliad" not in w._in_flight:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    [again] = w.crawl(["iliad"])
    assert again.status == "skipped" and again.crawl_run_id is None
    timed(30, w.shutdown, grace=1)
    thread.join(10)
    [interrupted] = box["r"]
    assert interrupted.status == "failed" and interrupted.finish_reason == "interrupted"
    run = crawl_run(interrupted.crawl_run_id, tmp_db)
    assert run["finish_reason"] == "interrupted" and "stopped" in run["error"]
    with pytest.raises(WorkerStopped):
        w.crawl(["iliad"])


def _most_at_once(log_file) -> int:
    running, most = 0, 0
    for line in sorted(open(log_file), key=lambda line: (float(line.split()[2]), line.startswith("start"))):
        running += 1 if line.startswith("start") else -1
        most = max(most, running)
    return most


def test_crawls_wait_their_turn_in_order_and_a_recycle_runs_the_queued_ones(worker, tmp_db, tmp_path, monkeypatch):
    """parallel_crawls = 1: one crawl at a time, in the order asked. A crawl waiting in the child's queue longer
    than start_timeout is not taken for a stuck worker (the child accepted it); the recycle the request
    triggers (recycle_after) lets the queued crawls run first."""
    # kena waits two slow crawls (16 s) in the child's queue, longer than start_timeout; 12 s leaves a loaded
    # machine time to start the worker and accept the request
    monkeypatch.setenv("PW_TEST_SLOW_SECONDS", "8")
    monkeypatch.setenv("PW_TEST_SLOW_LOG", str(tmp_path / "slow.log"))
    w = worker(parallel_crawls=1, start_timeout=12, recycle_after=3)
    outcomes = timed(90, w.crawl, ["iliad", "ho", "kena"], settings=SLOW)
    assert [o.status for o in outcomes] == ["healthy"] * 3, outcomes
    assert len({o.worker_pid for o in outcomes}) == 1
    starts = [line.split()[1] for line in open(tmp_path / "slow.log") if line.startswith("start")]
    assert starts == ["iliad", "ho", "kena"] and _most_at_once(tmp_path / "slow.log") == 1
    assert all(crawl_run(o.crawl_run_id, tmp_db)["status"] == "healthy" for o in outcomes)
    (tmp_path / "slow.log").unlink()
    w2 = worker(parallel_crawls=2)
    assert [o.status for o in timed(90, w2.crawl, ["iliad", "ho", "kena"], settings=SLOW)] == ["healthy"] * 3
    assert _most_at_once(tmp_path / "slow.log") == 2


def test_a_stopping_service_does_not_start_the_queued_crawls(worker, tmp_db, tmp_path, monkeypatch):
    """The running crawl finishes within the grace; the queued ones are recorded interrupted (ignored by the
    health check), not started."""
    monkeypatch.setenv("PW_TEST_SLOW_SECONDS", "3")
    monkeypatch.setenv("PW_TEST_SLOW_LOG", str(tmp_path / "slow.log"))
    w = worker(parallel_crawls=1)
    box = {}
    thread = threading.Thread(
        target=lambda: box.setdefault("r", w.crawl(["iliad", "ho", "kena"], settings=SLOW)), daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 30
    while not (tmp_path / "slow.log").exists():  # iliad's page is being fetched
        assert time.monotonic() < deadline
        time.sleep(0.05)
    timed(30, w.shutdown, grace=20)
    thread.join(10)
    iliad, ho, kena = box["r"]
    assert iliad.status == "healthy" and iliad.offers > 0
    for queued in (ho, kena):
        assert queued.status == "failed" and queued.finish_reason == "interrupted"
        assert (
            crawl_run(queued.crawl_run_id, tmp_db)["error"] == "interrupted: the service stopped before this "
            "crawl began"
        )
    assert [line.split()[1] for line in open(tmp_path / "slow.log")] == ["iliad", "iliad"]
    assert last_crawls(tmp_db)["ho"]["consecutive_failures"] == 0


def test_tasks_run_in_the_worker_while_it_crawls(worker, tmp_db, monkeypatch):
    """send / health / last_crawls answer from the child, even while a crawl of it is running; a failing or
    unknown task is an error in the caller, the worker stays usable; a call to a dying worker does not hang."""
    monkeypatch.setenv("PW_TEST_HANG_SECONDS", "4")
    w = worker(time_limit=60)
    [first] = timed(60, w.crawl, ["iliad"])
    box = {}
    thread = threading.Thread(target=lambda: box.setdefault("r", w.crawl(["ho"], settings=HANG)), daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while "ho" not in w._in_flight:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    last = timed(10, w.call, "last_crawls", database_url=tmp_db)  # the reactor is busy with ho: a thread answers
    assert last["iliad"]["crawl_run_id"] == first.crawl_run_id and last["iliad"]["status"] == "healthy"
    assert timed(10, w.call, "send", database_url=tmp_db)["claimed"] == 0
    assert timed(10, w.call, "health", operators=["iliad"], threshold=1, channels=[], database_url=tmp_db) == []
    with pytest.raises(WorkerCallError, match="no task 'nope'"):
        timed(10, w.call, "nope")
    with pytest.raises(WorkerCallError, match="DatabaseUnavailable: the folder /nonexistent-dir of the database"):
        timed(20, w.call, "last_crawls", database_url="sqlite:////nonexistent-dir/x.db")
    thread.join(30)
    assert box["r"][0].status == "healthy"
    assert timed(10, w.call, "last_crawls", database_url=tmp_db)["ho"]["status"] == "healthy"
    pid = w.pid
    os.kill(pid, 9)
    with pytest.raises(WorkerCallError):  # answered by the dead worker's exit or by a fresh worker's failure
        timed(30, w.call, "nope")
    assert w.pid != pid
