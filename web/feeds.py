"""Atom feeds of change events: all of them, or those whose offer passes the offers page's filters (the same
query string: `/feeds/events.atom?operator=iliad&max_price=9`).

The language is the URL's `lang` (feed readers send no cookie and rarely a language), else the visitor's.
Built with feedgen (valid Atom, every text escaped by its XML writer); each entry's title and text are the
alert message of that event in the reader's language (alerts.render.render_event), so a feed reader sees what
a subscriber would receive. A query it cannot read is answered 400 with one plain-text line in that language.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from feedgen.feed import FeedGenerator

from alerts.render import LANGS, render_event
from storage.repository import list_events
from web.i18n import WORDS, query_error_text
from web.query import BadQuery, offer_path, offer_query
from web.templating import language

router = APIRouter(include_in_schema=False)
ENTRIES = 50
#: events read to find ENTRIES that pass the filters
SCANNED = 500


@router.get("/feeds/events.atom")
def events_feed(request: Request):
    asked = request.query_params.get("lang")
    lang = asked if asked in LANGS else language(request)  # a feed reader sends no cookie: the URL says
    try:
        query = offer_query(request.query_params)
    except BadQuery as exc:  # one line in the feed's language, for whoever opened the link
        text = query_error_text(lang, exc.code, exc.params) + "\n"
        headers = {"Content-Language": lang}
        return Response(text, status_code=400, media_type="text/plain; charset=utf-8", headers=headers)
    wanted = query.wanted
    only = next(iter(wanted.operators)) if len(wanted.operators) == 1 else None
    events = [
        e
        for e in list_events(operator=only, limit=SCANNED, database_url=request.app.state.database_url)
        if wanted.matches(e["item"])
    ][:ENTRIES]
    base = str(request.base_url).rstrip("/")
    self_url = f"{base}/feeds/events.atom?" + "&".join(filter(None, [query.canonical, f"lang={lang}"]))
    feed = FeedGenerator()
    feed.id(self_url)
    feed.title(f"promowatch: {WORDS[lang]['changes_title']}")
    feed.subtitle(WORDS[lang]["site_tagline"])
    feed.language(lang)
    feed.link(href=self_url, rel="self", type="application/atom+xml")
    feed.link(href=f"{base}/offers" + (f"?{query.canonical}" if query.canonical else ""), rel="alternate")
    feed.updated(events[0]["created_at"] if events else "1970-01-01T00:00:00+00:00")
    feed.author({"name": "promowatch"})
    for event in reversed(events):  # feedgen puts the last added first: newest first in the document
        message = render_event(event, lang)
        entry = feed.add_entry()
        entry.id(f"{base}/events/{event['id']}")
        entry.title(message.title)
        entry.content(message.body, type="text")
        entry.updated(event["created_at"])
        entry.published(event["created_at"])
        entry.link(href=base + offer_path(event["operator"], event["offer_key"]), rel="alternate")
        entry.category(term=event["kind"])
    return Response(feed.atom_str(pretty=True), media_type="application/atom+xml; charset=utf-8")
