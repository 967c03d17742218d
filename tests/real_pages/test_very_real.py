"""Very Mobile's real "offerte" page (capture with <meta name="date" content="2026-09-14">): what a person reads there.

Four blocks, each headed by who may take its cards; 18 cards in all (every card's markup is a `.offer-card-v2`
inside a `.offer-card-v2`, one card each). Every card: price "al mese" + "PER SEMPRE", "SIM e spedizione gratis",
a 5G badge image (green `bollo-5G-verde` = full speed, yellow `bollo-5G-giallo` = limited), a "Scopri" link to the
product page, `data-card-type="esim"`.
- "Per clienti ILIAD, COOPVOCE, POSTEMOBILE e altri" ("altri" links to a note not in the capture):
  20 Giga 4,99 € (yellow, very-499-voce), 150 Giga 5,99 € (yellow), 200 Giga 6,99 €, 300 Giga 7,99 €,
  350 Giga 8,99 €, 440 Giga 9,99 €; "minuti illimitati e 200 SMS". The "1 mese omaggio" image (same alt text on
  all six) is `1-mese-omaggio.png` on 150 and 200 Giga and `omaggio-vuoto.png` (no gift) on the other four.
- "Per NUOVI NUMERI": 150 Giga 5,99 € (yellow), 200 Giga 6,99 €, 300 Giga 7,99 €, 350 Giga 8,99 €,
  440 Giga 9,99 €; minutes unlimited and 200 SMS; no gift image.
- "Per NUOVI NUMERI, solo dati": 2 Giga 1,99 € and 10 Giga 3,99 € ("Per dispositivi smart", very-things-*: IoT
  SIMs -> home), 1000 Giga 12,99 € and "Giga illimitati" 14,99 € ("Internet 100%", header "OFFERTA WOW").
- "Per clienti TIM, VODAFONE, KENA e altri": 200 Giga 11,99 €, 300 Giga 12,99 €, 440 Giga 13,99 €; minutes
  unlimited and 200 SMS.
No card states an activation fee, a speed cap or an end date (the FAQ teaser's "5G fino a 30 Mbps" is not a card).
"""

from conftest import real_offers

BASE = "https://verymobile.it/offerte/"
MNP_LOW = ["coopvoce", "iliad", "postemobile"]
MNP_BIG = ["kena", "tim", "vodafone"]
# offer_key -> (GB or None for unlimited, price cents, 5G limited, first month free, plan type, product slug)
EXPECTED = {
    "20-giga-da-iliad": (20.0, 499, True, False, "prepaid", "very-499-voce"),
    "150-giga-da-iliad": (150.0, 599, True, True, "prepaid", "very-599"),
    "200-giga-da-iliad": (200.0, 699, False, True, "prepaid", "very-699"),
    "300-giga-da-iliad": (300.0, 799, False, False, "prepaid", "very-799"),
    "350-giga-da-iliad": (350.0, 899, False, False, "prepaid", "very-899"),
    "440-giga-da-iliad": (440.0, 999, False, False, "prepaid", "very-999"),
    "150-giga-nuovi-numeri": (150.0, 599, True, False, "prepaid", "very-599-nuovi-numeri"),
    "200-giga-nuovi-numeri": (200.0, 699, False, False, "prepaid", "very-699-nuovi-numeri"),
    "300-giga-nuovi-numeri": (300.0, 799, False, False, "prepaid", "very-799-nuovi-numeri"),
    "350-giga-nuovi-numeri": (350.0, 899, False, False, "prepaid", "very-899-nuovi-numeri"),
    "440-giga-nuovi-numeri": (440.0, 999, False, False, "prepaid", "very-999-nuovi-numeri"),
    "2-giga-solo-dati": (2.0, 199, False, False, "home", "very-things-199"),
    "10-giga-solo-dati": (10.0, 399, False, False, "home", "very-things-399"),
    "1000-giga-solo-dati": (1000.0, 1299, False, False, "data_only", "very-1000-giga"),
    "giga-illimitati-solo-dati": (None, 1499, False, False, "data_only", "very-giga-illimitati"),
    "200-giga-da-tim": (200.0, 1199, False, False, "prepaid", "very-1199"),
    "300-giga-da-tim": (300.0, 1299, False, False, "prepaid", "very-1299"),
    "440-giga-da-tim": (440.0, 1399, False, False, "prepaid", "very-1399"),
}


def _offers():
    return real_offers("very", today="2026-09-15")


def _by_key():
    return {o["offer_key"]: o for o in _offers()}


def test_every_card_once_in_page_order():
    offers = _offers()
    assert [o["offer_key"] for o in offers] == list(EXPECTED)  # 18, not 36: nested card markup deduplicated


def test_gb_price_5g_gift_plan_type_url():
    for key, o in _by_key().items():
        gb, price, limited, gift, plan_type, product = EXPECTED[key]
        assert o["price_cents"] == price, key
        assert o["period_days"] == 30, key
        assert o["data_gb"] == gb, key
        assert o["data_unlimited"] is (gb is None), key
        assert o["data_5g"] is True, key  # every badge is a 5G badge
        assert o["data_5g_limited"] is limited, key
        assert o["speed_cap_mbps"] is None, key
        assert o["first_period_cents"] == (0 if gift else None), key
        assert o["plan_type"] == plan_type, key
        assert o["url"] == BASE + product, key


def test_names():
    offers = _by_key()
    assert offers["20-giga-da-iliad"]["name"] == "Very 20 Giga"
    assert offers["giga-illimitati-solo-dati"]["name"] == "Very Giga illimitati"
    assert offers["440-giga-da-tim"]["name"] == "Very 440 Giga"


def test_same_gb_costs_more_for_tim_vodafone_kena_customers():
    offers = _by_key()
    for gb in (200, 300, 440):
        low, new, big = (offers[f"{gb}-giga-{s}"]["price_cents"] for s in ("da-iliad", "nuovi-numeri", "da-tim"))
        assert low == new < big, gb


def test_origins_and_eligibility():
    for key, o in _by_key().items():
        if key.endswith("-da-iliad"):
            assert (o["eligibility"], o["eligible_from"]) == ("portability", MNP_LOW), key
            assert "e altri" in o["notes"] and "non sono elencati" in o["notes"], key
        elif key.endswith("-da-tim"):
            assert (o["eligibility"], o["eligible_from"]) == ("portability", MNP_BIG), key
            assert "e altri" in o["notes"] and "non sono elencati" in o["notes"], key
        else:  # both "Per NUOVI NUMERI" blocks
            assert (o["eligibility"], o["eligible_from"]) == ("new_number", []), key


def test_minutes_sms_sim_fees():
    for key, o in _by_key().items():
        assert o["sim_cents"] == 0, key  # "SIM e spedizione gratis"
        assert o["activation_cents"] is None, key
        assert o["eu_roaming_gb"] is None and o["promo_until"] is None, key
        assert o["esim"] is True, key
        if key.endswith("solo-dati"):
            assert (o["minutes"], o["sms"], o["minutes_unlimited"], o["sms_unlimited"]) == (None, None, False, False)
        else:
            assert (o["minutes"], o["sms"], o["minutes_unlimited"], o["sms_unlimited"]) == (None, 200, True, False)


def test_notes():
    offers = _by_key()
    # "per sempre" and "1 mese omaggio" are read as flags (spiders.parsing.note_flags); the rest stays notes
    assert all("price_for_ever" in o["flags"] for o in offers.values())
    assert "first_month_free" in offers["150-giga-da-iliad"]["flags"]
    assert "first_month_free" not in offers["300-giga-da-iliad"]["flags"]
    assert "Per dispositivi smart" in offers["2-giga-solo-dati"]["notes"]
    assert "OFFERTA WOW" in offers["1000-giga-solo-dati"]["notes"]
