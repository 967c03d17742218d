"""Block pages are recognised; real offer pages that merely load an anti-bot vendor's script are not."""

import pytest
from conftest import FIXTURES, REAL_PAGES, real_page

from spiders.block_detection import block_reason, visible_text_at_least

CHALLENGES = [
    (200, "<html><head><title>Just a moment...</title></head><body><div id='cf-chl-widget'></div></body></html>"),
    (403, "<html><body><h1>Attention Required! | Cloudflare</h1></body></html>"),
    (
        200,
        "<html><body><iframe src='/_Incapsula_Resource?SWJIYLWA=x'></iframe>"
        "Request unsuccessful. Incapsula incident ID: 1-2</body></html>",
    ),
    (200, "<html><body><script src='https://validate.perfdrive.com/x.js'></script></body></html>"),
    (200, "<html><body><div class='g-recaptcha'></div>captcha</body></html>"),
    (403, "<html><body>imperva</body></html>"),
]


@pytest.mark.parametrize("status,body", CHALLENGES)
def test_challenge_pages_are_blocks(status, body):
    assert block_reason(status, body)


def test_windtre_block_fixture_is_a_block():
    path = FIXTURES / "windtre" / "blocked.html"
    assert block_reason(200, path.read_text("utf-8"))


@pytest.mark.parametrize("operator", sorted(p.name for p in REAL_PAGES.iterdir()) if REAL_PAGES.exists() else ["iliad"])
def test_real_offer_pages_are_not_blocks(operator):
    assert block_reason(200, real_page(operator).read_text("utf-8", "replace")) is None


def test_plain_pages_are_not_blocks():
    assert block_reason(200, "<html><body>" + "offerta " * 500 + "</body></html>") is None
    assert block_reason(500, "<html><body>Internal error</body></html>") is None


PROSE = "Offerta 200 Giga a 9,99 euro al mese " * 50  # 1850 characters of visible text
#: (page, has at least 1500 visible characters): scripts, styles, comments and tags are not text
VISIBLE = [
    (f"<html><body><p>{PROSE}</p></body></html>", True),
    (f"<html><head><script>var a = '{PROSE}'; if (a < b) {{}}</script></head><body>Caricamento</body></html>", False),
    (f"<html><head><style>/* {PROSE} */ p {{ color: red }}</style></head><body>x</body></html>", False),
    (f"<html><body><!-- {PROSE} --><p>x</p></body></html>", False),
    (f"<html><body><div data-x='{PROSE}'>x</div></body></html>", False),
    ("<html><body>" + "<span>ab</span>" * 500 + "</body></html>", True),  # 500 stretches of 2 + 1 joining space
    ("<html><body>" + "<span>ab</span>" * 499 + "</body></html>", False),
    (f"<HTML><BODY><SCRIPT>{PROSE}</SCRIPT>{PROSE}</BODY></HTML>", True),
]


@pytest.mark.parametrize("page,expected", VISIBLE)
def test_visible_text_counts_only_what_a_reader_sees(page, expected):
    assert visible_text_at_least(page.encode().lower(), 1500) is expected


def test_a_vendor_marker_on_a_page_whose_text_is_all_in_a_script_is_a_block():
    page = (
        f"<html><head><script src='https://x.incapsula.com/a.js'></script>"
        f"<script>var t='{PROSE}'</script></head></html>"
    )
    assert "near-empty" in block_reason(200, page.encode())
    assert block_reason(200, page.replace("</head>", f"</head><body>{PROSE}</body>")) is None
