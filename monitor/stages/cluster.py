"""cluster: put the article in a story (near-copies and the same news in other languages).

Runs after exact dedupe and before index, inside the feed's transaction, so the
document is created with its ``story_id`` and the story's size, and the other members'
new size is written in the same transaction. ``monitor.stories.clusterer`` decides.
"""

from __future__ import annotations

from monitor.article import Article


def run(article: Article, ctx) -> None:
    """Assign the article's story; update the story's other members in the store."""
    ref, updates = ctx.stories.assign(article.document(), ctx.clock())
    article.story = ref
    for doc_id, fields in updates:
        ctx.store.update(doc_id, fields)
