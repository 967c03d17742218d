"""A traveller's whole path in a real browser: browse and filter the offers, open one and see its chart, "tell me
when this gets cheaper", subscribe with an email address, read the confirmation from a real SMTP server, confirm
in the browser, a price drop through `promowatch import` and `promowatch send` brings the alert with its footer
and RFC 8058 headers, unsubscribe in the browser, and the next drop brings nothing. In English fully; the
subscribe -> confirm path in Italian and Chinese.

Real parts only: `promowatch web` as a process on a free loopback port with `[mail]` pointing at aiosmtpd on
127.0.0.1 (tests/servers.py) and `[web] base_url` the site's address, a database filled by the offline crawl
(tests/test_web_browser.py), Debian's chromium through Playwright (fails under CI when missing).
"""

from __future__ import annotations

import json
import re

import pytest
from conftest import ROOT
from servers import SmtpServer, free_port
from test_web_browser import SCRIPT_NAME, WebProcess, _needs_browser, _promowatch, browser, fill_by_the_commands

pytestmark = pytest.mark.slow
__all__ = ["browser"]  # the fixture, shared with the read-only browser test
FOOTER = {
    "it": ("Gestisci i tuoi avvisi: ", "Annulla l'iscrizione: "),
    "en": ("Manage your alerts: ", "Unsubscribe: "),
    "zh": ("管理提醒：", "退订："),
}


class Site:
    def __init__(self, web: WebProcess, smtp: SmtpServer, env: dict, folder):
        self.web, self.smtp, self.env, self.folder = web, smtp, env, folder
        self.url = web.url

    def mails_to(self, address: str) -> list:
        return [m for m, (_, to) in zip(self.smtp.received, self.smtp.envelopes, strict=True) if address in to]

    def send(self) -> None:
        _promowatch(self.env, "send")

    def drop_giga(self, cents_less: int) -> None:
        """Iliad's GIGA 200 `cents_less` below the bundled page's price, through `promowatch import`."""
        items = json.loads(
            _promowatch(self.env, "parse", "iliad", ROOT / "spiders/fixtures/iliad/mobile.html", "--json").stdout
        )
        giga = next(i for i in items if i["offer_key"] == "giga200")
        changed = [{**i, "price_cents": i["price_cents"] - cents_less} if i is giga else i for i in items]
        changed.append({**giga, "offer_key": "script-offer", "name": SCRIPT_NAME})
        path = self.folder / f"iliad-{cents_less}.json"
        path.write_text(json.dumps(changed), "utf-8")
        _promowatch(self.env, "import", path)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    _needs_browser()
    folder = tmp_path_factory.mktemp("subscribe")
    env = fill_by_the_commands(folder)  # GIGA 200 already 2 € below the bundled page
    port = free_port()
    with SmtpServer() as smtp:
        config = folder / "config.toml"
        config.write_text(
            f'[web]\nbase_url = "http://127.0.0.1:{port}"\n\n'
            f'[mail]\nhost = "127.0.0.1"\nport = {smtp.port}\nfrom = "alerts@example.org"\nmode = "insecure"\n\n'
            '[channels]\nallowed = ["email"]\n',
            "utf-8",
        )
        env = {**env, "PROMOWATCH_CONFIG": str(config)}
        web = WebProcess(env, folder / "web.log", port=port)
        try:
            web.wait_ready()
            yield Site(web, smtp, env, folder)
        finally:
            web.stop()


def body_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def line_after(body: str, prefix: str) -> str:
    return next(line[len(prefix) :].strip() for line in body.splitlines() if line.startswith(prefix))


def subscribe_and_confirm(site: Site, page, address: str, lang: str) -> str:
    """Fill the channel on the subscribe form shown, send it, confirm through the mailed link; the mail's body."""
    page.fill('input[name="channel_value"]', address)
    page.locator('form.subscribe button[type="submit"]').click()
    page.locator("p.done").wait_for()
    shown = page.locator("p.done").inner_text()
    assert address.split("@")[1] in shown and address not in page.content()  # masked: a****@example.com
    assert f"{address[0]}****@" in shown
    site.send()
    [confirmation] = site.mails_to(address)  # `send` has finished: the server has it
    body = body_of(confirmation)
    assert line_after(body, FOOTER[lang][1]).startswith(f"{site.url}/unsubscribe/")  # in the subscriber's language
    confirm = re.search(rf"{re.escape(site.url)}/confirm/\S+", body).group(0)
    page.goto(confirm)
    assert page.locator("html").get_attribute("lang") == lang
    page.locator("main form button[type=submit]").click()
    page.locator("p.done").wait_for()
    return body


def test_browse_subscribe_confirm_alert_unsubscribe_in_english(site, browser):
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(20_000)
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    address = "traveller@example.com"

    page.goto(f"{site.url}/offers")
    page.select_option('select[name="operator"]', "iliad")
    page.check('input[name="5g"]')
    page.click('form.filters button[type="submit"]')
    page.wait_for_url("**/offers?*operator=iliad*")
    assert set(page.locator("table.offers tbody tr td:first-child").all_inner_texts()) == {"Iliad"}
    page.get_by_role("link", name="GIGA 200", exact=True).click()
    page.wait_for_url("**/offers/iliad/giga200")
    assert page.locator("svg.chart path.price").get_attribute("d")
    page.get_by_role("link", name="Tell me when this gets cheaper").click()
    page.wait_for_url("**/subscribe?*")
    assert page.locator("h1").inner_text() == "Get an alert"
    assert page.locator('select[name="operator"] option:checked').all_inner_texts() == ["Iliad"]
    max_price = page.input_value('input[name="max_price"]')
    assert max_price and page.is_checked('input[name="5g"]')
    assert page.locator('select[name="lang"] option:checked').get_attribute("value") == "en"

    subscribe_and_confirm(site, page, address, "en")
    assert page.locator("h1").inner_text() == "Subscription confirmed"
    cookie = next(c for c in context.cookies() if c["name"] == "csrf")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    site.drop_giga(300)  # one euro below the price the form was filled with
    site.send()
    mails = site.mails_to(address)
    assert len(mails) == 2, [m["Subject"] for m in mails]
    alert = mails[1]
    body = body_of(alert)
    assert "GIGA 200" in body and re.search(r"price", body, re.I)
    unsubscribe = line_after(body, FOOTER["en"][1])
    manage = line_after(body, FOOTER["en"][0])
    assert unsubscribe.startswith(f"{site.url}/unsubscribe/") and manage.startswith(f"{site.url}/manage/")
    assert alert["List-Unsubscribe"] == f"<{unsubscribe}>"
    assert alert["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    page.goto(manage)  # the manage page shows the consent record, the address masked
    assert page.locator("dd.status").inner_text() == "active"
    assert "t****@example.com" in page.locator("dl.consent").inner_text() and address not in page.content()
    page.goto(unsubscribe)
    assert page.locator("h1").inner_text() == "Unsubscribe"
    page.get_by_role("button", name="Unsubscribe").click()
    page.locator("p.done").wait_for()
    assert page.locator("h1").inner_text() == "Unsubscribed"

    site.drop_giga(400)
    site.send()
    assert len(site.mails_to(address)) == 2  # `send` has finished: nothing more was sent to the address
    assert dialogs == []
    context.close()


@pytest.mark.parametrize(
    "lang, locale, title, done",
    [("it", "it-IT", "Ricevi un avviso", "Iscrizione confermata"), ("zh", "zh-CN", "订阅提醒", "订阅已确认")],
)
def test_subscribe_and_confirm_in_italian_and_chinese(site, browser, lang, locale, title, done):
    context = browser.new_context(locale=locale)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{site.url}/offers?operator=very")
    page.locator("p.summary a").last.click()  # "alert me about offers like these"
    page.wait_for_url("**/subscribe?operator=very")
    assert page.locator("h1").inner_text() == title
    assert page.locator('select[name="lang"] option:checked').get_attribute("value") == lang
    body = subscribe_and_confirm(site, page, f"{lang}-reader@example.com", lang)
    assert FOOTER[lang][0] in body
    assert page.locator("h1").inner_text() == done
    context.close()
