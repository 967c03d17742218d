"""An offer card whose `.css(".some-class")` lookups are answered from one walk of its elements.

A spider asks ten or more class selectors of every card. Each one, through parsel, evaluates
`descendant-or-self::*[contains(concat(' ', normalize-space(@class), ' '), ' x ')]` over the whole card
and wraps the results: on the real pages that was most of the parse time. `indexed(card)` walks the
card once, files its elements by class name, and answers class selectors (`.name`, `a.cta`) from that
index, and files them by tag name too: tag selectors (`a::attr(href)`, `ul li`) and unions of such selectors
(`h2, h3`, `img::attr(src), img::attr(alt)`) are answered from it as well: the same elements in the same
(document) order. Every other selector, and every other method (`xpath`, `get`, `attrib`, ...), goes to the
wrapped selector unchanged.
"""

from __future__ import annotations

import re

from parsel import Selector, SelectorList

#: `tag`, `.class` or `tag.class`, then an attribute or a descendant selector: "a.cta", "a::attr(href)",
#: ".price img::attr(src)", "ul li"
_BASE_THEN = re.compile(r"([a-zA-Z][\w-]*)?(?:\.(-?[_a-zA-Z][\w-]*))?(?:::attr\(([\w-]+)\)|\s+([^,>+~]+))?")
_DESCENDANT_OR_SELF = "descendant-or-self::"


class IndexedCard:
    __slots__ = ("_sel", "_by_class", "_by_tag", "_order")

    def __init__(self, sel):
        self._sel = sel
        self._by_class: dict[str, list] | None = None  # both built on the first lookup (_index)
        self._by_tag: dict[str, list] | None = None
        self._order: dict | None = None  # element -> document position, for unions

    def _index(self) -> None:
        by_class: dict[str, list] = {}
        by_tag: dict[str, list] = {}
        for element in self._sel.root.iter():  # the card itself too: descendant-or-self
            tag = element.tag
            if not isinstance(tag, str):
                continue  # a comment or processing instruction
            by_tag.setdefault(tag, []).append(element)
            names = element.get("class")
            if names:
                for name in dict.fromkeys(names.split()):
                    by_class.setdefault(name, []).append(element)
        self._by_class, self._by_tag = by_class, by_tag

    def css(self, query: str):
        found = self.lookup(query)
        return self._sel.css(query) if found is None else found

    def lookup(self, query: str, within: list | None = None):
        """The answer to `query` from the index (only under the elements `within`, when given), or None
        when the index cannot answer it exactly."""
        if "," in query:
            return self._union([part.strip() for part in query.split(",")], within)
        match = _BASE_THEN.fullmatch(query.strip())
        if match is None or not (match.group(1) or match.group(2)):
            return None
        tag, name, attribute, rest = match.groups()
        found = self._elements(tag, name, within)
        if attribute is not None:  # what parsel yields for an attribute: a Selector over the string
            return SelectorList(Selector(root=v, type="html") for e in found if (v := e.get(attribute)) is not None)
        if rest is None:
            return _IndexedList((Selector(root=e, type="html") for e in found), card=self)
        # `.a rest`: `rest` under each .a element, strictly below it (not the element itself)
        xpath = self._sel._css2xpath(rest)
        if not xpath.startswith(_DESCENDANT_OR_SELF) or "|" in xpath or _nested(found):
            return None
        below = "descendant::" + xpath[len(_DESCENDANT_OR_SELF) :]
        return SelectorList(x for e in found for x in Selector(root=e, type="html").xpath(below))

    def _elements(self, tag: str | None, name: str | None, within: list | None) -> list:
        if self._by_class is None:
            self._index()
        tag = tag and tag.lower()  # HTML element names, as parsel's CSS translator reads them
        if name is None:
            found = self._by_tag.get(tag, [])
        else:
            found = [e for e in self._by_class.get(name, ()) if tag is None or e.tag == tag]
        if within is not None:
            members = set(within)
            found = [e for e in found if e in members or any(a in members for a in e.iterancestors())]
        return found

    def _union(self, parts: list[str], within: list | None):
        """`a, b, ...` as parsel answers it (one XPath union, in document order): element selectors
        (`h2, h3`, `.badge, .tag`) or attributes of one base (`img::attr(src), img::attr(alt)`: per element in
        document order, its attributes in the element's own order)."""
        matches = [_BASE_THEN.fullmatch(part) for part in parts]
        if not all(m and (m.group(1) or m.group(2)) and m.group(4) is None for m in matches):
            return None
        attributes = [m.group(3) for m in matches]
        if all(a is None for a in attributes):
            if self._order is None:
                self._order = {e: i for i, e in enumerate(self._sel.root.iter())}
            found = {e for m in matches for e in self._elements(m.group(1), m.group(2), within)}
            return _IndexedList(
                (Selector(root=e, type="html") for e in sorted(found, key=self._order.__getitem__)), card=self
            )
        if None in attributes or len({m.group(1, 2) for m in matches}) != 1:
            return None
        wanted = set(attributes)
        return SelectorList(
            Selector(root=v, type="html")
            for e in self._elements(*matches[0].group(1, 2), within)
            for k, v in e.attrib.items()
            if k in wanted
        )

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
