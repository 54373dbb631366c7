"""The main text of a news page, with trafilatura.

Pure CPU and picklable in and out, so it runs in the parser processes. trafilatura reads
the page's own encoding (meta charset) from the bytes and works in any script; we ask
for precision over recall, because clutter in the text (menus, comments, "read also")
would reach search, translation and alerts.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from monitor.text import clean_whitespace

# trafilatura logs every page it finds nothing in; our poll line says it already.
logging.getLogger("trafilatura").setLevel(logging.ERROR)
logging.getLogger("htmldate").setLevel(logging.ERROR)


# trafilatura drops every character that is not printable, and with it the zero-width
# non-joiner that Persian writes inside words (می‌خواهد): the word halves would glue
# together and no longer match the same word in a feed. It travels as a printable
# marker that Persian news does not use, and comes back after extraction.
ZWNJ = "\u200c"
ZWNJ_MARK = "\u2042"
_ZWNJ_FORMS = re.compile("\u200c|&zwnj;|&#8204;|&#x200[cC];")


@dataclass
class PageText:
    """What a page gave: its text (capped) and what it says about itself."""

    text: str
    chars: int  # length before the cap
    truncated: bool
    author: str = ""
    published: datetime | None = None


def extract_page(body: bytes, url: str, max_chars: int) -> PageText | None:
    """The main text of an HTML page, or None when there is none."""
    import trafilatura

    doc = trafilatura.bare_extraction(
        _protect_zwnj(body),
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        favor_precision=True,
        date_extraction_params={"extensive_search": False, "outputformat": "%Y-%m-%dT%H:%M:%S%z"},
    )
    if doc is None:
        return None
    data = doc.as_dict() if hasattr(doc, "as_dict") else dict(doc)
    text = clean_whitespace((data.get("text") or "").replace(ZWNJ_MARK, ZWNJ))
    if not text:
        return None
    return PageText(
        text=text[:max_chars],
        chars=len(text),
        truncated=len(text) > max_chars,
        author=(data.get("author") or "").strip(),
        published=_date(data.get("date")),
    )


def _protect_zwnj(body: bytes) -> bytes | str:
    """The page as text with every ZWNJ replaced by the marker (UTF-8 pages only)."""
    if (
        b"\xe2\x80\x8c" not in body
        and b"zwnj" not in body
        and b"#8204" not in body
        and b"#x200" not in body
    ):
        return body
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return body
    return _ZWNJ_FORMS.sub(ZWNJ_MARK, text)


def _date(value) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    # A date without a time (the common case) means the day; without a zone, UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
