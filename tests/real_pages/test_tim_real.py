"""TIM's real mobile hub page (capture of about September 2026): the offer tiles a person reads there.

Figures below were read off the page's tiles: title, split price ("9" + ",99 €" around an "info 5G" link),
GB line (struck-through old GB ignored: "<s>150</s> 300 Giga" -> 300), the 5G badge image in the title
(green_max vs yellow_Limitato_250), tags ("Under 30", "Over 60", "Solo per nuove linee", "SE HAI TIM A CASA"),
the origin line above the CROSS Steel price ("Per Iliad, Poste Mobile, Coop Voce e operatori virtuali
selezionati") and the page-wide info box "Costo SIM: per richieste online 10€ una tantum ... Attivazione
offerta: per richieste online, per i nuovi clienti gratuita". Not offers: the fixed + mobile bundle
"TIM WiFi Casa + Mobile" (9,99 € + 24,90 €/mese for the fixed line), "TIM in Nave" and "TIM Ricarica
Automatica" (no price box), and the "L'offerta TIM Young perfetta per te" family tile that repeats TIM Young.
No tile shows a promotion end date.
"""

from conftest import real_offers

# name -> (price cents, GB or None when unlimited, 5G speed cap or None, eligibility, plan type)
EXPECTED = {
    "TIM Young": (999, 300.0, None, "under_30", "prepaid"),
    "TIM Mobile Digital": (999, 150.0, None, "all", "prepaid"),
    "TIM CROSS Steel 5G": (599, 300.0, 250, "existing_customer", "prepaid"),
    "TIM CROSS Gold 5G": (999, 200.0, 250, "existing_customer", "prepaid"),
    "TIM 60+": (1299, 6.0, 250, "over_60", "prepaid"),
    "TIM Basic": (799, 1.0, 250, "new_number", "prepaid"),
    "Entra nel mondo TIM Junior": (499, 150.0, None, "under_18", "prepaid"),
    "TIM Mobile Giga": (999, 200.0, None, "all", "data_only"),
    "TIM Giga&Music": (699, 100.0, None, "all", "data_only"),
    "TIM Home Connect": (499, None, None, "all", "home"),
    "Offerta Ricarica+": (500, None, None, "all", "prepaid"),
}


def _offers():
    return real_offers("tim", today="2026-09-15")


def _by_name():
    return {o["name"]: o for o in _offers()}


def test_every_offer_and_only_those():
    offers = _offers()
    assert [o["name"] for o in offers] == list(EXPECTED)
    assert len({o["offer_key"] for o in offers}) == len(EXPECTED)
    names = {o["name"] for o in offers}
    assert not names & {
        "TIM WiFi Casa + Mobile",
        "TIM in Nave",
        "TIM Ricarica Automatica",
        "L'offerta TIM Young perfetta per te",
    }


def test_price_gb_5g_eligibility():
    for o in _offers():
        price, gb, cap, eligibility, plan_type = EXPECTED[o["name"]]
        assert o["price_cents"] == price, o["name"]
        assert o["data_gb"] == gb, o["name"]
        assert o["speed_cap_mbps"] == cap, o["name"]
        assert o["data_5g_limited"] is (cap is not None), o["name"]
        assert o["eligibility"] == eligibility, o["name"]
        assert o["plan_type"] == plan_type, o["name"]
        assert o["url"].startswith("https://"), o["name"]


def test_5g_flags():
    offers = _by_name()
    for name in (
        "TIM Young",
        "TIM Mobile Digital",
        "TIM CROSS Steel 5G",
        "TIM CROSS Gold 5G",
        "TIM 60+",
        "TIM Basic",
        "Entra nel mondo TIM Junior",
        "TIM Mobile Giga",
        "TIM Giga&Music",
    ):
        assert offers[name]["data_5g"] is True, name
    assert offers["TIM Home Connect"]["data_5g"] is False


def test_struck_gb_and_old_price_are_ignored():
    offers = _by_name()
    assert offers["TIM CROSS Steel 5G"]["data_gb"] == 300.0  # <s>150</s> 300 Giga
    assert offers["TIM CROSS Gold 5G"]["data_gb"] == 200.0  # <s>100</s> 200 Giga
    assert offers["TIM Mobile Digital"]["price_cents"] == 999  # <del>12,99€</del>
    assert "list_price:1299" in offers["TIM Mobile Digital"]["flags"]  # "invece di 12,99€", read as a flag
    assert offers["TIM CROSS Steel 5G"]["data_unlimited"] is False  # unlimited only with TIM Unica Power


def test_sim_and_activation_from_the_page_wide_box():
    for o in _offers():
        assert o["sim_cents"] == 1000, o["name"]
        assert o["activation_cents"] == 0, o["name"]


def test_origin_variant_of_cross_steel():
    offers = _by_name()
    assert sorted(offers["TIM CROSS Steel 5G"]["eligible_from"]) == ["coopvoce", "iliad", "postemobile"]
    assert all(o["eligible_from"] == [] for n, o in offers.items() if n != "TIM CROSS Steel 5G")


def test_alternative_and_introductory_prices():
    offers = _by_name()
    senior = offers["TIM 60+"]
    assert senior["price_cents"] == 1299 and "9,99€ al mese con TIM Unica Power" in senior["notes"]
    assert senior["first_period_cents"] is None  # only the activation is free
    music = offers["TIM Giga&Music"]  # 0,00 € al mese per 4 mesi, poi 6,99€/mese
    assert music["price_cents"] == 699 and music["first_period_cents"] == 0
    assert offers["TIM Young"]["first_period_cents"] == 0  # "Online 1° mese ... gratuiti"


def test_minutes_sms_eu_esim():
    offers = _by_name()
    young = offers["TIM Young"]
    assert young["eu_roaming_gb"] == 20.0
    assert young["minutes_unlimited"] is True and young["sms"] == 200
    assert offers["TIM Basic"]["sms"] == 200 and offers["TIM Basic"]["minutes_unlimited"] is True
    assert offers["TIM Mobile Digital"]["esim"] is True
    ricarica = offers["Offerta Ricarica+"]  # "Minuti e Giga illimitati per 24 ore o 3 giorni", da 5 €
    assert ricarica["data_unlimited"] is True and ricarica["minutes_unlimited"] is True
    assert ricarica["period_days"] == 1
    assert all(o["promo_until"] is None for o in offers.values())
