"""Saved stays (alerts/stay_alerts.py) on a real SQLite file: crawls imported one after another, a subscription
watching a 45-day / 100 GB stay told only when its cheapest card changes (its first look is the baseline), an
ordinary subscription still told about events; the message through Apprise to a real HTTP server, in each
language; bad --stay-days / --stay-gb refused."""

import pytest
from servers import HttpServer
from sqlalchemy import select
from sqlmodel import Session

from alerts.deliver import send_due
from alerts.render import render_stay
from alerts.subscriptions import SubscriptionError, settings_spec, store_subscriptions, subscription_spec
from promowatch.cli_events import import_items
from storage.engine import get_engine
from storage.models import Notification, Subscription


def offer(operator, key, price, gb=150, **extra):
    return {"operator": operator, "offer_key": key, "name": f"{operator} {key}", "plan_type": "prepaid"} | {
        "url": f"https://example.test/{operator}/{key}",
        "price_cents": price,
        "period_days": 30,
        "data_gb": gb,
        **extra,
    }


def rows(db):
    with Session(get_engine(db)) as session:
        return [(n.subscription_id, n.kind) for n in session.scalars(select(Notification).order_by(Notification.id))]


def told(db, sid):
    with Session(get_engine(db)) as session:
        return session.get(Subscription, sid).stay_cheapest


@pytest.fixture
def subscribed(tmp_db):
    """Two subscriptions on one channel each: a saved stay, and one told about every event."""
    stay = subscription_spec(["json://127.0.0.1:9/stay"], lang="en", stay_days=45, stay_gb="100")
    plain = subscription_spec(["json://127.0.0.1:9/plain"], lang="en")
    return store_subscriptions([stay, plain], tmp_db)


def test_told_only_when_the_cheapest_card_changes(tmp_db, subscribed):
    stay, plain = subscribed
    import_items([offer("iliad", "giga-150", 999, activation_cents=999)], database_url=tmp_db)  # baselines
    import_items([offer("very", "180", 799, gb=180)], database_url=tmp_db)
    assert rows(tmp_db) == [] and told(tmp_db, stay) is None
    # an event: the stay's first look (very 2 x 7,99 = 15,98 € is the cheapest) is its baseline
    import_items([offer("iliad", "giga-150", 899, activation_cents=999)], database_url=tmp_db)
    assert rows(tmp_db) == [(plain, "price_drop")]
    assert told(tmp_db, stay)["card"]["key"] == "very:180" and told(tmp_db, stay)["card"]["total_eur_cents"] == 1598
    # Iliad cheaper still, but not the cheapest (2 x 5,99 + 9,99 = 21,97 €): no stay message
    import_items([offer("iliad", "giga-150", 599, activation_cents=999)], database_url=tmp_db)
    assert rows(tmp_db) == [(plain, "price_drop")] * 2
    # Very's card gets cheaper: the same card at another total is a change
    import_items([offer("very", "180", 699, gb=180)], database_url=tmp_db)
    assert rows(tmp_db)[-2:] == [(plain, "price_drop"), (stay, "stay")]
    assert (
        told(tmp_db, stay)["card"]["total_eur_cents"] == 1398 and told(tmp_db, stay)["was"]["total_eur_cents"] == 1598
    )
    # a new card becomes the cheapest; one that cannot cover 100 GB over 45 days does not count
    import_items(
        [offer("kena", "100", 599, gb=100), offer("kena", "10", 199, gb=10)], database_url=tmp_db
    )  # baseline of kena: no events, nothing compared
    import_items([offer("kena", "100", 549, gb=100), offer("kena", "10", 199, gb=10)], database_url=tmp_db)
    assert rows(tmp_db)[-2:] == [(plain, "price_drop"), (stay, "stay")]
    assert told(tmp_db, stay)["card"]["key"] == "kena:100" and told(tmp_db, stay)["was"]["key"] == "very:180"


@pytest.mark.slow  # a real HTTP server
def test_the_stay_message_reaches_the_channel(tmp_db):
    with HttpServer() as server:
        (sid,) = store_subscriptions(
            [subscription_spec([server.url("/stay")], lang="it", stay_days=10, stay_gb="20")], tmp_db
        )
        import_items([offer("iliad", "giga-150", 999)], database_url=tmp_db)
        import_items([offer("iliad", "giga-150", 899)], database_url=tmp_db)  # the baseline look
        import_items([offer("iliad", "giga-150", 799)], database_url=tmp_db)
        assert rows(tmp_db) == [(sid, "stay")]
        report = send_due(database_url=tmp_db)
        assert report.sent == 1, report.rows
        (posted,) = server.wait_for(1)
    body = str(posted)
    assert "10 giorni, 20 GB" in body and "iliad giga-150" in body and "7,99" in body and "8,99" in body


def test_the_message_in_each_language():
    card = {"key": "very:180", "operator": "very", "name": "Very 180", "total_eur_cents": 1398}
    card |= {"included": ["180 GB per 30 days × 2", "5G"], "watch": ["new numbers only"]}
    was = {"key": "kena:100", "operator": "kena", "name": "Kena 100", "total_eur_cents": 1498}
    stay = {"days": 45, "gb": 100.0, "card": card, "was": was}
    assert "Very 180, €13.98" in render_stay("en", stay).title
    it = render_stay("it", stay)
    assert "13,98 €" in it.title and "Prima: Kena 100 (kena), 14,98 €" in it.body
    assert "Very 180" in render_stay("zh", stay).body
    gone = render_stay("en", {"days": 45, "gb": 0, "card": None, "was": was})
    assert "no card covers your stay (45 days)" in gone.title


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"stay_days": 0}, "--stay-days 0: the days of the stay, a whole number from 1 to 366"),
        ({"stay_days": 400}, "--stay-days 400"),
        ({"stay_gb": "20"}, "--stay-gb needs --stay-days"),
        ({"stay_days": 10, "stay_gb": "lots"}, "--stay-gb 'lots' is not a number of GB"),
    ],
)
def test_a_stay_that_is_not_one_is_refused(settings, message):
    with pytest.raises(SubscriptionError, match=message):
        settings_spec(**settings)


@pytest.mark.parametrize(
    "lang, included, watch",
    [
        (
            "it",
            "Incluso: 180 GB ogni 30 giorni × 2, 5G, su rete WindTre.",
            "Attenzione: solo per nuovi numeri; fair use: 3 GB al giorno alla massima velocità (te ne servono 2,2), "
            "poi 1 Mbit/s; prezzo in USD, convertito al cambio del 4 dicembre 2026.",
        ),
        (
            "en",
            "Included: 180 GB per 30 days × 2, 5G, on WindTre.",
            "Watch: new numbers only; fair use: 3 GB a day at full speed (you need 2.2), then 1 Mbit/s; price in USD, "
            "converted at the rate of 4 December 2026.",
        ),
        (
            "zh",
            "包含：每 30 天 180 GB × 2，5G，使用 WindTre 网络。",
            "注意：仅限新号码；合理使用：每天 3 GB 全速（您每天需要 2.2 GB），超出后降至 1 Mbit/s；"
            "以 USD 计价，按 2026年12月4日 的汇率换算。",
        ),
    ],
)
def test_what_is_included_and_to_watch_in_the_subscribers_language(lang, included, watch):
    """A stay subscription stores its card's phrases as codes (contract.stay); the message words them in the
    subscriber's language (alerts/templates/<lang>/_stay.j2)."""
    from contract.stay import Stay, stay_costs

    plan = {"operator": "very", "offer_key": "180", "name": "Very 180", "plan_type": "prepaid", "price_cents": 699}
    plan |= {"period_days": 30, "data_gb": 180, "data_5g": True, "networks": ["WindTre"], "eligibility": "new_number"}
    [card] = stay_costs([plan], Stay(45, 100)).ranked
    stored = card.as_dict()
    stored["watch"] += [
        {"code": "fair_use_short", "cap": 3, "need": 2.2, "after_mbps": 1.0},
        {"code": "converted", "currency": "USD", "day": "2026-12-04"},
    ]
    body = render_stay(lang, {"days": 45, "gb": 100.0, "card": stored, "was": None}).body
    assert included in body and watch in body
