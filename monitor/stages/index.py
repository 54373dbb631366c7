"""index: write the article to the store, create-if-absent, then remember it as seen.

The store write comes first: if the process dies between the two, the next poll finds
the id unseen, the store says it exists, and the article is counted as a duplicate
and marked seen, never stored twice.
"""

from __future__ import annotations

from monitor.article import Article
from monitor.errors import DropArticle


def run(article: Article, ctx) -> None:
    """Store the article; an id the store already holds is a counted duplicate."""
    n = article.normalized
    created = ctx.store.add(article.document())
    ctx.state.mark_seen(n.article_id, n.content_hash, article.feed.feed_id, ctx.clock())
    if not created:
        raise DropArticle("duplicate_id", f"{n.article_id} already in the store")
    article.stored = True
