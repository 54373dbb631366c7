"""alert: queue the stored article for matching against the alert rules.

Runs last, inside the feed's transaction, so an article is kept if and only if it is
queued; ``monitor.alerts.matching`` matches the queue after the commit. Without rules
(no alerts file) it does nothing.
"""

from __future__ import annotations

from monitor.article import Article


def run(article: Article, ctx) -> None:
    """Queue the article's document (with its story) for the rules."""
    if getattr(ctx, "alerts", None) is not None:
        ctx.alerts.enqueue([article.document()], ctx.clock())
