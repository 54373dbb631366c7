"""dedupe (exact): an article whose id or content hash was kept before ends here.

The seen-ids and hashes live in the state database, so this holds whatever the store.
Near-duplicates and the same story in other languages are the clustering stage's job.
"""

from __future__ import annotations

from monitor.article import Article
from monitor.errors import DropArticle


def run(article: Article, ctx) -> None:
    """Drop the article if its id or content was seen; counted by the pipeline."""
    n = article.normalized
    seen = ctx.state.seen(n.article_id, n.content_hash)
    if seen == "id":
        raise DropArticle("duplicate_id", n.article_id)
    if seen == "content":
        raise DropArticle("duplicate_content", n.content_hash)
