"""The subscription life cycle (alerts/subscriptions.py) on a real database (SQLite file, or the server of
PROMOWATCH_TEST_SERVER_URL): request -> pending with its consent and a queued confirmation, confirm, the manage
functions, erasure, the purge of stale requests, idempotence, rate limits, and signed links that cannot be
forged, altered, reused for another subscriber or another purpose."""

from datetime import datetime, timedelta, timezone

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import func, select, text
from sqlmodel import Session

from alerts import subscriptions as subs
from alerts.channels import ChannelSettings, MailSettings
from alerts.links import LinkError, Links, site_links
from storage.models import Notification, RateLimitHit, Subscription, SubscriptionChannel, SubscriptionConsent

SMTP_PASSWORD = "smtp-Secret-Pw-77"
BOT = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
SETTINGS = ChannelSettings(
    allowed=("email", "telegram", "ntfy"),
    mail=MailSettings(host="smtp.example.org", sender="alerts@example.org", user="alerts", password=SMTP_PASSWORD),
    telegram_bot_token=BOT,
)
IP = "203.0.113.77"
NOW = datetime(2026, 12, 7, 10, 0, tzinfo=timezone.utc)


def request(address="mario.rossi@example.com", kind="email", now=NOW, **settings):
    return subs.request_subscription(kind, address, SETTINGS, ip=IP, now=now, **settings)


def links() -> Links:
    return site_links("https://deals.example.org")


def rows(engine, model, **where):
    with Session(engine) as s:
        query = select(model)
        for key, value in where.items():
            query = query.where(getattr(model, key) == value)
        return s.scalars(query).all()


def everything(engine) -> str:
    """Every value of every table as one text: what the database still holds."""
    from sqlmodel import SQLModel

    out = []
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            out.extend(repr(tuple(r)) for r in conn.execute(table.select()))
    return "\n".join(out)


def test_a_request_is_pending_with_its_consent_and_a_queued_confirmation(engine):
    asked = request(operators=["iliad"], lang="en", max_price="9,99")
    assert asked.created and asked.status == "pending"
    [sub] = rows(engine, Subscription)
    assert (sub.status, sub.active, sub.confirmed_at, sub.operators, sub.max_price_cents) == (
        "pending",
        False,
        None,
        ["iliad"],
        999,
    )
    [consent] = rows(engine, SubscriptionConsent)
    assert consent.source == "web:subscribe" and consent.lang == "en"
    assert consent.channel == "email: m****@example.com"
    assert consent.filters["operators"] == ["iliad"] and consent.filters["max_price_cents"] == 999
    assert consent.ip_hash and len(consent.ip_hash) == 64
    assert IP not in everything(engine)  # the IP only as a keyed hash
    [row] = rows(engine, Notification)
    assert (row.kind, row.status, row.event_id, row.digest) == ("confirm", "pending", None, None)


def test_the_same_channel_and_filters_twice_is_one_subscription(engine):
    first = request(operators=["iliad", "ho"])
    again = request(operators=["ho", "iliad"])  # the same set
    assert (again.subscription_id, again.created, again.status) == (first.subscription_id, False, "pending")
    assert len(rows(engine, Subscription)) == 1
    assert len(rows(engine, Notification, kind="confirm")) == 2  # a pending one gets its confirmation again
    other = request(operators=["iliad"])
    assert other.created and other.subscription_id != first.subscription_id
    subs.confirm(links().token("confirm", first.subscription_id, rows(engine, Subscription)[0].link_key), links())
    assert request(operators=["iliad", "ho"]) == subs.Requested(first.subscription_id, False, "active")


def test_confirm_activates_once_and_never_revives(engine):
    sid = request().subscription_id
    key = rows(engine, Subscription)[0].link_key
    token = links().token("confirm", sid, key)
    assert subs.confirm(token, links(), now=NOW + timedelta(hours=1)) == "active"
    [sub] = rows(engine, Subscription)
    assert sub.active and sub.confirmed_at is not None
    assert rows(engine, SubscriptionConsent)[0].confirmed_at is not None
    assert subs.confirm(token, links()) == "active"  # again: nothing changes
    assert subs.pause(sid)
    assert subs.confirm(token, links()) == "paused"  # a confirm link does not resume
    assert subs.unsubscribe(sid)
    assert subs.confirm(token, links()) == "unsubscribed"  # nor re-subscribe
    assert not rows(engine, Subscription)[0].active


def test_links_cannot_be_forged_altered_or_used_for_another_purpose_or_subscriber(engine):
    a = request("a@example.com").subscription_id
    b = request("b@example.com").subscription_id
    key = {s.id: s.link_key for s in rows(engine, Subscription)}
    site = links()
    manage_a = site.token("manage", a, key[a])
    assert subs.open_link(manage_a, "manage", site) == a
    with pytest.raises(LinkError, match="not valid"):
        subs.open_link(manage_a, "unsubscribe", site)  # another purpose
    with pytest.raises(LinkError):
        subs.open_link(manage_a[:-2] + ("AA" if not manage_a.endswith("AA") else "BB"), "manage", site)
    payload, stamp, signature = manage_a.split(".")
    other = site.token("manage", b, key[b]).split(".")[0]
    with pytest.raises(LinkError):  # b's payload under a's signature
        subs.open_link(f"{other}.{stamp}.{signature}", "manage", site)
    with pytest.raises(LinkError):  # signed with another secret
        subs.open_link(Links(site.base_url, b"another-secret" * 4).token("manage", b, key[b]), "manage", site)
    with pytest.raises(LinkError):  # the right signature, a guessed key
        subs.open_link(site.token("manage", b, "0" * 16), "manage", site)
    with pytest.raises(LinkError):
        subs.open_link("not-a-token", "manage", site)


def test_an_erased_subscriptions_links_do_not_reach_a_new_one_with_its_id(engine):
    sid = request("a@example.com").subscription_id
    old = links().token("manage", sid, rows(engine, Subscription)[0].link_key)
    subs.erase(sid)
    new = request("b@example.com").subscription_id
    with pytest.raises(LinkError):
        subs.open_link(old, "manage", links())
    assert new >= sid  # SQLite may give the erased id again: the link key tells them apart


class _Yesterday(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(datetime.now(timezone.utc).timestamp()) - 49 * 3600


def test_a_confirm_link_expires_after_48_hours(engine):
    sid = request().subscription_id
    key = rows(engine, Subscription)[0].link_key
    site = links()
    old = URLSafeTimedSerializer(site.secret, salt="promowatch-confirm", signer=_Yesterday).dumps([sid, key])
    assert site.read("confirm", site.token("confirm", sid, key)) == (sid, key)
    with pytest.raises(LinkError, match="expired") as exc:
        subs.confirm(old, site)
    assert exc.value.reason == "expired"
    old_manage = URLSafeTimedSerializer(site.secret, salt="promowatch-manage", signer=_Yesterday).dumps([sid, key])
    assert subs.open_link(old_manage, "manage", site) == sid  # manage links last a year


def test_manage_functions(engine):
    sid = request(lang="it").subscription_id
    assert not subs.resume(sid)  # pending: only its confirmation activates it
    assert not subs.pause(sid)
    subs.confirm(links().token("confirm", sid, rows(engine, Subscription)[0].link_key), links())
    assert subs.pause(sid) and not subs.pause(sid)
    assert rows(engine, Subscription)[0].active is False
    assert subs.resume(sid) and rows(engine, Subscription)[0].active
    changed = subs.update_settings(sid, lang="zh", digest="daily", operators=["Iliad"], min_gb="50")
    assert [changed[k] for k in ("lang", "digest", "operators", "min_gb")] == ["zh", "daily", ["iliad"], 50]
    [sub] = rows(engine, Subscription)
    assert (sub.lang, sub.digest, sub.operators, sub.min_gb, sub.timezone) == (
        "zh",
        "daily",
        ["iliad"],
        50,
        "Europe/Rome",
    )
    with pytest.raises(subs.SubscriptionError, match="unknown digest"):
        subs.update_settings(sid, digest="hourly")
    with pytest.raises(subs.SubscriptionError, match="cannot change colour"):
        subs.update_settings(sid, colour="red")
    view = subs.manage_view(sid)
    assert view["status"] == "active" and view["settings"]["lang"] == "zh"
    assert view["consent"]["channel"] == "email: m****@example.com" and view["consent"]["source"] == "web:subscribe"
    shown = repr(view)
    assert "mario.rossi" not in shown and SMTP_PASSWORD not in shown and IP not in shown
    assert subs.unsubscribe(sid) and not subs.unsubscribe(sid)
    with pytest.raises(subs.SubscriptionError, match="cancelled"):
        subs.update_settings(sid, lang="en")
    with pytest.raises(subs.SubscriptionError, match="no subscription 999"):
        subs.pause(999)


def test_erase_leaves_nothing_of_the_subscriber(engine):
    sid = request("mario.rossi@example.com").subscription_id
    keep = request("other.person@example.com").subscription_id
    counts = subs.erase(sid)
    assert counts == {"notifications": 1, "channels": 1, "consent": 1, "subscriptions": 1}
    stored = everything(engine)
    assert "mario.rossi" not in stored and "other.person" in stored
    assert [s.id for s in rows(engine, Subscription)] == [keep]


def test_stale_requests_are_purged_after_48_hours(engine):
    old = request("old@example.com", now=NOW - timedelta(hours=49)).subscription_id
    recent = request("recent@example.com", now=NOW - timedelta(hours=47)).subscription_id
    confirmed = request("confirmed@example.com", now=NOW - timedelta(days=30)).subscription_id
    key = {s.id: s.link_key for s in rows(engine, Subscription)}
    subs.confirm(links().token("confirm", confirmed, key[confirmed]), links())
    assert subs.purge_pending(now=NOW) == 1
    assert sorted(s.id for s in rows(engine, Subscription)) == sorted([recent, confirmed])
    assert "old@example.com" not in everything(engine)
    assert old not in {n.subscription_id for n in rows(engine, Notification)}


def test_rate_limit_per_key_and_window(engine):
    window = timedelta(hours=1)
    assert [subs.allow("subscribe:ip", IP, 3, window, now=NOW) for _ in range(4)] == [True, True, True, False]
    assert subs.allow("subscribe:ip", "198.51.100.1", 3, window, now=NOW)  # another IP counts apart
    assert subs.allow("subscribe:channel", IP, 3, window, now=NOW)  # another bucket too
    assert subs.allow("subscribe:ip", IP, 3, window, now=NOW + timedelta(minutes=61))  # the window moved on
    assert IP not in everything(engine)  # counted as keyed hashes
    subs.purge_pending(now=NOW + timedelta(days=2))
    with Session(engine) as s:
        assert s.scalar(select(func.count(RateLimitHit.id))) == 0
    with pytest.raises(ValueError, match="at most one day"):
        subs.allow("subscribe:ip", IP, 3, timedelta(days=2))


def test_bad_requests_store_nothing_and_say_so_in_one_line(engine):
    for kind, value, settings, says in (
        ("email", "nobody", {}, "is not an email address"),
        ("fax", "123", {}, "unknown kind of channel"),
        ("email", "a@example.com", {"lang": "fr"}, "unknown language 'fr'"),
        ("email", "a@example.com", {"operators": ["nokia"]}, "nokia"),
        ("ntfy", "http://127.0.0.1/topic", {}, "not on the public internet"),
    ):
        with pytest.raises(subs.SubscriptionError) as exc:
            subs.request_subscription(kind, value, SETTINGS, **settings)
        assert says in str(exc.value) and "\n" not in str(exc.value)
    assert rows(engine, Subscription) == [] and rows(engine, SubscriptionChannel) == []


def test_cli_subscriptions_are_active_and_confirmed_at_once(engine):
    spec = subs.subscription_spec([f"tgram://{BOT}/12345"], lang="en")
    [sid] = subs.store_subscriptions([spec])
    [sub] = rows(engine, Subscription)
    assert (sub.id, sub.status, sub.active) == (sid, "active", True) and sub.confirmed_at is not None
    assert len(sub.link_key) == 16
    listed = subs.list_subscriptions()
    assert listed[0]["status"] == "active" and BOT not in repr(listed)
    assert subs.find_duplicate(spec) == sid


def test_a_test_message_is_queued_for_an_active_subscription_only(engine):
    sid = request().subscription_id
    with pytest.raises(subs.SubscriptionError, match="is pending"):
        subs.queue_test(sid)
    subs.confirm(links().token("confirm", sid, rows(engine, Subscription)[0].link_key), links())
    assert subs.queue_test(sid) == 1
    assert [n.kind for n in rows(engine, Notification, kind="test")] == ["test"]


def test_the_consent_record_survives_as_the_subscriber_gave_it(engine):
    sid = request(operators=["iliad"]).subscription_id
    subs.update_settings(sid, operators=["ho"])
    consent = subs.manage_view(sid)["consent"]
    assert consent["filters"]["operators"] == ["iliad"]  # what was agreed to, not the later change
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM subscription_consent")).scalar() == 1
