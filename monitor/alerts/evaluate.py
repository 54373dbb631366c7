"""Alert rules matched against one document, with the meaning Elasticsearch's percolator
gives the same rule (``monitor.alerts.percolate``); used with the embedded store.

Text fields are analyzed by the Python twin of the percolator's analyzer, once per
document for all rules. A term matches a token of a field; a phrase matches tokens of
one field at positions Lucene's sloppy phrase accepts: with the i-th query token at
document position p_i, the spread max(p_i - i) - min(p_i - i) is at most the slop,
each token at a position of its own. So ``"a b"~1`` allows one word between, and a
swap (``b a``) needs ``~2``. Keyword fields match their whole value, case-sensitively.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Mapping
from typing import Any

from monitor.alerts.lucene import KEYWORD_FIELDS, TEXT_FIELDS, Bool, Leaf, Node, Phrase, Wildcard
from monitor.alerts.percolate import analyze, normalize_pattern

# Lucene's gap between the values of a multi-valued field, so no phrase spans two.
_POSITION_GAP = 100


class Document:
    """A document prepared for matching: each text field is analyzed once, on first use,
    and then serves every rule. Missing fields are empty."""

    def __init__(self, doc: Mapping[str, Any]):
        self.doc = doc
        self._positions: dict[str, dict[str, list[int]]] = {}

    def positions(self, field: str) -> dict[str, list[int]]:
        """Each token of a text field and its positions, in increasing order."""
        if field not in self._positions:
            index: dict[str, list[int]] = {}
            position = -1
            for value in _values(self.doc.get(field)):
                if position >= 0:
                    position += _POSITION_GAP
                for token in analyze(value):
                    position += 1
                    index.setdefault(token, []).append(position)
            self._positions[field] = index
        return self._positions[field]

    def keywords(self, field: str) -> list[str]:
        """The values of a keyword field."""
        return _values(self.doc.get(field))


def _values(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(item) for item in value if item is not None]
    return [str(value)]


def matches(node: Node, doc: Mapping[str, Any] | Document) -> list[str] | None:
    """None if the rule does not match the document; else the labels of the terms,
    phrases and wildcards of positive clauses that matched, in query order, each once.
    Keyword clauses (``lang:ru``) filter but are not listed: they are not found words."""
    document = doc if isinstance(doc, Document) else Document(doc)
    found = _match(node, document)
    if found is None:
        return None
    leaves = sorted(found, key=lambda leaf: leaf.position)
    return list(dict.fromkeys(_label(leaf) for leaf in leaves))


def _label(leaf: Leaf) -> str:
    """A term or phrase as written, escapes resolved; a wildcard as its pattern."""
    return leaf.pattern if isinstance(leaf, Wildcard) else leaf.text


def _match(node: Node, doc: Document) -> list[Leaf] | None:
    """The leaves that matched, or None; every clause is evaluated so that all matched
    optional terms are reported."""
    if not isinstance(node, Bool):
        if not _leaf_matches(node, doc):
            return None
        return [] if node.field in KEYWORD_FIELDS else [node]
    found: list[Leaf] = []
    for child in node.must:
        result = _match(child, doc)
        if result is None:
            return None
        found += result
    if any(_match(child, doc) is not None for child in node.must_not):
        return None
    optional = [result for child in node.should if (result := _match(child, doc)) is not None]
    if node.should and not node.must and not optional:
        return None
    return found + [leaf for result in optional for leaf in result]


def _leaf_matches(leaf: Leaf, doc: Document) -> bool:
    if leaf.field in KEYWORD_FIELDS:
        values = doc.keywords(leaf.field)
        if isinstance(leaf, Wildcard):
            pattern = _wildcard_regex(leaf.pattern)
            return any(pattern.fullmatch(value) for value in values)
        return leaf.text in values
    fields = (leaf.field,) if leaf.field else TEXT_FIELDS
    if isinstance(leaf, Wildcard):
        pattern = _wildcard_regex(normalize_pattern(leaf.pattern))
        return any(pattern.fullmatch(token) for field in fields for token in doc.positions(field))
    tokens = analyze(leaf.text)
    slop = leaf.slop if isinstance(leaf, Phrase) else 0
    return bool(tokens) and any(_near(doc.positions(field), tokens, slop) for field in fields)


@functools.lru_cache(maxsize=4096)
def _wildcard_regex(pattern: str) -> re.Pattern[str]:
    """Elasticsearch's wildcard syntax as a regex: * any run, ? one character, and a
    backslash escapes the next character."""
    parts = []
    for escaped, char in re.findall(r"(\\)?(.)", pattern, re.S):
        if escaped or char not in "*?":
            parts.append(re.escape(char))
        else:
            parts.append(".*" if char == "*" else ".")
    return re.compile("".join(parts), re.S)


def _near(positions: Mapping[str, list[int]], tokens: list[str], slop: int) -> bool:
    """Whether the tokens occur within ``slop`` of a phrase (slop 0: the exact phrase)."""
    lists = [positions.get(token, []) for token in tokens]
    if not all(lists):
        return False
    # Try each offset p - i as the lowest one of a match: every token then needs a
    # position in [low + i, low + slop + i].
    for low in sorted({p - i for i, found in enumerate(lists) for p in found}):
        choices = [
            found[bisect.bisect_left(found, low + i) : bisect.bisect_right(found, low + slop + i)]
            for i, found in enumerate(lists)
        ]
        if all(choices) and _distinct(choices, frozenset()):
            return True
    return False


def _distinct(choices: list[list[int]], used: frozenset[int]) -> bool:
    # A token repeated in the phrase ("a a") needs two different positions.
    if not choices:
        return True
    return any(_distinct(choices[1:], used | {p}) for p in choices[0] if p not in used)
