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

STRONG = [re.compile(p, re.I) for p in (
    r"Incapsula incident ID", r"Request unsuccessful\. Incapsula", r"Radware Bot Manager",
    r"Attention Required! \| Cloudflare", r"<title>\s*Just a moment\.\.\.",
    r"cf-chl-(?:bypass|widget|opt)", r"/cdn-cgi/challenge-platform/h/", r"verify (?:that )?you are (?:a )?human",
    r"Access Denied.{0,80}Reference #", r"are you a robot",
)]
WEAK = [re.compile(p, re.I) for p in (
    r"incapsula", r"perfdrive|radware", r"cloudflare", r"captcha", r"imperva", r"distil_r_captcha",
)]
_TAGS = re.compile(r"<script.*?</script>|<style.*?</style>|<[^>]+>", re.S | re.I)
MIN_TEXT = 1500  # visible characters: below this, a marker page is a challenge, not an offer page


def block_reason(status: int, body: str) -> str | None:
    """Why this answer is a block page, or None."""
    head = body[:200_000]
    for pattern in STRONG:
        if pattern.search(head):
            return f"challenge page ({pattern.pattern})"
    weak = next((p for p in WEAK if p.search(head)), None)
    if weak is None:
        return None
    if status in (403, 429, 503):
        return f"HTTP {status} with anti-bot marker ({weak.pattern})"
    text = re.sub(r"\s+", " ", _TAGS.sub(" ", head)).strip()
    if len(text) < MIN_TEXT:
        return f"near-empty page with anti-bot marker ({weak.pattern})"
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
