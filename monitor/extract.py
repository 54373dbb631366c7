"""The main text of a news page, with trafilatura.

Pure CPU and picklable in and out, so it runs in the parser processes. trafilatura reads
the page's own encoding (meta charset) from the bytes and works in any script; we ask
for precision over recall, because clutter in the text (menus, comments, "read also")
would reach search, translation and alerts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from monitor.text import clean_whitespace

# trafilatura logs every page it finds nothing in; our poll line says it already.
logging.getLogger("trafilatura").setLevel(logging.ERROR)
logging.getLogger("htmldate").setLevel(logging.ERROR)


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
        body,
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
    text = clean_whitespace(data.get("text") or "")
    if not text:
        return None
    return PageText(
        text=text[:max_chars],
        chars=len(text),
        truncated=len(text) > max_chars,
        author=(data.get("author") or "").strip(),
        published=_date(data.get("date")),
    )


def _date(value) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    # A date without a time (the common case) means the day; without a zone, UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
