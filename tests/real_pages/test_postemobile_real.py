"""PosteMobile's real offers page (capture of about 15 September 2026): what a person reads there.

Fourteen cards in two lists. "Offerte in evidenza": Creami EXTRA WOW 50 Ed. 2026 (5,99 € al mese, 50 GB,
"Esclusiva Online", "Disponibile fino al 31/10/2026"), Creami Extra WOW 160 (7,99 €, 160 GB, "Esclusiva Ufficio
Postale", until 31/10/2026), PosteMobile Back 200 (10,00 €, 200 GB, "Fino a 4€ al mese di ricarica bonus..." —
not the price —, Ufficio Postale), Creami EXTRA WOW 150 Online (6,99 €, 150 GB, online, "Per nuovi clienti"; the
name's line break is written `</br>`), Postepay Connect (no price box: "Costo piano:10€/mese o 100€/anno",
200 GB) and Postepay Connect Back ("Costo carta: 19€/anno. Costo piano: 10€/mese", 200 GB).
"Tutte le altre offerte": Creami EXTRA WOW 50x2 (8,00 €, 100 GB, Ufficio Postale), Creami EXTRA WOW 200 (10,00 €,
200 GB, Ufficio Postale), Creami EXTRA WOW 300 (11,99 €, 300 GB, online), 300% Digital (9,99 €, 300 GB, calls and
SMS at 18 cent, "20 credit di bonus se usi meno di 100GB", new customers), PosteMobile Super 20 Ed. 2025 (4,00 €,
20 GB, 28 cent, new customers), PosteMobile Super 1 (2,00 €, 1 GB, 28 cent, new customers), PosteMobile Unica
New Ed. 2025 (only 28 cent/min and 28 cent per SMS, no price: not an offer) and Tariffa Dati Base Giornaliera
(500 MB a day for 2 € a day, no calls: data only).
"Credit illimitati per chiamate e SMS" = unlimited minutes and SMS; every card says "Internet 4G+" (no 5G);
no activation fee, SIM fee, eSIM or EU allowance is written on the cards; no card targets given operators.
"""

from conftest import real_offers

# name -> (offer_key from the "Scopri di più" link, price cents, period days, GB, unlimited calls+SMS, plan type)
EXPECTED = {
    "Creami EXTRA WOW 50 Ed. 2026": ("promozione-wow", 599, 30, 50.0, True, "prepaid"),
    "Creami Extra WOW 160": ("creami-extra-wow-160", 799, 30, 160.0, True, "prepaid"),
    "PosteMobile Back 200": ("postemobile-back-200", 1000, 30, 200.0, True, "prepaid"),
    "Creami EXTRA WOW 150 Online": ("offerta-sim-creami-extra-wow-150-online", 699, 30, 150.0, True, "prepaid"),
    "Postepay Connect": ("offerta-sim-connect-back", 1000, 30, 200.0, True, "prepaid"),
    "Postepay Connect Back": ("postepay-connect", 1000, 30, 200.0, True, "prepaid"),
    "Creami EXTRA WOW 50x2": ("offerta-sim-creami-extra-wow-50x2", 800, 30, 100.0, True, "prepaid"),
    "Creami EXTRA WOW 200": ("offerta-sim-creami-extra-wow-200", 1000, 30, 200.0, True, "prepaid"),
    "Creami EXTRA WOW 300": ("offerta-sim-creami-extra-wow-300", 1199, 30, 300.0, True, "prepaid"),
    "300% Digital": ("offerta-sim-trecento-per-cento", 999, 30, 300.0, False, "prepaid"),
    "PosteMobile Super 20 Ed. 2025": ("super-20", 400, 30, 20.0, False, "prepaid"),
    "PosteMobile Super 1": ("pm-super-1", 200, 30, 1.0, False, "prepaid"),
    "Tariffa Dati Base Giornaliera": ("tariffa-consumo-internet", 200, 1, 0.5, False, "data_only"),
}
URLS = {
    "Postepay Connect": "https://www.poste.it/offerta-sim-connect-back/",
    "Postepay Connect Back": "https://postepay.poste.it/carte-postepay/postepay-connect/",
}
ONLINE = {"Creami EXTRA WOW 50 Ed. 2026", "Creami EXTRA WOW 150 Online", "Creami EXTRA WOW 300", "300% Digital"}
POST_OFFICE = {"Creami Extra WOW 160", "PosteMobile Back 200", "Creami EXTRA WOW 50x2", "Creami EXTRA WOW 200"}
NEW_CUSTOMERS = {"Creami EXTRA WOW 150 Online", "300% Digital", "PosteMobile Super 20 Ed. 2025", "PosteMobile Super 1"}


def _offers():
    return real_offers("postemobile", today="2026-09-16")


def _by_name():
    return {o["name"]: o for o in _offers()}


def test_every_offer_and_only_those():
    offers = _offers()
    assert [o["name"] for o in offers] == list(EXPECTED)  # Unica New (no price) is not an offer
    assert [o["offer_key"] for o in offers] == [v[0] for v in EXPECTED.values()]
    assert len({o["offer_key"] for o in offers}) == len(EXPECTED)


def test_price_period_gb_plan_type_url():
    for o in _offers():
        key, price, period, gb, unlimited_voice, plan_type = EXPECTED[o["name"]]
        assert o["price_cents"] == price, o["name"]
        assert o["period_days"] == period, o["name"]
        assert o["data_gb"] == gb and o["data_unlimited"] is False, o["name"]
        assert o["data_5g"] is False and o["data_5g_limited"] is False, o["name"]  # all "Internet 4G+"
        assert o["plan_type"] == plan_type, o["name"]
        assert o["url"] == URLS.get(o["name"], f"https://www.postemobile.it/{key}"), o["name"]
        assert o["minutes_unlimited"] is unlimited_voice and o["sms_unlimited"] is unlimited_voice, o["name"]
        assert o["minutes"] is None and o["sms"] is None, o["name"]


def test_no_fees_or_origins_written_on_the_cards():
    for o in _offers():
        assert o["activation_cents"] is None and o["sim_cents"] is None, o["name"]
        assert o["first_period_cents"] is None and o["eu_roaming_gb"] is None, o["name"]
        assert o["eligible_from"] == [] and o["esim"] is None, o["name"]


def test_labels_eligibility_and_end_dates():
    offers = _by_name()
    for name, o in offers.items():
        notes = o["notes"] or ""
        assert o["eligibility"] == "all", name  # "per nuovi clienti" includes people porting their number
        # the recurring terms are read into flags (spiders.parsing.note_flags), what else a card says stays
        assert ("new_customers_only" in o["flags"]) is (name in NEW_CUSTOMERS), name
        assert ("online_only" in o["flags"]) is (name in ONLINE), name
        assert "per nuovi clienti" not in notes and "esclusiva online" not in notes, name
        assert ("esclusiva ufficio postale" in notes) is (name in POST_OFFICE), name
    assert offers["Creami EXTRA WOW 50 Ed. 2026"]["promo_until"] == "2026-10-31"
    assert offers["Creami Extra WOW 160"]["promo_until"] == "2026-10-31"
    assert all(
        o["promo_until"] is None
        for n, o in offers.items()
        if n not in ("Creami EXTRA WOW 50 Ed. 2026", "Creami Extra WOW 160")
    )


def test_conditions_kept_in_notes():
    offers = _by_name()
    assert "Fino a 4€ al mese di ricarica bonus" in offers["PosteMobile Back 200"]["notes"]
    assert "100€/anno" in offers["Postepay Connect"]["notes"]
    assert "Costo carta: 19€/anno" in offers["Postepay Connect Back"]["notes"]
    assert "18 cent/min/SMS" in offers["300% Digital"]["notes"]
    assert "20 credit di bonus se usi meno di 100GB" in offers["300% Digital"]["notes"]
    for name in ("PosteMobile Super 20 Ed. 2025", "PosteMobile Super 1"):
        assert "28cent/min/SMS" in offers[name]["notes"], name
