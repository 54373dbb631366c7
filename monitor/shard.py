"""Scale-out: N daemons share the feed list by a stable hash of each feed's id.

A feed's id is the SHA-256 of its URL (``monitor.feeds``), so the same feed lands in
the same shard on every machine and after every restart, whatever the order of the
feeds file; adding a feed moves no other feed.
"""

from __future__ import annotations


def parse(shard: str) -> tuple[int, int] | None:
    """``"2/3"`` → ``(2, 3)``; empty → None (every feed). Settings validated the form."""
    if not shard:
        return None
    index, count = (int(part) for part in shard.split("/"))
    return index, count


def shard_of(feed_id: str, count: int) -> int:
    """The shard (1 to ``count``) that polls this feed."""
    return int(feed_id[:16], 16) % count + 1


def select(feeds: list, shard: str) -> list:
    """The feeds of this shard, in their order."""
    parsed = parse(shard)
    if parsed is None:
        return list(feeds)
    index, count = parsed
    return [feed for feed in feeds if shard_of(feed.feed_id, count) == index]
