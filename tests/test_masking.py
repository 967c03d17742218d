"""No channel secret in any output: a table of every Apprise service the project documents (README and
docs/config.example.toml name mailto, tgram and json; the rest are the common ones users reach for) x where the
secret sits (userinfo password or lone user, path token, query argument, header / GET / payload argument) x
every output (mask_url, mask_text, the sender's result and stored error, admin alerts, log records at DEBUG,
the CLI's tables and --json, test-notify, a service-configured process logging at DEBUG).

Sends go to real servers on 127.0.0.1 (tests/servers.py). Cloud services (Telegram, Discord, Slack, Pushover)
are sent through HTTPS_PROXY pointing at a closed port on 127.0.0.1: the request fails at once and nothing
leaves the machine, while Apprise and urllib3 still log what they would post (the token-carrying URL).
"""

import json
import logging
import os
import random
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import processes
import pytest
from conftest import ROOT
from servers import HttpServer, SmtpServer, free_port
from sqlmodel import Session, select
from test_deliver import add_event, queue

from alerts.deliver import deliver
from alerts.masking import _ANY_URL, mask_email, mask_text, mask_url, sub_urls
from promowatch import health
from storage.engine import get_engine
from storage.models import Notification, SubscriptionChannel

POVER_USER = "uQiRzpo4DXghDmr9QzzfQu27cmVRsG"  # Pushover's keys: 30 characters
POVER_TOKEN = "azGDORePK8gMaC0QOYAMyEEuzJnyUi"

#: (name, URL template, its secrets). {http}: the HTTP server's port, {smtp}: the SMTP server's, {closed}: a
#: port nobody listens on. Each secret is distinct so a leak names its row.
TABLE = [
    ("json-userinfo", "json://alice:PwJson01x@127.0.0.1:{http}/ok", ["PwJson01x"]),
    ("json-userinfo-fails", "json://alice:PwJson01y@127.0.0.1:{http}/down", ["PwJson01y"]),
    ("json-lone-user", "json://LoneUser03x@127.0.0.1:{http}/ok", ["LoneUser03x"]),
    ("json-header", "json://127.0.0.1:{http}/ok?+X-Token=HdrJson04x", ["HdrJson04x"]),
    ("json-get-arg", "json://127.0.0.1:{http}/ok?-X-Token=GetJson05x", ["GetJson05x"]),
    ("json-get-arg-fails", "json://127.0.0.1:{http}/down?format=text&-q=GetJson05y", ["GetJson05y"]),
    ("json-payload-arg", "json://127.0.0.1:{http}/ok?:secret=PayJson06x", ["PayJson06x"]),
    ("json-unknown-query", "json://127.0.0.1:{http}/ok?apikey=QryJson07x", ["QryJson07x"]),
    ("jsons-userinfo", "jsons://bob:PwJsons02x@127.0.0.1:{closed}/ok", ["PwJsons02x"]),
    (
        "form-userinfo-header",
        "form://carol:PwForm08x@127.0.0.1:{http}/ok?+Authorization=HdrForm09x",
        ["PwForm08x", "HdrForm09x"],
    ),
    ("xml-get-and-payload", "xml://127.0.0.1:{http}/down?-token=GetXml10x&:key=PayXml11x", ["GetXml10x", "PayXml11x"]),
    ("mailto-userinfo", "mailto://me:PwMail12x@127.0.0.1:{smtp}?from=me@example.com&to=ops@example.com", ["PwMail12x"]),
    (
        "mailto-query-pass",
        "mailto://127.0.0.1:{smtp}?user=me&pass=PwMail13x&from=me@example.com&to=ops@example.com",
        ["PwMail13x"],
    ),
    (
        "mailtos-userinfo",
        "mailtos://me:PwMails14x@127.0.0.1:{closed}?from=me@example.com&to=ops@example.com",
        ["PwMails14x"],
    ),
    ("tgram-path", "tgram://123456789:TgBotTok15x/987654", ["TgBotTok15x"]),
    ("tgram-path-query", "tgram://123456789:TgBotTok15y/987654?to=12345&format=text", ["TgBotTok15y"]),
    ("discord-path", "discord://1234567890/DiscordTok16x", ["DiscordTok16x"]),
    ("slack-path", "slack://T1JJ3T3L2/A1BRTD4JD/SlackTok17x/#general", ["SlackTok17x"]),
    ("ntfy-userinfo", "ntfy://user:PwNtfy18x@127.0.0.1:{http}/topic", ["PwNtfy18x"]),
    ("ntfy-query-token", "ntfy://127.0.0.1:{http}/topic?token=NtfyTok19x", ["NtfyTok19x"]),
    ("pover-path", f"pover://{POVER_USER}@{POVER_TOKEN}", [POVER_USER, POVER_TOKEN]),
    ("gotify-path", "gotify://127.0.0.1:{http}/GotifyTok22x", ["GotifyTok22x"]),
]
#: the rows `test-notify` runs as a process: userinfo, lone user, path token, query, GET/header, payload argument
TEST_NOTIFY = (
    "mailto-userinfo",
    "json-lone-user",
    "tgram-path",
    "ntfy-query-token",
    "json-get-arg",
    "xml-get-and-payload",
)
ALL_SECRETS = [s for _, _, secrets in TABLE for s in secrets]


@pytest.fixture(scope="module")
def servers():
    with HttpServer() as http, SmtpServer() as smtp:
        http.rule("/down", fail_first=10**9)
        yield {"http": http.port, "smtp": smtp.port, "closed": free_port()}


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Requests to any host but 127.0.0.1 go to a closed local proxy port: refused at once, nothing sent out."""
    proxy = f"http://127.0.0.1:{free_port()}"
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(name, proxy)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")


def urls(servers) -> list[str]:
    return [template.format(**servers) for _, template, _ in TABLE]


def leaks(text: str, secrets=ALL_SECRETS) -> list[str]:
    return [s for s in secrets if s in text]


ROWS = [pytest.param(template, secrets, id=name) for name, template, secrets in TABLE]


@pytest.mark.parametrize("template,secrets", ROWS)
def test_masked_url_and_text_hide_the_secret_and_keep_the_rest(template, secrets):
    url = template.format(http=8080, smtp=2525, closed=9)
    masked = mask_url(url)
    assert not leaks(masked, secrets), masked
    assert masked.split("://")[0].startswith(url.split("://")[0])
    assert "overflow=upstream" in masked  # Apprise's harmless options stay readable
    text = mask_text(f"could not post to {url}: {' '.join(secrets)} refused", url)
    assert not leaks(text, secrets) and masked in text and "refused" in text


@pytest.mark.slow
@pytest.mark.parametrize("template,secrets", ROWS)
def test_a_send_logs_at_debug_and_reports_nothing_secret(template, secrets, servers, caplog):
    url = template.format(**servers)
    caplog.set_level(logging.DEBUG)
    outcome = deliver(url, "title", "body")
    records = [r for r in caplog.records if r.name.startswith(("apprise", "urllib3", "requests", "alerts"))]
    assert records, "the send logged nothing: the test would not see a leak"
    assert not leaks(caplog.text, secrets), [r.getMessage() for r in caplog.records if leaks(r.getMessage(), secrets)]
    assert not leaks(outcome.error or "", secrets), outcome.error
    if "/down" in url or "{closed}" in template or "127.0.0.1" not in url:
        assert not outcome.ok and outcome.error


@pytest.mark.slow
@pytest.mark.parametrize("template,secrets", ROWS)
def test_admin_alert_result_and_logs_hide_the_secret(template, secrets, servers, caplog):
    url = template.format(**servers)
    caplog.set_level(logging.DEBUG)
    delivered, failed = health.notify([url], "promowatch: iliad unhealthy", "body", failure=True)
    assert not leaks(caplog.text, secrets)
    assert not leaks("; ".join(failed), secrets), failed
    assert delivered + len(failed) == 1
    assert any(r.name == "promowatch.health" for r in caplog.records)


def test_records_of_any_logger_are_masked_while_a_url_is_in_use_and_untouched_after(caplog):
    from alerts.masking import in_use

    caplog.set_level(logging.DEBUG)
    url = "json://127.0.0.1:9/ok?-X-Token=GetJson05x"
    with in_use(url):
        for name in ("apprise.plugins.custom_json", "urllib3.connectionpool", "requests", "", "some.child"):
            logging.getLogger(name).debug("POST /ok?X-Token=GetJson05x %s", url)
        try:
            raise ValueError(f"refused: {url}")
        except ValueError:
            logging.getLogger("x").exception("failed")
    logging.getLogger("x").debug("after: GetJson05x")
    assert caplog.text.count("GetJson05x") == 1 and "after: GetJson05x" in caplog.text
    assert caplog.text.count("X-Token=****") >= 10


@pytest.mark.slow
def test_cli_outputs_stored_errors_and_a_debug_service_log_show_no_secret(tmp_db, servers):
    """Real processes: subscribe every URL of the table, `subscribers` (table and --json), `send --json`,
    `notifications` (table and --json), `test-notify` of each, and a process logging as the service does at
    DEBUG (serve.setup_logging) while it sends and alerts the admins."""
    every = urls(servers)
    env = {**os.environ, "PROMOWATCH_DATABASE_URL": tmp_db}

    def run(*args, timeout=120):
        proc = processes.run(
            [sys.executable, "-m", "promowatch", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert not leaks(proc.stdout + proc.stderr), (args, leaks(proc.stdout + proc.stderr))
        return proc

    out = run("subscribe", *[a for u in every for a in ("--channel", u)], "--lang", "en")
    assert out.returncode == 0, out.stderr
    engine = get_engine(tmp_db)
    with Session(engine) as s:  # rows stored by an older version hold what it showed: here the worst, the URL
        for channel in s.exec(select(SubscriptionChannel)).all():
            channel.url_masked = channel.url
        s.commit()
    listing = run("subscribers", "--json")
    channels = json.loads(listing.stdout)[0]["channels"]
    assert [c["url_masked"] for c in channels] == [mask_url(u) for u in every]
    assert run("subscribers").returncode == 0

    with Session(engine) as s:
        rows = s.exec(select(SubscriptionChannel.subscription_id, SubscriptionChannel.id)).all()
    events = add_event(engine, key="giga-150"), add_event(engine, key="giga-200")
    now = datetime.now(timezone.utc)
    for sub, channel in rows:  # one due now (for `send`), one due in an hour (for the DEBUG process)
        queue(engine, sub, channel, events[0], due=now - timedelta(minutes=1))
        queue(engine, sub, channel, events[1], due=now + timedelta(hours=1))
    sent = run("send", "--json")
    assert sent.returncode == 1 and json.loads(sent.stdout)["failed"] >= 1, sent.stdout
    assert run("notifications").returncode == 0
    shown = json.loads(run("notifications", "--json").stdout)
    assert len(shown) == 2 * len(every) and all(n["channel"] for n in shown)

    child = (
        "import json, sys; from datetime import datetime, timedelta, timezone\n"
        "from promowatch.serve import setup_logging; setup_logging('INFO')\n"
        "from alerts.deliver import send_due; from promowatch.health import notify\n"
        "r = send_due(now=datetime.now(timezone.utc) + timedelta(hours=2))\n"
        "print(r.sent, r.failed, r.dead)\n"
        "notify(json.loads(sys.argv[1]), 'promowatch: iliad unhealthy', 'body', failure=True)\n"
    )
    debug = subprocess.run(
        [sys.executable, "-c", child, json.dumps(every)],
        cwd=ROOT,
        env={**env, "PROMOWATCH_LOG_LEVEL": "DEBUG"},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert debug.returncode == 0, debug.stderr[-3000:]
    assert " DEBUG apprise" in debug.stderr and " DEBUG urllib3" in debug.stderr  # DEBUG really was on
    assert "health: could not send" in debug.stderr and "health: sent" in debug.stderr
    assert not leaks(debug.stdout + debug.stderr), [line for line in debug.stderr.splitlines() if leaks(line)][:5]

    with Session(engine) as s:
        errors = [n.last_error or "" for n in s.exec(select(Notification)).all()]
    assert sum(1 for e in errors if e) >= len(every) // 2
    assert not leaks("\n".join(errors))

    names = [name for name, _, _ in TABLE]
    for name in TEST_NOTIFY:  # a process each: one row per place a secret sits (every row: the deliver table)
        proc = run("test-notify", every[names.index(name)], "--lang", "en", timeout=60)
        assert proc.returncode in (0, 1), proc.stderr


@pytest.mark.parametrize(
    "channel,secret",
    [
        ("tgram:123456789:TgBotTok15x/987654", "TgBotTok15x"),  # "://" forgotten
        ("mailto:me:PwMail12x@gmail.com", "PwMail12x"),
        ("json//127.0.0.1/ok?-X-Token=GetJson05x", "GetJson05x"),
    ],
)
def test_a_mistyped_admin_channel_is_refused_without_its_secret(channel, secret):
    from promowatch.service_config import ConfigError, parse_config

    with pytest.raises(ConfigError, match="is not an Apprise URL") as caught:
        parse_config({"health": {"admin_channels": [channel]}})
    assert secret not in str(caught.value)


@pytest.mark.parametrize(
    "url, shown",
    [
        ("mailtos://bot:pw-9@smtp.example.com/?to=alice.rossi@example.com", "/a****%40example.com"),
        ("mailtos://bot:pw-9@smtp.example.com/?to=alice.rossi%40example.com", "/a****%40example.com"),
        ("mailto://bot:pw-9@gmail.com/bob.smith@example.com", "/b****%40example.com"),
    ],
)
def test_email_addresses_are_personal_data_shown_as_first_letter_and_domain(url, shown):
    """A recipient is not a credential, but a subscriber's address is theirs: never shown whole (#17)."""
    from alerts.masking import mask_email

    masked = mask_url(url)
    assert shown in masked and "rossi" not in masked and "smith" not in masked
    text = mask_text(f"550 no mailbox alice.rossi@example.com ({url})", url)
    assert "alice.rossi" not in text and "bob.smith" not in text and "pw-9" not in text
    assert "550 no mailbox a****@example.com" in text
    assert mask_email(mask_email("x alice@example.com")) == "x a****@example.com"  # idempotent


def test_sub_urls_finds_what_the_url_pattern_finds():
    """`sub_urls` searches only near each "://" (fast on long log records): on random text built of URL parts it
    replaces exactly what `_ANY_URL.sub` replaces, schemes of up to 32 characters and URLs back to back included."""
    rng = random.Random(2026)
    parts = [*"ab:/ .-+9xZ'\"<>@\n_é", "://", "http://", "json://u:p@h/x?y=1", "s" * 31, "t" * 33]
    for _ in range(20_000):
        text = "".join(rng.choice(parts) for _ in range(rng.randint(0, 30)))
        assert sub_urls(text, lambda u: f"<{u[::-1]}>") == _ANY_URL.sub(lambda m: f"<{m.group(0)[::-1]}>", text)


def test_mask_email_without_an_at_sign_is_the_text_itself():
    assert mask_email("no address here, only words") == "no address here, only words"
    assert mask_email("mario.rossi%40example.com and anna@example.it") == "m****%40example.com and a****@example.it"
