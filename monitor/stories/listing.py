"""What ``monitor stories`` shows, read from the state database (the same on both stores)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from monitor.state import StateDB, iso


def list_stories(
    state: StateDB, since: datetime | None, min_size: int = 1, limit: int = 50
) -> list[dict[str, Any]]:
    """Stories reported since ``since`` (their last report), biggest first."""
    rows = state.db.read(
        "SELECT s.story_id, s.size, s.first_at, s.last_at, s.related_seed_ids, "
        "first.title, first.title_en, "
        "group_concat(DISTINCT m.language) AS languages, "
        "group_concat(DISTINCT m.source) AS sources "
        "FROM stories s JOIN story_members m ON m.story_id = s.story_id "
        "LEFT JOIN story_members first ON first.article_id = s.story_id "
        "WHERE s.merged_into IS NULL AND s.last_at >= ? AND s.size >= ? "
        "GROUP BY s.story_id ORDER BY s.size DESC, s.last_at DESC, s.story_id LIMIT ?",
        (iso(since) if since else "", min_size, limit),
    )
    return [_story(row) for row in rows]


def story_detail(state: StateDB, story_id: str) -> dict[str, Any] | None:
    """One story with its members, oldest first; a merged story's id leads to the
    story it was merged into."""
    rows = state.db.read("SELECT * FROM stories WHERE story_id = ?", (story_id,))
    if not rows:
        return None
    if rows[0]["merged_into"]:
        return story_detail(state, rows[0]["merged_into"])
    members = state.db.read(
        "SELECT article_id, language, source, title, title_en, url, added_at "
        "FROM story_members WHERE story_id = ? ORDER BY added_at, article_id",
        (story_id,),
    )
    row = rows[0]
    return {
        "story_id": story_id,
        "size": row["size"],
        "first_at": row["first_at"],
        "last_at": row["last_at"],
        "related_seed_ids": json.loads(row["related_seed_ids"]),
        "members": [dict(m) for m in members],
    }


def _story(row) -> dict[str, Any]:
    return {
        "story_id": row["story_id"],
        "size": row["size"],
        "languages": sorted((row["languages"] or "").split(",")),
        "sources": sorted((row["sources"] or "").split(",")),
        "first_at": row["first_at"],
        "last_at": row["last_at"],
        "title": row["title"] or "",
        "title_en": row["title_en"] or "",
        "related_seed_ids": json.loads(row["related_seed_ids"]),
    }
