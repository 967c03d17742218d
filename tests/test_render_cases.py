"""Table-driven message cases (tests/data/render/cases/*.json): the period a digest names, countdowns counted
from the moment a message is written, promotions already over, one line per offer in a digest.

A case: `message` ("event" or "digest"), `period` (the outbox's digest key), `now` (when it is written), `tz`
(default Europe/Rome), `events` (kind, offer_key, created_at, optional name, prices, changes, price `context`
and `item` fields over the sample offer of tests/data/render/events.json), optionally `sub` (the subscription's
filters, as alerts.why.filters_of gives them: the "why you got this" line), and per language the `title`, texts
the body must hold (`want`) and must not (`not_want`).
"""

import json
from datetime import datetime
from pathlib import Path

import pytest

from alerts.render import LANGS, render_digest, render_event

DATA = Path(__file__).parent / "data" / "render"
BASE = json.loads((DATA / "events.json").read_text("utf-8"))["base_item"]
CASES = sorted((DATA / "cases").glob("*.json"))


def build(number: int, spec: dict) -> dict:
    item = {**BASE, **spec.get("item", {}), "offer_key": spec["offer_key"], "name": spec.get("name", BASE["name"])}
    price = item["price_cents"]
    return {
        "id": number,
        "operator": item["operator"],
        "offer_key": spec["offer_key"],
        "kind": spec["kind"],
        "created_at": spec["created_at"],
        "price_before": spec.get("price_before"),
        "price_after": spec.get("price_after", None if spec["kind"] == "removed" else price),
        "changes": spec.get("changes", {}),
        "item": item,
        "context": spec.get("context"),  # a price context as alerts.price_context gives it
    }


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_case(path, lang):
    case = json.loads(path.read_text("utf-8"))
    events = [build(n, spec) for n, spec in enumerate(case["events"], 1)]
    now = datetime.fromisoformat(case["now"].replace("Z", "+00:00"))
    tz = case.get("tz", "Europe/Rome")
    if case["message"] == "digest":
        message = render_digest(events, lang, tz, case["period"], now=now, sub=case.get("sub"))
    else:
        (event,) = events
        message = render_event(event, lang, tz, now=now, sub=case.get("sub"))
    text = f"{message.title}\n{message.body}"
    if "title" in case:
        assert message.title == case["title"][lang]
    for want in case.get("want", {}).get(lang, ()):
        assert want in text, f"{path.stem}/{lang}: {want!r} missing in\n{text}"
    for unwanted in case.get("not_want", {}).get(lang, ()):
        assert unwanted not in text, f"{path.stem}/{lang}: {unwanted!r} found in\n{text}"
