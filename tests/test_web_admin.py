"""The operator's side of the site: /admin (refused without its token, shows the crawls, outbox, dead
notifications masked and subscriptions, retries a dead notification through a CSRF-protected form) and /metrics
(the exposition text parsed with prometheus_client's parser, checked against a database with known rows).

A real SQLite file; the dead notification is a real failed send to a real loopback HTTP server, its channel URL
carrying a password that must never be shown.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from servers import HttpServer
from sqlalchemy import update
from sqlmodel import Session, col
from test_deliver import PASSWORD, T0, add_event, add_subscriber, queue, row
from test_detect import store

from alerts.deliver import send_due
from storage.models import Notification, Subscription
from web.admin import WORDS
from web.app import create_app

TOKEN = "admin-token-0123456789-abcdef"


@pytest.fixture
def known(engine, tmp_db):
    """Three crawls of Iliad (one failed) and one of TIM; a subscriber with a sent alert and a dead one (its
    channel's URL has a password); a second subscriber, paused."""
    with HttpServer() as http, HttpServer() as down:  # the failing channel on a host of its own (back-pressure)
        store([{"offer_key": "a", "price_cents": 999}, {"offer_key": "b", "price_cents": 499}], day="2026-09-14")
        store([], status="failed", day="2026-09-15")
        store([{"offer_key": "x", "price_cents": 999}], operator="tim", day="2026-09-15")
        down.rule("/down", fail_first=10**6)
        sub, [good, bad] = add_subscriber(engine, http.url("/ok"), down.url("/down", user="alice", password=PASSWORD))
        event = add_event(engine, key="c", operator="vodafone")
        queue(engine, sub, good, event)
        dead = queue(engine, sub, bad, event)
        paused, _ = add_subscriber(engine, http.url("/ok"), active=False)
        with Session(engine) as s:
            s.execute(update(Subscription).where(Subscription.id == paused).values(status="paused"))
            s.commit()
        assert send_due(now=T0 + timedelta(seconds=7), max_attempts=1).sent == 1
        assert row(engine, dead).status == "dead"
        yield {"url": tmp_db, "dead": dead, "http": http}


@pytest.fixture
def admin_client(known, monkeypatch):
    monkeypatch.setenv("PROMOWATCH_ADMIN_TOKEN", TOKEN)
    with TestClient(create_app(known["url"])) as c:
        yield c


@pytest.mark.parametrize(
    "auth", [None, ("admin", "wrong-token-0123456789"), ("admin", TOKEN[:-1]), ("admin", TOKEN + "x"), ("", "")]
)
def test_admin_refuses_without_its_token(admin_client, auth, caplog):
    caplog.set_level("DEBUG")
    for method, path in (("GET", "/admin"), ("POST", "/admin/retry")):
        response = admin_client.request(method, path, auth=auth, follow_redirects=False)
        assert response.status_code == 401, (method, path, response.status_code)
        assert response.headers["www-authenticate"].startswith("Basic ")
        assert "admin-crawls" not in response.text and TOKEN not in response.text
    assert admin_client.get("/admin", auth=("admin", TOKEN)).status_code == 200
    assert TOKEN not in caplog.text and (auth is None or not auth[1] or auth[1] not in caplog.text)


def test_no_admin_area_without_a_token(known, monkeypatch):
    monkeypatch.delenv("PROMOWATCH_ADMIN_TOKEN", raising=False)
    with TestClient(create_app(known["url"])) as c:
        assert c.get("/admin", auth=("admin", "")).status_code == 404
    with TestClient(create_app(known["url"], config={"web": {"admin_token": TOKEN}})) as c:  # the config's token
        assert c.get("/admin").status_code == 401
        assert c.get("/admin", auth=("anyone", TOKEN)).status_code == 200


@pytest.mark.parametrize("lang", ["it", "en", "zh"])
def test_admin_shows_crawls_outbox_dead_and_subscriptions_masked(admin_client, known, lang):
    response = admin_client.get("/admin", auth=("admin", TOKEN), headers={"Accept-Language": lang})
    assert response.status_code == 200 and response.headers["content-language"] == lang
    assert response.headers["cache-control"] == "no-store"
    html = response.text
    for word in ("title", "crawls", "outbox", "subscriptions", "dead", "retry"):
        assert WORDS[lang][word] in html
    iliad = re.search(r'<th scope="row">Iliad</th>(.*?)</tr>', html, re.S).group(1)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", iliad, re.S)
    # last run failed, 0 stored, 0 dropped, 1 failure in a row; then healthy/partial/blocked/failed counts; error
    assert "status-failed" in cells[1] and cells[2:9] == ["0", "0", "1", "1", "0", "0", "1"] and cells[9] == "boom"
    counts = dict(re.findall(r'<tr><th scope="row">(\w+)</th><td class="num">(\d+)</td></tr>', html))
    assert counts == {"sent": "1", "dead": "1", "active": "1", "paused": "1"}
    dead_rows = re.findall(r'name="id" value="(\d+)"', html)
    assert dead_rows == [str(known["dead"])]
    assert "json://alice:****@127.0.0.1" in html or "json://****" in html
    assert PASSWORD not in html and "alice:" + PASSWORD not in html
    assert TOKEN not in html


def _csrf(client) -> str:
    html = client.get("/admin", auth=("admin", TOKEN)).text
    return re.search(r'name="csrf" value="([0-9a-f]+)"', html).group(1)


def test_retry_puts_the_dead_notification_back_and_needs_the_csrf_token(admin_client, known, engine):
    dead = known["dead"]
    form = {"id": str(dead)}
    for csrf in (None, "", "0" * 64):
        data = form if csrf is None else {**form, "csrf": csrf}
        response = admin_client.post("/admin/retry", data=data, auth=("admin", TOKEN), follow_redirects=False)
        assert response.status_code == 403
        assert row(engine, dead).status == "dead"
    data = {**form, "csrf": _csrf(admin_client)}
    response = admin_client.post("/admin/retry", data=data, auth=("admin", TOKEN), follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/admin?retried=1"
    revived = row(engine, dead)
    assert (revived.status, revived.attempts) == ("pending", 0)
    page = admin_client.get("/admin?retried=1", auth=("admin", TOKEN), headers={"Accept-Language": "en"}).text
    assert "1 notification(s) back in the outbox" in page and 'name="id"' not in page
    again = admin_client.post("/admin/retry", data=data, auth=("admin", TOKEN), follow_redirects=False)
    assert again.headers["location"] == "/admin?retried=0"  # no longer dead: left alone
    bad = admin_client.post("/admin/retry", data={**data, "id": "x"}, auth=("admin", TOKEN), follow_redirects=False)
    assert bad.status_code == 400


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_are_the_database_figures(known):
    with TestClient(create_app(known["url"])) as c:
        c.get("/offers")
        c.get("/offers")
        response = c.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    m = _samples(response.text)
    crawls = {labels: v for (name, labels), v in m.items() if name == "promowatch_crawls_total"}
    assert crawls == {
        (("operator", "iliad"), ("status", "failed")): 1,
        (("operator", "iliad"), ("status", "healthy")): 1,
        (("operator", "tim"), ("status", "healthy")): 1,
        (("operator", "vodafone"), ("status", "healthy")): 1,
    }
    assert m[("promowatch_offers", (("operator", "iliad"),))] == 2
    assert m[("promowatch_offers", (("operator", "tim"),))] == 1
    assert m[("promowatch_events_total", (("kind", "price_drop"),))] == 1
    assert m[("promowatch_outbox_notifications", (("status", "sent"),))] == 1
    assert m[("promowatch_outbox_notifications", (("status", "dead"),))] == 1
    assert m[("promowatch_notifications_sent_total", (("service", "json"),))] == 1
    assert m[("promowatch_notification_failures_total", (("service", "json"),))] == 1
    assert m[("promowatch_notifications_dead", (("service", "json"),))] == 1
    assert m[("promowatch_subscriptions", (("status", "active"),))] == 1
    assert m[("promowatch_subscriptions", (("status", "paused"),))] == 1
    iliad_age = m[("promowatch_last_crawl_age_seconds", (("operator", "iliad"),))]
    healthy_age = m[("promowatch_last_healthy_crawl_age_seconds", (("operator", "iliad"),))]
    assert healthy_age - iliad_age == pytest.approx(24 * 3600, abs=5)  # the latest crawl (failed) a day later
    # the alert sent 7 s after it was queued, on 2026-12-02: outside the last 24 h, so the histogram is empty now
    assert m[("promowatch_alert_latency_seconds_count", ())] == 0
    assert m[("promowatch_web_requests_total", (("code", "200"), ("method", "GET"), ("route", "/offers")))] == 2
    assert m[("promowatch_web_request_duration_seconds_count", (("method", "GET"), ("route", "/offers")))] == 2
    assert PASSWORD not in response.text


def test_metrics_latency_histogram_counts_recent_alerts(engine, tmp_db):
    from storage.repository import utcnow

    with HttpServer() as http:
        sub, [channel] = add_subscriber(engine, http.url("/ok"))
        now = utcnow()
        ids = [queue(engine, sub, channel, add_event(engine, key=key, at=now), due=now) for key in ("a", "b", "c")]
        with Session(engine) as s:  # queued 10 s before they are sent
            s.execute(
                update(Notification).where(col(Notification.id).in_(ids)).values(created_at=now - timedelta(seconds=10))
            )
            s.commit()
        assert send_due(now=now).sent == 3
    with TestClient(create_app(tmp_db)) as c:
        m = _samples(c.get("/metrics").text)
    assert m[("promowatch_alert_latency_seconds_count", ())] == 3
    assert m[("promowatch_alert_latency_seconds_bucket", (("le", "+Inf"),))] == 3
    assert m[("promowatch_alert_latency_seconds_bucket", (("le", "5.0"),))] == 0
    assert m[("promowatch_alert_latency_seconds_bucket", (("le", "15.0"),))] == 3
    assert m[("promowatch_alert_latency_seconds_sum", ())] == pytest.approx(30, abs=3)


def test_a_short_admin_token_is_refused_without_being_shown(monkeypatch):
    from promowatch.service_config import ConfigError, parse_config
    from storage.environment import BadEnvironment, check_environment

    assert parse_config({"web": {"admin_token": TOKEN}}).web.admin_token == TOKEN
    with pytest.raises(ConfigError) as refused:
        parse_config({"web": {"admin_token": "short-secret"}})
    assert "admin_token" in str(refused.value) and "short-secret" not in str(refused.value)
    with pytest.raises(BadEnvironment) as bad:
        check_environment({"PROMOWATCH_ADMIN_TOKEN": "short-secret"})
    assert "PROMOWATCH_ADMIN_TOKEN" in str(bad.value) and "short-secret" not in str(bad.value)
    check_environment({"PROMOWATCH_ADMIN_TOKEN": TOKEN})
