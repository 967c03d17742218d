"""Subscriptions through the real sender: a confirmation and alerts received by a real SMTP server (aiosmtpd on
127.0.0.1) with the manage and unsubscribe links in the subscriber's language and the RFC 8058 headers; after
unsubscribing nothing more arrives; guarded channels (hosts a subscriber typed) are not sent to internal
addresses and do not follow redirects (a real HTTP server on 127.0.0.1)."""

import re
from datetime import datetime, timezone

import pytest
from servers import HttpServer, SmtpServer
from sqlalchemy import select
from sqlmodel import Session
from test_deliver import add_event

from alerts import subscriptions as subs
from alerts.channels import ChannelSettings, MailSettings
from alerts.deliver import Policy, deliver, send_due
from alerts.links import site_links
from alerts.match import match_events
from storage.models import Notification, OfferEvent

pytestmark = pytest.mark.slow

BASE = "https://deals.example.org"
POLICY = Policy(base_url=BASE)
FOOTER = {
    "it": ("Gestisci i tuoi avvisi: ", "Annulla l'iscrizione: "),
    "en": ("Manage your alerts: ", "Unsubscribe: "),
    "zh": ("管理提醒：", "退订："),
}


def mail_settings(smtp) -> ChannelSettings:
    return ChannelSettings(
        mail=MailSettings(host="127.0.0.1", port=smtp.port, sender="alerts@example.org", mode="insecure")
    )


def policy_for(smtp) -> Policy:
    """The sender's policy with the service's [mail] account (self-service email goes through it)."""
    return Policy(base_url=BASE, mail=mail_settings(smtp).mail)


def body_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def link(body: str, prefix: str) -> str:
    line = next(line for line in body.splitlines() if line.startswith(prefix))
    return line[len(prefix) :].strip()


def alert(engine, key: str, price: int) -> int:
    """A price drop of an iliad offer, matched against the subscriptions as a crawl's detector does."""
    event_id = add_event(engine, key=key, before=price + 200, after=price)
    with Session(engine) as session, session.begin():
        event = session.get(OfferEvent, event_id)
        return match_events(session, [event], datetime.now(timezone.utc))


@pytest.mark.parametrize("lang", ["it", "en", "zh"])
def test_confirm_alert_unsubscribe_by_email(engine, lang):
    with SmtpServer() as smtp:
        asked = subs.request_subscription(
            "email", "mario.rossi@example.com", mail_settings(smtp), lang=lang, operators=["iliad"], ip="203.0.113.9"
        )
        report = send_due(policy=policy_for(smtp))
        assert (report.sent, report.failed, report.dead) == (1, 0, 0)
        [confirmation] = smtp.wait_for(1, timeout=10)
        assert smtp.envelopes[0][1] == ["mario.rossi@example.com"]
        body = body_of(confirmation)
        confirm_url = re.search(rf"{BASE}/confirm/(\S+)", body)
        manage, unsubscribe = link(body, FOOTER[lang][0]), link(body, FOOTER[lang][1])
        assert manage.startswith(f"{BASE}/manage/") and unsubscribe.startswith(f"{BASE}/unsubscribe/")
        assert confirmation["List-Unsubscribe"] == f"<{unsubscribe}>"
        assert confirmation["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert alert(engine, "giga-150", 799) == 0  # pending: no alert yet

        links = site_links(BASE)
        assert subs.confirm(confirm_url.group(1), links) == "active"
        assert alert(engine, "giga-200", 699) == 1
        assert send_due(policy=policy_for(smtp)).sent == 1
        [_, alerted] = smtp.wait_for(2, timeout=10)
        body = body_of(alerted)
        assert "6,99" in body or "6.99" in body
        in_body = link(body, FOOTER[lang][1])
        assert subs.open_link(in_body.rsplit("/", 1)[1], "unsubscribe", links) == asked.subscription_id
        assert subs.open_link(link(body, FOOTER[lang][0]).rsplit("/", 1)[1], "manage", links) == asked.subscription_id
        one_click = alerted["List-Unsubscribe"].strip("<>")
        assert one_click.startswith(f"{BASE}/unsubscribe/")
        assert alerted["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

        sid = subs.open_link(one_click.rsplit("/", 1)[1], "unsubscribe", links)  # what the one-click POST does
        assert sid == asked.subscription_id and subs.unsubscribe(sid)
        assert alert(engine, "giga-300", 599) == 0
        assert send_due(policy=policy_for(smtp)).claimed == 0
        assert len(smtp.received) == 2  # nothing more arrived


def test_operator_subscriptions_get_the_footer_too(engine):
    with SmtpServer() as smtp:
        spec = subs.subscription_spec([f"mailto://127.0.0.1:{smtp.port}?from=pw@example.com&to=ops@example.com"])
        [sid] = subs.store_subscriptions([spec])
        assert alert(engine, "giga-150", 799) == 1
        assert send_due(policy=POLICY).sent == 1
        [message] = smtp.wait_for(1, timeout=10)
        unsubscribe = link(body_of(message), FOOTER["it"][1])
        assert message["List-Unsubscribe"] == f"<{unsubscribe}>"
        assert subs.open_link(unsubscribe.rsplit("/", 1)[1], "unsubscribe", site_links(BASE)) == sid


def test_a_confirmation_is_not_sent_once_the_request_is_gone(engine):
    with SmtpServer() as smtp:
        asked = subs.request_subscription("email", "a@example.com", mail_settings(smtp))
        subs.unsubscribe(asked.subscription_id)
        report = send_due(policy=policy_for(smtp))
        assert (report.sent, report.skipped) == (0, 1)
        assert smtp.received == []


def test_a_guarded_channel_is_not_sent_to_an_internal_address(engine):
    with HttpServer() as http:
        own = ChannelSettings(allowed=("bark",), allow_private_addresses=True)
        asked = subs.request_subscription("bark", f"http://127.0.0.1:{http.port}/aBcDeFgHiJkLmNoP", own)
        report = send_due(policy=POLICY)  # the sender's policy does not allow private addresses
        assert report.dead == 1 and http.hits("/push") == 0
        [row] = report.rows
        assert "not on the public internet" in row["error"] and row["kind"] == "unusable"
        with Session(engine) as s:
            query = select(Notification.status).where(Notification.subscription_id == asked.subscription_id)
            assert s.scalars(query).all() == ["dead"]
        again = subs.request_subscription("bark", f"http://127.0.0.1:{http.port}/aBcDeFgHiJkLmNoP", own)
        assert again.subscription_id == asked.subscription_id
        report = send_due(policy=Policy(base_url=BASE, allow_private_addresses=True))
        assert report.sent == 1 and http.hits("/push") == 1
        assert http.received[0]["json"]["device_key"] == "aBcDeFgHiJkLmNoP"


def test_a_guarded_channel_does_not_follow_a_redirect(engine):
    with HttpServer() as http:
        http.rule("/push", redirect=f"http://127.0.0.1:{http.port}/inside")
        own = ChannelSettings(allowed=("bark",), allow_private_addresses=True)
        subs.request_subscription("bark", f"http://127.0.0.1:{http.port}/aBcDeFgHiJkLmNoP", own)
        report = send_due(policy=Policy(base_url=BASE, allow_private_addresses=True, max_attempts=1))
        assert http.hits("/push") == 1 and http.hits("/inside") == 0
        assert report.dead == 1 and "HTTP 307" in report.rows[0]["error"]
        # the same URL as an operator's channel (not guarded): Apprise follows the redirect by default
        assert deliver(f"bark://127.0.0.1:{http.port}/aBcDeFgHiJkLmNoP", "t", "b").ok
        assert http.hits("/inside") == 1
