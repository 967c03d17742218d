"""Sky Mobile's real page (a fragment: the offers section and the one legal note rendered in the HTML).

What a person reads there: under "Scegli il piano di cui hai bisogno" three cards, Sky Mobile Start (9,95 € al
mese), Pro (11,95 €) and Ultra (19,95 €), each "powered by Fastweb", each with "10€ di costo SIM una sola volta"
and the 5G footnote. The cards' text states no GB: the labels of their links do ("Mobile 150 GB", "Mobile 250
GB" — one of Pro's three labels says 200 GB —, "Mobile GB illimitati"). The legal note of Start gives 150 GB,
minuti illimitati, 200 SMS, EU roaming "fino a 17 GB ... + 15GB EXTRA ROAMING UE". A fourth card, "Sky Mobile
powered by Fastweb + Sky Wifi" (32,85 € al mese per 12 mesi), is a bundle with a fixed line: not a mobile offer.
"""

from conftest import real_offers

# name -> (price cents, GB, unlimited, SMS, minutes unlimited, EU roaming GB)
EXPECTED = {
    "Sky Mobile Start": (995, 150.0, False, 200, True, 32.0),
    "Sky Mobile Pro": (1195, 250.0, False, None, False, None),
    "Sky Mobile Ultra": (1995, None, True, None, False, None),
}


def _offers():
    return real_offers("sky", today="2026-09-10")


def test_every_plan_and_no_bundle():
    offers = _offers()
    assert [o["name"] for o in offers] == list(EXPECTED)
    assert [o["offer_key"] for o in offers] == ["sky-mobile-start", "sky-mobile-pro", "sky-mobile-ultra"]
    assert 3285 not in {o["price_cents"] for o in offers}


def test_figures_read_off_the_page():
    for o in _offers():
        price, gb, unlimited, sms, minutes_unlimited, eu = EXPECTED[o["name"]]
        assert (o["price_cents"], o["period_days"], o["sim_cents"]) == (price, 30, 1000), o["name"]
        assert (o["data_gb"], o["data_unlimited"], o["data_5g"]) == (gb, unlimited, True), o["name"]
        assert (o["sms"], o["minutes_unlimited"], o["eu_roaming_gb"]) == (sms, minutes_unlimited, eu), o["name"]
        assert o["activation_cents"] is None and o["first_period_cents"] is None, o["name"]
        assert (o["plan_type"], o["eligibility"], o["eligible_from"]) == ("prepaid", "all", [])
