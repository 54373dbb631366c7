"""normalize: canonical URL, plain text, UTC dates, a stable article id.

The article id is a hash of the canonical URL, so the same article reached through a
tracking link, another letter case of the host, or a fragment is one article. Without
a link the id comes from the GUID, and without that from the title and date.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urljoin

from monitor.article import Article, Normalized
from monitor.errors import DropArticle
from monitor.text import content_hash, html_to_text, one_line, stable_hash
from monitor.urls import canonical_url

UNTITLED_CHARS = 120  # a title made from text is cut here, about one headline


def run(article: Article, ctx) -> None:
    """Fill ``article.normalized``; drops an entry with neither title nor text."""
    entry = article.entry
    link = entry.link or (entry.guid if entry.guid.startswith(("http://", "https://")) else "")
    url = canonical_url(urljoin(entry.base_url or article.feed.url, link)) if link else ""
    title = one_line(html_to_text(entry.title))
    body = entry.content if len(entry.content) > len(entry.summary) else entry.summary
    text = html_to_text(body)
    if not title and not text:
        raise DropArticle("empty", "entry has neither title nor text")
    if not title:
        title = one_line(text)[:UNTITLED_CHARS]
    published, published_source = _published(article, ctx.settings)
    article_id, id_source = article_id_for(url, entry.guid, article.feed.url, title, published)
    article.normalized = Normalized(
        article_id=article_id,
        id_source=id_source,
        url=url,
        title=title,
        text=text,
        published=published,
        published_source=published_source,
        content_hash=content_hash(title, text),
        author=one_line(html_to_text(entry.author)),
    )


def article_id_for(url: str, guid: str, feed_url: str, title: str, published) -> tuple[str, str]:
    """The stable id and what it was made from: ``url``, ``guid`` or ``title_date``."""
    if url:
        return stable_hash("url", url), "url"
    if guid:
        return stable_hash("guid", feed_url, guid), "guid"
    return stable_hash("title", feed_url, title, published.isoformat()), "title_date"


def _published(article: Article, settings):
    date = article.entry.published or article.entry.updated
    if date is None:
        return article.fetched_at, "fetched"
    tolerance = timedelta(minutes=settings.future_date_tolerance_minutes)
    if date > article.fetched_at + tolerance:
        return article.fetched_at, "fetched_future"
    return date, "feed"
