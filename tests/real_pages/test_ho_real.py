"""ho. Mobile's real "tutte le offerte" page (capture of mid-September 2026): what a person reads there.

Five offer cards in the "Tutte le offerte" tab; the hidden "Offerte 5G" tab repeats the last two (same
data-offerlink), so they are not offers of their own:
- flash card /flussi-attivazione.138.html: 100 Giga, 5,95 € al mese, label "Fino al" + flash date (script
  variable flashDate = 24/09), no 5G label; its activation link opens the `flash5` modal;
- /flussi-attivazione.132.html: "Offerta 5G!", 150 Giga, 6,95 €; default modal (`products`);
- /flussi-attivazione.133.html: "Offerta 5G!", 250 Giga, 8,95 €; default modal (`products`);
- /flussi-attivazione.134.html: "5G incluso!", 150 Giga, 9,95 €; modal `5g`;
- /flussi-attivazione.135.html: "5G incluso!", 250 Giga, 11,95 €; modal `5g`.
Every card: "Minuti illimitati e 200 SMS", "Attivazione a partire da 2,99€ per alcuni operatori".
The `products` and `flash5` modals: activation 2,99 € (instead of 29,90 €) for customers of Poste Mobile, Iliad,
Coop Voce, Kena, Lycamobile, Tiscali, UnoMobile, Spusu, Sky and ~30 smaller MVNOs; 29,90 € for TIM, Wind3,
Very Mobile, Vodafone, Fastweb. The `5g` modal moves TIM, Wind3 and Very Mobile to the 2,99 € list; only
Vodafone and Fastweb pay 29,90 €. So each card is two origin variants: ten offers.
The home-internet box (500 Giga, 12,95 €, "Per i clienti ho.") is not a mobile offer card.
"""

from conftest import real_offers

BASE = "https://www.ho-mobile.it/flussi-attivazione.{}.html"
# offer id -> (price cents, GB, 5G, modal kind)
CARDS = {
    "138": (595, 100.0, False, "flash5"),
    "132": (695, 150.0, True, "products"),
    "133": (895, 250.0, True, "products"),
    "134": (995, 150.0, True, "5g"),
    "135": (1195, 250.0, True, "5g"),
}
CHEAP_MVNO = ["coopvoce", "iliad", "kena", "lyca", "postemobile", "sky", "spusu", "tiscali", "unomobile"]
BIG_FIVE = ["fastweb", "tim", "very", "vodafone", "windtre"]
# modal -> [(activation cents, origins)] in page order: the discounted block first
MODALS = {
    "products": [(299, CHEAP_MVNO), (2990, BIG_FIVE)],
    "flash5": [(299, CHEAP_MVNO), (2990, BIG_FIVE)],
    "5g": [(299, sorted(CHEAP_MVNO + ["tim", "very", "windtre"])), (2990, ["fastweb", "vodafone"])],
}


def _offers():
    return real_offers("ho", today="2026-09-16")


def test_every_card_once_with_two_origin_variants():
    offers = _offers()
    assert len(offers) == 10
    urls = [o["url"] for o in offers]
    assert urls == [BASE.format(n) for n in CARDS for _ in range(2)]  # 5G tab repeats are dropped
    keys = [o["offer_key"] for o in offers]
    assert len(set(keys)) == 10
    assert all(
        k.startswith(f"flussi-attivazione-{n}:")
        for k, n in zip(keys, [n for n in CARDS for _ in range(2)], strict=False)
    )


def test_price_gb_5g_minutes_sms():
    for o in _offers():
        n = o["url"].rsplit(".", 2)[-2]
        price, gb, has_5g, _ = CARDS[n]
        assert o["price_cents"] == price, n
        assert o["period_days"] == 30, n
        assert o["data_gb"] == gb and o["data_unlimited"] is False, n
        assert o["data_5g"] is has_5g and o["data_5g_limited"] is False and o["speed_cap_mbps"] is None, n
        assert o["minutes_unlimited"] is True and o["minutes"] is None, n
        assert o["sms"] == 200 and o["sms_unlimited"] is False, n
        assert o["plan_type"] == "prepaid", n
        assert o["eu_roaming_gb"] is None and o["sim_cents"] is None and o["first_period_cents"] is None, n
        assert f"{gb:g} Giga" in o["name"] and f"{price // 100},{price % 100:02d}" in o["name"], n


def test_activation_fee_per_origin():
    offers = _offers()
    for i in range(0, 10, 2):
        pair = offers[i : i + 2]
        n = pair[0]["url"].rsplit(".", 2)[-2]
        want = MODALS[CARDS[n][3]]
        assert [(o["activation_cents"], o["eligible_from"]) for o in pair] == want, n
        assert all(o["eligibility"] == "portability" for o in pair), n
    # nobody is listed twice for the same card, ho. itself is never an origin
    for i in range(0, 10, 2):
        a, b = offers[i]["eligible_from"], offers[i + 1]["eligible_from"]
        assert not set(a) & set(b) and "ho" not in a + b


def test_flash_end_date_only_on_flash_card():
    for o in _offers():
        if o["url"] == BASE.format("138"):
            assert o["promo_until"] == "2026-09-24"
        else:
            assert o["promo_until"] is None
