"""Bad input on the command line gets one line (what, the accepted form) and exit 2, never a traceback; names
a person types for operators are understood. Real `promowatch` processes on a real SQLite file."""

import json
import os
import sys

import processes
import pytest
from conftest import FIXTURES, ROOT

from spiders.registry import spider_class

pytestmark = pytest.mark.slow
ILIAD_PAGE = FIXTURES / "iliad" / "mobile.html"


def promowatch(*args, env=None, check_code=None):
    env = env or {k: v for k, v in os.environ.items() if k != "PROMOWATCH_LOG_LEVEL"}
    proc = processes.run(
        [sys.executable, "-m", "promowatch", *map(str, args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    if check_code is not None:
        assert proc.returncode == check_code, f"{args} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def one_line(proc) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]


NOT_HTML = {
    "json_object": b'{"offers": [{"name": "x"}]}',
    "json_list": b'[{"name": "x"}]',
    "plain_text": b"just some notes about offers\n",
    "png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "empty": b"",
    "csv": b"name,price\nGIGA 200,9.99\n",
}


@pytest.mark.dialect_neutral
@pytest.mark.parametrize("case", sorted(NOT_HTML))
def test_parse_refuses_what_is_not_an_html_page(case, tmp_path, tmp_db):
    page = tmp_path / f"page.{case}"
    page.write_bytes(NOT_HTML[case])
    line = one_line(promowatch("parse", "iliad", page, check_code=2))
    assert "not an HTML page" in line and str(page) in line


@pytest.mark.dialect_neutral
@pytest.mark.parametrize("day", ["2026-13-45", "2026-02-30", "15/09/2026", "tomorrow", "2026-9-1", "20260915"])
def test_parse_refuses_a_today_that_is_not_a_day(day, tmp_db):
    line = one_line(promowatch("parse", "iliad", ILIAD_PAGE, "--today", day, check_code=2))
    assert "--today" in line and "YYYY-MM-DD" in line


BAD_AMOUNTS = ["1e3", "9,999", "1.000,00", "1,000", "-1", "abc", "0,005", "", "9,99,9", "€-5"]
MONEY_OPTIONS = [
    ("offers", "--max-price"),
    ("subscribe", "--max-price"),
    ("subscribe", "--max-eur-per-gb"),
    ("subscribe", "--max-year-cost"),
]


@pytest.mark.dialect_neutral
@pytest.mark.parametrize("command, flag", MONEY_OPTIONS)
@pytest.mark.parametrize("amount", ["1e3", "9,999", "-1"])  # the whole class: test_the_money_parser_refuses
def test_amounts_that_are_not_euro_are_refused(command, flag, amount, tmp_db):
    extra = ["--channel", "json://127.0.0.1:9/hook"] if command == "subscribe" else []
    line = one_line(promowatch(command, *extra, flag, amount, check_code=2))
    assert flag in line and "at most two decimals" in line and "9,99" in line


@pytest.mark.parametrize(
    "text, cents", [("9,99", 999), ("9.99", 999), ("10", 1000), ("0", 0), ("7,5", 750), (" 12 ", 1200), ("5 €", 500)]
)
def test_the_accepted_amounts(text, cents):
    from contract.amounts import money_option

    assert money_option(text, "--max-price") == cents


@pytest.mark.parametrize("text", BAD_AMOUNTS)
def test_the_money_parser_refuses(text):
    from contract.amounts import money_option

    with pytest.raises(ValueError, match="at most two decimals"):
        money_option(text, "--max-price")


def test_max_price_filters_in_whole_cents(tmp_db, tmp_path):
    items = json.loads(promowatch("parse", "iliad", ILIAD_PAGE, "--json", check_code=0).stdout)
    file = tmp_path / "iliad.json"
    file.write_text(json.dumps(items), "utf-8")
    promowatch("import", file, check_code=0)
    for flag_value in ("9,99", "9.99"):
        shown = json.loads(promowatch("offers", "--max-price", flag_value, "--json", check_code=0).stdout)
        assert shown and {o["offer_key"] for o in shown} == {o["offer_key"] for o in items if o["price_cents"] <= 999}


NAMES = {
    "Iliad": "iliad",
    "ILIAD": "iliad",
    "1Mobile": "unomobile",
    "1mobile": "unomobile",
    "ho.": "ho",
    "ho. Mobile": "ho",
    "Wind Tre": "windtre",
    "WINDTRE": "windtre",
    "WindTre": "windtre",
    "PosteMobile": "postemobile",
    "Poste Mobile": "postemobile",
    "Lycamobile": "lyca",
    "Sky Mobile": "sky",
    "Very Mobile": "very",
    "kena mobile": "kena",
    "TIM": "tim",
    "Tiscali Mobile": "tiscali",
    "CoopVoce": "coopvoce",
}


@pytest.mark.parametrize("name", sorted(NAMES))
def test_operator_names_resolve(name):
    from contract.catalogue import resolve_operator

    assert resolve_operator(name) == NAMES[name]


@pytest.mark.parametrize("name, hint", [("ilad", "iliad"), ("vodafon", "vodafone"), ("postmobile", "postemobile")])
def test_an_unknown_operator_names_a_close_one(name, hint):
    from contract.catalogue import UnknownOperator, resolve_operator

    with pytest.raises(UnknownOperator, match=f"did you mean {hint}\\?") as info:
        resolve_operator(name)
    assert "known: tim, vodafone" in str(info.value)


#: every option and argument that takes an operator; {op} is replaced by the name typed
OPERATOR_ARGS = {
    "parse": ["parse", "{op}", ILIAD_PAGE, "--json"],
    "offers --operator": ["offers", "--operator", "{op}", "--json"],
    "offers --from": ["offers", "--from", "{op}", "--json"],
    "history": ["history", "{op}", "giga200", "--json"],
    "import --operator": ["import", "{items}", "--operator", "{op}", "--json"],
    "subscribe --operator": ["subscribe", "--channel", "json://127.0.0.1:9/a", "--operator", "{op}", "--json"],
    "subscribe --from": ["subscribe", "--channel", "json://127.0.0.1:9/b", "--from", "{op}", "--json"],
    "events --operator": ["events", "--operator", "{op}", "--json"],
    "crawl": ["crawl", "{op}", "--offline", "--json"],
}


@pytest.fixture(scope="module")
def iliad_imported(module_db, tmp_path_factory):
    """Iliad's bundled page parsed and imported into a database by real processes, once per module."""
    env = {k: v for k, v in os.environ.items() if k != "PROMOWATCH_LOG_LEVEL"}
    env["PROMOWATCH_DATABASE_URL"] = module_db
    parse_env = {**env, "PROMOWATCH_TODAY": "2026-09-15"}
    items = promowatch("parse", "iliad", ILIAD_PAGE, "--json", env=parse_env, check_code=0).stdout
    file = tmp_path_factory.mktemp("iliad") / "iliad.json"
    file.write_text(items, "utf-8")
    promowatch("import", file, env=env, check_code=0)
    return module_db, file


@pytest.fixture
def iliad_items(iliad_imported, copy_of):
    """The test's database (tmp_db) holding that import; the items file."""
    source, file = iliad_imported
    copy_of(source)
    return file


@pytest.mark.parametrize("where", sorted(OPERATOR_ARGS))
def test_every_operator_option_takes_names_and_refuses_unknown_ones(where, iliad_items):
    def args(op):
        return [str(iliad_items) if a == "{items}" else op if a == "{op}" else a for a in OPERATOR_ARGS[where]]

    ok = promowatch(*args("ILIAD" if where != "offers --from" else "Ho."), check_code=0)
    if where.startswith("subscribe"):
        stored = json.loads(ok.stdout)
        assert stored["operators" if "--operator" in where else "origin"] in (["iliad"], "iliad")
    line = one_line(promowatch(*args("Ilaid"), check_code=2))
    assert "'Ilaid'" in line and "did you mean iliad?" in line


def test_subscribe_twice_the_same_stores_one_subscription(tmp_db):
    same = ["--channel", "json://127.0.0.1:9/hook", "--operator", "Iliad", "--max-price", "9,99", "--lang", "en"]
    first = promowatch("subscribe", *same, check_code=0)
    assert "subscription 1" in first.stdout
    again = promowatch("subscribe", *same, check_code=0)
    assert "already subscribed as #1" in again.stdout
    # the same filters typed differently are the same subscription
    alias = ["--channel", "json://127.0.0.1:9/hook", "--operator", "iliad", "--max-price", "9.99", "--lang", "en"]
    assert "already subscribed as #1" in promowatch("subscribe", *alias, check_code=0).stdout
    as_json = json.loads(promowatch("subscribe", *same, "--json", check_code=0).stdout)
    assert as_json["id"] == 1 and as_json["already_subscribed"] is True
    # another filter, another channel, or the first one deactivated: a new subscription
    assert "subscription 2" in promowatch("subscribe", *same[:-2], check_code=0).stdout
    other = ["--channel", "json://127.0.0.1:9/other", *same[2:]]
    assert "subscription 3" in promowatch("subscribe", *other, check_code=0).stdout
    promowatch("unsubscribe", "1", check_code=0)
    assert "subscription 4" in promowatch("subscribe", *same, check_code=0).stdout
    rows = json.loads(promowatch("subscribers", "--json", check_code=0).stdout)
    assert [r["id"] for r in rows] == [1, 2, 3, 4]


@pytest.mark.dialect_neutral
@pytest.mark.parametrize(
    "args, want",
    [
        (["iliad", ROOT / "spiders"], "is a folder, not a saved page"),
        (["iliad", ROOT / "no-such-page.html"], "no such file"),
        (["iliad", ILIAD_PAGE, "--url", "notaurl"], "--url 'notaurl' is not a web address"),
        (["iliad", ILIAD_PAGE, "--url", "ftp://x/y"], "is not a web address"),
    ],
    ids=["folder", "missing", "url-no-scheme", "url-ftp"],
)
def test_parse_refuses_other_bad_arguments_in_one_line(args, want, tmp_db):
    assert want in one_line(promowatch("parse", *args, check_code=2))


#: the operators whose offers page is HTML (a spider without a card selector reads a JSON endpoint: spusu, and
#: the travel-eSIM APIs of Airalo, Breeze and Kolet)
HTML_SPIDERS = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir() and spider_class(p.name).cards is not None)


@pytest.mark.dialect_neutral
@pytest.mark.parametrize("operator", HTML_SPIDERS)
def test_every_html_spider_refuses_a_json_file(operator, tmp_path, tmp_db):
    page = tmp_path / "offers.json"
    page.write_text('{"offers": [{"name": "GIGA 200", "price": 9.99}]}', "utf-8")
    line = one_line(promowatch("parse", operator, page, check_code=2))
    assert "not an HTML page" in line
