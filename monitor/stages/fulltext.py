"""fulltext: fetch a new article's page and keep its main text, when the feed asks.

Runs after the article is prepared and before it is kept, only for feeds with
``full_text`` on, and never for an article already stored (no page fetch for a
re-poll). Politeness is shared with feed polling: the same per-host gates (concurrency
and minimum interval), byte cap, timeouts and User-Agent, plus robots.txt. The result is
never worse than the feed: when the page fails, is empty, or gives less text than the
feed did (a paywall), the feed's text stays and the reason is recorded, so that
``monitor fulltext --retry-failed`` can try again.
"""

from __future__ import annotations

from monitor.article import Article, FullText
from monitor.errors import RetryLater
from monitor.extract import PageText, extract_page
from monitor.robots import Robots
from monitor.stages import detect_language
from monitor.stages.fetch import PAGE_ACCEPT, Fetcher, FetchError
from monitor.text import one_line

# Statuses worth another try later; the rest (robots, paywall, not a page) are final.
RETRYABLE = ("fetch_", "robots_unreachable", "empty_extraction", "extractor_failed")
HTML_TYPES = ("text/html", "application/xhtml+xml")


class Pages:
    """Article pages, fetched politely and reduced to their main text."""

    def __init__(self, fetcher: Fetcher, settings, cpu):
        self.fetcher = fetcher
        self.robots = Robots(fetcher, settings.robots_cache_minutes)
        self.max_chars = settings.full_text_max_chars
        self.cpu = cpu

    def text_of(self, url: str) -> tuple[PageText | None, str]:
        """(page text, "ok") or (None, why not)."""
        if not url.startswith(("http://", "https://")):
            return None, "no_url"
        allowed, reason = self.robots.allowed(url)
        if not allowed:
            return None, reason
        try:
            result = self.fetcher.fetch(url, accept=PAGE_ACCEPT)
        except FetchError as exc:
            if exc.kind == "aborted":
                raise RetryLater("shutting_down", url) from None
            return None, f"fetch_{exc.kind}" + (f"_{exc.status}" if exc.status else "")
        ctype = result.headers.get("content-type", "text/html").split(";")[0].strip().lower()
        if ctype not in HTML_TYPES:
            return None, f"not_html ({ctype})"
        try:
            page = self.cpu.run(extract_page, result.body, result.url, self.max_chars)
        except Exception as exc:  # noqa: BLE001 - a bad page must not cost the article
            return None, f"extractor_failed ({type(exc).__name__})"
        return (page, "ok") if page else (None, "empty_extraction")


def run(article: Article, ctx) -> None:
    """Replace the feed's text by the page's when the feed asks and the page is better."""
    n = article.normalized
    feed_text = n.text
    if not article.feed.full_text:
        article.fulltext = FullText("feed", "off", feed_text)
        return
    if ctx.pages is None:
        article.fulltext = FullText("feed", "no_page_fetcher", feed_text)
        return
    if ctx.state.seen(n.article_id, n.content_hash):
        return  # dedupe drops it next: no page fetch for an article already kept
    if ctx.stop.is_set():
        raise RetryLater("shutting_down", n.url)
    use_page(article, ctx, *ctx.pages.text_of(n.url))


def use_page(article: Article, ctx, page: PageText | None, status: str) -> None:
    """Record the page's outcome on the article; re-judge the language on page text."""
    article.fulltext = apply_page(article, page, status)
    if article.fulltext.source == "page":
        detect_language.run(article, ctx)  # far more text than the summary it was judged on


def apply_page(article: Article, page: PageText | None, status: str) -> FullText:
    """Put the page's text (and author, date) on the article if it beats the feed's."""
    n = article.normalized
    feed_text = article.fulltext.summary if article.fulltext else n.text
    if page is None:
        return FullText("feed", status, feed_text)
    text = _without_title(page.text, n.title)
    if len(text) <= len(feed_text):
        return FullText("feed", "shorter_than_feed", feed_text, page.chars)
    n.text = text
    if page.author and not n.author:
        n.author = page.author
    if page.published and n.published_source.startswith("fetched"):
        n.published, n.published_source = page.published, "page"
    return FullText("page", "ok", feed_text, page.chars, page.truncated)


def _without_title(text: str, title: str) -> str:
    """Page text without a first line that only repeats the headline."""
    first, _, rest = text.partition("\n")
    return rest.strip() if one_line(first).casefold() == one_line(title).casefold() else text
