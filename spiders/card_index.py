"""An offer card whose `.css(".some-class")` lookups are answered from one walk of its elements.

A spider asks ten or more class selectors of every card. Each one, through parsel, evaluates
`descendant-or-self::*[contains(concat(' ', normalize-space(@class), ' '), ' x ')]` over the whole card
and wraps the results: on the real pages that was most of the parse time. `indexed(card)` walks the
card once, files its elements by class name, and answers single-class selectors (`.name`) from that
index: the same elements in the same (document) order. Every other selector, and every other method
(`xpath`, `get`, `attrib`, ...), goes to the wrapped selector unchanged.
"""
from __future__ import annotations

import re

from parsel import Selector, SelectorList

_SINGLE_CLASS = re.compile(r"\.(-?[_a-zA-Z][\w-]*)")
#: `[tag].class`, then an attribute or a descendant selector: "a.cta", "a.cta::attr(href)", ".price img::attr(src)"
_CLASS_THEN = re.compile(r"([a-zA-Z][\w-]*)?\.(-?[_a-zA-Z][\w-]*)(?:::attr\(([\w-]+)\)|\s+([^,>+~]+))?")
_DESCENDANT_OR_SELF = "descendant-or-self::"


class IndexedCard:
    __slots__ = ("_sel", "_by_class")

    def __init__(self, sel):
        self._sel = sel
        self._by_class: dict[str, list] | None = None  # built on the first class lookup

    def _index(self) -> dict[str, list]:
        by_class: dict[str, list] = {}
        for element in self._sel.root.iter():  # the card itself too: descendant-or-self
            names = element.get("class") if isinstance(element.tag, str) else None
            if names:
                for name in dict.fromkeys(names.split()):
                    by_class.setdefault(name, []).append(element)
        return by_class

    def css(self, query: str):
        found = self.lookup(query)
        return self._sel.css(query) if found is None else found

    def lookup(self, query: str, within: list | None = None):
        """The answer to `query` from the index (only under the elements `within`, when given), or None
        when the index cannot answer it exactly."""
        match = _CLASS_THEN.fullmatch(query.strip())
        if match is None:
            return None
        tag, name, attribute, rest = match.groups()
        if self._by_class is None:
            self._by_class = self._index()
        found = [e for e in self._by_class.get(name, ()) if tag is None or e.tag == tag]
        if within is not None:
            members = set(within)
            found = [e for e in found if e in members or any(a in members for a in e.iterancestors())]
        if attribute is not None:  # what parsel yields for an attribute: a Selector over the string
            return SelectorList(Selector(root=v, type="html") for e in found if (v := e.get(attribute)) is not None)
        if rest is None:
            return _IndexedList((Selector(root=e, type="html") for e in found), card=self)
        # `.a rest`: `rest` under each .a element, strictly below it (not the element itself)
        xpath = self._sel._css2xpath(rest)
        if not xpath.startswith(_DESCENDANT_OR_SELF) or "|" in xpath or _nested(found):
            return None
        below = "descendant::" + xpath[len(_DESCENDANT_OR_SELF):]
        return SelectorList(x for e in found for x in Selector(root=e, type="html").xpath(below))

    def __getattr__(self, name):
        return getattr(self._sel, name)

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"IndexedCard({self._sel!r})"


class _IndexedList(SelectorList):
    """Elements found through a card's index; their own `.css(".class")` is answered from it too."""

    def __init__(self, items=(), card: IndexedCard | None = None):
        super().__init__(items)
        self._card = card

    def css(self, query: str):
        card = getattr(self, "_card", None)  # a slice of the list is a plain copy without it
        roots = [s.root for s in self]
        if card is not None and roots and all(hasattr(r, "iter") for r in roots) and not _nested(roots):
            found = card.lookup(query, within=roots)
            if found is not None:
                return found
        return super().css(query)


def _nested(elements: list) -> bool:
    """Whether one of the elements lies inside another (their descendants would then be listed twice)."""
    if len(elements) < 2:
        return False
    members = set(elements)
    return any(a in members for e in elements for a in e.iterancestors())


def indexed(sel):
    """`sel` (an HTML Selector) with indexed class lookups; anything else is returned as it is."""
    if isinstance(sel, IndexedCard) or getattr(sel, "type", None) != "html" or not hasattr(sel.root, "iter"):
        return sel
    return IndexedCard(sel)
