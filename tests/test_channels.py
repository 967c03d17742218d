"""Channels from what a person has (alerts/channels.py): each kind's check, the operator's allow-list, and the
refusal of hosts that resolve to loopback, private, link-local or reserved addresses (SSRF)."""

import ipaddress

import pytest

from alerts.channels import (
    KINDS,
    ChannelError,
    ChannelSettings,
    MailSettings,
    build_channel,
    mail_url,
    public_address,
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
    assert channel["url"].startswith(url)
    assert apprise.Apprise.instantiate(channel["url"]) is not None, channel["url_masked"]
    assert not channel["guarded"]  # the operator's servers or the services' own hosts
    for secret in SECRETS:
        assert secret not in channel["url_masked"] and secret not in channel["shown"]
    if kind == "email":
        assert channel["shown"] == "email: m****@example.com"
        assert "to=mario.rossi%2Bdeals%40example.com" in channel["url"]


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
    assert "mario.rossi" not in shown and SMTP_PASSWORD not in shown and "m****%40example.com" in shown


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
