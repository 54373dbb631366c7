"""What parse checks before feedparser sees a body: its encoding, guessed from a sample,
and its XML entity declarations.

Entities. feedparser drops the declarations it finds unsafe (nested, external) from the
prolog before parsing, but keeps a big flat one, and when expat stops at its
amplification limit, feedparser's loose parser expands that entity with no limit at
all: a 112 KB feed declaring one 64 KiB entity referenced 16,384 times becomes 1 GiB of
text (measured: 823 MB resident for a quarter of that). And a declaration written so
that feedparser's prolog scan misses it reaches expat whole (billion laughs: 13 s and
180 MB before expat's limit stops it). So a feed that declares an external or
parameter entity, or one built from other entities, is refused, and the declared
entities' references may add at most ``max(ENTITY_BUDGET_BYTES, body size)`` bytes.
Short entities used a few times, as real feeds declare them (``&nbsp;``), pass.

Encoding. feedparser guesses an undeclared encoding with chardet over the whole body,
about 13 s a MiB for binary garbage; :func:`to_utf8` lets chardet see a sample.
"""

from __future__ import annotations

import re

import chardet
import feedparser.encodings

ENTITY_BUDGET_BYTES = 1024 * 1024  # text all entity references together may add
MAX_ENTITIES = 1000  # declarations in one feed: HTML's whole list is 253
CHARDET_SAMPLE_BYTES = 64 * 1024  # chardet's guess from 64 KiB is as good as from all

_DOCTYPE = b"<!DOCTYPE"
_ELEMENT = re.compile(rb"<\w")  # feedparser's own test for the start of the root element
# Inside a DOCTYPE: quoted strings and comments (which may hold "]" or ">"), brackets.
_DTD_TOKEN = re.compile(rb"\"[^\"]*\"|'[^']*'|<!--.*?-->|[\[\]>]|[^\"'\[\]<>]+|.", re.S)
_ENTITY = re.compile(
    rb"<!ENTITY\s+(%\s+)?([^\s\"'>]+)\s*(SYSTEM|PUBLIC)?\s*(?:\"([^\"]*)\"|'([^']*)')?"
)
# What an entity value may refer to: characters and the five predefined entities.
_HARMLESS_REF = re.compile(rb"&(?:#[0-9]+|#x[0-9a-fA-F]+|lt|gt|amp|apos|quot);")
_REF = re.compile(rb"&([A-Za-z_:][\w.:-]*)")


def to_utf8(body: bytes, headers: dict[str, str]) -> bytes:
    """The body in UTF-8 (declaration rewritten), decoded as feedparser would."""
    return feedparser.encodings.convert_to_utf8(headers, body, {})


def _sampled_chardet(data: bytes) -> str:
    # From the first non-ASCII byte: a long ASCII prolog says nothing about the text.
    first = re.search(rb"[\x80-\xff]", data)
    start = max(0, first.start() - 1024) if first else 0
    return chardet.detect(data[start : start + CHARDET_SAMPLE_BYTES])["encoding"] or ""


if getattr(feedparser.encodings, "lazy_chardet_encoding", None) is not None:
    # Module-wide on purpose: feedparser reads this name when it guesses, and only
    # monitor's parse stage uses feedparser in this process.
    feedparser.encodings.lazy_chardet_encoding = _sampled_chardet


def entity_problem(text: bytes) -> str:
    """Why the entity declarations of ``text`` (UTF-8) are refused, or "" if they pass."""
    if b"<!ENTITY" not in text:
        return ""
    start = text.find(_DOCTYPE)
    element = _ELEMENT.search(text)
    if start < 0 or (element is not None and element.start() < start):
        return ""  # declarations outside a prolog DOCTYPE are inert (text, or an error)
    end = _doctype_end(text, start)
    declared: dict[bytes, int] = {}
    for n, match in enumerate(_ENTITY.finditer(text, start, end)):
        parameter, name, external, value = match[1], match[2], match[3], match[4] or match[5]
        label = name.decode("utf-8", "replace")[:40]
        if n >= MAX_ENTITIES:
            return f"more than {MAX_ENTITIES} XML entities declared"
        if parameter:
            return f"XML parameter entity %{label} declared"
        if external:
            return f"external XML entity '{label}' declared ({external.decode()}): not read"
        value = value or b""
        if b"&" in _HARMLESS_REF.sub(b"", value) or b"%" in value:
            return f"XML entity '{label}' is built from other entities (expansion bomb)"
        declared[name] = len(value)
    return _expansion_problem(text, end, declared)


def _doctype_end(text: bytes, start: int) -> int:
    depth = 0
    for token in _DTD_TOKEN.finditer(text, start + len(_DOCTYPE)):
        mark = token[0]
        if mark == b"[":
            depth += 1
        elif mark == b"]":
            depth -= 1
        elif mark == b">" and depth <= 0:
            return token.end()
    return len(text)


def _expansion_problem(text: bytes, end: int, declared: dict[bytes, int]) -> str:
    # Both expat ("&a;") and feedparser's loose parser ("&a" then any non-name byte)
    # expand a reference, so every "&name" counts.
    budget = max(ENTITY_BUDGET_BYTES, len(text))
    added = 0
    for ref in _REF.finditer(text, end):
        size = declared.get(ref[1])
        if size:
            added += size
            if added > budget:
                name = ref[1].decode("utf-8", "replace")[:40]
                return (
                    f"XML entity references would add over {budget} bytes "
                    f"('{name}' is {size} bytes; expansion bomb)"
                )
    return ""
