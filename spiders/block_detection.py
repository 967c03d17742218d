"""Recognise anti-bot and challenge pages (Radware, Imperva/Incapsula, Cloudflare, captcha).

Real offer pages carry these vendors' scripts too (ho. and Vodafone load Incapsula, Very loads
Radware), so a vendor name alone is not a block. A page is a block page when it carries a phrase
only challenge pages show, or a vendor/captcha marker on a page with almost no text, or a 403/429
with a vendor marker. A block page marks the crawl `blocked` and never reaches the spider, so it
cannot be read as "all offers gone".
"""

from __future__ import annotations

import re

from scrapy.exceptions import IgnoreRequest

#: phrases only challenge pages show, lower case. The page is scanned as bytes: ASCII lower-casing and plain
#: substring search of up to 200 KB, no decoding and no case-insensitive regex over the whole page
STRONG = (
    b"incapsula incident id",
    b"request unsuccessful. incapsula",
    b"radware bot manager",
    b"attention required! | cloudflare",
    b"cf-chl-bypass",
    b"cf-chl-widget",
    b"cf-chl-opt",
    b"/cdn-cgi/challenge-platform/h/",
    b"are you a robot",
)
#: the same, where the wording varies: (a literal that must be there, the exact pattern)
STRONG_PATTERNS = [
    (literal, re.compile(pattern, re.I))
    for literal, pattern in (
        (b"just a moment", rb"<title>\s*Just a moment\.\.\."),
        (b"you are", rb"verify (?:that )?you are (?:a )?human"),
        (b"reference #", rb"Access Denied.{0,80}Reference #"),
    )
]
#: vendor and captcha names: real offer pages load these vendors' scripts too
WEAK = (b"incapsula", b"perfdrive", b"radware", b"cloudflare", b"captcha", b"imperva", b"distil_r_captcha")
MIN_TEXT = 1500  # visible characters: below this, a marker page is a challenge, not an offer page
#: what is not visible text: scripts, styles, comments, tags (on the lower-cased page; "unrolled" so that a
#: long inline script is skipped by one character-class run instead of a lazy match tried at every byte)
_NOT_TEXT = re.compile(
    rb"<script\b[^<]*(?:<(?!/script)[^<]*)*</script\s*>|<style\b[^<]*(?:<(?!/style)[^<]*)*</style\s*>"
    rb"|<!--[^-]*(?:-(?!->)[^-]*)*-->|<[^>]*>"
)


def visible_text_at_least(lower: bytes, minimum: int) -> bool:
    """Whether the (lower-cased) page has at least `minimum` characters of visible text outside tags,
    scripts, styles and comments (each stretch between tags counted without its outer whitespace, plus one
    space). Stops once `minimum` is reached: an offer page is decided within its first tags."""
    count, at = 0, 0
    for match in _NOT_TEXT.finditer(lower):
        if match.start() > at:
            stretch = len(lower[at : match.start()].strip())
            count += stretch + 1 if stretch else 0  # + the space that joins it to the next stretch
            if count >= minimum:
                return True
        at = match.end()
    return count + len(lower[at:].strip()) >= minimum


def block_reason(status: int, body: bytes | str) -> str | None:
    """Why this answer is a block page, or None."""
    head = (body.encode("utf-8", "replace") if isinstance(body, str) else body)[:200_000]
    lower = head.lower()
    for phrase in STRONG:
        if phrase in lower:
            return f"challenge page ({phrase.decode()})"
    for literal, pattern in STRONG_PATTERNS:
        if literal in lower and pattern.search(head):
            return f"challenge page ({pattern.pattern.decode()})"
    weak = next((w.decode() for w in WEAK if w in lower), None)
    if weak is None:
        return None
    if status in (403, 429, 503):
        return f"HTTP {status} with anti-bot marker ({weak})"
    if not visible_text_at_least(lower, MIN_TEXT):
        return f"near-empty page with anti-bot marker ({weak})"
    return None


class BlockDetectionMiddleware:
    def __init__(self, stats):
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.stats)

    def process_response(self, request, response, spider=None):
        if request.url.endswith("/robots.txt"):
            return response
        reason = block_reason(response.status, response.body)
        if reason:
            self.stats.inc_value("promowatch/blocked")
            errors = self.stats.get_value("promowatch/errors") or []
            self.stats.set_value("promowatch/errors", [*errors, f"{request.url}: {reason}"])
            raise IgnoreRequest(f"blocked: {reason}")
        return response
