"""The in-memory subscription index `alerts.match.match_events` builds once per call.

A module of its own because it is the fast path of matching and knows nothing of the outbox; it must agree
with `alerts.match.subscription_matches` (tests/test_match.py compares the two). Each subscription gets a bit
position, and each filter dimension keeps Python ints as bit sets: list filters (kinds, operators, plan
types) and origin map a value to the subscriptions accepting it, and each threshold (max price, min GB,
max €/GB, max 12-month cost) is one sorted sweep against the batch's distinct event values. An event's
matches are the AND of its sets, read out by C loops, so there is no loop over subscription x event pairs.
The subscriptions are read with one SELECT of the filter columns. Measured in benchmarks/bench_match.py.
"""

from __future__ import annotations

import json
from collections import defaultdict
from functools import lru_cache
from itertools import accumulate, compress, repeat
from operator import add
from typing import Iterable, Mapping, Sequence

from sqlalchemy import Text, cast, select
from sqlmodel import Session

from contract.offer_query import can_take_from, comparable_gb, eur_cents, eur_per_gb_cents, year_eur_cents
from contract.rates import Rates
from storage.models import Subscription, table_of
from storage.repository import driver_rows

#: the subscription columns the index is built from (read for every active subscription)
FILTERS = (
    "id",
    "operators",
    "plan_types",
    "kinds",
    "max_price_cents",
    "min_gb",
    "only_5g",
    "origin",
    "max_eur_per_gb_cents",
    "max_year_cents",
)
_LISTS = ("operators", "plan_types", "kinds")


# --- bit sets -------------------------------------------------------------------------------------------------

_BIT = tuple(1 << i for i in range(8))
_ZERO_ONE = bytes.maketrans(b"01", b"\x00\x01")


def _bitset(positions: Iterable[int], nbytes: int) -> int:
    buf = bytearray(nbytes)
    for p in positions:
        buf[p >> 3] |= _BIT[p & 7]
    return int.from_bytes(buf, "little")


@lru_cache(maxsize=4)
def _bit_range(nbits: int) -> list[int]:
    return list(range(nbits))


def _positions(mask: int, nbits: int) -> list[int]:
    """The set bits of `mask`, ascending; every loop runs in C, none in Python per bit or per subscription."""
    if not mask:
        return []
    bits = format(mask, "b")[::-1]  # bits[i] is bit i
    if mask.bit_count() * 8 > nbits:  # dense: pick the positions of the "1"s
        return list(compress(_bit_range(nbits), bits.encode().translate(_ZERO_ONE)))
    gaps = bits.split("1")  # sparse: the runs of "0" between the "1"s -> positions by a running sum
    gaps.pop()
    out = list(accumulate(map(add, map(len, gaps), repeat(1)), initial=-1))
    del out[0]
    return out


def _groups(values: Sequence) -> dict:
    """value -> positions holding it."""
    out: dict = defaultdict(list)
    for p, v in enumerate(values):
        out[v].append(p)
    return out


class _Listed:
    """A list filter (empty = any): value -> bit set of the subscriptions an event with that value passes."""

    def __init__(self, lists: Sequence, nbytes: int):
        self.any = 0
        named: dict[str, int] = defaultdict(int)
        for raw, positions in _groups(lists).items():  # few distinct lists (as stored): one bit set each
            mask = _bitset(positions, nbytes)
            values = list_value(raw)
            if not values:
                self.any |= mask
            for v in values:
                named[v] |= mask
        self.passing = {v: self.any | mask for v, mask in named.items()}

    def __call__(self, value) -> int:
        return self.passing.get(value, self.any)


class _Threshold:
    """A numeric filter: `at_most` (the event's value must be <= the threshold) or at least (>=); None = no filter."""

    def __init__(self, thresholds: Sequence, nbytes: int, at_most: bool):
        self.nbytes, self.at_most = nbytes, at_most
        groups = _groups(thresholds)
        self.none = _bitset(groups.pop(None, ()), nbytes)
        # in the order the sweep admits them: highest first for "at most", lowest first for "at least"
        self.sorted = sorted(groups.items(), reverse=at_most)

    def passing(self, values: Iterable) -> dict:
        """value -> bit set of the subscriptions an event with that value passes (value None: only the unfiltered)."""
        out = {None: self.none}
        wanted = sorted({v for v in values if v is not None}, reverse=self.at_most)
        buf, i, admitted = bytearray(self.nbytes), 0, self.sorted
        for v in wanted:
            while i < len(admitted) and (admitted[i][0] >= v if self.at_most else admitted[i][0] <= v):
                for p in admitted[i][1]:
                    buf[p >> 3] |= _BIT[p & 7]
                i += 1
            out[v] = self.none | int.from_bytes(buf, "little")
        return out


class Subscriptions:
    """Subscriptions column by column (FILTERS): position p is the p-th subscription. List filters stay as
    stored (JSON text, or tuples), hashable: the index parses each distinct one once (`list_value`)."""

    def __init__(self, columns: Mapping[str, Sequence]):
        self.columns = columns
        self.ids = columns["id"]

    @classmethod
    def from_rows(cls, rows: Sequence[Mapping]) -> "Subscriptions":
        columns: dict[str, Sequence] = {c: [r.get(c) for r in rows] for c in FILTERS}
        for c in _LISTS:
            columns[c] = [tuple(v or ()) for v in columns[c]]
        return cls(columns)

    def __len__(self) -> int:
        return len(self.ids)

    def row(self, p: int) -> dict:
        row = {c: self.columns[c][p] for c in FILTERS}
        for c in _LISTS:
            row[c] = list_value(row[c])
        return row


class SubscriptionIndex:
    """Subscriptions indexed by filter dimension, for matching a batch of events (see the module docstring)."""

    def __init__(self, subs: Subscriptions | Sequence[Mapping], rates: Rates | None = None):
        self.subs = subs if isinstance(subs, Subscriptions) else Subscriptions.from_rows(subs)
        self.rates = rates  # a price in another currency is compared in euro through these (none: not at all)
        n = len(self.subs)
        self.nbits, self.nbytes = n, max(1, (n + 7) // 8)
        nb = self.nbytes
        col = self.subs.columns
        self.kinds = _Listed(col["kinds"], nb)
        self.operators = _Listed(col["operators"], nb)
        self.plan_types = _Listed(col["plan_types"], nb)
        origins = _groups(col["origin"])
        self.no_origin = _bitset(origins.pop(None, ()), nb)
        self.by_origin = {o: _bitset(ps, nb) for o, ps in origins.items()}
        self.everyone = (1 << n) - 1
        self.not_5g = _bitset((p for p, s in enumerate(col["only_5g"]) if not s), nb)
        self.price = _Threshold(col["max_price_cents"], nb, at_most=True)
        self.gb = _Threshold(col["min_gb"], nb, at_most=False)
        self.per_gb = _Threshold(col["max_eur_per_gb_cents"], nb, at_most=True)
        self.year = _Threshold(col["max_year_cents"], nb, at_most=True)

    def __len__(self) -> int:
        return len(self.subs)

    def match(self, events: Sequence[tuple[str, dict]]) -> list[list[int]]:
        """For each (kind, item): the positions (into `subs`) of the subscriptions it concerns, ascending."""
        if not len(self.subs):
            return [[] for _ in events]
        items = [item for _, item in events]
        rates = self.rates
        price = self.price.passing(eur_cents(i, rates) for i in items)
        gb = self.gb.passing(comparable_gb(i) for i in items)
        per_gb = self.per_gb.passing(eur_per_gb_cents(i, rates) for i in items)
        year = self.year.passing(year_eur_cents(i, rates) for i in items)
        origin_cache: dict = {}
        out = []
        for kind, item in events:
            who = (item["operator"], item.get("eligibility", "all"), tuple(item.get("eligible_from") or ()))
            origin = origin_cache.get(who)
            if origin is None:
                origin = self.no_origin
                for o, mask in self.by_origin.items():
                    if can_take_from(item, o):
                        origin |= mask
                origin_cache[who] = origin
            mask = (
                self.kinds(kind)
                & self.operators(item["operator"])
                & self.plan_types(item["plan_type"])
                & origin
                & (self.everyone if item.get("data_5g") else self.not_5g)
                & price[eur_cents(item, rates)]
                & gb[comparable_gb(item)]
                & per_gb[eur_per_gb_cents(item, rates)]
                & year[year_eur_cents(item, rates)]
            )
            out.append(_positions(mask, self.nbits))
        return out


# --- reading the subscriptions --------------------------------------------------------------------------------


def load_subscriptions(session: Session) -> Subscriptions:
    """The active subscriptions' filter columns: one SELECT, rows straight from the DBAPI cursor (no ORM objects,
    no result processing: this is the one read of every subscription), list columns parsed once per distinct text."""
    table = table_of(Subscription)
    stmt = (
        # list columns as their JSON text, as SQLite gives them: a driver that decodes JSON (psycopg) would parse
        # every row's; `list_value` parses each distinct text once
        select(*(cast(table.c[c], Text) if c in _LISTS else table.c[c] for c in FILTERS))
        .where(table.c.active.is_(True), table.c.stay_days.is_(None))  # a stay subscription is told by stay_alerts
        .order_by(table.c.id)
    )
    rows = driver_rows(session, stmt)
    columns: dict[str, Sequence] = (
        dict(zip(FILTERS, zip(*rows, strict=False), strict=False)) if rows else {c: () for c in FILTERS}
    )
    for c in _LISTS:  # JSON text (SQLite) stays text; drivers that decode JSON give lists: made hashable
        if columns[c] and not isinstance(columns[c][0], str):
            columns[c] = [tuple(v or ()) for v in columns[c]]
    return Subscriptions(columns)


@lru_cache(maxsize=8192)
def _parse_list(text: str) -> tuple:
    return tuple(json.loads(text) or ())


def list_value(raw) -> tuple:
    """A list filter as stored (JSON text or a sequence) -> a tuple."""
    return _parse_list(raw) if isinstance(raw, str) else tuple(raw or ())
