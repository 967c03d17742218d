"""Vodafone's real hub page (capture of 2026-09-15): the first tab's three rendered cards.

The capture's __NEXT_DATA__ JSON is elided, so only the rendered cards are there: START, PRO, ULTRA.
Figures below were read off the page: GB line, split price ("9" + ",95€" + "/mese"), "Costo di attivazione
10€", the "utilizzabili in UE" line, "Minuti illimitati* e 200 SMS", and the section heading "offerte in 5G ...
compatibili con eSIM". The "Casa e mobile" fixed+mobile bundle (33,90€, struck 37,90€), the "/anno" discount
box and the "invita una persona ... 11,95€/mese" banner are not mobile offers.
"""

from conftest import real_offers

# name -> (price cents, GB or None when unlimited, EU GB or None when unlimited)
EXPECTED = {
    "START": (995, 150.0, 32.0),
    "PRO": (1195, 250.0, 45.0),
    "ULTRA": (1995, None, None),
}


def _offers():
    return real_offers("vodafone", today="2026-09-15")


def test_every_offer_and_only_those():
    offers = _offers()
    assert [o["name"] for o in offers] == list(EXPECTED)
    assert len({o["offer_key"] for o in offers}) == 3
    assert all(o["offer_key"].startswith("mobile-") for o in offers)
    assert 3390 not in {o["price_cents"] for o in offers}  # the fixed+mobile bundle is left out


def test_figures_read_off_the_cards():
    for o in _offers():
        price, gb, eu = EXPECTED[o["name"]]
        assert o["price_cents"] == price, o["name"]
        assert o["period_days"] == 30
        assert o["data_gb"] == gb, o["name"]
        assert o["data_unlimited"] is (gb is None)
        assert o["eu_roaming_gb"] == eu, o["name"]
        assert o["activation_cents"] == 1000
        assert o["minutes_unlimited"] is True and o["minutes"] is None
        assert o["sms"] == 200 and o["sms_unlimited"] is False
        assert o["plan_type"] == "prepaid"
        assert o["url"].startswith("https://privati.vodafone.it/mobile/telefonia-mobile/")


def test_5g_and_esim_come_from_the_section_heading():
    for o in _offers():
        assert o["data_5g"] is True and o["data_5g_limited"] is False and o["speed_cap_mbps"] is None
        assert o["esim"] is True


def test_no_origin_variants_nor_promo_end():
    for o in _offers():
        assert o["eligibility"] == "all"
        assert o["eligible_from"] == []
        assert o["promo_until"] is None
        assert o["first_period_cents"] is None


def test_ultra_notes_extra_eu_allowance():
    ultra = next(o for o in _offers() if o["name"] == "ULTRA")
    assert "Extra UE" in ultra["notes"] and "1000 minuti" in ultra["notes"]
