"""The one typed record the stages exchange.

An ``Article`` has a section per stage; a stage writes only its own section, so the
provenance of every field stays visible (a date "came from the feed" or "is the
fetch time"). Stages never see HTTP responses or database rows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from monitor.stages.translate import WAITING, initial_fields


@dataclass(frozen=True)
class FeedRef:
    """Which feed an article came from (set by the pipeline)."""

    feed_id: str
    name: str
    url: str
    language: str
    country: str = ""
    full_text: bool = False  # fetch the article page (feed setting or the global default)


@dataclass
class Entry:
    """What the parse stage read from one feed entry, untouched."""

    guid: str = ""
    link: str = ""
    title: str = ""  # may hold HTML
    summary: str = ""  # may hold HTML
    content: str = ""  # may hold HTML (the longest content block)
    author: str = ""
    published: datetime | None = None  # UTC, as feedparser understood it
    updated: datetime | None = None
    base_url: str = ""  # the URL the feed was finally fetched from
    feed_language: str = ""  # the feed's own <language> / xml:lang, if any


@dataclass
class Normalized:
    """Written by the normalize stage."""

    article_id: str
    id_source: str  # "url" | "guid" | "title_date"
    url: str  # canonical URL ("" when the entry had no link)
    title: str
    text: str
    published: datetime
    published_source: str  # "feed" | "fetched" (no date) | "fetched_future" (date was ahead)
    content_hash: str
    author: str = ""


@dataclass
class LanguageResult:
    """Written by the detect_language stage."""

    code: str  # the language the article is kept under
    method: str  # "script" | "detector" | "declared"
    declared: str  # the feed's declared language
    detected: str | None  # what the text says, None when too short to tell
    confidence: float | None = None

    @property
    def mismatch(self) -> bool:
        """True when the text disagrees with the feed's declared language."""
        return self.detected is not None and self.detected != self.declared


@dataclass
class FullText:
    """Written by the fulltext stage: where ``normalized.text`` came from."""

    source: str  # "feed" | "page"
    status: str  # "ok", "off", or why the page was not used ("robots_disallowed", ...)
    summary: str  # the feed's own text, kept beside the page's
    page_chars: int = 0  # length of the extracted text before the cap
    truncated: bool = False


@dataclass
class Article:
    """One feed entry on its way through the pipeline."""

    feed: FeedRef
    entry: Entry
    fetched_at: datetime
    normalized: Normalized | None = None
    language: LanguageResult | None = None
    fulltext: FullText | None = None
    story: Any = None  # stories.clusterer.StoryRef, written by the cluster stage
    stored: bool = False
    notes: dict[str, Any] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        """The flat document a store keeps (kind ``article``)."""
        n, lang = self.normalized, self.language
        assert n is not None and lang is not None, "document() before normalize/detect"
        return {
            "id": n.article_id,
            "kind": "article",
            "url": n.url,
            "title": n.title,
            "text": n.text,
            "author": n.author,
            "language": lang.code,
            "language_declared": lang.declared,
            "language_detected": lang.detected,
            "language_method": lang.method,
            "language_mismatch": lang.mismatch,
            "source": self.feed.name,
            "feed_id": self.feed.feed_id,
            "country": self.feed.country,
            "published": n.published.isoformat(timespec="seconds"),
            "published_source": n.published_source,
            "fetched_at": self.fetched_at.isoformat(timespec="seconds"),
            "content_hash": n.content_hash,
            "id_source": n.id_source,
            **self._fulltext_fields(),
            **initial_fields(
                lang.code, n.title, n.text, self.notes.get("translation_reason", WAITING)
            ),
            **(self.story.fields() if self.story else {}),
        }

    def _fulltext_fields(self) -> dict[str, Any]:
        full = self.fulltext or FullText("feed", "off", self.normalized.text)
        fields = {
            "summary": full.summary,
            "text_source": full.source,
            "fulltext_status": full.status,
        }
        if full.truncated:
            fields["page_chars"] = full.page_chars
        return fields

    def to_payload(self) -> dict[str, Any]:
        """What quarantine keeps to replay this article: its feed and raw entry."""
        entry = asdict(self.entry)
        for key in ("published", "updated"):
            entry[key] = entry[key].isoformat() if entry[key] else None
        return {
            "feed": asdict(self.feed),
            "entry": entry,
            "fetched_at": self.fetched_at.isoformat(),
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Article:
        """Rebuild an article from ``to_payload`` output (quarantine replay)."""
        entry = dict(payload["entry"])
        for key in ("published", "updated"):
            entry[key] = datetime.fromisoformat(entry[key]) if entry[key] else None
        return cls(
            feed=FeedRef(**payload["feed"]),
            entry=Entry(**entry),
            fetched_at=datetime.fromisoformat(payload["fetched_at"]),
        )

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> Article:
        """Rebuild a stored article from its document (to fetch its page again)."""
        published = datetime.fromisoformat(doc["published"])
        feed = FeedRef(
            doc.get("feed_id", ""),
            doc.get("source", ""),
            "",
            doc.get("language_declared") or doc["language"],
            doc.get("country", ""),
            True,
        )
        article = cls(
            feed=feed,
            entry=Entry(link=doc.get("url", "")),
            fetched_at=datetime.fromisoformat(doc.get("fetched_at") or doc["published"]),
        )
        article.normalized = Normalized(
            article_id=doc["id"],
            id_source=doc.get("id_source", "url"),
            url=doc.get("url", ""),
            title=doc["title"],
            text=doc.get("summary") or doc["text"],
            published=published,
            published_source=doc.get("published_source", "feed"),
            content_hash=doc.get("content_hash", ""),
            author=doc.get("author", ""),
        )
        article.language = LanguageResult(
            doc["language"],
            doc.get("language_method", "declared"),
            doc.get("language_declared") or doc["language"],
            doc.get("language_detected"),
        )
        article.fulltext = FullText(
            doc.get("text_source", "feed"),
            doc.get("fulltext_status", "off"),
            doc.get("summary") or doc["text"],
        )
        return article
