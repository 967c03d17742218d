"""Delivery from the outbox on a real SQLite file, through Apprise, to real servers on 127.0.0.1: an aiosmtpd SMTP
server (mailto://, no TLS, no AUTH) and an HTTP server taking json:// posts (tests/servers.py).

Rows are made directly through SQLModel (no matcher): an OfferEvent per offer, a Subscription with its channels,
Notification rows pointing at them. Every wait is bounded (servers' wait_for, Apprise's socket timeouts).
"""

import logging
import re
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from servers import HttpServer, SmtpServer
from sqlmodel import Session

from alerts import deliver as deliver_mod
from alerts.deliver import LEASE, backoff, claim_due, send_due
from alerts.masking import mask_text, mask_url
from alerts.render import render_digest, render_event
from alerts.why import filters_of
from contract.offer import normalise
from storage.models import (
    CrawlRun,
    Notification,
    Offer,
    OfferEvent,
    Subscription,
    SubscriptionChannel,
)
from storage.repository import event_dict

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=timezone.utc)
PASSWORD = "Pa55w0rd-s3cret"
HAN = re.compile(r"[\u4e00-\u9fff]")


def utc(moment):
    return None if moment is None else (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc))


def add_event(
    engine, key="giga-150", kind="price_drop", before=999, after=799, operator="iliad", name=None, at=T0, **extra
) -> int:
    item = normalise(
        {
            **extra,
            "operator": operator,
            "offer_key": key,
            "name": name or f"Giga {key}",
            "url": f"https://example.it/{key}",
            "plan_type": "prepaid",
            "price_cents": after,
            "period_days": 30,
            "data_gb": 150,
            "data_5g": True,
        }
    )
    with Session(engine) as s:
        run = CrawlRun(operator=operator, started_at=at, finished_at=at, finish_reason="finished", status="healthy")
        offer = Offer(
            operator=operator,
            offer_key=key,
            name=item["name"],
            plan_type="prepaid",
            price_cents=after,
            data=item,
            content_hash=key,
            first_seen=at,
            last_seen=at,
        )
        s.add_all([run, offer])
        s.flush()
        event = OfferEvent(
            crawl_run_id=run.id,
            offer_id=offer.id,
            operator=operator,
            offer_key=key,
            kind=kind,
            created_at=at,
            price_before=before,
            price_after=after,
            changes={},
            item=item,
        )
        s.add(event)
        s.commit()
        return event.id


def add_subscriber(engine, *urls, lang="it", tz="Europe/Rome", active=True) -> tuple[int, list[int]]:
    with Session(engine) as s:
        sub = Subscription(created_at=T0, lang=lang, timezone=tz, active=active)
        s.add(sub)
        s.flush()
        channels = [
            SubscriptionChannel(subscription_id=sub.id, url=u, url_masked=mask_url(u), service=u.split("://")[0])
            for u in urls
        ]
        s.add_all(channels)
        s.commit()
        return sub.id, [c.id for c in channels]


def queue(
    engine,
    sub_id,
    channel_id,
    event_id=None,
    event_ids=(),
    digest=None,
    due=T0,
    status="pending",
    attempts=0,
    claimed_at=None,
) -> int:
    with Session(engine) as s:
        event = s.get(OfferEvent, event_id) if event_id else None
        row = Notification(
            subscription_id=sub_id,
            channel_id=channel_id,
            event_id=event_id,
            event_ids=list(event_ids),
            digest=digest,
            operator=event.operator if event else None,
            offer_key=event.offer_key if event else None,
            kind=event.kind if event else None,
            price_cents=event.price_after if event else None,
            status=status,
            created_at=T0,
            due_at=due,
            claimed_at=claimed_at,
            attempts=attempts,
        )
        s.add(row)
        s.commit()
        return row.id


def row(engine, nid) -> Notification:
    with Session(engine) as s:
        n = s.get(Notification, nid)
        s.expunge(n)
        return n


def event_of(engine, event_id) -> dict:
    """The event as the sender prepares it: with its price context (alerts.price_context)."""
    from alerts.price_context import price_contexts

    with Session(engine) as s:
        event = event_dict(s.get(OfferEvent, event_id))
        return {**event, "context": price_contexts(s, [event]).get(event_id)}


@pytest.fixture
def http():
    with HttpServer() as server:
        yield server


@pytest.fixture
def smtp():
    with SmtpServer() as server:
        yield server


def mail_url(smtp, to):
    return f"mailto://127.0.0.1:{smtp.port}?from=promowatch@example.com&to={to}"


def text_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n").strip()


# ------------------------------------------------------------------------------------------ real channels


def without_footer(text: str) -> str:
    """The message before its footer: the subscription's manage and unsubscribe links (they are signed at send
    time; tests/test_subscription_delivery.py follows them)."""
    body, sep, links = text.rpartition("\n\n--\n")
    assert sep and "/manage/" in links and "/unsubscribe/" in links, text
    return body


def test_email_to_real_smtp_server_in_each_subscribers_language(engine, smtp):
    event_id = add_event(engine, name="Giga 150 5G")
    zh_sub, [zh_channel] = add_subscriber(engine, mail_url(smtp, "li@example.com"), lang="zh", tz="Asia/Shanghai")
    it_sub, [it_channel] = add_subscriber(engine, mail_url(smtp, "anna@example.com"), lang="it")
    zh_row, it_row = queue(engine, zh_sub, zh_channel, event_id), queue(engine, it_sub, it_channel, event_id)

    report = send_due(now=T0 + timedelta(seconds=1))

    assert (report.claimed, report.sent, report.failed, report.dead) == (2, 2, 0, 0)
    mails = {m["To"]: m for m in smtp.wait_for(2, timeout=10)}
    event = event_of(engine, event_id)
    for to, lang, tz in (("li@example.com", "zh", "Asia/Shanghai"), ("anna@example.com", "it", "Europe/Rome")):
        expected = render_event(event, lang, tz)
        mail = mails[to]
        assert mail["Subject"] == expected.title
        assert mail["From"] == "promowatch@example.com"
        text = without_footer(text_of(mail))  # Apprise's plain-text rendering of the HTML part: every line is there
        assert [line for line in expected.body.splitlines() if line.strip() and line.strip() in text] == [
            line for line in expected.body.splitlines() if line.strip()
        ]
    assert HAN.search(mails["li@example.com"]["Subject"]) and HAN.search(text_of(mails["li@example.com"]))
    assert not HAN.search(text_of(mails["anna@example.com"]))
    assert "17:00" in text_of(mails["li@example.com"])  # 09:00 UTC in the subscriber's Asia/Shanghai
    for nid in (zh_row, it_row):
        n = row(engine, nid)
        assert (n.status, n.attempts, n.last_error, n.claimed_at) == ("sent", 1, None, None)
        assert utc(n.sent_at) == T0 + timedelta(seconds=1)


@pytest.mark.parametrize("lang", ["it", "en", "zh"])
def test_one_event_to_many_subscribers_reads_as_if_rendered_for_each(engine, http, lang):
    """The sender renders an event once per language and zone and adds each subscriber's own lines: every
    message is exactly `render_event` for that subscriber (their filters in "why you got this")."""
    event_id = add_event(engine)
    wishes = [
        {},
        {"max_price_cents": 899, "min_gb": 100.0},
        {"operators": ["iliad", "kena"], "only_5g": True, "kinds": ["price_drop"]},
        {"origin": "tim", "plan_types": ["prepaid"]},
        {"max_price_cents": 999},
    ]
    subs = []
    for n, wish in enumerate(wishes):
        tz = ("Asia/Shanghai", "Europe/Rome")[n % 2]
        sub, [channel] = add_subscriber(engine, http.url(f"/s{n}"), lang=lang, tz=tz)
        with Session(engine) as s:
            s.get(Subscription, sub).sqlmodel_update(wish)
            s.commit()
        queue(engine, sub, channel, event_id)
        subs.append((f"/s{n}", tz, wish))
    now = T0 + timedelta(minutes=5)
    assert send_due(now=now).sent == len(wishes)
    posts = {p["path"]: p["json"] for p in http.wait_for(len(wishes))}
    event = event_of(engine, event_id)
    bodies = set()
    for path, tz, wish in subs:
        expected = render_event(event, lang, tz, now=now, sub=filters_of(wish))
        assert (posts[path]["title"], without_footer(posts[path]["message"])) == (expected.title, expected.body)
        bodies.add(expected.body)
    assert len(bodies) == len(wishes)  # each says its own why


def test_json_channel_answering_500_first_is_retried_after_backoff(engine, http):
    http.rule("/flaky", fail_first=1)
    event_id = add_event(engine)
    sub, [channel] = add_subscriber(engine, http.url("/flaky"), lang="en")
    nid = queue(engine, sub, channel, event_id)
    first = T0 + timedelta(minutes=1)

    report = send_due(now=first)
    assert (report.sent, report.failed, report.dead) == (0, 1, 0)
    n = row(engine, nid)
    assert (n.status, n.attempts) == ("pending", 1)
    assert utc(n.due_at) == first + timedelta(seconds=60) > first
    assert "500" in n.last_error and "Internal server error" in n.last_error
    assert report.rows[0]["status"] == "pending" and report.rows[0]["error"] == n.last_error

    assert send_due(now=first + timedelta(seconds=30)).claimed == 0  # not due yet
    assert http.hits("/flaky") == 1

    report = send_due(now=first + timedelta(seconds=61))
    assert (report.claimed, report.sent, report.failed) == (1, 1, 0)
    [post] = http.wait_for(1, timeout=5)
    expected = render_event(event_of(engine, event_id), "en", sub={})  # no filters: "you follow every offer"
    assert post["json"]["title"] == expected.title and without_footer(post["json"]["message"]) == expected.body
    n = row(engine, nid)
    assert (n.status, n.attempts, n.last_error) == ("sent", 2, None)


def test_channel_that_keeps_failing_goes_dead_with_masked_error(engine, http, caplog):
    caplog.set_level(logging.DEBUG)  # everything anything logs, Apprise and urllib3 included
    http.rule("/down", fail_first=10**6)
    url = http.url("/down", user="alice", password=PASSWORD)
    sub, [channel] = add_subscriber(engine, url)
    nid = queue(engine, sub, channel, add_event(engine))
    now = T0
    for attempt in (1, 2, 3):
        report = send_due(now=now, max_attempts=3)
        n = row(engine, nid)
        assert n.attempts == attempt
        if attempt < 3:
            assert report.failed == 1 and n.status == "pending"
            assert utc(n.due_at) - now == backoff(attempt) == timedelta(seconds=60 * 2 ** (attempt - 1))
            now = utc(n.due_at) + timedelta(seconds=1)
    assert report.dead == 1 and not report.ok
    assert n.status == "dead" and "500" in n.last_error
    assert send_due(now=now + timedelta(days=30)).claimed == 0  # a dead row is never sent again
    assert http.hits("/down") == 3
    assert "is dead after 3 attempt(s)" in caplog.text and "alice:****@" in caplog.text
    assert "JSON POST URL" in caplog.text  # Apprise's DEBUG records were captured too ...
    for text in (n.last_error, caplog.text, repr(report.as_dict())):  # ... and none carries the password
        assert PASSWORD not in text


def test_each_channel_gets_its_own_result(engine, http):
    with HttpServer() as failing:  # a host of its own: its 500 slows down that channel only (back-pressure)
        failing.rule("/bad", fail_first=10**6)
        sub, [good, bad] = add_subscriber(engine, http.url("/good"), failing.url("/bad"))
        event_id = add_event(engine)
        ok_row, bad_row = queue(engine, sub, good, event_id), queue(engine, sub, bad, event_id)
        report = send_due(now=T0)
    assert (report.sent, report.failed) == (1, 1)
    assert row(engine, ok_row).status == "sent" and row(engine, bad_row).status == "pending"
    assert [p["path"] for p in http.wait_for(1)] == ["/good"]


def test_digest_row_renders_all_its_events(engine, http):
    first = add_event(engine, key="a", at=T0)
    second = add_event(engine, key="b", kind="new", before=None, after=500, at=T0 + timedelta(hours=2))
    sub, [channel] = add_subscriber(engine, http.url("/digest"), lang="en", tz="America/New_York")
    nid = queue(engine, sub, channel, event_ids=[second, first], digest="daily:2026-12-03")
    report = send_due(now=T0 + timedelta(hours=10))
    assert report.sent == 1
    [post] = http.wait_for(1)
    expected = render_digest(
        [event_of(engine, first), event_of(engine, second)],
        "en",
        "America/New_York",
        "daily:2026-12-03",
        now=T0 + timedelta(hours=10),
        sub={},  # a subscription without filters: "you follow every offer"
    )
    assert (post["json"]["title"], without_footer(post["json"]["message"])) == (expected.title, expected.body)
    assert "Giga a" in post["json"]["message"] and "Giga b" in post["json"]["message"]
    assert row(engine, nid).status == "sent"


def test_weekly_digest_by_email_names_its_week_and_no_stale_countdown(engine, smtp):
    """The outbox's own key (alerts.outbox.schedule), sent when due: the period is the week the events cover and
    a promotion that ended before sending is not announced as ending."""
    from alerts.outbox import schedule

    ended = add_event(
        engine, key="flash", kind="expiring", before=None, after=599, name="Flash 5", at=datetime(2026, 12, 7, 9, 0,
        tzinfo=timezone.utc), promo_until="2026-12-09",
    )  # fmt: skip
    dropped_at = datetime(2026, 12, 12, 17, 0, tzinfo=timezone.utc)
    dropped = add_event(engine, key="giga-150", at=dropped_at)
    settings = {"digest": "weekly", "timezone": "Europe/Rome", "quiet_start": None, "quiet_end": None}
    key, due = schedule(settings, dropped_at)
    assert key == "weekly:2026-12-14"  # the local day it is sent on
    sub, [channel] = add_subscriber(engine, mail_url(smtp, "anna@example.com"), lang="en")
    queue(engine, sub, channel, event_ids=[ended, dropped], digest=key, due=due)

    assert send_due(now=due).sent == 1
    [mail] = smtp.wait_for(1, timeout=10)
    text = text_of(mail)
    assert mail["Subject"] == "Weekly digest: 1 offer update"
    assert "What changed 7–13 December 2026: 1 price drop." in text
    assert "14 December" not in text and "Flash" not in text and "in 2 days" not in text
    assert "/unsubscribe/" in text and "/manage/" in text


# ------------------------------------------------------------------------------------------ crash safety


def test_row_left_sending_by_a_dead_sender_is_reclaimed_after_the_lease(engine, http):
    sub, [channel] = add_subscriber(engine, http.url("/hook"))
    event_id = add_event(engine)
    now = T0 + timedelta(hours=1)
    stale = queue(engine, sub, channel, event_id, status="sending", claimed_at=now - LEASE - timedelta(seconds=1))
    fresh = queue(
        engine, sub, channel, add_event(engine, key="other"), status="sending", claimed_at=now - timedelta(minutes=1)
    )
    report = send_due(now=now)
    assert (report.claimed, report.reclaimed, report.sent) == (1, 1, 1)
    assert row(engine, stale).status == "sent"
    assert row(engine, fresh).status == "sending"  # another sender may still be working on it
    assert len(http.wait_for(1)) == 1


def test_sent_and_dead_rows_are_never_sent_again(engine, http):
    sub, [channel] = add_subscriber(engine, http.url("/hook"))
    sent = queue(engine, sub, channel, add_event(engine, key="a"), status="sent", attempts=1)
    dead = queue(engine, sub, channel, add_event(engine, key="b"), status="dead", attempts=6)
    report = send_due(now=T0 + timedelta(days=365), lease=timedelta(0))
    assert report.claimed == 0
    assert row(engine, sent).status == "sent" and row(engine, dead).status == "dead"
    time.sleep(0.2)
    assert http.received == []


def test_crash_after_sending_before_recording_resends_once_after_the_lease(engine, http, monkeypatch):
    sub, [channel] = add_subscriber(engine, http.url("/hook"))
    nid = queue(engine, sub, channel, add_event(engine))

    def crash(*args, **kwargs):
        raise RuntimeError("simulated crash")

    with monkeypatch.context() as patch, pytest.raises(RuntimeError):  # not .undo(): tmp_db's setenv stays
        patch.setattr(deliver_mod, "_record_batch", crash)
        send_due(now=T0)
    assert len(http.wait_for(1)) == 1
    n = row(engine, nid)
    assert n.status == "sending" and utc(n.claimed_at) == T0
    assert send_due(now=T0 + LEASE - timedelta(seconds=1)).claimed == 0  # within the lease: left alone
    report = send_due(now=T0 + LEASE)
    assert (report.reclaimed, report.sent) == (1, 1)
    assert len(http.wait_for(2)) == 2  # the one case a message goes out twice
    assert row(engine, nid).status == "sent"


def test_crash_before_sending_loses_nothing(engine, http, monkeypatch):
    sub, [channel] = add_subscriber(engine, http.url("/hook"))
    nid = queue(engine, sub, channel, add_event(engine))

    def crash(*args, **kwargs):
        raise RuntimeError("simulated crash")

    with monkeypatch.context() as patch, pytest.raises(RuntimeError):  # not .undo(): tmp_db's setenv stays
        patch.setattr(deliver_mod, "_prepare", crash)
        send_due(now=T0)
    assert row(engine, nid).status == "sending" and http.received == []
    report = send_due(now=T0 + LEASE + timedelta(seconds=1))
    assert (report.reclaimed, report.sent) == (1, 1)
    assert len(http.wait_for(1)) == 1


def test_a_late_result_of_a_lost_claim_does_not_undo_the_new_claim(engine, http):
    sub, [channel] = add_subscriber(engine, http.url("/hook"))
    nid = queue(engine, sub, channel, add_event(engine))
    [claimed], _ = claim_due(engine, T0, 10)
    [again], reclaimed = claim_due(engine, T0 + LEASE, 10)  # the first sender looked dead
    assert claimed == again == nid and reclaimed == 1
    report = deliver_mod.SendReport()
    job = deliver_mod._Job(nid, 0, T0)  # the first sender's failure arrives late: ignored
    late = [(job, deliver_mod.Outcome(False, "timeout"))]
    deliver_mod._record_batch(engine, late, T0 + LEASE, deliver_mod.Policy(), report)
    n = row(engine, nid)
    assert (n.status, n.attempts, utc(n.claimed_at)) == ("sending", 0, T0 + LEASE)
    assert report.rows[0]["status"] == "sending" and report.rows[0]["superseded"]  # a status `notifications` knows


# ------------------------------------------------------------------------------------------ claiming, concurrency


def test_sends_concurrently_but_bounded(engine, http):
    http.delay = 0.2
    sub, channels = add_subscriber(engine, *[http.url(f"/c{i}") for i in range(12)])
    event_id = add_event(engine)
    for channel in channels:
        queue(engine, sub, channel, event_id)
    report = send_due(now=T0, concurrency=4)
    assert report.sent == 12
    # the sink saw sends overlap, never more than 4 (no timing: a loaded CI machine once took 2.1 s for 1.8)
    assert 2 <= http.max_in_flight <= 4


def test_two_senders_at_once_send_each_row_once(engine, http):
    http.delay = 0.02
    sub, channels = add_subscriber(engine, *[http.url(f"/c{i}") for i in range(30)])
    event_id = add_event(engine)
    for channel in channels:
        queue(engine, sub, channel, event_id)
    reports, errors = [], []

    def sender():
        try:
            reports.append(send_due(now=T0, concurrency=4, limit=20))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors and len(reports) == 2
    rest = send_due(now=T0)  # whatever the two limits left
    assert sum(r.sent for r in reports) + rest.sent == 30
    assert sorted(http.hits(f"/c{i}") for i in range(30)) == [1] * 30


def test_limit_and_due_order(engine, http):
    sub, [channel] = add_subscriber(engine, http.url("/hook"))
    ids = [queue(engine, sub, channel, add_event(engine, key=f"k{i}"), due=T0 - timedelta(minutes=i)) for i in range(3)]
    later = queue(engine, sub, channel, add_event(engine, key="later"), due=T0 + timedelta(hours=1))
    report = send_due(now=T0, limit=2)
    assert [r["id"] for r in report.rows] == sorted(ids[1:])  # the two that were due first
    assert row(engine, ids[0]).status == "pending" and row(engine, later).status == "pending"


# ------------------------------------------------------------------------------------------ rows that cannot go out


def test_unusable_channel_url_is_dead_at_once_with_a_masked_reason(engine):
    url = f"foo://alice:{PASSWORD}@example.org/x"
    sub, [channel] = add_subscriber(engine, url)
    nid = queue(engine, sub, channel, add_event(engine))
    report = send_due(now=T0)
    n = row(engine, nid)
    assert report.dead == 1 and n.status == "dead" and n.attempts == 1
    assert "foo://****" in n.last_error and PASSWORD not in n.last_error and "alice" not in n.last_error


def test_inactive_subscription_is_not_sent(engine, http):
    sub, [channel] = add_subscriber(engine, http.url("/hook"), active=False)
    nid = queue(engine, sub, channel, add_event(engine))
    report = send_due(now=T0)
    assert (report.skipped, report.sent, report.failed, report.dead) == (1, 0, 0, 0) and report.ok
    n = row(engine, nid)
    assert n.status == "dead" and "no longer active" in n.last_error and n.attempts == 0
    time.sleep(0.2)
    assert http.received == []


def test_render_failure_is_a_retried_failure(engine, http, monkeypatch):
    sub, [channel] = add_subscriber(engine, http.url("/hook"))
    nid = queue(engine, sub, channel, add_event(engine))

    def broken(*args, **kwargs):
        raise KeyError("price")

    monkeypatch.setattr("alerts.render.event_message", broken)
    report = send_due(now=T0)
    n = row(engine, nid)
    assert report.failed == 1 and n.status == "pending" and n.attempts == 1
    assert "render failed: KeyError" in n.last_error


# ------------------------------------------------------------------------------------------ masking


def test_mask_text_hides_tokens_apprise_masks():
    url = "tgram://123456789:AAHsecretTokenXYZ/987654/"
    masked = mask_url(url)
    assert "AAHsecretTokenXYZ" not in masked
    text = mask_text(f"could not reach {url}; token AAHsecretTokenXYZ was refused", url)
    assert "AAHsecretTokenXYZ" not in text and "123456789" not in text and masked in text


def test_custom_header_values_are_masked():
    url = "json://127.0.0.1:8080/hook?+X-Api-Key=topsecret123"
    assert "topsecret123" not in mask_url(url)
    assert mask_text("header topsecret123 rejected", url) == "header **** rejected"


def test_apprise_log_records_are_masked_while_a_url_is_in_use(caplog):
    caplog.set_level(logging.DEBUG)
    url = f"json://alice:{PASSWORD}@127.0.0.1:9/hook"
    with deliver_mod._masking.active(url, mask_url(url)):
        logging.getLogger("apprise").debug("posting to %s with %s", url, PASSWORD)
    logging.getLogger("apprise").debug("after: %s", "plain")
    assert PASSWORD not in caplog.text and "alice:****@127.0.0.1" in caplog.text and "after: plain" in caplog.text
    assert not logging.getLogger("apprise").filters  # removed when no URL is in use


def test_concurrent_failures_keep_their_own_reasons(engine, http):
    from servers import free_port

    closed = f"json://127.0.0.1:{free_port()}/nobody"  # connection refused
    with HttpServer() as failing:  # a host of its own: its 500s slow down that channel only (back-pressure)
        failing.rule("/e500", fail_first=10**6)
        urls = [http.url("/ok"), failing.url("/e500"), closed] * 3
        sub, channels = add_subscriber(engine, *urls)
        event_id = add_event(engine)
        ids = [queue(engine, sub, channel, event_id) for channel in channels]
        report = send_due(now=T0, concurrency=9)
    # a 500 row that starts after another's answer is deferred (its channel slowed down), not tried
    assert report.sent == 3 and report.failed + report.deferred == 6
    for nid, url in zip(ids, urls, strict=False):
        n = row(engine, nid)
        if url.endswith("/ok"):
            assert n.status == "sent"
        elif url.endswith("/e500"):
            assert "500" in n.last_error and "onnection" not in n.last_error
        else:
            assert "onnection" in n.last_error and "500" not in n.last_error


def test_claim_query_skips_locked_rows_on_postgresql_only():
    from types import SimpleNamespace

    from sqlalchemy import select
    from sqlalchemy.dialects import postgresql, sqlite

    query = select(Notification.id)
    pg = deliver_mod._lock_for_claim(query, SimpleNamespace(dialect=SimpleNamespace(name="postgresql")))
    lite = deliver_mod._lock_for_claim(query, SimpleNamespace(dialect=SimpleNamespace(name="sqlite")))
    assert "FOR UPDATE SKIP LOCKED" in str(pg.compile(dialect=postgresql.dialect()))
    assert "FOR UPDATE" not in str(lite.compile(dialect=sqlite.dialect()))


def test_a_sender_with_nothing_due_loads_neither_apprise_nor_jinja2(tmp_path):
    """The resident crawl worker runs the sender every cycle; with nothing due it must not grow by Apprise and
    Jinja2 (masking included: it loads Apprise only to mask a URL)."""
    import json
    import subprocess
    import sys

    from conftest import ROOT

    code = f"""
import json, sys
sys.path.insert(0, {str(ROOT)!r})
from alerts.deliver import send_due
report = send_due(database_url={f"sqlite:///{tmp_path / 'pw.db'}"!r})
print(json.dumps({{"claimed": report.claimed,
                  "loaded": sorted({{m.split(".")[0] for m in sys.modules}} & {{"apprise", "jinja2"}})}}))
"""
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"claimed": 0, "loaded": []}


def test_migration_0005_adds_and_removes_the_failure_columns_keeping_rows(engine, tmp_db):
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import inspect, text

    from storage.engine import HEAD_REVISION, MIGRATIONS, upgrade

    sub, [channel] = add_subscriber(engine, "json://127.0.0.1:9/hook")
    nid = queue(engine, sub, channel, add_event(engine), attempts=2)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", tmp_db)
    command.downgrade(cfg, "0004_source_health")
    columns = {c["name"] for c in inspect(engine).get_columns("notification")}
    assert "failure_kind" not in columns and "ambiguous_failures" not in columns
    with engine.connect() as conn:
        assert conn.execute(text("SELECT attempts FROM notification WHERE id = :i"), {"i": nid}).scalar() == 2
    upgrade(tmp_db)
    n = row(engine, nid)
    assert (n.attempts, n.failure_kind, n.ambiguous_failures) == (2, None, 0)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD_REVISION


# ------------------------------------------------------------------------------------------ structured payload


@pytest.mark.parametrize(
    "kind, before, after, notify_type",
    [
        ("price_drop", 999, 799, "success"),
        ("new", None, 799, "success"),
        ("returned", 999, 799, "success"),
        ("price_rise", 699, 799, "warning"),
        ("removed", 799, None, "warning"),
        ("changed", 799, 799, "info"),
    ],
)
def test_json_channel_gets_the_event_as_data(engine, http, kind, before, after, notify_type):
    """README "JSON payload": Apprise's title/message/type, plus the event as data under "event"."""
    event_id = add_event(
        engine, kind=kind, before=before, after=after or 799, name="Giga 150 5G", flags=["online_only"]
    )
    sub, [channel] = add_subscriber(engine, http.url("/hook"), lang="en")
    queue(engine, sub, channel, event_id)
    assert send_due(now=T0 + timedelta(minutes=1)).sent == 1
    [post] = http.wait_for(1)
    payload = post["json"]
    expected = render_event(event_of(engine, event_id), "en", now=T0 + timedelta(minutes=1))
    assert payload["title"] == expected.title and payload["type"] == notify_type
    assert payload["message"].startswith(expected.body.split("\n")[0]) and "/unsubscribe/" in payload["message"]
    data = payload["event"]
    assert data["kind"] == kind and data["operator"] == "iliad" and data["operator_name"] == "Iliad"
    assert (data["offer_key"], data["offer_name"], data["url"]) == (
        "giga-150", "Giga 150 5G", "https://example.it/giga-150"
    )  # fmt: skip
    assert (data["price_before_cents"], data["price_after_cents"], data["currency"]) == (before, after or 799, "EUR")
    assert (data["data_gb"], data["data_5g"], data["eligibility"], data["eligible_from"]) == (150.0, True, "all", [])
    assert data["detected_at"] == "2026-12-02T09:00:00Z" and data["version"] == 1
    assert data["flags"] == ["online_only"]


def test_json_digest_payload_lists_its_events(engine, http):
    first = add_event(engine, key="a", at=T0)
    second = add_event(engine, key="b", kind="new", before=None, after=500, at=T0 + timedelta(hours=2))
    sub, [channel] = add_subscriber(engine, http.url("/digest"), lang="zh")
    queue(engine, sub, channel, event_ids=[first, second], digest="daily:2026-12-03")
    assert send_due(now=T0 + timedelta(days=1)).sent == 1
    [post] = http.wait_for(1)
    payload = post["json"]
    assert payload["type"] == "info" and payload["digest"] == "daily:2026-12-03"
    assert [(e["offer_key"], e["kind"]) for e in payload["events"]] == [("a", "price_drop"), ("b", "new")]
    assert "2026年12月2日的套餐动态" in payload["message"]


def test_email_has_an_html_alternative_with_the_price_table_and_the_sender_name(engine, smtp):
    event_id = add_event(engine, name="Giga <150> & 5G")
    sub, [channel] = add_subscriber(engine, mail_url(smtp, "anna@example.com"), lang="en")
    queue(engine, sub, channel, event_id)
    policy = deliver_mod.Policy(sender_name="promowatch alerts")
    assert send_due(now=T0 + timedelta(seconds=1), policy=policy).sent == 1
    [mail] = smtp.wait_for(1, timeout=10)
    assert mail.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in mail.iter_parts()] == ["text/plain", "text/html"]
    assert mail["From"] == "promowatch alerts <promowatch@example.com>"
    html = mail.get_body(preferencelist=("html",)).get_content()
    expected = render_event(event_of(engine, event_id), "en", now=T0 + timedelta(seconds=1))
    assert '<html lang="en">' in html and "<caption" in html and '<th scope="row"' in html
    assert re.search(r">Before</th><td[^>]*>€9.99</td>", html) and re.search(r">Now</th><td[^>]*>€7.99</td>", html)
    assert re.search(r">Change</th><td[^>]*>−20% \(−€2.00\)</td>", html)
    assert "Giga &lt;150&gt; &amp; 5G" in html and "<150>" not in html  # scraped text is escaped
    assert "<img" not in html and "<script" not in html and "url(" not in html  # nothing loaded from elsewhere
    assert '<a href="https://example.it/giga-150">' in html and "/unsubscribe/" in html and "/manage/" in html
    assert expected.title in text_of(mail) and "Unsubscribe: " in text_of(mail)


def test_the_sender_name_is_configured_once_in_mail():
    from promowatch.service_config import parse_config

    mail = {"host": "smtp.example.org", "from": "alerts@example.org", "name": " promowatch "}
    config = parse_config({"mail": mail}, "cfg.toml", operators=["iliad"])
    policy = deliver_mod.Policy(**config.sender_policy())  # what the service's sender is given
    assert policy.sender_name == "promowatch"
    url = "mailtos://u:p@smtp.example.org?from=alerts%40example.org&to=a%40b.example"
    assert deliver_mod.with_sender_name(url, "promo watch").endswith("&name=promo%20watch")
    assert deliver_mod.with_sender_name(url + "&name=Mine", "promowatch") == url + "&name=Mine"  # the URL's wins
