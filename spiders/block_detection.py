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

#: phrases only challenge pages show (lower case: matched as plain substrings of the lower-cased page, one fast
#: scan each instead of a case-insensitive regex over up to 200 KB)
STRONG = ("incapsula incident id", "request unsuccessful. incapsula", "radware bot manager",
          "attention required! | cloudflare", "cf-chl-bypass", "cf-chl-widget", "cf-chl-opt",
          "/cdn-cgi/challenge-platform/h/", "are you a robot")
#: the same, where the wording varies: (a literal that must be there, the exact pattern)
STRONG_PATTERNS = [(literal, re.compile(pattern, re.I)) for literal, pattern in (
    ("just a moment", r"<title>\s*Just a moment\.\.\."), ("you are", r"verify (?:that )?you are (?:a )?human"),
    ("reference #", r"Access Denied.{0,80}Reference #"),
)]
#: vendor and captcha names: real offer pages load these vendors' scripts too
WEAK = ("incapsula", "perfdrive", "radware", "cloudflare", "captcha", "imperva", "distil_r_captcha")
_HIDDEN = re.compile(r"<script.*?</script>|<style.*?</style>", re.S | re.I)
_TAGS = re.compile(r"<[^>]+>")
MIN_TEXT = 1500  # visible characters: below this, a marker page is a challenge, not an offer page


def block_reason(status: int, body: str) -> str | None:
    """Why this answer is a block page, or None."""
    head = body[:200_000]
    lower = head.lower()
    for phrase in STRONG:
        if phrase in lower:
            return f"challenge page ({phrase})"
    for literal, pattern in STRONG_PATTERNS:
        if literal in lower and pattern.search(head):
            return f"challenge page ({pattern.pattern})"
    weak = next((w for w in WEAK if w in lower), None)
    if weak is None:
        return None
    if status in (403, 429, 503):
        return f"HTTP {status} with anti-bot marker ({weak})"
    text = " ".join(_TAGS.sub(" ", _HIDDEN.sub(" ", head)).split())
    if len(text) < MIN_TEXT:
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
        body = response.text if hasattr(response, "text") else response.body.decode("utf-8", "replace")
        reason = block_reason(response.status, body)
        if reason:
            self.stats.inc_value("promowatch/blocked")
            errors = self.stats.get_value("promowatch/errors") or []
            self.stats.set_value("promowatch/errors", [*errors, f"{request.url}: {reason}"])
            raise IgnoreRequest(f"blocked: {reason}")
        return response
