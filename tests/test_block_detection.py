"""Block pages are recognised; real offer pages that merely load an anti-bot vendor's script are not."""
import pytest

from conftest import FIXTURES, REAL_PAGES, real_page
from spiders.block_detection import block_reason

CHALLENGES = [
    (200, "<html><head><title>Just a moment...</title></head><body><div id='cf-chl-widget'></div></body></html>"),
    (403, "<html><body><h1>Attention Required! | Cloudflare</h1></body></html>"),
    (200, "<html><body><iframe src='/_Incapsula_Resource?SWJIYLWA=x'></iframe>Request unsuccessful. Incapsula incident ID: 1-2</body></html>"),
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
