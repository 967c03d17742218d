"""`promowatch import` and `promowatch events` as real processes on a real SQLite file."""

import json
import os
from pathlib import Path

import processes
import pytest
from conftest import FIXTURES, PROMOWATCH, ROOT

pytestmark = pytest.mark.slow  # real processes and servers


def offer(key, price, operator="iliad", **extra):
    return {
        "operator": operator,
        "offer_key": key,
        "name": key.upper(),
        "url": f"https://www.iliad.it/{key}",
        "plan_type": "prepaid",
        "price_cents": price,
        "period_days": 30,
        **extra,
    }


def run(*args, check=True):
    env = {k: v for k, v in os.environ.items() if k != "PROMOWATCH_LOG_LEVEL"}  # tmp_db set the database URL
    proc = processes.run(PROMOWATCH + list(args), cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture
def write(tmp_path):
    def write(name, data):
        path = tmp_path / name
        path.write_text(json.dumps(data))
        return str(path)

    return write


def test_import_twice_then_list_events(tmp_db, write):
    first = json.loads(run("import", write("1.json", [offer("a", 999), offer("b", 699, data_gb=100)]), "--json").stdout)
    assert first["status"] == "healthy" and first["offers"] == 2 and first["events"] == []  # baseline
    second = json.loads(
        run(
            "import",
            write("2.json", [offer("a", 999), offer("b", 599, data_gb=150), offer("c", 499)]),
            "--operator",
            "iliad",
            "--json",
        ).stdout
    )
    assert second["status"] == "healthy" and second["new_versions"] == 2
    assert sorted((e["offer_key"], e["kind"]) for e in second["events"]) == [("b", "price_drop"), ("c", "new")]
    events = json.loads(run("events", "--json").stdout)
    assert {e["id"] for e in events} == {e["id"] for e in second["events"]}
    drop = next(e for e in events if e["kind"] == "price_drop")
    assert (drop["price_before"], drop["price_after"], drop["changes"]) == (699, 599, {"data_gb": [100.0, 150.0]})
    assert [e["offer_key"] for e in json.loads(run("events", "--kind", "new", "--json").stdout)] == ["c"]
    assert json.loads(run("events", "--operator", "ho", "--json").stdout) == []
    assert json.loads(run("events", "--since", "2999-01-01", "--json").stdout) == []
    assert len(json.loads(run("events", "--since", "2000-01-01T00:00:00+02:00", "--limit", "1", "--json").stdout)) == 1
    table = run("events").stdout
    assert "price_drop" in table and "6,99 € → 5,99 €" in table and "data_gb: 100 → 150" in table
    # the same file again: stored, compared, nothing changed
    assert (
        json.loads(
            run(
                "import", write("3.json", [offer("a", 999), offer("b", 599, data_gb=150), offer("c", 499)]), "--json"
            ).stdout
        )["events"]
        == []
    )


def test_import_empty_list_is_refused_and_records_nothing(tmp_db, write):
    """An empty file is the user's input, not the operator's page: no failed crawl of the operator."""
    run("import", write("1.json", [offer("a", 999)]))
    proc = run("import", write("empty.json", []), "--operator", "iliad", "--json", check=False)
    assert proc.returncode == 2 and "empty.json: empty list: no offer to import; nothing recorded" in proc.stderr
    status = {r["operator"]: r for r in json.loads(run("status", "--json").stdout)}
    assert status["iliad"]["status"] == "healthy" and status["iliad"]["consecutive_failures"] == 0
    assert [o["offer_key"] for o in json.loads(run("offers", "--json").stdout)] == ["a"]
    assert json.loads(run("events", "--json").stdout) == []
    # without --operator an empty list names no operator: a usage error, nothing recorded
    proc = run("import", write("empty.json", []), check=False)
    assert proc.returncode == 2 and "--operator" in proc.stderr


MALFORMED = [
    ("ints.json", [1, 2], ["--operator", "iliad"], "ints.json: 2 of 2 items are not an offer object (item 1 is int 1)"),
    ("ints.json", [1, 2], [], "ints.json: 2 of 2 items are not an offer object"),
    ("mixed.json", [offer("a", 999), "b"], [], "mixed.json: 1 of 2 items is not an offer object (item 2 is str"),
    ("nulls.json", [None], ["--operator", "iliad"], "1 of 1 item is not an offer object (item 1 is NoneType null)"),
    (
        "keys.json",
        [{"offer_key": "a"}, {"name": "x"}, {"offer_key": "b", "price_cents": 999}],
        ["--operator", "iliad"],
        "keys.json: no valid offer in 3 items (dropped: ",
    ),
    ("bad.json", [offer("a", -1), offer("b", 0)], [], "bad.json: no valid offer in 2 items (dropped: "),
]


@pytest.fixture(scope="module")
def one_healthy_import(module_db, tmp_path_factory):
    """A database holding one healthy import of one offer, made once by a real process."""
    path = tmp_path_factory.mktemp("ok") / "ok.json"
    path.write_text(json.dumps([offer("a", 999)]))
    env = {k: v for k, v in os.environ.items() if k != "PROMOWATCH_LOG_LEVEL"}
    proc = processes.run(
        PROMOWATCH + ["import", str(path)],
        cwd=ROOT,
        env={**env, "PROMOWATCH_DATABASE_URL": module_db},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return module_db


@pytest.mark.parametrize("name, data, args, message", MALFORMED, ids=[m[0] + str(len(m[2])) for m in MALFORMED])
def test_a_file_without_any_valid_offer_is_refused_and_never_a_failed_crawl(
    tmp_db, write, one_healthy_import, copy_of, name, data, args, message
):
    copy_of(one_healthy_import)  # a healthy crawl first (the status below must still be that one's)
    for _ in range(3):  # as often as it takes the health check to alert admins
        proc = run("import", write(name, data), *args, check=False)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    (iliad,) = [r for r in json.loads(run("status", "--json").stdout) if r["operator"] == "iliad"]
    assert iliad["status"] == "healthy" and iliad["consecutive_failures"] == 0, iliad


def test_no_valid_offer_names_the_reasons_with_counts(tmp_db, write):
    items = [{"offer_key": "a"}, {"offer_key": "b"}, offer("c", 0)]
    proc = run("import", write("x.json", items), "--operator", "iliad", check=False)
    assert proc.returncode == 2 and "(dropped: no_price 2, zero_price 1)" in proc.stderr, proc.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["import", "{tmp}"], "{tmp} is a folder: give the JSON file"),
        (["import", "/dev/null"], "/dev/null is not a regular file"),
        (["parse", "iliad", "/dev/null"], "/dev/null is not a regular file: give a saved HTML page"),
        (["import", "{ok}", "--min-offers", "-1"], "--min-offers -1 is less than 1"),
        (["import", "{ok}", "--min-offers", "0"], "--min-offers 0 is less than 1"),
    ],
)
def test_import_and_parse_name_what_the_path_is(tmp_db, tmp_path, write, args, message):
    ok = write("ok.json", [offer("a", 999)])
    fill = {"tmp": str(tmp_path), "ok": ok}
    proc = run(*[a.format(**fill) for a in args], check=False)
    assert proc.returncode == 2 and message.format(**fill) in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert json.loads(run("offers", "--json").stdout) == []


def test_wrong_operator_is_a_clear_error_and_records_nothing(tmp_db, write):
    proc = run(
        "import", write("x.json", [offer("a", 999), offer("b", 699, operator="ho")]), "--operator", "iliad", check=False
    )
    assert proc.returncode == 2 and "1 item is of operator ho, not iliad" in proc.stderr
    proc = run("import", write("y.json", [offer("a", 999), offer("b", 699, operator="ho")]), check=False)
    assert proc.returncode == 2 and "several operators" in proc.stderr
    status = {r["operator"]: r for r in json.loads(run("status", "--json").stdout)}
    assert status["iliad"]["status"] == "never crawled"


def test_bad_items_dropped_by_reason_and_min_offers(tmp_db, write):
    items = [offer("a", 999), offer("b", 0), offer("c", "9,99"), offer("a", 899), {"offer_key": "d"}]
    proc = run("import", write("x.json", items), "--min-offers", "2", "--json", check=False)
    summary = json.loads(proc.stdout)
    assert proc.returncode == 1 and summary["status"] == "partial" and "at least 2" in summary["error"]
    assert summary["dropped"] == {"zero_price": 1, "bad_price": 1, "duplicate_offer_key": 1, "no_price": 1}
    assert json.loads(run("offers", "--json").stdout) == []  # a partial crawl changes nothing
    # 3 of the 5 cards invalid: more than the share a healthy crawl may drop (spiders/crawl_rules.py)
    proc = run("import", write("x.json", items), "--json", check=False)
    summary = json.loads(proc.stdout)
    assert proc.returncode == 1 and summary["status"] == "partial" and summary["offers"] == 0, summary
    assert summary["error"] == (
        "dropped 4 of 5 cards (more than 20% invalid): b (zero_price), c (bad_price: '9,99'), "
        "a (duplicate_offer_key), d (no_price)"
    )
    few_bad = write("y.json", items[:2] + [offer(k, 500) for k in "cdefg"])
    summary = json.loads(run("import", few_bad, "--json").stdout)
    assert summary["status"] == "healthy" and summary["offers"] == 6
    assert summary["error"] == "dropped 1 of 7 cards: b (zero_price)"
    proc = run("import", few_bad)
    assert "dropped 1" in proc.stdout and "dropped 1 of 7 cards: b (zero_price)" in proc.stderr
    (iliad,) = [r for r in json.loads(run("status", "--json").stdout) if r["operator"] == "iliad"]
    assert iliad["status"] == "healthy" and iliad["error"] == "dropped 1 of 7 cards: b (zero_price)"
    assert [(c["offer_key"], c["reason"]) for c in iliad["dropped_cards"]] == [("b", "zero_price")]


def test_what_parse_prints_imports(tmp_db, tmp_path):
    parsed = run("parse", "vodafone", str(FIXTURES / "vodafone" / "mobile.html"), "--json", "--today", "2026-09-15")
    path = tmp_path / "vodafone.json"
    path.write_text(parsed.stdout)
    summary = json.loads(run("import", str(path), "--json").stdout)
    assert summary["operator"] == "vodafone" and summary["status"] == "healthy"
    assert summary["offers"] == len(json.loads(parsed.stdout)) > 0 and summary["dropped"] == {}


@pytest.mark.parametrize(
    "args, message",
    [
        (["events", "--kind", "bogus"], "unknown kind"),
        (["events", "--operator", "acme"], "unknown operator"),
        (["events", "--since", "yesterday"], "not an ISO date"),
        (["import", "/nonexistent.json"], "no such file"),
    ],
)
def test_usage_errors(tmp_db, args, message):
    proc = run(*args, check=False)
    assert proc.returncode == 2 and message in proc.stderr


def test_import_items_rejects_non_lists(tmp_db):
    from promowatch.cli_events import ImportUsageError, import_items

    with pytest.raises(ImportUsageError, match="JSON list"):
        import_items({"operator": "iliad"})
    with pytest.raises(ImportUsageError, match="unknown operator 'acme'"):
        import_items([offer("a", 999, operator="acme")])


def _replayable(path):
    """Detection cases whose crawls are all healthy Iliad crawls on the crawl day: what `import` can replay."""
    case = json.loads(path.read_text("utf-8"))
    return "removed_after" not in case and all(
        c.get("status", "healthy") == "healthy" and "day" not in c and c.get("operator", "iliad") == "iliad"
        for c in case["crawls"]
    )


REPLAYABLE = [p for p in sorted((Path(__file__).parent / "data" / "detect").glob("*.json")) if _replayable(p)]


@pytest.mark.parametrize("case_file", REPLAYABLE, ids=[p.stem for p in REPLAYABLE])
def test_replaying_crawls_through_import_gives_the_rules_events(tmp_db, tmp_path, case_file):
    """The detection cases again, each crawl a real `promowatch import` process on one SQLite file; then one
    `promowatch events` process lists them all, newest first, each under the crawl that detected it."""
    case = json.loads(case_file.read_text("utf-8"))
    runs = []
    for n, crawl in enumerate(case["crawls"]):
        feed = tmp_path / f"crawl{n}.json"
        feed.write_text(
            json.dumps(
                [
                    {
                        "operator": "iliad",
                        "name": i["offer_key"].upper() if isinstance(i.get("offer_key"), str) else "NO KEY",
                        "plan_type": "prepaid",
                        "url": f"https://example.it/{i.get('offer_key')}",
                        "period_days": 30,
                        **i,
                    }
                    for i in crawl["items"]
                ]
            ),
            "utf-8",
        )
        proc = run("import", str(feed), "--operator", "iliad", "--json", check=False)
        summary, decided = json.loads(proc.stdout), crawl.get("decided", "healthy")
        assert (summary["status"], proc.returncode) == (decided, 0 if decided == "healthy" else 1), proc.stderr
        dropped = [[c["offer_key"], c["reason"]] for c in summary["dropped_cards"]]
        assert dropped == crawl.get("dropped", []), f"crawl {n}"
        runs.append(summary["crawl_run_id"])
    assert len(set(runs)) == len(runs), runs  # every import is a crawl of its own
    events = json.loads(run("events", "--json", "--limit", "1000").stdout)
    assert [e["id"] for e in events] == sorted((e["id"] for e in events), reverse=True)  # newest first
    assert {e["crawl_run_id"] for e in events} <= set(runs)
    for n, (crawl, run_id) in enumerate(zip(case["crawls"], runs, strict=True)):
        new = sorted((e["offer_key"], e["kind"]) for e in events if e["crawl_run_id"] == run_id)
        assert new == sorted((e["offer_key"], e["kind"]) for e in crawl["events"]), f"crawl {n}"


def test_dropped_card_names_are_shown_as_typed(tmp_db, write):
    """A dropped card is named by its offer_key, else by its (scraped, untrusted) name: shown literally."""
    items = [offer(k, 500) for k in "abcdef"] + [{**offer("x", -1), "offer_key": None, "name": "Giga [/] [bold]x"}]
    proc = run("import", write("x.json", items))
    assert 'dropped 1 of 7 cards: "Giga [/] [bold]x" (no_offer_key: None)' in " ".join(proc.stderr.split())
