"""Fastweb's real mobile offers page (capture of about September 2026): what a person reads there.

Under the heading "Scopri come ottenere giga illimitati sull'offerta Mobile..." a slider of three cards:
Fastweb Mobile Start (150 GB anche in 5G, minuti illimitati verso fissi e mobili nazionali, 32 GB di Roaming UE,
200 SMS, spedizione gratis, 9,95 €/mese), Fastweb Mobile Pro ("la più venduta", 250 GB, 45 GB di Roaming UE,
200 SMS, 11,95 €/mese) and Fastweb Mobile Ultra (GB illimitati anche in 5G, "Roaming UE incluso senza limiti +
5 GB extra UE", 200 SMS, 19,95 €/mese); each card has the green 5G badge and a "scopri" link to its product
page. Under "Vuoi di più dalla tua offerta?" a dark card "PER I CLIENTI CASA": for who is already a Fastweb Casa or
Mobile customer, minutes and unlimited giga on a new Mobile Pro, "da 11,95 €/mese", linking to the MyFastweb shop
(no 5G, SMS or roaming figure on that card). A Mobile Start + Luce Flat Start bundle card repeats Mobile Start
(9,95 €) beside an energy price (47 € struck, 32 €): not an offer of its own. No card or page text states an
activation fee, a SIM fee or eSIM. The header mega-menu repeats the three mobile offers and lists fixed-line
(Casa Start 27,95 €, ...), energy (Luce Flat da 47 € ...) and business offers (Mobile Business da 10,95 € ...):
not offers of this page.
"""

from conftest import real_offers

BASE = "https://www.fastweb.it/adsl-fibra-ottica/"
CASA = "Fastweb Mobile Pro (PER I CLIENTI CASA)"
# name -> (price cents, GB, unlimited GB, 5G, EU roaming GB, SMS)
EXPECTED = {
    "Fastweb Mobile Start": (995, 150.0, False, True, 32.0, 200),
    "Fastweb Mobile Pro": (1195, 250.0, False, True, 45.0, 200),
    "Fastweb Mobile Ultra": (1995, None, True, True, None, 200),
    CASA: (1195, None, True, False, None, None),
}


def _offers():
    return real_offers("fastweb", today="2026-10-01")


def _by_name():
    return {o["name"]: o for o in _offers()}


def test_every_offer_and_only_those():
    offers = _offers()
    assert [o["name"] for o in offers] == list(EXPECTED)
    assert [o["offer_key"] for o in offers] == [
        "fastweb-mobile-start",
        "fastweb-mobile-pro",
        "fastweb-mobile-ultra",
        "fastweb-mobile-pro-per-i-clienti-casa",
    ]


def test_no_menu_or_bundle_prices():
    prices = {o["price_cents"] for o in _offers()}
    # fixed-line, energy and business prices of the header menu, the energy price of the bundle card
    assert prices.isdisjoint({2795, 2995, 3695, 2595, 2395, 3200, 4700, 1095, 1295, 2695})


def test_price_gb_5g_roaming_sms():
    for o in _offers():
        price, gb, unlimited, has_5g, eu, sms = EXPECTED[o["name"]]
        assert o["price_cents"] == price, o["name"]
        assert o["period_days"] == 30, o["name"]
        assert o["first_period_cents"] is None, o["name"]
        assert o["data_gb"] == gb, o["name"]
        assert o["data_unlimited"] is unlimited, o["name"]
        assert o["data_5g"] is has_5g, o["name"]
        assert o["data_5g_limited"] is False and o["speed_cap_mbps"] is None, o["name"]
        assert o["eu_roaming_gb"] == eu, o["name"]
        assert o["sms"] == sms and o["sms_unlimited"] is False, o["name"]
        assert o["minutes_unlimited"] is True and o["minutes"] is None, o["name"]
        assert o["plan_type"] == "prepaid", o["name"]


def test_urls():
    offers = _by_name()
    for name, path in (
        ("Fastweb Mobile Start", "fastweb-mobile-start"),
        ("Fastweb Mobile Pro", "fastweb-mobile-pro"),
        ("Fastweb Mobile Ultra", "fastweb-mobile-ultra"),
    ):
        assert offers[name]["url"] == f"{BASE}{path}/?from=homemobileres"
    assert offers[CASA]["url"] == "https://fastweb.it/myfastweb/shop/mobile/?from=homemobileres&fromarea=pb"


def test_no_fees_stated():
    for o in _offers():
        assert o["activation_cents"] is None and o["sim_cents"] is None, o["name"]
        assert o["esim"] is None and o["promo_until"] is None, o["name"]


def test_eligibility_and_notes():
    offers = _by_name()
    assert offers[CASA]["eligibility"] == "existing_customer"
    assert "a partire da 11,95" in offers[CASA]["notes"]
    assert all(o["eligibility"] == "all" for n, o in offers.items() if n != CASA)
    assert all(o["eligible_from"] == [] for o in offers.values())
    assert offers["Fastweb Mobile Pro"]["notes"] == "la più venduta"
    assert "Roaming UE incluso senza limiti" in offers["Fastweb Mobile Ultra"]["notes"]
    assert offers["Fastweb Mobile Start"]["notes"] is None
