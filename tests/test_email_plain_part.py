"""The plain-text part of an email (issue 18): the message as our text templates write it, line for line.

Apprise's email plugin takes one body: given HTML it sends multipart/alternative with a text/plain part it converts
from that HTML itself (apprise/plugins/email/base.py, `convert_between(HTML, TEXT, body)`), and no URL argument or
notify() argument takes a text body beside it. So the HTML part (alerts/templates/_shared/email.html.j2) is built
from the text message, one line of text per line of HTML, and these tests read real emails back from a loopback
SMTP server (aiosmtpd) to check that what Apprise makes of it is our text message: every line of it, in order and
unchanged, with only the title and the price table (its caption, then each label and value) added, and no markup
left. In it / en / zh, for a price event with its table, a digest and the test message.

Then every event kind x language x channel kind, delivered as the service sends them (email to aiosmtpd, JSON to
a loopback HTTP server): no placeholder, no Italian outside the offer's own name in en / zh, the why line and the
traveller facts line present, and the JSON channel's event data beside the same text.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from servers import HttpServer, SmtpServer
from test_render import BASE, KINDS, NOW, PLACEHOLDERS, event, foreign_words

from alerts import render
from alerts.deliver import deliver
from alerts.price_context import context_of

FOOTER = {
    "manage": "https://promowatch.example/manage/abc",
    "unsubscribe": "https://promowatch.example/unsubscribe/abc",
}
SUB = {"origin": "iliad", "max_price_cents": 1000, "only_5g": True}
AT = datetime(2026, 9, 27, 10, 30, tzinfo=timezone.utc)
#: what email clients and readers must never see in a plain-text part
CAPTION = {"it": "Variazione di prezzo", "en": "Price change", "zh": "价格变动"}
MARKUP = re.compile(r"<[a-z/!][^>]*>|&(?:[a-z]+|#\d+);", re.IGNORECASE)


@pytest.fixture(scope="module")
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture(scope="module")
def http():
    with HttpServer() as server:
        yield server


def send(smtp, message: render.Message, lang: str, ev: dict | None = None):
    before = len(smtp.received)
    url = f"mailto://127.0.0.1:{smtp.port}?from=promowatch@example.com&to=anna@example.com&mode=insecure"
    html = render.render_html(message, lang, ev, NOW)
    assert deliver(url, message.title, html, html=True).ok
    mail = smtp.wait_for(before + 1, timeout=10)[before]
    assert [p.get_content_type() for p in mail.iter_parts()] == ["text/plain", "text/html"]
    plain = mail.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
    return mail, plain


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def assert_is_the_text_message(plain: str, message: render.Message, table: list[tuple[str, str]], caption: str):
    """`plain` is the title, then `message`'s lines in order, unchanged, with the table's caption and cells as
    the only other lines."""
    got, want = lines(plain), lines(message.body)
    assert got[0] == message.title
    rest = got[1:]
    cells = [caption, *(cell for row in table for cell in row)] if table else []
    position = 0
    extra = []
    for line in rest:
        if position < len(want) and line == want[position]:
            position += 1
        else:
            extra.append(line)
    assert position == len(want), f"missing from the plain part: {want[position]!r}\n{plain}"
    assert extra == cells, f"lines that are not the message's: {extra}\n{plain}"
    assert not MARKUP.search(plain), plain


@pytest.mark.parametrize("lang", render.LANGS)
def test_a_price_events_plain_part_is_the_text_message(smtp, lang):
    history = [(AT.replace(month=3), AT, 999)]
    ev = {**event("price_drop", item={"name": "Giga <150> & 5G"}), "context": context_of(799, 999, history, AT)}
    message = render.render_event(ev, lang, footer=FOOTER, now=NOW, sub=SUB)
    mail, plain = send(smtp, message, lang, ev)
    table = render.price_table(ev, lang, NOW)
    assert len(table) >= 5
    assert_is_the_text_message(plain, message, table, CAPTION[lang])
    assert "Giga <150> & 5G" in plain and FOOTER["unsubscribe"] in lines(plain)[-1]


@pytest.mark.parametrize("lang", render.LANGS)
def test_a_digests_and_the_test_messages_plain_part_is_the_text_message(smtp, lang):
    other = event("new", item={"offer_key": "b", "operator": "iliad", "name": "Giga 200"})
    digest = render.render_digest([event("price_drop"), other], lang, "Europe/Rome", "daily:2026-09-28", now=NOW)
    for message in (digest, render.render_test(lang, FOOTER)):
        _, plain = send(smtp, message, lang)
        assert_is_the_text_message(plain, message, [], "")
        assert BASE["url"] in lines(plain) or message is not digest


WHY = {"it": "Perché ricevi questo avviso: sei cliente Iliad", "en": "Why you got this: you are with Iliad",
       "zh": "收到此提醒的原因：您是 Iliad 用户"}  # fmt: skip
TRAVEL = {
    "it": "Per chi viaggia: rete Vodafone",
    "en": "For travellers: Vodafone network",
    "zh": "旅行须知：使用 Vodafone 网络",
}


def assert_reads_right(text: str, lang: str):
    for mark in PLACEHOLDERS:
        assert mark not in text, f"{mark!r} in\n{text}"
    if lang != "it":
        assert not foreign_words(text, [BASE["name"]]), f"Italian left in\n{text}"
    assert WHY[lang] in text and TRAVEL[lang] in text, text


@pytest.mark.parametrize("lang", render.LANGS)
@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_by_email_and_json_in_every_language(smtp, http, kind, lang):
    ev = event(kind)
    if kind in ("price_drop", "price_rise", "new", "returned"):
        ev["context"] = context_of(ev["price_after"], ev.get("price_before"), [(AT.replace(month=3), AT, 999)], AT)
    message = render.render_event(ev, lang, footer=FOOTER, now=NOW, sub=SUB)
    _, plain = send(smtp, message, lang, ev)
    assert_reads_right(plain, lang)
    assert_is_the_text_message(plain, message, render.price_table(ev, lang, NOW), CAPTION[lang])
    before = len(http.received)
    data = {"event": render.event_data(ev)}
    assert deliver(http.url(f"/{kind}/{lang}"), message.title, message.body, None, None, "info", data).ok
    payload = http.wait_for(before + 1, timeout=10)[before]["json"]
    assert (payload["title"], payload["message"]) == (message.title, message.body)
    assert_reads_right(payload["message"], lang)
    assert payload["event"]["kind"] == kind and payload["event"]["currency"] == "EUR"
