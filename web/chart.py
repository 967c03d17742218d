"""An offer's price history as a step line, drawn on the server as SVG coordinates (no script, nothing fetched).

Every OfferVersion is one step: its price holds from its `valid_from` to the next version (the last one to now,
or to when the offer was last seen if it is no longer offered). This module only computes the geometry and the
90-day low; the template (`_chart.html`) writes the SVG, so every label goes through Jinja2's escaping.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from storage.repository import as_utc

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 32
LOW_WINDOW = timedelta(days=90)
#: the least room between two price labels (SVG units)
TICK_GAP = 14


@dataclass
class Step:
    start: datetime
    end: datetime
    price_cents: int


@dataclass
class Chart:
    width: int = WIDTH
    height: int = HEIGHT
    path: str = ""
    #: (x, y, step) where each price starts
    points: list = field(default_factory=list)
    #: (y, cents) of the price axis
    y_ticks: list = field(default_factory=list)
    #: (x, moment) of the time axis: the first and the last moment
    x_ticks: list = field(default_factory=list)
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM


def _moment(text) -> datetime:
    return as_utc(datetime.fromisoformat(text) if isinstance(text, str) else text)


def steps(versions: list[dict], end) -> list[Step]:
    """The price steps of `versions` (storage.repository's shape, oldest first), the last one up to `end`."""
    end = _moment(end)
    out: list[Step] = []
    for n, v in enumerate(versions):
        start = _moment(v["valid_from"])
        stop = _moment(versions[n + 1]["valid_from"]) if n + 1 < len(versions) else max(end, start)
        out.append(Step(start, stop, int(v["item"]["price_cents"])))
    return out


def lowest_since(history: list[Step], since: datetime) -> int | None:
    """The lowest price any step held at some moment from `since` on (None: no step reaches that far)."""
    prices = [s.price_cents for s in history if s.end >= since]
    return min(prices) if prices else None


def is_low(history: list[Step], now: datetime, window: timedelta = LOW_WINDOW) -> bool:
    """Is today's price the lowest of the window, and was some price in the window higher (an offer whose price
    never moved has no low to show)?"""
    if not history:
        return False
    recent = [s.price_cents for s in history if s.end >= now - window]
    return bool(recent) and history[-1].price_cents == min(recent) and max(recent) > min(recent)


def step_chart(history: list[Step]) -> Chart:
    chart = Chart()
    if not history:
        return chart
    t0, t1 = history[0].start, max(history[-1].end, history[0].start + timedelta(hours=1))
    lo, hi = min(s.price_cents for s in history), max(s.price_cents for s in history)
    pad = max((hi - lo) // 5, 100)
    lo, hi = max(lo - pad, 0), hi + pad
    span = (t1 - t0).total_seconds()

    def x(moment: datetime) -> float:
        return round(chart.left + (chart.right - chart.left) * (moment - t0).total_seconds() / span, 1)

    def y(cents: int) -> float:
        return round(chart.bottom - (chart.bottom - chart.top) * (cents - lo) / (hi - lo), 1)

    parts = []
    for n, s in enumerate(history):
        parts.append(f"{'M' if n == 0 else 'L'}{x(s.start)},{y(s.price_cents)}")
        parts.append(f"L{x(t1 if n == len(history) - 1 else s.end)},{y(s.price_cents)}")
        chart.points.append((x(s.start), y(s.price_cents), s))
    chart.path = " ".join(parts)
    prices = sorted({s.price_cents for s in history})
    ticks = [prices[0], prices[-1]] if len(prices) > 1 else prices
    for cents in prices[1:-1]:  # every other price too, where its label does not touch another
        if all(abs(y(cents) - y(c)) >= TICK_GAP for c in ticks):
            ticks.append(cents)
    chart.y_ticks = [(y(c), c) for c in sorted(ticks)]
    chart.x_ticks = [(x(t0), t0), (x(t1), t1)]
    return chart
