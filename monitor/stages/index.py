"""index: write the article to the store, create-if-absent, then remember it as seen.

The store commits before the state database (the pipeline opens the state's
transaction first, so it closes last). A process that dies between the two commits
leaves the article in the store but unseen, with no story and no alert queued: the
next poll finds the id unseen, the store says it exists, and the article is finished
here (marked seen, its story written, the alert stage after this one queues it),
never stored twice.
"""

from __future__ import annotations

import logging

from monitor.article import Article

log = logging.getLogger("monitor.pipeline")


def run(article: Article, ctx) -> None:
    """Store the article and remember it as seen."""
    n = article.normalized
    created = ctx.store.add(article.document())
    ctx.state.mark_seen(n.article_id, n.content_hash, article.feed.feed_id, ctx.clock())
    if not created:
        # Unseen (dedupe ran) yet stored: kept by a run that died before the state's
        # commit. Its story fields are that run's, rolled back since: write this one's.
        if article.story is not None:
            ctx.store.update(n.article_id, article.story.fields())
        log.info("article_recovered", extra={"article_id": n.article_id})
    article.stored = True
