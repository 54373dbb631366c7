"""The state database: per-feed state, seen ids and hashes, counters, quarantine.

It lives in the data folder beside the store. The seen-ids are kept here, not only in
the store, so exact dedupe does not depend on which store is configured (an index that
rolls over cannot enforce ``_id`` uniqueness across indices).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitor.db import Database

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE feed_state (
    feed_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    url TEXT NOT NULL,
    etag TEXT,
    last_modified TEXT,
    body_hash TEXT,
    last_polled_at TEXT,
    last_success_at TEXT,
    last_new_at TEXT,
    last_status INTEGER,
    last_outcome TEXT,
    last_error TEXT,
    failure_class TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    next_poll_at TEXT,
    disabled_reason TEXT,
    interval_factor REAL NOT NULL DEFAULT 1.0,
    polls INTEGER NOT NULL DEFAULT 0,
    polls_nothing_new INTEGER NOT NULL DEFAULT 0,
    polls_since_revalidate INTEGER NOT NULL DEFAULT 0,
    items_seen INTEGER NOT NULL DEFAULT 0,
    items_new INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE seen (
    article_id TEXT PRIMARY KEY,
    content_hash TEXT NOT NULL,
    feed_id TEXT,
    first_seen_at TEXT NOT NULL
);
CREATE INDEX seen_content_hash ON seen (content_hash);
CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE translation_cache (
    key TEXT PRIMARY KEY,
    translation TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE quarantine (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    feed_id TEXT,
    article_id TEXT,
    stage TEXT NOT NULL,
    error TEXT NOT NULL,
    payload TEXT NOT NULL,
    replayed_at TEXT
);
"""
# Version 2: the outbox of writes to Elasticsearch that were not acknowledged yet
# (monitor.store.outbox). ``claimed_at`` marks rows a sender is sending now.
OUTBOX = """
CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    op TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    body TEXT NOT NULL,
    queued_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    claimed_at TEXT,
    rejected_at TEXT
);
CREATE INDEX outbox_doc ON outbox (doc_id);
"""
# Version 3: stories (monitor.stories). Every clustered article is a member of one story;
# ``signatures`` holds the MinHash of each member's text per space (``orig:<lang>`` for
# the original, ``en`` for English) while it is inside the story window; ``seq`` lets a
# process load only the signatures other processes added since it last looked.
STORIES = """
CREATE TABLE stories (
    story_id TEXT PRIMARY KEY,
    first_at TEXT NOT NULL,
    last_at TEXT NOT NULL,
    size INTEGER NOT NULL,
    related_seed_ids TEXT NOT NULL DEFAULT '[]',
    merged_into TEXT
);
CREATE INDEX stories_last ON stories (last_at);
CREATE TABLE story_members (
    article_id TEXT PRIMARY KEY,
    story_id TEXT NOT NULL,
    language TEXT NOT NULL,
    source TEXT NOT NULL,
    title TEXT NOT NULL,
    title_en TEXT NOT NULL DEFAULT '',
    url TEXT NOT NULL DEFAULT '',
    added_at TEXT NOT NULL
);
CREATE INDEX story_members_story ON story_members (story_id);
CREATE TABLE signatures (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    article_id TEXT NOT NULL,
    space TEXT NOT NULL,
    language TEXT NOT NULL,
    hashes BLOB NOT NULL,
    added_at TEXT NOT NULL,
    UNIQUE (article_id, space)
);
CREATE INDEX signatures_added ON signatures (added_at);
"""
# Version 4: alerts (monitor.alerts). ``alert_queue`` holds documents waiting to be
# matched against the rules (written in the transaction that keeps or translates them,
# with the fields the rules read: a remote store may not show a new document yet);
# ``alerts`` holds each alert once (``key`` is its idempotency key) and
# ``alert_deliveries`` its delivery to each channel.
ALERTS = """
CREATE TABLE alert_queue (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    article_id TEXT NOT NULL,
    doc TEXT NOT NULL,
    queued_at TEXT NOT NULL
);
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    rule TEXT NOT NULL,
    story_id TEXT NOT NULL,
    article_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX alerts_rule_story ON alerts (rule, story_id, created_at);
CREATE TABLE alert_deliveries (
    alert_id INTEGER NOT NULL REFERENCES alerts (id),
    channel TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error TEXT,
    sent_at TEXT,
    PRIMARY KEY (alert_id, channel)
);
CREATE INDEX alert_deliveries_due ON alert_deliveries (status, next_attempt_at);
"""
# Version 5, operations: ``monitor status`` counts each feed's articles of today from
# ``seen``, and the daemon drops translation-cache rows older than a month every day.
OPERATIONS = """
CREATE INDEX seen_first_seen ON seen (first_seen_at);
CREATE INDEX translation_cache_created ON translation_cache (created_at);
"""
MIGRATIONS = (SCHEMA, OUTBOX, STORIES, ALERTS, OPERATIONS)

FEED_STATE_FIELDS = [
    "etag",
    "last_modified",
    "body_hash",
    "last_polled_at",
    "last_success_at",
    "last_new_at",
    "last_status",
    "last_outcome",
    "last_error",
    "failure_class",
    "consecutive_failures",
    "next_poll_at",
    "disabled_reason",
    "interval_factor",
    "polls",
    "polls_nothing_new",
    "polls_since_revalidate",
    "items_seen",
    "items_new",
]


def iso(moment: datetime | None) -> str | None:
    """A UTC ISO-8601 string that sorts as text, or None."""
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else None


def parse_iso(text: str | None) -> datetime | None:
    """The inverse of ``iso``."""
    return datetime.fromisoformat(text) if text else None


class StateDB:
    """Per-feed state and bookkeeping, safe to use from many worker threads."""

    def __init__(self, path: Path):
        self.db = Database(path, MIGRATIONS)

    def close(self) -> None:
        """Close all connections."""
        self.db.close()

    # -- feeds -----------------------------------------------------------------------

    def feed_states(self) -> dict[str, dict[str, Any]]:
        """Every feed's stored state, keyed by feed id."""
        return {row["feed_id"]: dict(row) for row in self.db.read("SELECT * FROM feed_state")}

    def feed_state(self, feed_id: str) -> dict[str, Any] | None:
        """One feed's stored state, or None before its first poll."""
        rows = self.db.read("SELECT * FROM feed_state WHERE feed_id = ?", (feed_id,))
        return dict(rows[0]) if rows else None

    def save_poll(
        self, feed_id: str, name: str, url: str, fields: dict[str, Any], counters: dict[str, int]
    ) -> None:
        """Record one finished poll: the feed's new state and the counters, atomically."""
        unknown = set(fields) - set(FEED_STATE_FIELDS)
        if unknown:
            raise ValueError(f"unknown feed_state fields: {sorted(unknown)}")
        cols = ["feed_id", "name", "url", *fields]
        values = [feed_id, name, url, *fields.values()]
        updates = ", ".join(f"{c} = excluded.{c}" for c in cols[1:])
        sql = (
            f"INSERT INTO feed_state ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
            f"ON CONFLICT(feed_id) DO UPDATE SET {updates}"
        )
        with self.db.write() as tx:
            tx.execute(sql, values)
            _bump(tx, counters)

    def batch(self):
        """One transaction for every write inside the block."""
        return self.db.write()

    # -- seen ids ----------------------------------------------------------------------

    def seen(self, article_id: str, content_hash: str) -> str | None:
        """``"id"`` or ``"content"`` if this article was kept before, else None."""
        conn = self.db.connection()
        if conn.execute("SELECT 1 FROM seen WHERE article_id = ?", (article_id,)).fetchone():
            return "id"
        if conn.execute("SELECT 1 FROM seen WHERE content_hash = ?", (content_hash,)).fetchone():
            return "content"
        return None

    def mark_seen(self, article_id: str, content_hash: str, feed_id: str, now: datetime) -> None:
        """Remember an article as kept (idempotent)."""
        with self.db.write() as tx:
            tx.execute(
                "INSERT OR IGNORE INTO seen (article_id, content_hash, feed_id, first_seen_at) "
                "VALUES (?, ?, ?, ?)",
                (article_id, content_hash, feed_id, iso(now)),
            )

    # -- counters and meta ---------------------------------------------------------------

    def bump(self, counters: dict[str, int]) -> None:
        """Add to named counters."""
        with self.db.write() as tx:
            _bump(tx, counters)

    def counters(self) -> dict[str, int]:
        """All counters."""
        return {r["name"]: r["value"] for r in self.db.read("SELECT name, value FROM counters")}

    def get_meta(self, key: str) -> str | None:
        """A stored marker, such as when the seed corpus was loaded."""
        rows = self.db.read("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0]["value"] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        """Store a marker."""
        with self.db.write() as tx:
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # -- translation cache -----------------------------------------------------------------

    def cached_translations(self, keys: list[str]) -> dict[str, str]:
        """Cached English for those keys that have it."""
        out: dict[str, str] = {}
        conn = self.db.connection()
        for start in range(0, len(keys), 500):  # SQLite's bound-parameter limit
            part = keys[start : start + 500]
            marks = ", ".join("?" * len(part))
            rows = conn.execute(
                f"SELECT key, translation FROM translation_cache WHERE key IN ({marks})", part
            )
            out.update({r["key"]: r["translation"] for r in rows})
        return out

    def cache_translations(self, items: dict[str, str]) -> None:
        """Remember translations (idempotent)."""
        now = iso(datetime.now(UTC))
        with self.db.write() as tx:
            tx.executemany(
                "INSERT OR IGNORE INTO translation_cache (key, translation, created_at) "
                "VALUES (?, ?, ?)",
                [(k, v, now) for k, v in items.items()],
            )

    def forget_translations(self, before: datetime) -> int:
        """Drop cached translations made before ``before``; returns how many."""
        with self.db.write() as tx:
            return tx.execute(
                "DELETE FROM translation_cache WHERE created_at < ?", (iso(before),)
            ).rowcount

    # -- quarantine --------------------------------------------------------------------

    def quarantine(
        self,
        stage: str,
        error: str,
        payload: dict[str, Any],
        feed_id: str,
        article_id: str | None,
        once: bool = False,
    ) -> int:
        """Keep a poison article aside with its error; returns its quarantine id.
        ``once``: if the article has a row of this stage not replayed yet, that row's id
        and nothing written (a document failing at every retry stays one row)."""
        with self.db.write() as tx:
            if once and article_id:
                row = tx.execute(
                    "SELECT id FROM quarantine WHERE stage = ? AND article_id = ? "
                    "AND replayed_at IS NULL ORDER BY id LIMIT 1",
                    (stage, article_id),
                ).fetchone()
                if row is not None:
                    return int(row["id"])
            cur = tx.execute(
                "INSERT INTO quarantine (at, feed_id, article_id, stage, error, payload) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    iso(datetime.now(UTC)),
                    feed_id,
                    article_id,
                    stage,
                    error,
                    json.dumps(payload, ensure_ascii=False),
                ),
            )
            return int(cur.lastrowid)

    def quarantined(self, include_replayed: bool = False) -> list[dict[str, Any]]:
        """Quarantined articles, oldest first, payload decoded."""
        where = "" if include_replayed else "WHERE replayed_at IS NULL"
        rows = self.db.read(f"SELECT * FROM quarantine {where} ORDER BY id")
        return [{**dict(r), "payload": json.loads(r["payload"])} for r in rows]

    def mark_replayed(self, quarantine_id: int) -> None:
        """Mark a quarantined article as replayed (kept for the record)."""
        with self.db.write() as tx:
            tx.execute(
                "UPDATE quarantine SET replayed_at = ? WHERE id = ?",
                (iso(datetime.now(UTC)), quarantine_id),
            )


def _bump(tx, counters: dict[str, int]) -> None:
    for name, value in counters.items():
        if value:
            tx.execute(
                "INSERT INTO counters (name, value) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
                (name, value),
            )
