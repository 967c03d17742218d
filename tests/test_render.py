"""Messages (alerts/render.py): every event kind in every language, digests, the test notification, and the
rules of the output (locale formats, time zones, tidy text, short titles, strict templates, language fallback).

Sample events: tests/data/render/events.json (one per kind, an ho. offer for porting from Iliad or TIM,
detected 2026-09-27 10:30 UTC = 12:30 in Rome, 18:30 in Shanghai; promo ends 2026-09-30, in 3 days).
"""

import json
import logging
from datetime import datetime, timezone
from pathlib import Path

import pytest
from jinja2 import UndefinedError

from alerts import render
from alerts.render import LANGS, MAX_TITLE, Message, render_test
from contract.offer import normalise

DATA = json.loads((Path(__file__).parent / "data" / "render" / "events.json").read_text("utf-8"))
BASE = DATA["base_item"]
KINDS = tuple(DATA["events"])
NBSP = ("\u00a0", "\u202f")
#: when the sample messages are written: half an hour after detection
NOW = datetime(2026, 9, 27, 11, 0, tzinfo=timezone.utc)


def render_event(event, lang, tz="Europe/Rome", **kwargs):
    return render.render_event(event, lang, tz, **{"now": NOW, **kwargs})


def render_digest(events, lang, tz="Europe/Rome", period="daily", **kwargs):
    return render.render_digest(events, lang, tz, period, **{"now": NOW, **kwargs})


def event(kind, item=None, created_at="2026-09-27T10:30:00+00:00", **fields):
    item = {**BASE, **(item or {})}
    return {
        "id": KINDS.index(kind) + 1,
        "crawl_run_id": 7,
        "offer_id": 3,
        "operator": item["operator"],
        "offer_key": item["offer_key"],
        "kind": kind,
        "created_at": created_at,
        "version_id": 11,
        "item": item,
        **DATA["events"][kind],
        **fields,
    }


# the facts each language must show for the sample offer, whatever the kind
COMMON = {
    "it": [
        "ho. Mobile",
        "ho. 180 Giga",
        "7,99 € al mese",
        "180 GB in 5G",
        "9,5 GB",
        "Attivazione: 2,99 €",
        "solo chi porta il numero da Iliad o TIM",
        "30 settembre 2026",
        "https://www.ho-mobile.it/offerte/180-giga",
        "Minuti e SMS: illimitati",
        "27 settembre 2026 alle 12:30 (ora italiana)",
    ],
    "en": [
        "ho. Mobile",
        "ho. 180 Giga",
        "€7.99 per month",
        "180 GB with 5G",
        "9.5 GB",
        "Activation fee: €2.99",
        "only if you move your number from Iliad or TIM",
        "30 September 2026",
        "https://www.ho-mobile.it/offerte/180-giga",
        "Calls and texts: unlimited",
        "27 September 2026, 12:30 (Italian time)",
    ],
    "zh": [
        "ho. Mobile",
        "ho. 180 Giga",
        "每月 €7.99",
        "180 GB，含 5G",
        "9.5 GB",
        "激活费：€2.99",
        "仅限从 Iliad 或 TIM 携号转网的用户",
        "2026年9月30日",
        "https://www.ho-mobile.it/offerte/180-giga",
        "通话和短信：不限量",
        "2026年9月27日 12:30（意大利时间）",
    ],
}
# kind -> language -> (what the title says, what the body adds)
BY_KIND = {
    "new": {
        "it": ("Nuova offerta: ho. 180 Giga a 7,99 € al mese", ["ha lanciato una nuova offerta"]),
        "en": ("New offer: ho. 180 Giga at €7.99 per month", ["has launched a new offer"]),
        "zh": ("新套餐：ho. 180 Giga，每月 €7.99", ["推出了新套餐"]),
    },
    "returned": {
        "it": (
            "Di nuovo disponibile: ho. 180 Giga a 7,99 € al mese",
            ["prima del ritiro costava 9,99 €", "(prima 9,99 €)"],
        ),
        "en": ("Back on sale: ho. 180 Giga at €7.99 per month", ["it cost €9.99", "(was €9.99)"]),
        "zh": ("ho. 180 Giga 重新上架：每月 €7.99", ["下架前为 €9.99", "（此前 €9.99）"]),
    },
    "price_drop": {
        "it": (
            "Ribasso: ho. 180 Giga passa da 9,99 € a 7,99 € al mese",
            ["invece di 9,99 €, 2,00 € in meno", "Altre modifiche:", "- Giga: 150 GB → 180 GB"],
        ),
        "en": (
            "Price drop: ho. 180 Giga down from €9.99 to €7.99 per month",
            ["instead of €9.99, €2.00 less", "Also changed:", "- Data: 150 GB → 180 GB"],
        ),
        "zh": (
            "ho. 180 Giga 降价了：每月 €9.99 → €7.99",
            ["之前 €9.99，便宜了 €2.00", "其他变更：", "- 流量：150 GB → 180 GB"],
        ),
    },
    "price_rise": {
        "it": ("Rincaro: ho. 180 Giga passa da 6,99 € a 7,99 € al mese", ["1,00 € in più"]),
        "en": ("Price rise: ho. 180 Giga up from €6.99 to €7.99 per month", ["€1.00 more"]),
        "zh": ("ho. 180 Giga 涨价了：每月 €6.99 → €7.99", ["上涨 €1.00"]),
    },
    "changed": {
        "it": (
            "Offerta modificata: ho. 180 Giga (attivazione ora a 2,99 €, ora in 5G)",
            [
                "Cosa è cambiato:",
                "- Costo di attivazione: 9,99 € → 2,99 €",
                "- 5G: no → sì",
                "- Operatori di provenienza: Iliad → Iliad e TIM",
            ],
        ),
        "en": (
            "Offer changed: ho. 180 Giga (activation now €2.99, now 5G)",
            [
                "What changed:",
                "- Activation fee: €9.99 → €2.99",
                "- 5G: no → yes",
                "- Porting from: Iliad → Iliad and TIM",
            ],
        ),
        "zh": (
            "ho. 180 Giga 套餐内容有变：激活费现为 €2.99，现支持 5G",
            ["变更内容：", "- 激活费：€9.99 → €2.99", "- 5G：否 → 是", "- 可转入的原运营商：Iliad → Iliad 和 TIM"],
        ),
    },
    "removed": {
        "it": ("Non più disponibile: ho. 180 Giga", ["non offre più ho. 180 Giga.", "Ultimo prezzo: 7,99 € al mese"]),
        "en": ("No longer offered: ho. 180 Giga", ["no longer offers", "Last price: €7.99 per month"]),
        "zh": ("ho. 180 Giga 已下架", ["已不再提供", "下架前价格：每月 €7.99"]),
    },
    "expiring": {
        "it": (
            "In scadenza: ho. 180 Giga, la promo termina tra 3 giorni",
            ["termina il 30 settembre 2026 (tra 3 giorni)"],
        ),
        "en": ("Ending soon: ho. 180 Giga promotion ends in 3 days", ["ends on 30 September 2026 (in 3 days)"]),
        "zh": ("ho. 180 Giga 优惠即将结束：3 天后截止", ["将于 2026年9月30日 结束（还剩 3 天）"]),
    },
}


def assert_tidy(message: Message):
    assert isinstance(message, Message)
    assert message.title and "\n" not in message.title and len(message.title) <= MAX_TITLE
    assert message.title == message.title.strip() and "  " not in message.title
    body = message.body
    assert body == body.strip() and "\n\n\n" not in body
    assert all(line == line.rstrip() for line in body.splitlines())
    assert not any(ch in body or ch in message.title for ch in NBSP)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_in_every_language(kind, lang):
    message = render_event(event(kind), lang, "Europe/Rome")
    assert_tidy(message)
    title, extra = BY_KIND[kind][lang]
    assert message.title == title
    for fact in COMMON[lang] + extra:
        assert fact in message.body, f"{kind}/{lang}: {fact!r} missing in\n{message.body}"
    assert "None" not in message.body and "activation_cents" not in message.body


@pytest.mark.parametrize("lang", LANGS)
def test_price_events_show_no_old_price_when_it_did_not_move(lang):
    body = render_event(event("returned", price_before=799), lang).body
    assert "9,99" not in body and "9.99" not in body


@pytest.mark.parametrize(
    "lang, want",
    [
        ("it", "Rilevato il 27 settembre 2026 alle 18:30 (Ora Cina (Shanghai))"),
        ("en", "Spotted on 27 September 2026, 18:30 (China (Shanghai) Time)"),
        ("zh", "检测时间：2026年9月27日 18:30（中国（上海）时间）"),
    ],
)
def test_times_in_the_subscribers_time_zone(lang, want):
    assert want in render_event(event("new"), lang, "Asia/Shanghai").body


def test_expiring_counts_days_in_the_subscribers_time_zone():
    # 2026-09-29 22:30 UTC: still the 29th in London (23:30 BST, 1 day left), already the 30th in Rome (today)
    late = datetime(2026, 9, 29, 22, 30, tzinfo=timezone.utc)
    assert render_event(event("expiring"), "en", "Europe/London", now=late).title.endswith("ends tomorrow")
    assert render_event(event("expiring"), "en", "Europe/Rome", now=late).title.endswith("ends today")
    assert render_event(event("expiring"), "it", "Europe/Rome", now=late).title.endswith("termina oggi")
    assert "今天截止" in render_event(event("expiring"), "zh", "Europe/Rome", now=late).title


@pytest.mark.parametrize(
    "lang, labels, raw",
    [
        (
            "it",
            [
                "Costo di attivazione",
                "Operatori di provenienza",
                "Rinnovo: mensile → ogni 4 settimane",
                "Chi può attivarla: tutti → solo under 30",
                "Fine della promo: non indicato → 8 ottobre 2026",
            ],
            ["activation_cents", "eligible_from", "period_days", "under_30", "promo_until"],
        ),
        (
            "en",
            [
                "Activation fee",
                "Porting from",
                "Renewal: monthly → every 4 weeks",
                "Who can get it: anyone → under 30s only",
                "Promotion end: not stated → 8 October 2026",
            ],
            ["activation_cents", "eligible_from", "period_days", "under_30", "promo_until"],
        ),
        (
            "zh",
            [
                "激活费",
                "可转入的原运营商",
                "续费周期：按月 → 每 4 周",
                "办理条件：所有人 → 仅限 30 岁以下",
                "优惠截止日期：未注明 → 2026年10月8日",
            ],
            ["activation_cents", "eligible_from", "period_days", "under_30", "promo_until"],
        ),
    ],
)
def test_changed_lists_human_field_labels(lang, labels, raw):
    changes = {
        "activation_cents": [999, 0],
        "eligible_from": [[], ["iliad"]],
        "period_days": [30, 28],
        "eligibility": ["all", "under_30"],
        "promo_until": [None, "2026-10-08"],
    }
    message = render_event(event("changed", changes=changes), lang)
    for text in labels:
        assert text in message.body, message.body
    for name in raw:
        assert name not in message.body
    digest = render_digest([event("changed", changes=changes)], lang, "Europe/Rome", "daily")
    in_line = {
        "it": "(rinnovo, costo di attivazione, chi può attivarla, operatori di provenienza, fine della promo)",
        "en": "(renewal, activation fee, who can get it, porting from, promotion end)",
        "zh": "（续费周期、激活费、办理条件、可转入的原运营商、优惠截止日期）",
    }[lang]
    assert in_line in digest.body  # the digest line names the changed fields too, in the item's field order


@pytest.mark.parametrize(
    "lang, facts",
    [
        (
            "it",
            [
                "19,99 € (pacchetto da 30 giorni)",
                "Giga illimitati in 5G a velocità limitata (fino a 250 Mbps)",
                "Attivazione: gratis",
                "SIM: 10,00 €",
                "solo chi è nato all'estero (codice fiscale italiano di nato all'estero)",
                "Minuti: 200",
                "(SIM per turisti)",
            ],
        ),
        (
            "en",
            [
                "€19.99 for a 30-day pack",
                "unlimited with speed-capped 5G (up to 250 Mbps)",
                "Activation fee: free",
                "SIM: €10.00",
                "only people born outside Italy (with an Italian tax code issued to the foreign-born)",
                "Minutes: 200",
                "(tourist SIM)",
            ],
        ),
        (
            "zh",
            [
                "€19.99（30 天套餐）",
                "不限量，5G 限速（最高 250 Mbps）",
                "激活费：免费",
                "SIM 卡费：€10.00",
                "仅限在意大利境外出生的用户",
                "通话：200 分钟",
                "（游客卡）",
            ],
        ),
    ],
)
def test_tourist_pack_unlimited_capped_5g_foreign_born(lang, facts):
    item = normalise(
        {
            "operator": "lyca",
            "offer_key": "t30",
            "name": "Tourist 30",
            "url": "https://www.lycamobile.it/t",
            "plan_type": "tourist",
            "price_cents": 1999,
            "period_days": 30,
            "data_unlimited": True,
            "data_5g_limited": True,
            "speed_cap_mbps": 250,
            "eligibility": "foreign_born",
            "activation_cents": 0,
            "sim_cents": 1000,
            "minutes": 200,
        }
    )
    message = render_event(event("new", item=item, price_after=1999), lang)
    assert_tidy(message)
    for fact in facts:
        assert fact in message.body, message.body
    assert "Lycamobile" in message.title  # the offer name alone does not say whose it is


@pytest.mark.parametrize(
    "lang, facts",
    [
        (
            "it",
            [
                "5,99 € ogni 4 settimane",
                "Prime 4 settimane: gratis",
                "solo chi attiva un nuovo numero",
                "Promo valida fino all'8 ottobre 2026",
                "Note: solo online",
            ],
        ),
        (
            "en",
            [
                "€5.99 every 4 weeks",
                "First 4 weeks: free",
                "new numbers only",
                "Promotion ends: 8 October 2026",
                "Notes (in Italian): solo online",
            ],
        ),
        (
            "zh",
            [
                "每 4 周 €5.99",
                "前 4 周：免费",
                "仅限办理新号码",
                "优惠截止：2026年10月8日",
                "备注（意大利语）：solo online",
            ],
        ),
    ],
)
def test_four_weekly_first_period_free_new_numbers(lang, facts):
    item = {
        **BASE,
        "operator": "very",
        "name": "Very 5,99",
        "price_cents": 599,
        "period_days": 28,
        "first_period_cents": 0,
        "eligibility": "new_number",
        "eligible_from": [],
        "promo_until": "2026-10-08",
        "notes": "solo online",
        "activation_cents": None,
        "eu_roaming_gb": None,
    }
    body = render_event(event("new", item=item, price_after=599), lang).body
    for fact in facts:
        assert fact in body, body
    assert "Attivazione" not in body and "Activation" not in body and "激活费" not in body  # unknown: not shown


@pytest.mark.parametrize(
    "lang, want",
    [("it", "solo chi è già cliente TIM"), ("en", "existing TIM customers only"), ("zh", "仅限 TIM 老用户")],
)
def test_existing_customers(lang, want):
    item = {**BASE, "operator": "tim", "name": "TIM Young", "eligibility": "existing_customer", "eligible_from": []}
    message = render_event(event("new", item=item), lang)
    assert want in message.body and message.title.count("TIM") == 1  # "TIM Young", not "TIM TIM Young"


@pytest.mark.parametrize(
    "lang, want",
    [
        ("it", "solo gli under 30, provenienti da Iliad, TIM o Vodafone"),
        ("en", "under 30s only, coming from Iliad, TIM or Vodafone"),
        ("zh", "仅限 30 岁以下用户（原运营商：Iliad、TIM 或 Vodafone）"),
    ],
)
def test_under_30_from_named_operators(lang, want):
    item = {**BASE, "eligibility": "under_30", "eligible_from": ["iliad", "tim", "vodafone"]}
    assert want in render_event(event("new", item=item), lang).body


def test_long_names_keep_the_price_in_the_title():
    item = {**BASE, "name": "ho. " + "Super " * 20}
    for lang in LANGS:
        message = render_event(event("price_drop", item=item), lang)
        assert len(message.title) <= MAX_TITLE and "…" in message.title
        assert ("7,99 €" if lang == "it" else "€7.99") in message.title
        assert item["name"].strip() in message.body  # the body has the whole name


@pytest.mark.parametrize("lang", LANGS)
def test_digest_by_operator(lang):
    events = [event(k, item={"offer_key": f"ho-{k}"}) for k in KINDS]
    iliad = {
        **BASE,
        "operator": "iliad",
        "offer_key": "giga-250",
        "name": "Giga 250",
        "eligibility": "all",
        "eligible_from": [],
        "url": "https://www.iliad.it/giga-250",
    }
    events.append(event("new", item=iliad))
    message = render_digest(events, lang, "Europe/Rome", "daily:2026-09-28")  # sent the next morning
    assert_tidy(message)
    want = {
        "it": (
            "Riepilogo giornaliero: 8 novità sulle offerte",
            [
                "Le novità del 27 settembre 2026: 1 ribasso, 2 nuove offerte",
                "ho. Mobile (7)",
                "Iliad (1)",
                "• Ribasso: ho. 180 Giga passa da 9,99 € a 7,99 € al mese",
                "• Nuova offerta: Iliad Giga 250",
                "costo di attivazione, 5G, operatori di provenienza",
            ],
        ),
        "en": (
            "Daily digest: 8 offer updates",
            [
                "What changed on 27 September 2026: 1 price drop, 2 new offers",
                "ho. Mobile (7)",
                "Iliad (1)",
                "• Price drop: ho. 180 Giga down from €9.99 to €7.99 per month",
                "• New offer: Iliad Giga 250",
                "activation fee, 5G, porting from",
            ],
        ),
        "zh": (
            "每日摘要：8 条套餐动态",
            [
                "2026年9月27日的套餐动态：降价 1 条、新套餐 2 条",
                "ho. Mobile（7）",
                "Iliad（1）",
                "• ho. 180 Giga 降价了：每月 €9.99 → €7.99",
                "• 新套餐：Iliad Giga 250",
                "激活费、5G、可转入的原运营商",
            ],
        ),
    }
    title, facts = want[lang]
    assert message.title == title
    for fact in facts:
        assert fact in message.body, message.body
    assert "https://www.iliad.it/giga-250" in message.body
    # groups in name order (case-insensitive), price drops first inside a group
    body = message.body
    assert body.index(facts[1]) < body.index(facts[2])
    removed = {"it": "• Non più disponibile:", "en": "• No longer offered:", "zh": "已下架"}[lang]
    assert body.index(facts[3]) < body.index(removed)


@pytest.mark.parametrize(
    "lang, title, header",
    [
        ("it", "Riepilogo settimanale: 7 novità sulle offerte", "Ribassi (1)"),
        ("en", "Weekly digest: 7 offer updates", "Price drops (1)"),
        ("zh", "每周摘要：7 条套餐动态", "降价（1）"),
    ],
)
def test_digest_by_kind_weekly(lang, title, header):
    events = [event(k, item={"offer_key": f"ho-{k}"}) for k in KINDS]
    # sent on Monday 28 September (the key alerts.outbox writes): the week 21-27 September
    message = render_digest(events, lang, "Europe/Rome", "weekly:2026-09-28", group_by="kind")
    assert_tidy(message)
    assert message.title == title and header in message.body
    week = {
        "it": "Le novità dal 21 al 27 settembre 2026",
        "en": "What changed 21–27 September 2026",
        "zh": "2026年9月21日至27日的套餐动态",
    }
    assert week[lang] in message.body


def test_digest_edge_cases():
    empty = render_digest([], "it", "Europe/Rome", "daily")
    assert empty.title == "Riepilogo giornaliero: 0 novità sulle offerte" and "Nessuna novità" in empty.body
    one = render_digest([event("new")], "en", "Europe/Rome", "weekly")
    assert one.title == "Weekly digest: 1 offer update"
    assert one.body.startswith("What changed on 27 September 2026: 1 new offer.")
    many = render_digest(
        [event("new", item={"offer_key": f"k{n}"}) for n in range(5)], "en", "Europe/Rome", "daily", max_events=3
    )
    assert many.title == "Daily digest: 5 offer updates" and "…and 2 more." in many.body
    assert many.body.count("• ") == 3
    with pytest.raises(ValueError, match="group_by"):
        render_digest([event("new")], "en", "Europe/Rome", "daily", group_by="price")


@pytest.mark.parametrize(
    "lang, title, sample",
    [
        ("it", "promowatch: notifica di prova", "Ribasso: ho. 180 Giga passa da 9,99 € a 7,99 € al mese"),
        ("en", "promowatch: test notification", "Price drop: ho. 180 Giga down from €9.99 to €7.99 per month"),
        ("zh", "promowatch：测试通知", "ho. 180 Giga 降价了：每月 €9.99 → €7.99"),
    ],
)
def test_test_notification(lang, title, sample):
    message = render_test(lang)
    assert_tidy(message)
    assert message.title == title and message.body.endswith(sample)


def test_chinese_round_trips_as_utf8():
    message = render_event(event("price_drop"), "zh")
    for text in (message.title, message.body):
        assert text.encode("utf-8").decode("utf-8") == text
        assert json.loads(json.dumps({"t": text}, ensure_ascii=False))["t"] == text
    assert "降价了" in message.title and "€" in message.title


def test_unknown_language_falls_back_to_italian(caplog):
    with caplog.at_level(logging.WARNING, logger="alerts.render"):
        message = render_event(event("price_drop"), "fr")
    assert message == render_event(event("price_drop"), "it")
    assert "'fr'" in caplog.text and "Italian" in caplog.text
    assert render_event(event("new"), "en-GB") == render_event(event("new"), "en")
    assert render_test("zh_CN") == render_test("zh") and render_test("IT") == render_test("it")
    assert render_digest([event("new")], None, "Europe/Rome", "daily") == render_digest(
        [event("new")], "it", "Europe/Rome", "daily"
    )


def test_unknown_time_zone_falls_back_to_rome():
    assert render_event(event("new"), "it", "Mars/Olympus") == render_event(event("new"), "it", "Europe/Rome")


def test_templates_are_strict():
    for lang in LANGS:
        with pytest.raises(UndefinedError):
            render._env(lang).from_string("{{ ev.nope }}").render(ev={})
        with pytest.raises(UndefinedError):  # a template given incomplete facts fails loudly, not with a blank
            render._env(lang).get_template("event.txt.j2").make_module({})


def test_an_offer_event_row_renders_like_its_dict():
    from datetime import datetime, timezone

    from storage.models import OfferEvent
    from storage.repository import event_dict

    fields = {k: v for k, v in event("price_drop").items() if k != "created_at"}
    row = OfferEvent(**fields, created_at=datetime(2026, 9, 27, 10, 30, tzinfo=timezone.utc))
    assert render_event(row, "it") == render_event(event_dict(row), "it") == render_event(event("price_drop"), "it")


def test_message_is_frozen():
    message = render_test("it")
    with pytest.raises(AttributeError):
        message.title = "x"


def test_templates_ship_as_package_data():
    shipped = {p.relative_to(render.TEMPLATES).as_posix() for p in render.TEMPLATES.glob("*/*")}
    for lang in LANGS:
        assert {f"{lang}/event.txt.j2", f"{lang}/digest.txt.j2", f"{lang}/test.txt.j2"} <= shipped
    assert 'alerts = ["templates/*/*"]' in (Path(__file__).parents[1] / "pyproject.toml").read_text()


#: what a price is per, and how a renewal period reads, in every language (never "every 1 days")
PERIODS = [
    ("it", 1, "7,99 € al giorno", "giornaliero"),
    ("en", 1, "€7.99 per day", "daily"),
    ("zh", 1, "每天 €7.99", "按天"),
    ("it", 7, "7,99 € a settimana", "settimanale"),
    ("en", 7, "€7.99 per week", "weekly"),
    ("zh", 7, "每周 €7.99", "按周"),
    ("it", 14, "7,99 € ogni 14 giorni", "ogni 14 giorni"),
    ("en", 14, "€7.99 every 14 days", "every 14 days"),
    ("zh", 14, "每 14 天 €7.99", "每 14 天"),
    ("it", 30, "7,99 € al mese", "mensile"),
    ("en", 30, "€7.99 per month", "monthly"),
    ("zh", 30, "每月 €7.99", "按月"),
    ("it", 365, "7,99 € all'anno", "annuale"),
    ("en", 365, "€7.99 per year", "yearly"),
    ("zh", 365, "每年 €7.99", "按年"),
]


@pytest.mark.parametrize("lang, days, priced, renewal", PERIODS, ids=[f"{p[0]}-{p[1]}" for p in PERIODS])
def test_period_wording(lang, days, priced, renewal):
    message = render_event(event("new", item={"period_days": days}), lang)
    assert priced in message.title + message.body
    assert "1 days" not in message.body and "1 giorni" not in message.body
    changed = render_event(event("changed", changes={"period_days": [30 if days != 30 else 28, days]}), lang)
    assert renewal in changed.body, changed.body


@pytest.mark.parametrize(
    "lang, want", [("it", "(pacchetto da 1 giorno)"), ("en", "for a 1-day pack"), ("zh", "（1 天套餐）")]
)
def test_a_one_day_tourist_pack(lang, want):
    message = render_event(event("new", item={"period_days": 1, "plan_type": "tourist"}), lang)
    assert want in message.title + message.body


@pytest.mark.parametrize("lang, want", [("it", "1,5 GB"), ("en", "1.5 GB"), ("zh", "1.5 GB")])
def test_gb_with_the_locales_decimal_separator(lang, want):
    assert want in render_event(event("new", item={"data_gb": 1.5, "data_unlimited": False}), lang).body


#: words only Italian text has: none may be left in an English or Chinese message outside the offer's own name
ITALIAN = {
    "offerta", "offerte", "prezzo", "mese", "attivazione", "novità", "giorni", "giorno", "settimana", "della",
    "dal", "non", "più", "gratis", "invece", "prima", "sempre", "disponibile", "riepilogo", "nuovo", "numero",
    "portabilità", "chi", "solo", "lancio", "vincoli", "rinnovo", "primo", "dettagli", "rilevato", "ora",
}  # fmt: skip
PLACEHOLDERS = ("{{", "}}", "{%", "None", "none", "undefined", "[]", "_cents", "_gb", "promo_until")


def foreign_words(text: str, names: list[str]) -> set[str]:
    import re

    for name in names:
        text = text.replace(name, " ")
    text = re.sub(r"https?://\S+", " ", text)
    return {w for w in re.findall(r"[a-zàèéìòù]+", text.lower())} & ITALIAN


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_without_placeholders_or_italian(kind, lang):
    footer = {"manage": "https://x.test/m", "unsubscribe": "https://x.test/u"}
    single = render_event(event(kind), lang, footer=footer, sub=EVERY_FILTER)
    digest = render_digest([event(kind)], lang, "Europe/Rome", "daily:2026-09-28", sub=EVERY_FILTER)
    for message in (single, digest):
        text = f"{message.title}\n{message.body}"
        for mark in PLACEHOLDERS:
            assert mark not in text, f"{kind}/{lang}: {mark!r} in\n{text}"
        if lang != "it":
            assert not foreign_words(text, [BASE["name"]]), f"{kind}/{lang}: Italian left in\n{text}"
    assert single.body.endswith("https://x.test/u") and "https://x.test/m" in single.body  # the way out stays
    assert WHY[lang] in single.body and WHY_DIGEST[lang] in digest.body  # every filter passed, named


#: a subscription using every filter, all of which the sample offer passes (its 12 months: 12 x 7,99 € + 2,99 €)
EVERY_FILTER = {
    "origin": "iliad",
    "operators": ["ho", "iliad"],
    "plan_types": ["prepaid"],
    "max_price_cents": 1000,
    "min_gb": 100,
    "only_5g": True,
    "max_eur_per_gb_cents": 5,
    "max_year_cents": 12000,
    "kinds": list(KINDS),
}
WHY = {
    "it": "Perché ricevi questo avviso: sei cliente Iliad",
    "en": "Why you got this: you are with Iliad",
    "zh": "收到此提醒的原因：您是 Iliad 用户",
}
WHY_DIGEST = {"it": "Perché ricevi questo riepilogo: ", "en": "Why you got this digest: ", "zh": "收到此摘要的原因："}


@pytest.mark.parametrize("lang", LANGS)
def test_no_why_line_without_the_subscription(lang):
    """A message written without a subscription (a preview, the web's pages) makes no claim about filters."""
    assert WHY[lang].split(":")[0] not in render_event(event("new"), lang).body
    assert WHY_DIGEST[lang][:8] not in render_digest([event("new")], lang).body


def test_why_reasons_are_the_match_definition():
    """alerts.why checks each filter with alerts.match's definition: a price in dollars passes a euro limit only
    through a rate, and an offer of the origin operator itself is not one a customer of it can port to."""
    from alerts.why import common, reasons

    dollar = {**BASE, "currency": "USD", "price_cents": 500}
    assert reasons({"max_price_cents": 1000}, "new", dollar) == []  # no rate: not claimed
    assert reasons({"origin": "ho"}, "new", BASE) == []
    assert reasons({"origin": "iliad", "kinds": ["new"]}, "new", BASE) == [
        {"filter": "origin", "value": "iliad"},
        {"filter": "kinds", "value": ["new"]},
    ]
    assert reasons({}, "removed", BASE) == [{"filter": "any", "value": None}]
    one = reasons({"operators": ["ho", "iliad"], "max_price_cents": 800}, "new", BASE)
    other = reasons({"operators": ["ho", "iliad"], "max_price_cents": 800}, "new", {**BASE, "operator": "iliad"})
    dear = reasons({"operators": ["ho", "iliad"], "max_price_cents": 800}, "new", {**BASE, "price_cents": 900})
    assert common([one, other]) == [
        {"filter": "operators", "value": ["ho", "iliad"]},
        {"filter": "max_price_cents", "value": 800},
    ]
    assert common([one, dear]) == [{"filter": "operators", "value": ["ho"]}]  # the limit holds for one only


# the traveller facts line: the operator catalogue's known facts (contract/operators.json), nothing unknown said
TRAVEL = {
    # ho.: on Vodafone's network; its eSIM and top-up facts are null in the catalogue
    ("ho", None): {
        "it": "Per chi viaggia: rete Vodafone\n",
        "en": "For travellers: Vodafone network\n",
        "zh": "旅行须知：使用 Vodafone 网络\n",
    },
    # TIM: its own network, eSIM, online top-up in the app and on the website (the offer does not say eSIM)
    ("tim", None): {
        "it": "Per chi viaggia: rete TIM propria · eSIM disponibile · ricarica online (app, sito)\n",
        "en": "For travellers: own TIM network · eSIM available · online top-up (app, website)\n",
        "zh": "旅行须知：自有 TIM 网络 · 支持 eSIM · 可在线充值（App、网站）\n",
    },
    # Holafly, a travel eSIM: the networks it attaches to, no top-ups (the plan says eSIM itself)
    ("holafly", True): {
        "it": "Per chi viaggia: reti Vodafone, WindTre · non si ricarica: si compra un nuovo piano\n",
        "en": "For travellers: networks: Vodafone, WindTre · no top-ups: buy a new plan\n",
        "zh": "旅行须知：网络：Vodafone、WindTre · 不可充值，需另购新套餐\n",
    },
}


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("operator, esim", list(TRAVEL), ids=[op for op, _ in TRAVEL])
def test_traveller_facts_line(operator, esim, lang):
    message = render_event(event("new", item={"operator": operator, "esim": esim}), lang)
    assert TRAVEL[operator, esim][lang] in message.body + "\n", message.body
    assert TRAVEL[operator, esim][lang].strip() in render.render_html(message, lang)  # the email's HTML part too


@pytest.mark.parametrize("lang", LANGS)
def test_no_traveller_facts_line_when_nothing_is_known(lang):
    """Fastweb's catalogue entry confirms none of the facts: no line, and never "unknown"."""
    assert render.travel_facts("fastweb", BASE) == {}
    body = render_event(event("new", item={"operator": "fastweb"}), lang).body
    label = {"it": "Per chi viaggia", "en": "For travellers", "zh": "旅行须知"}[lang]
    assert label not in body
    assert not any(word in body.lower() for word in ("unknown", "non noto", "未知"))


@pytest.mark.parametrize(
    "lang, conditions, notes",
    [
        (
            "it",
            "Condizioni: prezzo bloccato per sempre, solo online, prezzo di listino 9,99 €",
            "Note: Per oggetti smart",
        ),
        (
            "en",
            "Conditions: price fixed for ever, online only, list price €9.99",
            "Notes (in Italian): Per oggetti smart",
        ),
        ("zh", "条件：价格永久不变、仅限网上办理、原价 €9.99", "备注（意大利语）：Per oggetti smart"),
    ],
)
def test_flags_in_the_readers_language_and_the_rest_of_the_notes_labelled(lang, conditions, notes):
    from spiders.parsing import note_flags

    flags, rest = note_flags("Solo online; prezzo per sempre; invece di 9,99€; Per oggetti smart")
    item = normalise({**BASE, "flags": flags, "notes": rest})
    message = render_event(event("new", item=item), lang)
    assert conditions in message.body and notes in message.body, message.body
    if lang != "it":
        assert not foreign_words(message.body, [BASE["name"], rest]), message.body
    changed = render_event(event("changed", item=item, changes={"flags": [[], ["online_only"]]}), lang)
    want = {"it": "(condizioni: solo online)", "en": "(conditions: online only)", "zh": "条件：仅限网上办理"}[lang]
    assert want in changed.title
    assert {"it": "nessuna → solo online", "en": "none → online only", "zh": "无 → 仅限网上办理"}[lang] in changed.body


@pytest.mark.parametrize(
    "lang, lines",
    [
        (
            "it",
            [
                "Prezzo più basso mai visto per questa offerta.",
                "Per la prima volta sotto 8,00 €.",
                "Minimo degli ultimi 90 giorni: 7,99 € · minimo visto: 7,99 € (dall'11 marzo 2026) · "
                "variazione: −20% (−2,00 €)",
                "Primi 12 mesi: 98,87 € · 0,044 € al GB",
            ],
        ),
        (
            "en",
            [
                "Lowest price seen for this offer.",
                "First time under €8.00.",
                "Lowest in 90 days: €7.99 · lowest seen: €7.99 (since 11 March 2026) · change: −20% (−€2.00)",
                "First 12 months: €98.87 · €0.044 per GB",
            ],
        ),
        (
            "zh",
            [
                "该套餐有记录以来的最低价。",
                "首次低于 €8.00。",
                "90 天最低：€7.99 · 有记录以来最低：€7.99（自 2026年3月11日 起） · 变动：−20%（−€2.00）",
                "前 12 个月费用：€98.87 · 每 GB €0.044",
            ],
        ),
    ],
)
def test_price_context_lines(lang, lines):
    from datetime import timedelta

    from alerts.price_context import context_of

    at = datetime(2026, 9, 27, 10, 30, tzinfo=timezone.utc)
    history = [(at - timedelta(days=200), at - timedelta(days=100), 899), (at - timedelta(days=100), at, 999)]
    body = render_event({**event("price_drop"), "context": context_of(799, 999, history, at)}, lang).body
    for line in lines:
        assert f"\n{line}\n" in body, body


def test_the_json_payload_names_the_offers_own_currency():
    """A travel eSIM priced in dollars: its cents are dollar cents, and the payload says so (not "EUR")."""
    dollar = event("price_drop", item={"operator": "airalo", "currency": "USD", "plan_type": "esim_trip"})
    assert render.event_data(dollar)["currency"] == "USD"
    assert render.event_data(event("price_drop"))["currency"] == "EUR"
