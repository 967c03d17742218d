"""Channels from what a person has (alerts/channels.py): each kind's check, the operator's allow-list, and the
refusal of hosts that resolve to loopback, private, link-local or reserved addresses (SSRF)."""

import ipaddress

import processes
import pytest

from alerts.channels import (
    KINDS,
    ChannelError,
    ChannelSettings,
    MailSettings,
    build_channel,
    mail_url,
    public_address,
    sendable_url,
    shown_channel,
)

BOT = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
PUSHOVER_APP = "azGDORePK8gMaC0QOYAMyEEuzJnyUi"
WXPUSHER_APP = "AT_qHT0cTQfLwYOlBV9cJj9zDSyEmspsmyM"
SMTP_PASSWORD = "smtp-Secret-Pw-77"
ALL = ChannelSettings(
    allowed=KINDS,
    mail=MailSettings(host="smtp.example.org", sender="alerts@example.org", user="alerts", password=SMTP_PASSWORD),
    telegram_bot_token=BOT,
    pushover_app_token=PUSHOVER_APP,
    wxpusher_app_token=WXPUSHER_APP,
)
SECRETS = (BOT, PUSHOVER_APP, WXPUSHER_APP, SMTP_PASSWORD)


@pytest.mark.parametrize(
    "kind, value, url",
    [
        ("email", "mario.rossi+deals@example.com", "mailtos://alerts:smtp-Secret-Pw-77@smtp.example.org:587?"),
        ("ntfy", "my_deals-2026", "ntfys://ntfy.sh/my_deals-2026"),
        ("telegram", "-100123456789", f"tgram://{BOT}/-100123456789"),
        ("telegram", "@my_deals_channel", f"tgram://{BOT}/@my_deals_channel"),
        ("pushover", "uQiRzpo4DXghDmr9QzzfQu27cmVRsG", f"pover://uQiRzpo4DXghDmr9QzzfQu27cmVRsG@{PUSHOVER_APP}"),
        (
            "discord",
            "https://discord.com/api/webhooks/123456789012345678/abcdefghijklmnopqrstuvwxyz_ABCDEF",
            "discord://123456789012345678/abcdefghijklmnopqrstuvwxyz_ABCDEF",
        ),
        (
            "slack",
            "https://hooks.slack.com/services/T0000000/B0000000/XXXXXXXXXXXXXXXXXXXXXXXX",
            "slack://T0000000/B0000000/XXXXXXXXXXXXXXXXXXXXXXXX",
        ),
        ("wxpusher", "UID_xF3kQ9pLm2Zt7", f"wxpusher://{WXPUSHER_APP}/UID_xF3kQ9pLm2Zt7"),
        ("serverchan", "SCT123456TAbCdEfGh", "schan://SCT123456TAbCdEfGh"),
        ("pushplus", "0123456789abcdef0123456789abcdef", "pushplus://0123456789abcdef0123456789abcdef"),
        ("bark", "aBcDeFgHiJkLmNoP", "barks://api.day.app/aBcDeFgHiJkLmNoP"),
    ],
)
def test_each_kind_builds_a_url_apprise_can_use(kind, value, url):
    import apprise

    channel = build_channel(kind, value, ALL)
    sent_to = sendable_url(channel["url"], ALL.mail)  # an email channel: through the [mail] account of now
    assert sent_to.startswith(url)
    assert apprise.Apprise.instantiate(sent_to) is not None, channel["url_masked"]
    assert not channel["guarded"]  # the operator's servers or the services' own hosts
    for secret in SECRETS:
        assert secret not in channel["url_masked"] and secret not in channel["shown"]
    if kind == "email":
        assert channel["shown"] == "email: m****@example.com"
        assert channel["url"] == "service-mail:mario.rossi+deals@example.com"  # the address, no credentials
        assert (channel["service"], channel["url_masked"]) == ("mailtos", "service-mail:m****@example.com")
        assert "to=mario.rossi%2Bdeals%40example.com" in sent_to
    else:
        assert sent_to == channel["url"]


@pytest.mark.parametrize(
    "kind, value, says",
    [
        ("email", "not an address", "is not an email address"),
        ("email", "a@example.com&to=victim@example.org", "is not an email address"),
        ("email", "a@example.com?bcc=x@y.org", "is not an email address"),
        ("ntfy", "a topic with spaces", "a topic is"),
        ("telegram", "12ab", "a chat id is a number"),
        ("pushover", "short", "a user key is 30"),
        ("discord", "https://evil.example.com/api/webhooks/123456789012345678/abcdefghijklmnopqrstuvwxyz", "discord:"),
        ("discord", "http://127.0.0.1/api/webhooks/123456789012345678/abcdefghijklmnopqrstuvwxyz", "discord:"),
        ("slack", "https://hooks.slack.com.evil.org/services/T0000000/B0000000/XXXXXXXXXXXXXXXX", "slack:"),
        ("wxpusher", "someone", "starts with UID_"),
        ("serverchan", "x/../y", "a key is"),
        ("bark", "key with space", "a device key"),
        ("fax", "123", "unknown kind of channel"),
        ("ntfy", "   ", "nothing was typed"),
    ],
)
def test_bad_input_is_one_clear_line(kind, value, says):
    with pytest.raises(ChannelError) as exc:
        build_channel(kind, value, ALL)
    assert says in str(exc.value) and "\n" not in str(exc.value)


def test_only_the_kinds_the_operator_allows_and_set_up():
    only_mail = ChannelSettings(allowed=("email", "telegram"), mail=ALL.mail)
    with pytest.raises(ChannelError, match="ntfy is not offered by this service; choose one of email$"):
        build_channel("ntfy", "topic", only_mail)
    with pytest.raises(ChannelError, match=r"telegram is not set up .*\[channels\] telegram_bot_token"):
        build_channel("telegram", "12345", only_mail)
    assert only_mail.usable() == ("email",)
    with pytest.raises(ChannelError, match=r"\[mail\]"):
        build_channel("email", "a@example.com", ChannelSettings())


@pytest.mark.parametrize(
    "server",
    [
        "http://127.0.0.1:8080",
        "http://localhost",
        "http://10.1.2.3",
        "http://192.168.1.1",
        "http://172.16.0.1",
        "http://169.254.169.254",  # cloud metadata
        "http://100.100.100.200",  # shared address space (a metadata service)
        "http://[::1]",
        "http://[fd00:ec2::254]",
        "http://[::ffff:127.0.0.1]",
        "http://0.0.0.0",
    ],
)
def test_a_server_on_an_internal_address_is_refused(server):
    for kind, value in (("bark", f"{server}/aBcDeFgHiJkLmNoP"), ("ntfy", f"{server}/deals")):
        with pytest.raises(ChannelError, match="is not on the public internet") as exc:
            build_channel(kind, value, ALL)
        assert "\n" not in str(exc.value)


def test_the_operator_may_allow_private_servers_and_such_channels_stay_guarded():
    own = ChannelSettings(allowed=("bark", "ntfy"), allow_private_addresses=True)
    bark = build_channel("bark", "http://10.1.2.3:8080/aBcDeFgHiJkLmNoP", own)
    ntfy = build_channel("ntfy", "https://192.168.1.5/deals", own)
    assert bark["url"] == "bark://10.1.2.3:8080/aBcDeFgHiJkLmNoP" and bark["guarded"]
    assert ntfy["url"] == "ntfys://192.168.1.5/deals" and ntfy["guarded"]


def test_a_server_name_that_does_not_resolve_is_refused():
    with pytest.raises(ChannelError, match=r"cannot be found \(DNS\)"):
        build_channel("ntfy", "https://no-such-host.invalid/deals", ALL)


def test_public_addresses():
    assert public_address(ipaddress.ip_address("93.184.216.34"))
    assert public_address(ipaddress.ip_address("2606:4700:4700::1111"))
    for ip in ("127.0.0.2", "10.0.0.1", "169.254.1.1", "100.64.0.1", "224.0.0.1", "::ffff:10.0.0.1", "fe80::1"):
        assert not public_address(ipaddress.ip_address(ip)), ip


def test_mail_url_without_tls_or_login_for_a_local_relay():
    url = mail_url(MailSettings(host="127.0.0.1", port=2525, sender="pw@example.com", mode="insecure"), "a@b.example")
    assert url == "mailto://127.0.0.1:2525?smtp=127.0.0.1&mode=insecure&from=pw%40example.com&to=a%40b.example"


def test_shown_channel_hides_addresses_and_secrets():
    channel = build_channel("email", "mario.rossi@example.com", ALL)
    shown = shown_channel(channel["url"])
    assert "mario.rossi" not in shown and SMTP_PASSWORD not in shown and shown == "email: m****@example.com"
    operator = shown_channel("mailtos://ops:pw-Secret-9@smtp.example.org?to=mario.rossi@example.com")
    assert "pw-Secret-9" not in operator and "mario.rossi" not in operator and "m****%40example.com" in operator


def test_the_configuration_gives_the_self_service_settings():
    from promowatch.service_config import ConfigError, parse_config

    config = parse_config(
        {
            "web": {"base_url": "https://deals.example.org/"},
            "mail": {"host": "smtp.example.org", "from": "alerts@example.org", "user": "a", "password": SMTP_PASSWORD},
            "channels": {"allowed": ["email", "telegram"], "telegram_bot_token": BOT, "allow_private_addresses": True},
        },
        "cfg.toml",
        operators=["iliad"],
    )
    assert config.web.base_url == "https://deals.example.org"
    assert config.channels.mail.port == 587 and config.channels.mail.mode == "starttls"
    assert config.channel_settings().usable() == ("email", "telegram")
    policy = config.sender_policy()
    assert policy["base_url"] == "https://deals.example.org" and policy["allow_private_addresses"] is True
    for data, says in (
        ({"web": {"base_url": "deals.example.org"}}, "[web] base_url"),
        ({"mail": {"host": "smtp.example.org"}}, "[mail] needs host"),
        ({"mail": {"host": "h", "from": "a@b.org", "mode": "tls"}}, "[mail] mode"),
        ({"mail": {"host": "h", "from": "a@b.org", "password": 12345678}}, "[mail] password"),
        ({"channels": {"allowed": ["email", "fax"]}}, "[channels] allowed"),
        ({"channels": {"ntfy_server": "ntfy.example.org"}}, "[channels] ntfy_server"),
        ({"channels": {"telegram_bot_tokn": BOT}}, "unknown key 'telegram_bot_tokn' in [channels]"),
    ):
        with pytest.raises(ConfigError) as exc:
            parse_config(data, "cfg.toml", operators=["iliad"])
        assert says in str(exc.value) and "12345678" not in str(exc.value) and BOT not in str(exc.value)


# ------------------------------------------------------------------------------------------------ error codes


@pytest.mark.parametrize(
    "kind, value, settings, code, params",
    [
        ("fax", "1", ALL, "unknown_kind", {"kind": "fax"}),
        ("ntfy", "topic", ChannelSettings(allowed=("email",), mail=ALL.mail), "kind_not_offered", {"kind": "ntfy"}),
        ("email", "a@example.com", ChannelSettings(), "kind_not_set_up", {"kind": "email"}),
        ("email", "  ", ALL, "empty", {"kind": "email"}),
        ("email", "mario.rossi@@example.com", ALL, "not_email", {}),
        ("ntfy", "https://ntfy.example.org/bad topic", ALL, "ntfy_topic_or_server", {}),
        ("ntfy", "bad topic", ALL, "ntfy_topic", {}),
        ("telegram", "chat-abc", ALL, "telegram_chat", {"kind": "telegram"}),
        ("pushover", "short", ALL, "pushover_key", {"kind": "pushover"}),
        ("wxpusher", "12345", ALL, "wxpusher_uid", {"kind": "wxpusher"}),
        ("serverchan", "x", ALL, "key", {"kind": "serverchan"}),
        ("discord", "https://evil.example/api/webhooks/1/2", ALL, "webhook_url", {"kind": "discord"}),
        ("bark", "k", ALL, "bark_key", {}),
        ("ntfy", "ftp://ntfy.example.org/topic", ALL, "server_not_url", {"kind": "ntfy"}),
        ("bark", "https://ntfy.example.org:99999/key12345", ALL, "server_port", {"kind": "bark"}),
        ("ntfy", "http://10.0.0.7/topic", ALL, "server_private", {"host": "10.0.0.7", "ip": "10.0.0.7"}),
    ],
)
def test_each_error_has_its_code_and_never_the_typed_value_in_its_parameters(kind, value, settings, code, params):
    with pytest.raises(ChannelError) as exc:
        build_channel(kind, value, settings)
    assert exc.value.code == code
    assert {k: v for k, v in exc.value.params.items() if k != "example"} == params
    typed = value.strip()
    if typed and code not in ("unknown_kind", "server_private"):  # a kind or a host is not what was typed
        assert all(typed not in str(v) for v in exc.value.params.values())


# ------------------------------------------------------------------------------------------------ [mail] at send time


def test_a_self_service_email_goes_through_the_mail_account_of_the_moment():
    channel = build_channel("email", "mario.rossi@example.com", ALL)
    moved = MailSettings(host="smtp.new.example", sender="alerts@example.org", user="alerts", password="n3w-Pass")
    assert sendable_url(channel["url"], moved) == mail_url(moved, "mario.rossi@example.com")
    assert "n3w-Pass" in sendable_url(channel["url"], moved) and SMTP_PASSWORD not in channel["url"]
    with pytest.raises(ChannelError) as exc:
        sendable_url(channel["url"], None)
    assert exc.value.code == "kind_not_set_up" and "[mail]" in str(exc.value)
    operator_url = "mailtos://ops:pw@smtp.example.org?to=ops@example.org"  # an operator's own URL: as it is
    assert sendable_url(operator_url, moved) == operator_url
    assert shown_channel(channel["url"]) == "email: m****@example.com"


class _AuthSmtp:
    """aiosmtpd on 127.0.0.1 with AUTH (PLAIN/LOGIN, no TLS: loopback only) taking only `password` for `user`;
    every login tried is recorded, every message kept."""

    def __init__(self, user: str, password: str):
        from servers import SmtpServer

        self.user, self.password = user, password
        self.logins: list[tuple[str, str]] = []
        self.inbox = SmtpServer()  # its handler records the messages; its port is free

    def _check(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult

        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.logins.append((login, password))
        return AuthResult(success=(login, password) == (self.user, self.password))

    def __enter__(self):
        from aiosmtpd.controller import Controller

        self._controller = Controller(
            self.inbox,
            hostname="127.0.0.1",
            port=self.inbox.port,
            ready_timeout=5.0,
            authenticator=self._check,
            auth_require_tls=False,
            auth_required=True,
        )
        self._controller.start()
        return self

    def __exit__(self, *exc):
        self._controller.stop()


def _mail(port: int, password: str) -> MailSettings:
    return MailSettings(
        host="127.0.0.1", port=port, sender="alerts@example.org", user="alerts", password=password, mode="insecure"
    )


@pytest.mark.slow
def test_a_new_mail_password_reaches_the_subscriptions_made_before(engine, tmp_db):
    """[mail] gets a new password: a subscription made with the old one (stored before this change as the whole
    URL, then migrated by 0011; or made now) gets its next alert through the server with the new password."""
    from alembic import command
    from sqlalchemy import create_engine, select, text
    from sqlmodel import Session
    from test_migration_0006 import _config
    from test_subscription_delivery import alert

    from alerts import subscriptions as subs
    from alerts.deliver import Policy, send_due
    from storage.engine import _engine, upgrade
    from storage.models import SubscriptionChannel

    with _AuthSmtp("alerts", "n3w-Pass-2026") as smtp:
        old = _mail(smtp.inbox.port, "old-Pass-2025")
        # a subscription from before: its channel the whole URL with the old password, as 0008 stored it
        _engine.cache_clear()
        command.downgrade(_config(tmp_db), "0008_offer_currency")
        raw = create_engine(tmp_db)
        before = mail_url(old, "anna.bianchi@example.com")
        with raw.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO subscription (id, created_at, active, status, confirmed_at, link_key, lang, digest,"
                    " timezone, rearm_hours, operators, plan_types, kinds, only_5g) VALUES (101, '2026-11-01 10:00:00',"
                    " true, 'active', '2026-11-01 10:05:00', 'abcdef0123456789', 'it', 'off', 'Europe/Rome', 168,"
                    " '[\"iliad\"]', '[]', '[]', false)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO subscription_channel (id, subscription_id, url, url_masked, service, guarded)"
                    " VALUES (101, 101, :url, 'masked', 'mailto', false)"
                ),
                {"url": before},
            )
            conn.execute(
                text(
                    "INSERT INTO subscription_consent (subscription_id, requested_at, source, lang, filters, channel)"
                    " VALUES (101, '2026-11-01 10:00:00', 'web:subscribe', 'it', '{}', 'email: a****@example.com')"
                )
            )
            # the operator's own email URL (no consent record): not touched
            conn.execute(
                text(
                    "INSERT INTO subscription (id, created_at, active, status, link_key, lang, digest, timezone,"
                    " rearm_hours, operators, plan_types, kinds, only_5g) VALUES (102, '2026-11-01 10:00:00', true,"
                    " 'active', 'bcdef0123456789a', 'en', 'off', 'Europe/Rome', 168, '[\"nobody\"]', '[]', '[]', false)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO subscription_channel (id, subscription_id, url, url_masked, service, guarded)"
                    " VALUES (102, 102, :url, 'masked', 'mailto', false)"
                ),
                {"url": mail_url(old, "ops@example.org")},
            )
        raw.dispose()
        upgrade(tmp_db)
        with Session(engine) as session:
            urls = dict(session.execute(select(SubscriptionChannel.id, SubscriptionChannel.url)).tuples().all())
        assert urls == {101: "service-mail:anna.bianchi@example.com", 102: mail_url(old, "ops@example.org")}

        # a subscription made now, with the old [mail]; confirmed
        asked = subs.request_subscription(
            "email", "mario.rossi@example.com", ChannelSettings(mail=old), lang="en", operators=["iliad"]
        )
        assert "old-Pass" not in str(subs.list_subscriptions())
        with Session(engine) as session, session.begin():
            session.execute(text("DELETE FROM notification"))  # its confirmation: not this test's point
        from storage.models import Subscription

        with Session(engine) as session, session.begin():
            session.get(Subscription, asked.subscription_id).status = "active"
            session.get(Subscription, asked.subscription_id).active = True

        # whoever runs the service changes the password in [mail]; the next alert goes through the new one
        new = _mail(smtp.inbox.port, "n3w-Pass-2026")
        assert alert(engine, "giga-150", 799) == 2
        report = send_due(policy=Policy(base_url="https://deals.example.org", mail=new))
        assert (report.sent, report.failed) == (2, 0), report.rows
        smtp.inbox.wait_for(2, timeout=10)
        assert sorted(rcpt for _, [rcpt] in smtp.inbox.envelopes) == [
            "anna.bianchi@example.com",
            "mario.rossi@example.com",
        ]
        assert set(smtp.logins) == {("alerts", "n3w-Pass-2026")}

        # the old password is refused by the server: sent with it, the alert would not have arrived
        assert alert(engine, "giga-200", 699) == 2
        report = send_due(policy=Policy(base_url="https://deals.example.org", mail=old))
        assert (report.sent, report.failed) == (0, 2)
        assert all("old-Pass" not in (row.get("error") or "") for row in report.rows)
        assert len(smtp.inbox.received) == 2


@pytest.mark.slow
def test_promowatch_send_takes_the_mail_account_from_the_config(tmp_db, tmp_path):
    """`promowatch send` as a process: a web subscription's confirmation goes through the [mail] of the config
    file it reads now (the password there, not the one the subscription was made with)."""
    import os
    import sys
    from pathlib import Path

    from alerts import subscriptions as subs

    with _AuthSmtp("alerts", "n3w-Pass-2026") as smtp:
        subs.request_subscription(
            "email", "mario.rossi@example.com", ChannelSettings(mail=_mail(smtp.inbox.port, "old-Pass-2025"))
        )
        config = tmp_path / "config.toml"
        config.write_text(
            f'[mail]\nhost = "127.0.0.1"\nport = {smtp.inbox.port}\nfrom = "alerts@example.org"\nmode = "insecure"\n'
            'user = "alerts"\npassword = "n3w-Pass-2026"\n',
            "utf-8",
        )
        env = {**os.environ, "PROMOWATCH_DATABASE_URL": tmp_db, "PROMOWATCH_CONFIG": str(config)}
        done = processes.run(
            [sys.executable, "-m", "promowatch", "send", "--json"],
            cwd=Path(__file__).resolve().parents[1],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        smtp.inbox.wait_for(1, timeout=10)
        assert smtp.inbox.envelopes == [("alerts@example.org", ["mario.rossi@example.com"])]
        assert set(smtp.logins) == {("alerts", "n3w-Pass-2026")}
        assert "n3w-Pass" not in done.stdout + done.stderr and "mario.rossi" not in done.stdout + done.stderr
