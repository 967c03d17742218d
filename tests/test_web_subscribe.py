"""The subscriber's pages as a browser drives them: subscribe (pre-filled from an offer, one error per field,
values kept), confirm, manage, unsubscribe (page and RFC 8058 one-click), erase; and their protections: CSRF
tokens tied to a cookie, signed links that cannot be forged, altered or used for another subscriber, rate limits
per IP and per address, the operator's allow-list, the SSRF guard, addresses never shown or logged whole, typed
markup shown as text. In it / en / zh.

FastAPI's TestClient on a real SQLite file per test; everything is stored by alerts.subscriptions.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlmodel import Session
from web_data import crawl, fixture_items

from alerts import subscriptions as subs
from alerts.channels import CODES as CHANNEL_CODES
from alerts.channels import ChannelSettings, MailSettings
from alerts.links import site_links
from storage.engine import get_engine
from storage.models import Notification, Subscription, SubscriptionConsent
from storage.repository import utcnow
from web.app import create_app
from web.subscribe_words import ERRORS, WORDS, error_text

LANGS = ("it", "en", "zh")
BASE = "http://testserver"
ADDRESS = "mario.rossi@example.com"
SCRIPT = "<script>alert(1)</script>"
SETTINGS = ChannelSettings(
    allowed=("email", "ntfy"),
    mail=MailSettings(host="127.0.0.1", port=2525, sender="alerts@example.org", mode="insecure"),
)


def site(url: str, **config) -> TestClient:
    return TestClient(create_app(url, config={"channels": SETTINGS, "base_url": BASE, **config}))


@pytest.fixture
def client(tmp_db):
    with site(tmp_db) as c:
        yield c


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def subscribe(client, lang="en", /, **fields):
    page = client.get("/subscribe", headers={"Accept-Language": lang})
    data = {
        "csrf_token": csrf_of(page.text),
        "lang": lang,
        "digest": "off",
        "tz": "Europe/Rome",
        "rearm_hours": "168",
        "channel_kind": "email",
        "channel_value": ADDRESS,
        **fields,
    }
    return client.post("/subscribe", data=data, headers={"Accept-Language": lang})


def field_errors(html: str) -> dict[str, str]:
    return {name: unescape(text) for name, text in re.findall(r'id="error-([\w-]+)">([^<]*)<', html)}


def stored(url: str) -> list[Subscription]:
    with Session(get_engine(url)) as session:
        return list(session.scalars(select(Subscription).order_by(Subscription.id)))


def tokens(url: str, sub: Subscription) -> dict[str, str]:
    links = site_links(BASE, url)
    return {p: links.token(p, sub.id, sub.link_key) for p in ("confirm", "manage", "unsubscribe")}


def status_on(client, manage_token: str) -> str:
    html = client.get(f"/manage/{manage_token}", headers={"Accept-Language": "en"}).text
    return re.search(r'<dd class="status">(.*?)</dd>', html).group(1)


# ------------------------------------------------------------------------------------------------ subscribe


def test_the_offer_page_link_prefills_the_form(tmp_db):
    crawl(tmp_db, "iliad", fixture_items()["iliad"], utcnow() - timedelta(days=1))
    with site(tmp_db) as client:
        offer = client.get("/offers/iliad/giga200", headers={"Accept-Language": "en"}).text
        href = unescape(re.search(r'<a class="button" href="([^"]+)">Tell me when this gets cheaper', offer).group(1))
        wanted = parse_qs(urlsplit(href).query)
        form = client.get(href, headers={"Accept-Language": "en"}).text
    assert re.search(r'<option value="iliad" selected>Iliad</option>', form)
    assert f'name="max_price" inputmode="decimal" size="7" value="{wanted["max_price"][0]}"' in form
    assert f'name="min_gb" inputmode="decimal" size="6" value="{wanted["min_gb"][0]}"' in form
    assert re.search(rf'name="plan_type" value="{wanted["plan_type"][0]}" checked', form)
    assert '<option value="en" lang="en" selected>' in form  # the page's language is the messages' default


@pytest.mark.parametrize("lang", LANGS)
def test_subscribing_stores_a_pending_request_and_queues_its_confirmation(client, tmp_db, lang, caplog):
    caplog.set_level(logging.DEBUG)
    page = client.get("/subscribe?operator=iliad&5g=1&who=tourist", headers={"Accept-Language": lang})
    assert WORDS[lang]["subscribe_title"] in unescape(page.text) and f'<html lang="{lang}">' in page.text
    assert re.search(r'name="plan_type" value="tourist" checked', page.text)
    done = subscribe(client, lang, operator="iliad", max_price="9,99", quiet="22:00-07:00")
    assert done.status_code == 200, done.text[:2000]
    assert WORDS[lang]["check_title"] in unescape(done.text)
    assert "m****@example.com" in done.text and ADDRESS not in done.text and "mario" not in done.text
    assert done.headers["cache-control"] == "no-store"
    [sub] = stored(tmp_db)
    assert (sub.status, sub.active, sub.lang, sub.operators, sub.max_price_cents) == (
        "pending",
        False,
        lang,
        ["iliad"],
        999,
    )
    assert (sub.quiet_start, sub.quiet_end) == ("22:00", "07:00")
    with Session(get_engine(tmp_db)) as session:
        [note] = session.scalars(select(Notification))
        [consent] = session.scalars(select(SubscriptionConsent))
    assert (note.kind, note.status) == ("confirm", "pending")
    assert consent.source == "web:subscribe" and consent.ip_hash and "testclient" not in consent.ip_hash
    assert ADDRESS not in caplog.text and "mario" not in caplog.text
    again = subscribe(client, lang, operator="iliad", max_price="9,99", quiet="22:00-07:00")
    assert again.status_code == 200 and len(stored(tmp_db)) == 1  # the same channel and filters: no second one


@pytest.mark.parametrize("lang", LANGS)
def test_bad_input_gives_one_message_per_field_and_keeps_the_values(client, tmp_db, lang):
    answer = subscribe(
        client,
        lang,
        max_price="abc",
        min_gb="-1",
        quiet="25:00-07:00",
        tz=SCRIPT,
        rearm_hours="soon",
        channel_value=SCRIPT,
    )
    assert answer.status_code == 422
    errors = field_errors(answer.text)
    assert set(errors) == {"max_price", "min_gb", "quiet", "tz", "rearm_hours", "channel_value"}
    assert errors["max_price"] == error_text(lang, "not_amount", {"value": "abc"})
    assert errors["min_gb"] == error_text(lang, "not_gb", {"value": "-1"})
    assert errors["quiet"] == error_text(lang, "quiet_range", {"value": "25:00-07:00"})
    assert errors["channel_value"] == ERRORS[lang]["not_email"]
    assert WORDS[lang]["fix_fields"] in unescape(answer.text)
    assert SCRIPT not in answer.text  # typed markup is text
    assert answer.text.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 2  # kept in tz and the channel field
    assert 'name="max_price" inputmode="decimal" size="7" value="abc"' in answer.text
    assert stored(tmp_db) == []


@pytest.mark.parametrize("lang", LANGS)
def test_a_wrong_address_is_not_repeated_in_its_error(client, lang):
    answer = subscribe(client, lang, channel_value="mario.rossi@@example.com")
    assert field_errors(answer.text)["channel_value"] == ERRORS[lang]["not_email"]


def test_only_the_operators_allowed_channels(client, tmp_db):
    form = client.get("/subscribe").text
    assert re.findall(r'<option value="(\w+)"[^>]*>[^<]*: ', form) == ["email", "ntfy"]
    for kind, value in (
        ("discord", "https://discord.com/api/webhooks/12345/abcdefghijklmnopqrstuvwxyz"),
        ("json", "x"),
    ):
        answer = subscribe(client, channel_kind=kind, channel_value=value)
        assert answer.status_code == 422
        assert field_errors(answer.text)["channel_value"] in (
            "Discord is not offered by this service: choose another channel from the list.",
            "Unknown kind of channel: choose one from the list.",
        )
    assert stored(tmp_db) == []


@pytest.mark.parametrize(
    "server", ["http://127.0.0.1:8080/alerts", "http://169.254.169.254/alerts", "https://10.1.2.3/x1"]
)
def test_a_push_server_on_an_internal_address_is_refused_on_the_form(client, tmp_db, server):
    answer = subscribe(client, channel_kind="ntfy", channel_value=server)
    assert answer.status_code == 422
    host = urlsplit(server).hostname
    assert field_errors(answer.text)["channel_value"] == (
        f"The server {host} is not on the internet ({host} is a local, private or reserved address): "
        "use a public server."
    )
    assert stored(tmp_db) == []


def test_a_public_ntfy_topic_is_accepted(client, tmp_db):
    assert subscribe(client, channel_kind="ntfy", channel_value="my-deals-topic").status_code == 200
    [sub] = stored(tmp_db)
    assert sub.status == "pending"


# ------------------------------------------------------------------------------------------------ CSRF


def test_forms_need_the_token_tied_to_this_browsers_cookie(tmp_db):
    with site(tmp_db) as alice, site(tmp_db) as mallory:
        page = alice.get("/subscribe")
        cookie = page.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "csrf=" in cookie
        good = csrf_of(page.text)
        data = {"channel_kind": "email", "channel_value": ADDRESS, "lang": "en"}
        mallory.get("/subscribe")
        assert mallory.post("/subscribe", data={**data, "csrf_token": good}).status_code == 403  # another cookie
        assert alice.post("/subscribe", data=data).status_code == 403  # no token
        assert alice.post("/subscribe", data={**data, "csrf_token": good[:-2] + "xy"}).status_code == 403
        forged = TestClient(create_app(tmp_db, config={"channels": SETTINGS}))
        forged.cookies.set("csrf", "chosen-by-the-attacker")
        assert forged.post("/subscribe", data={**data, "csrf_token": "chosen-by-the-attacker"}).status_code == 403
        assert stored(tmp_db) == []
        refused = alice.post("/subscribe", data=data)
        assert WORDS["it"]["form_expired"] in unescape(refused.text)
        assert alice.post("/subscribe", data={**data, "csrf_token": good}).status_code == 200


def test_confirm_manage_and_unsubscribe_posts_need_the_token(client, tmp_db):
    subscribe(client)
    [sub] = stored(tmp_db)
    t = tokens(tmp_db, sub)
    assert client.post(f"/confirm/{t['confirm']}", data={}).status_code == 403
    assert stored(tmp_db)[0].status == "pending"
    assert client.post(f"/manage/{t['manage']}", data={"action": "unsubscribe"}).status_code == 403
    assert client.post(f"/unsubscribe/{t['unsubscribe']}", data={"go": "1"}).status_code == 403
    assert stored(tmp_db)[0].status == "pending"


# ------------------------------------------------------------------------------------------------ signed links


@pytest.mark.parametrize("lang", LANGS)
def test_confirm_then_manage_then_unsubscribe(client, tmp_db, lang, caplog):
    caplog.set_level(logging.DEBUG)
    head = {"Accept-Language": lang}
    words = WORDS[lang]
    subscribe(client, lang, operator="iliad")
    [sub] = stored(tmp_db)
    t = tokens(tmp_db, sub)
    pages = []

    opened = client.get(f"/confirm/{t['confirm']}", headers=head)  # a GET confirms nothing (mail scanners)
    pages.append(opened.text)
    assert opened.status_code == 200 and words["confirm_button"] in unescape(opened.text)
    assert stored(tmp_db)[0].status == "pending"
    confirmed = client.post(f"/confirm/{t['confirm']}", data={"csrf_token": csrf_of(opened.text)}, headers=head)
    pages.append(confirmed.text)
    assert words["confirmed_title"] in unescape(confirmed.text) and stored(tmp_db)[0].status == "active"
    manage_href = re.search(r'href="(/manage/[^"]+)"', confirmed.text).group(1)
    assert client.get(manage_href).status_code == 200

    manage = client.get(f"/manage/{t['manage']}", headers=head)
    pages.append(manage.text)
    assert words["status_active"] in unescape(manage.text) and words["consent_title"] in unescape(manage.text)
    assert "web:subscribe" in manage.text and "email: m****@example.com" in manage.text
    token = csrf_of(manage.text)
    saved = client.post(
        f"/manage/{t['manage']}",
        data={
            "csrf_token": token,
            "action": "save",
            "operator": ["iliad", "very"],
            "max_price": "7,50",
            "lang": "zh",
            "digest": "daily",
            "tz": "Europe/Rome",
            "rearm_hours": "24",
            "kind": "price_drop",
        },
        headers=head,
    )
    assert saved.status_code == 200 and words["done_saved"] in unescape(saved.text)  # after the redirect
    now = stored(tmp_db)[0]
    assert (now.operators, now.max_price_cents, now.lang, now.digest, now.kinds) == (
        ["iliad", "very"],
        750,
        "zh",
        "daily",
        ["price_drop"],
    )
    assert 'name="max_price" inputmode="decimal" size="7" value="7.50"' in saved.text
    bad = client.post(
        f"/manage/{t['manage']}", data={"csrf_token": token, "action": "save", "min_gb": "lots"}, headers=head
    )
    assert bad.status_code == 422 and set(field_errors(bad.text)) == {"min_gb"}
    assert stored(tmp_db)[0].max_price_cents == 750

    client.post(f"/manage/{t['manage']}", data={"csrf_token": token, "action": "pause"})
    assert stored(tmp_db)[0].status == "paused" and status_on(client, t["manage"]) == WORDS["en"]["status_paused"]
    client.post(f"/manage/{t['manage']}", data={"csrf_token": token, "action": "resume"})
    assert stored(tmp_db)[0].status == "active"

    asked = client.get(f"/unsubscribe/{t['unsubscribe']}", headers=head)  # a GET unsubscribes nobody
    pages.append(asked.text)
    assert words["unsubscribe_button"] in unescape(asked.text) and stored(tmp_db)[0].status == "active"
    gone = client.post(f"/unsubscribe/{t['unsubscribe']}", data={"csrf_token": csrf_of(asked.text)}, headers=head)
    pages.append(gone.text)
    assert words["unsubscribed_title"] in unescape(gone.text) and stored(tmp_db)[0].status == "unsubscribed"
    again = client.get(f"/confirm/{t['confirm']}", headers=head)  # a confirm link never brings it back
    assert "<button" not in again.text and words["status_unsubscribed"] in unescape(again.text)
    assert client.post(f"/confirm/{t['confirm']}", data={"csrf_token": token}).status_code == 409
    assert stored(tmp_db)[0].status == "unsubscribed"
    for html in pages:
        assert ADDRESS not in html and "mario" not in html
    assert ADDRESS not in caplog.text and "mario" not in caplog.text


def test_one_click_unsubscribe_needs_no_page_and_no_cookie(client, tmp_db):
    subscribe(client)
    [sub] = stored(tmp_db)
    t = tokens(tmp_db, sub)
    mail_client = TestClient(create_app(tmp_db, config={"channels": SETTINGS, "base_url": BASE}))  # no cookie
    tampered = t["unsubscribe"][:-3] + ("AAA" if not t["unsubscribe"].endswith("AAA") else "BBB")
    refused = mail_client.post(f"/unsubscribe/{tampered}", data={"List-Unsubscribe": "One-Click"})
    assert refused.status_code == 400 and stored(tmp_db)[0].status == "pending"
    done = mail_client.post(f"/unsubscribe/{t['unsubscribe']}", data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and done.headers["content-type"].startswith("text/plain")
    assert stored(tmp_db)[0].status == "unsubscribed"


def test_forged_altered_and_other_subscribers_links_are_refused(client, tmp_db):
    subscribe(client, channel_value="anna@example.com")
    subscribe(client, channel_value="bruno@example.com")
    anna, bruno = stored(tmp_db)
    links = site_links(BASE, tmp_db)
    t = tokens(tmp_db, anna)
    refused = {
        "forged": "not-a-token",
        "altered": t["manage"][:-4] + ("abcd" if not t["manage"].endswith("abcd") else "efgh"),
        "other key": links.token("manage", anna.id, bruno.link_key),
        "other id": links.token("manage", bruno.id, anna.link_key),
        "purpose": t["unsubscribe"],
        "other secret": type(links)(BASE, b"x" * 32).token("manage", anna.id, anna.link_key),
    }
    for what, token in refused.items():
        for path in (f"/manage/{token}", f"/confirm/{token}" if what != "purpose" else f"/manage/{token}"):
            answer = client.get(path, headers={"Accept-Language": "en"})
            assert answer.status_code == 400, what
            assert WORDS["en"]["link_invalid"] in unescape(answer.text)
    page = client.get(f"/manage/{t['manage']}").text
    assert (
        client.post(
            f"/manage/{refused['other key']}",
            data={"csrf_token": csrf_of(page), "action": "erase", "erase_confirm": "1"},
        ).status_code
        == 400
    )
    assert [s.status for s in stored(tmp_db)] == ["pending", "pending"]


def test_erase_deletes_everything_and_the_links_stop_working(client, tmp_db):
    subscribe(client)
    [sub] = stored(tmp_db)
    t = tokens(tmp_db, sub)
    page = client.get(f"/manage/{t['manage']}", headers={"Accept-Language": "en"}).text
    unticked = client.post(f"/manage/{t['manage']}", data={"csrf_token": csrf_of(page), "action": "erase"})
    assert unticked.status_code == 422 and len(stored(tmp_db)) == 1
    erased = client.post(
        f"/manage/{t['manage']}",
        data={"csrf_token": csrf_of(page), "action": "erase", "erase_confirm": "1"},
        headers={"Accept-Language": "en"},
    )
    assert WORDS["en"]["erased_title"] in unescape(erased.text)
    assert stored(tmp_db) == [] and subs.list_subscriptions(tmp_db) == []
    with Session(get_engine(tmp_db)) as session:
        assert session.scalars(select(SubscriptionConsent)).all() == []
        assert session.scalars(select(Notification)).all() == []
    assert client.get(f"/manage/{t['manage']}").status_code == 400
    assert client.get(f"/unsubscribe/{t['unsubscribe']}").status_code == 400


# ------------------------------------------------------------------------------------------------ rate limits


def test_subscribe_is_rate_limited_per_ip(tmp_db):
    with site(tmp_db, rate_limits={"ip": (3, timedelta(hours=1))}) as client:
        answers = [subscribe(client, channel_value=f"p{n}@example.com").status_code for n in range(4)]
        assert answers == [200, 200, 200, 429]
        assert len(stored(tmp_db)) == 3
        assert WORDS["en"]["rate_limited"] in unescape(subscribe(client).text)


def test_subscribe_is_rate_limited_per_address(tmp_db):
    with site(tmp_db, rate_limits={"address": (2, timedelta(days=1))}) as client:
        answers = [subscribe(client, channel_value=ADDRESS, max_price=f"{n + 1}").status_code for n in range(3)]
        assert answers == [200, 200, 429]
        assert subscribe(client, channel_value="other@example.com").status_code == 200
        assert ADDRESS.upper() and subscribe(client, channel_value=ADDRESS.upper()).status_code == 429


def test_every_language_has_every_word():
    assert {lang: set(words) for lang, words in WORDS.items()} == {lang: set(WORDS["en"]) for lang in LANGS}


@pytest.mark.parametrize(
    "web, key",
    [
        ({"port": 70000}, "port"),
        ({"host": "127.0.0.1; rm"}, "host"),
        ({"trusted_proxies": ["proxy.example.org"]}, "trusted_proxies"),
        ({"enabled": "yes"}, "enabled"),
        ({"enable": True}, "enable"),
    ],
)
def test_web_configuration_errors_name_the_key(web, key):
    from promowatch.service_config import ConfigError, parse_config

    with pytest.raises(ConfigError) as caught:
        parse_config({"web": web}, "service.toml")
    assert "[web]" in str(caught.value) and key in str(caught.value) and "\n" not in str(caught.value)


def test_web_configuration_defaults_and_values():
    from promowatch.service_config import parse_config

    assert parse_config({}).web.enabled is False
    web = parse_config({"web": {"enabled": True, "host": "::1", "port": 8080, "trusted_proxies": "10.0.0.2"}}).web
    assert (web.enabled, web.host, web.port, web.trusted_proxies) == (True, "::1", 8080, ("10.0.0.2",))


@pytest.mark.parametrize("lang, price_drop", [("it", "ribasso"), ("en", "price drop"), ("zh", "降价")])
def test_the_kinds_of_change_are_worded_in_the_pages_language(client, lang, price_drop):
    form = client.get("/subscribe", headers={"Accept-Language": lang}).text
    assert re.search(rf'name="kind" value="price_drop"> {price_drop}</label>', form)


def test_an_expired_confirm_link_says_so(client, tmp_db, monkeypatch):
    import time

    from itsdangerous.timed import TimestampSigner

    subscribe(client)
    [sub] = stored(tmp_db)
    with monkeypatch.context() as m:  # signed 49 hours ago (TimestampSigner.get_timestamp is its documented hook)
        m.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - 49 * 3600)
        old = tokens(tmp_db, sub)["confirm"]
    answer = client.get(f"/confirm/{old}", headers={"Accept-Language": "en"})
    assert answer.status_code == 410 and WORDS["en"]["link_expired"] in unescape(answer.text)
    assert (
        client.post(f"/confirm/{old}", data={"csrf_token": csrf_of(client.get("/subscribe").text)}).status_code == 410
    )
    assert stored(tmp_db)[0].status == "pending"


# ------------------------------------------------------------------------------------------------ errors in it/en/zh

#: (form fields, the field whose error it is, the error as an Italian, an English and a Chinese reader sees it)
ERROR_CASES = [
    (
        {"max_price": "9.999"},
        "max_price",
        "«9.999» non è un importo in euro: scrivi ad esempio 9,99 o 10 (al massimo due decimali).",
        "“9.999” is not an amount in euro: write e.g. 9.99 or 10 (at most two decimals).",
        "“9.999”不是有效的欧元金额：请填写例如 9.99 或 10（最多两位小数）。",
    ),
    (
        {"max_eur_per_gb": "<b>x</b>"},
        "max_eur_per_gb",
        "«<b>x</b>» non è un importo in euro: scrivi ad esempio 9,99 o 10 (al massimo due decimali).",
        "“<b>x</b>” is not an amount in euro: write e.g. 9.99 or 10 (at most two decimals).",
        "“<b>x</b>”不是有效的欧元金额：请填写例如 9.99 或 10（最多两位小数）。",
    ),
    (
        {"max_year_cost": "cento"},
        "max_year_cost",
        "«cento» non è un importo in euro: scrivi ad esempio 9,99 o 10 (al massimo due decimali).",
        "“cento” is not an amount in euro: write e.g. 9.99 or 10 (at most two decimals).",
        "“cento”不是有效的欧元金额：请填写例如 9.99 或 10（最多两位小数）。",
    ),
    (
        {"min_gb": "1e3"},
        "min_gb",
        "«1e3» non è un numero di GB: scrivi ad esempio 10 o 1,5.",
        "“1e3” is not a number of GB: write e.g. 10 or 1.5.",
        "“1e3”不是有效的流量数值：请填写 GB 数，例如 10 或 1.5。",
    ),
    (
        {"quiet": "late"},
        "quiet",
        "«late» non è una fascia oraria: scrivi HH:MM-HH:MM, ad esempio 22:00-07:00.",
        "“late” is not a time range: write HH:MM-HH:MM, e.g. 22:00-07:00.",
        "“late”不是有效的时段：请按 HH:MM-HH:MM 填写，例如 22:00-07:00。",
    ),
    (
        {"quiet": "22:00-22:00"},
        "quiet",
        "«22:00-22:00»: inizio e fine coincidono.",
        "“22:00-22:00”: start and end are the same time.",
        "“22:00-22:00”：开始时间与结束时间相同。",
    ),
    (
        {"quiet": "22:75-07:00"},
        "quiet",
        "«22:75-07:00»: le ore vanno da 00 a 23, i minuti da 00 a 59.",
        "“22:75-07:00”: hours go from 00 to 23, minutes from 00 to 59.",
        "“22:75-07:00”：小时为 00–23，分钟为 00–59。",
    ),
    (
        {"tz": "Europe/Atlantis"},
        "tz",
        "Fuso orario sconosciuto: «Europe/Atlantis». Scrivi un nome come Europe/Rome.",
        "Unknown time zone “Europe/Atlantis”: write a name such as Europe/Rome.",
        "未知时区“Europe/Atlantis”：请填写 Europe/Rome 这样的时区名称。",
    ),
    (
        {"rearm_hours": "soon"},
        "rearm_hours",
        "«soon» non è un numero intero di ore.",
        "“soon” is not a whole number of hours.",
        "“soon”不是整数小时数。",
    ),
    (
        {"rearm_hours": "0"},
        "rearm_hours",
        "Valore fuori intervallo (0 ore): scrivi da 1 a 8760 ore (un anno).",
        "0 hours is out of range: write 1 to 8760 hours (one year).",
        "0 小时超出范围：请填写 1 到 8760 小时（最长一年）。",
    ),
    (
        {"lang": "fr"},
        "lang",
        "Lingua sconosciuta: «fr». Scegli italiano, inglese o cinese.",
        "Unknown language “fr”: choose Italian, English or Chinese.",
        "未知语言“fr”：请选择意大利语、英语或中文。",
    ),
    (
        {"digest": "hourly"},
        "digest",
        "Modalità di invio sconosciuta: «hourly». Sceglila dall'elenco.",
        "Unknown way of sending “hourly”: choose one from the list.",
        "未知的发送方式“hourly”：请从列表中选择。",
    ),
    (
        {"from": "Telecom Marte"},
        "from",
        "Operatore sconosciuto: «Telecom Marte». Sceglilo dall'elenco.",
        "Unknown operator “Telecom Marte”: choose one from the list.",
        "未知运营商“Telecom Marte”：请从列表中选择。",
    ),
    (
        {"operator": "<i>op</i>"},
        "operator",
        "Operatore sconosciuto: «<i>op</i>». Sceglilo dall'elenco.",
        "Unknown operator “<i>op</i>”: choose one from the list.",
        "未知运营商“<i>op</i>”：请从列表中选择。",
    ),
    (
        {"plan_type": "satellite"},
        "plan_type",
        "Scelta sconosciuta: «satellite».",
        "Unknown choice: “satellite”.",
        "未知选项：“satellite”。",
    ),
    (
        {"kind": "sold_out"},
        "kind",
        "Scelta sconosciuta: «sold_out».",
        "Unknown choice: “sold_out”.",
        "未知选项：“sold_out”。",
    ),
    (
        {"channel_value": "mario@"},
        "channel_value",
        "Non è un indirizzo email: scrivilo nella forma nome@esempio.it.",
        "This is not an email address: write it as name@example.com.",
        "这不是有效的邮箱地址：请按 name@example.com 的格式填写。",
    ),
    (
        {"channel_value": " "},
        "channel_value",
        "Scrivi il tuo indirizzo, argomento o chiave per il canale email.",
        "Write your email address, topic or key.",
        "请填写你的 电子邮件 地址、主题或密钥。",
    ),
    (
        {"channel_kind": "ntfy", "channel_value": "my topic!"},
        "channel_value",
        "ntfy: un argomento è fatto di 1-64 lettere, cifre, - e _.",
        "ntfy: a topic is 1 to 64 letters, digits, - and _.",
        "ntfy：主题由 1 到 64 个字母、数字、- 或 _ 组成。",
    ),
    (
        {"channel_kind": "ntfy", "channel_value": "ftp://example.org/topic"},
        "channel_value",
        "ntfy: scrivi l'indirizzo del server nella forma https://server.example.org.",
        "ntfy: write the server's address as https://server.example.org.",
        "ntfy：请填写服务器地址，例如 https://server.example.org。",
    ),
    (
        {"channel_kind": "ntfy", "channel_value": "http://127.0.0.1:8080/topic"},
        "channel_value",
        "Il server 127.0.0.1 non è su Internet (127.0.0.1 è un indirizzo locale, privato o riservato): usa un "
        "server pubblico.",
        "The server 127.0.0.1 is not on the internet (127.0.0.1 is a local, private or reserved address): use a "
        "public server.",
        "服务器 127.0.0.1 不在公共互联网上（127.0.0.1 是本地、私有或保留地址）：请使用公共服务器。",
    ),
    (
        {"channel_kind": "telegram", "channel_value": "12345"},
        "channel_value",
        "Il canale Telegram non è disponibile su questo servizio: scegline un altro dall'elenco.",
        "Telegram is not offered by this service: choose another channel from the list.",
        "本服务不提供 Telegram：请从列表中选择其他渠道。",
    ),
    (
        {"channel_kind": "fax", "channel_value": "12345"},
        "channel_value",
        "Tipo di canale sconosciuto: scegline uno dall'elenco.",
        "Unknown kind of channel: choose one from the list.",
        "未知的渠道类型：请从列表中选择。",
    ),
]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(
    "fields, field, it, en, zh", ERROR_CASES, ids=[f"{c[1]}:{list(c[0].values())[-1]}" for c in ERROR_CASES]
)
def test_each_error_beside_its_field_in_the_pages_language(client, tmp_db, lang, fields, field, it, en, zh):
    answer = subscribe(client, lang, **fields)
    assert answer.status_code == 422
    errors = field_errors(answer.text)
    assert errors == {field: {"it": it, "en": en, "zh": zh}[lang]}
    assert re.search(rf'id="error-{field}">([^<]*)<', answer.text)  # typed markup is escaped, not a tag
    assert "<b>" not in answer.text and "<i>" not in answer.text
    assert stored(tmp_db) == []


def test_every_error_code_has_a_sentence_with_the_same_placeholders_in_each_language():
    codes = {*subs.CODES, *CHANNEL_CODES, "not_whole_hours", "invalid"}
    assert set(ERRORS["en"]) == codes
    for lang in LANGS:
        assert set(ERRORS[lang]) == codes, lang
        for code in codes:
            named = sorted(re.findall(r"\{(\w+)\}", ERRORS[lang][code]))
            assert named == sorted(re.findall(r"\{(\w+)\}", ERRORS["en"][code])), (lang, code)


@pytest.mark.parametrize("lang", LANGS)
def test_an_unknown_code_still_reads_in_the_pages_language(lang):
    assert error_text(lang, "something_new", {"value": "x"}) == ERRORS[lang]["invalid"]
    assert error_text(lang, "not_gb", {}) == ERRORS[lang]["invalid"]  # its value missing: no half sentence


@pytest.mark.parametrize("lang", LANGS)
def test_manage_page_errors_in_the_pages_language(client, tmp_db, lang):
    subscribe(client, lang)
    [sub] = stored(tmp_db)
    t = tokens(tmp_db, sub)
    head = {"Accept-Language": lang}
    page = client.get(f"/manage/{t['manage']}", headers=head)
    test = client.post(
        f"/manage/{t['manage']}", data={"csrf_token": csrf_of(page.text), "action": "test"}, headers=head
    )
    assert test.status_code == 409
    status = WORDS[lang]["status_pending"]
    assert ERRORS[lang]["test_needs_active"].format(status=status) in unescape(test.text)
    saved = client.post(
        f"/manage/{t['manage']}",
        data={"csrf_token": csrf_of(page.text), "action": "save", "lang": lang, "quiet": "7-8", "tz": "Europe/Rome"},
        headers=head,
    )
    assert field_errors(saved.text) == {"quiet": error_text(lang, "quiet_format", {"value": "7-8"})}
    assert "HH:MM-HH:MM" in field_errors(saved.text)["quiet"]
    if lang != "en":
        assert "is not" not in saved.text and "is not" not in test.text
