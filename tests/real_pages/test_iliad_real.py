"""Iliad's real mobile offers page (capture of about September/October 2026): what a person reads there.

Six cards: GIGA 250 (11,99 €, 250 GB, 5G), TOP 230 ("Novità", 9,99 €, 230 GB + 18 GB in UE, 5G, countdown
"Termina tra" to 29 October 2026), GIGA 150 (7,99 €, 150 GB, no 5G notice), Voce ("Solo minuti", 4,99 €,
40 MB), Dati 350 ("Solo giga", 14,99 €, 350 GB, no minutes or SMS, 5G) and Domotica ("Per oggetti smart",
1,99 €, 200 MB, 50 minutes, 100 SMS; the legal notes say "Offerta Domotica solo per nuovi numeri").
Every price is "PER SEMPRE", every card says "Attivazione SIM: 9,99€", minutes and SMS are unlimited on the
voice offers, and no card is limited to customers of given operators. The iliadclub banner (500GB) is not an
offer card.
"""

from conftest import real_offers

# name -> (price cents, GB, 5G, EU GB, plan type)
EXPECTED = {
    "GIGA 250": (1199, 250.0, True, None, "prepaid"),
    "TOP 230": (999, 230.0, True, 18.0, "prepaid"),
    "GIGA 150": (799, 150.0, False, None, "prepaid"),
    "Voce": (499, 0.04, False, None, "voice_only"),
    "Dati 350": (1499, 350.0, True, None, "data_only"),
    "Domotica": (199, 0.2, False, None, "home"),
}
PRODUCT_PAGES = {
    "GIGA 250": "https://www.iliad.it/offerta-iliad-giga250-1199.html",
    "TOP 230": "https://www.iliad.it/offerta-iliad-top230-999.html",
    "GIGA 150": "https://www.iliad.it/offerta-iliad-giga150-799.html",
    "Voce": "https://www.iliad.it/offerta-iliad-voce-499.html",
    "Dati 350": "https://www.iliad.it/offerta-iliad-dati350-1499.html",
    "Domotica": "https://www.iliad.it/offerta-iliad-domotica-199.html",
}


def _offers():
    return real_offers("iliad", today="2026-10-01")


def _by_name():
    return {o["name"]: o for o in _offers()}


def test_every_offer_and_only_those():
    offers = _offers()
    assert [o["name"] for o in offers] == list(EXPECTED)
    assert len({o["offer_key"] for o in offers}) == len(EXPECTED)
    # keys from the tracking JSON's offer_id, not from the price-bearing product slug
    assert [o["offer_key"] for o in offers] == ["giga250", "top230", "giga150", "voce", "dati350", "domotica"]


def test_price_gb_5g_eu_plan_type():
    for o in _offers():
        price, gb, has_5g, eu, plan_type = EXPECTED[o["name"]]
        assert o["price_cents"] == price, o["name"]
        assert o["period_days"] == 30, o["name"]
        assert o["data_gb"] == gb, o["name"]
        assert o["data_unlimited"] is False, o["name"]
        assert o["data_5g"] is has_5g, o["name"]
        assert o["data_5g_limited"] is False and o["speed_cap_mbps"] is None, o["name"]
        assert o["eu_roaming_gb"] == eu, o["name"]
        assert o["plan_type"] == plan_type, o["name"]
        assert o["url"] == PRODUCT_PAGES[o["name"]], o["name"]


def test_activation_fee_on_every_card():
    for o in _offers():
        assert o["activation_cents"] == 999, o["name"]
        assert o["sim_cents"] is None, o["name"]
        assert o["first_period_cents"] is None, o["name"]


def test_minutes_and_sms():
    offers = _by_name()
    for name in ("GIGA 250", "TOP 230", "GIGA 150", "Voce"):
        o = offers[name]
        assert o["minutes_unlimited"] is True and o["sms_unlimited"] is True, name
        assert o["minutes"] is None and o["sms"] is None, name
    dati = offers["Dati 350"]
    assert (dati["minutes"], dati["sms"], dati["minutes_unlimited"], dati["sms_unlimited"]) == (0, 0, False, False)
    home = offers["Domotica"]
    assert (home["minutes"], home["sms"], home["minutes_unlimited"], home["sms_unlimited"]) == (50, 100, False, False)


def test_eligibility_and_origins():
    offers = _by_name()
    assert offers["Domotica"]["eligibility"] == "new_number"  # legal note: solo per nuovi numeri
    assert all(o["eligibility"] == "all" for n, o in offers.items() if n != "Domotica")
    assert all(o["eligible_from"] == [] for o in offers.values())


def test_promo_end_and_notes():
    offers = _by_name()
    assert offers["TOP 230"]["promo_until"] == "2026-10-29"
    assert all(o["promo_until"] is None for n, o in offers.items() if n != "TOP 230")
    assert all("price_for_ever" in o["flags"] for o in offers.values())  # "prezzo per sempre", read as a flag
    assert not any("per sempre" in (o["notes"] or "") for o in offers.values())
    assert "Novità" in offers["TOP 230"]["notes"]
    assert all(o["esim"] is None for o in offers.values())  # no card mentions eSIM
