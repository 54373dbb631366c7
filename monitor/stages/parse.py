"""parse: feed bytes to entries, with feedparser.

The bytes go in with the response headers, so a charset declared only in the HTTP
``Content-Type`` decodes right; ``chardet`` (a dependency) lets feedparser guess an
encoding declared nowhere, such as windows-1251 Russian (from a sample: see
``xml_guard``). A malformed feed keeps what feedparser could recover; a body with no
entries and broken XML (binary garbage, even after an XML declaration), or with XML
entity declarations that could blow up (``xml_guard``), is a failure.
"""

from __future__ import annotations

import calendar
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime

import feedparser

from monitor.article import Entry
from monitor.stages import xml_guard

# The feed element names feedparser uses for an entry's dates.
_DATE_KEYS = ("published_parsed", "updated_parsed", "created_parsed")


@dataclass
class ParsedFeed:
    """Entries of one feed body and what the feed said about itself."""

    entries: list[Entry] = field(default_factory=list)
    title: str = ""
    language: str = ""
    ttl_minutes: float | None = None
    bozo: str = ""  # feedparser's complaint about the XML, if any
    version: str = ""
    truncated: int = 0  # entries beyond max_entries, not read


class MalformedFeed(Exception):
    """The body is not a feed at all (no entries and broken or no XML)."""


def parse(body: bytes, headers: dict[str, str], url: str, max_entries: int) -> ParsedFeed:
    """Parse a feed body; raises MalformedFeed when nothing usable is in it."""
    if not body.strip():
        raise MalformedFeed("empty body")
    response_headers = {k.lower(): v for k, v in headers.items()}
    # feedparser resolves relative links against Content-Location.
    response_headers.setdefault("content-location", url)
    # Decoded here, once, so that the entity check reads what the parsers will read
    # (a declaration can hide in any encoding); feedparser then finds UTF-8 as declared.
    text = xml_guard.to_utf8(body, response_headers)
    problem = xml_guard.entity_problem(text)
    if problem:
        raise MalformedFeed(f"refused: {problem}")
    response_headers["content-type"] = "application/xml; charset=utf-8"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = feedparser.parse(
            text,
            response_headers=response_headers,
            sanitize_html=False,
            # Links inside HTML content do not matter (we keep plain text), and resolving
            # them costs a tenth of the parse; entry links are joined in normalize.
            resolve_relative_uris=False,
        )
    bozo = _complaint(parsed)
    if not parsed.entries and (bozo or not parsed.get("version")):
        # An empty feed is fine when its XML is: broken XML with nothing in it is not a
        # feed, whatever root element its first bytes named.
        raise MalformedFeed(f"no entries and broken XML: {bozo}" if bozo else "no feed elements")
    meta = parsed.feed
    out = ParsedFeed(
        title=str(meta.get("title", "")),
        language=str(meta.get("language", "")),
        ttl_minutes=_number(meta.get("ttl")),
        bozo=bozo,
        version=str(parsed.get("version", "")),
        truncated=max(0, len(parsed.entries) - max_entries),
    )
    for raw in parsed.entries[:max_entries]:
        out.entries.append(_entry(raw, url, out.language))
    return out


def _complaint(parsed) -> str:
    """feedparser's complaint about the XML; an encoding it had to guess is not one."""
    exc = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if exc is None or isinstance(
        exc, feedparser.CharacterEncodingOverride | feedparser.NonXMLContentType
    ):
        return ""
    return str(exc) or type(exc).__name__


def _entry(raw, base_url: str, feed_language: str) -> Entry:
    # dict.get, not FeedParserDict.get: these are feedparser's own canonical keys, and its
    # alias lookup ("guid" for "id", ...) costs more than the rest of this function.
    def text(key: str) -> str:
        return str(dict.get(raw, key) or "")

    contents = dict.get(raw, "content") or []
    content = max((dict.get(c, "value") or "" for c in contents), key=len, default="")
    title_detail = dict.get(raw, "title_detail") or {}
    return Entry(
        guid=text("id"),
        link=text("link"),
        title=text("title"),
        summary=text("summary"),
        content=content,
        author=text("author"),
        published=_date(raw, "published_parsed") or _date(raw, "created_parsed"),
        updated=_date(raw, "updated_parsed"),
        base_url=base_url,
        feed_language=str(dict.get(title_detail, "language") or feed_language or ""),
    )


def _date(raw, key: str) -> datetime | None:
    # dict.get, not FeedParserDict.get: the latter maps a missing published_parsed to
    # updated_parsed (deprecated), and we keep the two apart ourselves.
    value = dict.get(raw, key)
    if not value:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _number(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None
