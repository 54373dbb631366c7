"""Which story an article belongs to, kept in the state database.

The state database is the truth (``stories``, ``story_members``, ``signatures``); the
in-memory LSH indexes are a cache of the signatures added within the story window,
filled at first use and then from the rows other processes add (``seq``). A candidate
the cache proposes is always looked up in the database, so a signature whose
transaction was rolled back, or a story merged by another process, cannot mislead.

A new article joins the story of its most similar recent article in the same language
(original text), else, when it has English (an English original), of a similar article
in another language. Its English translation, when it arrives, may then reveal the same
story in another language: the two stories merge into the older one. Each change
returns the updates the store needs (``story_id``, ``story_size``,
``related_seed_ids`` of every member concerned).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from monitor.state import StateDB, iso
from monitor.stories import shingles
from monitor.stories.lsh import SimilarityIndex
from monitor.stories.seeds import SeedLinker
from monitor.stories.signatures import from_bytes, signature, to_bytes

ENGLISH = "en"  # the space of English text: English originals and translations
Updates = list[tuple[str, dict[str, Any]]]


@dataclass(frozen=True)
class StoryRef:
    """The story an article belongs to, as its document carries it."""

    story_id: str
    size: int
    related_seed_ids: tuple[str, ...] = ()

    def fields(self) -> dict[str, Any]:
        """The document fields."""
        return {
            "story_id": self.story_id,
            "story_size": self.size,
            "related_seed_ids": list(self.related_seed_ids),
        }


class Stories:
    """Assigns articles to stories; one per process, shared by its worker threads.

    Every change runs inside a state-database write transaction, taken before this
    object's own lock (the pipeline holds the transaction when it calls ``assign``), so
    the two locks are always taken in the same order."""

    def __init__(self, state: StateDB, settings, seeds: Callable[[], list[dict]]):
        self.state = state
        self.window = timedelta(days=settings.story_window_days)
        self.related_limit = settings.story_related_seeds
        self._within_threshold = settings.story_similarity
        self._within: dict[str, SimilarityIndex] = {}
        self._across = SimilarityIndex(settings.story_similarity_across_languages)
        self._seeds = seeds
        self._linker: SeedLinker | None = None
        self._synced = -1  # the last signature seq loaded; -1 before the first load
        self._lock = threading.RLock()
        self._added: list[tuple[str, str]] | None = None  # (space, key) of the open batch

    # -- the cache ------------------------------------------------------------------------

    def signatures_in_memory(self) -> int:
        """How many signatures the LSH indexes hold now."""
        return len(self._across) + sum(len(index) for index in self._within.values())

    def _index(self, space: str) -> SimilarityIndex:
        if space == ENGLISH:
            return self._across
        language = space.removeprefix("orig:")
        if language not in self._within:
            self._within[language] = SimilarityIndex(self._within_threshold)
        return self._within[language]

    def _remember(self, space: str, key: str, hashes: bytes, added_at: str) -> None:
        self._index(space).add(key, from_bytes(hashes), added_at)

    def sync(self, now: datetime) -> int:
        """Load the signatures added since the last look (all of the window the first
        time); returns how many."""
        with self._lock:
            cutoff = iso(now - self.window)
            rows = self.state.db.read(
                "SELECT seq, article_id, space, hashes, added_at FROM signatures "
                "WHERE seq > ? AND added_at >= ? ORDER BY seq",
                (max(self._synced, 0), cutoff),
            )
            for row in rows:
                self._remember(row["space"], row["article_id"], row["hashes"], row["added_at"])
                self._synced = row["seq"]
            self._synced = max(self._synced, 0)
            return len(rows)

    def forget(self, now: datetime) -> int:
        """Drop signatures older than the window, from memory and from the database;
        the stories and their members stay (``monitor stories`` still lists them)."""
        cutoff = iso(now - self.window)
        with self.state.db.write() as tx, self._lock:
            tx.execute("DELETE FROM signatures WHERE added_at < ?", (cutoff,))
            dropped = sum(index.forget_before(cutoff) for index in self._indexes())
        return dropped

    def _indexes(self) -> Iterator[SimilarityIndex]:
        yield self._across
        yield from self._within.values()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Inside the caller's transaction: if it fails, forget what was added to memory
        and look at the database again from where this batch began."""
        with self._lock:
            self._added, synced = [], self._synced
            try:
                yield
            except BaseException:
                for space, key in self._added:
                    self._index(space).remove(key)
                self._synced = synced
                raise
            finally:
                self._added = None

    # -- assigning ----------------------------------------------------------------------

    def assign(self, doc: dict[str, Any], now: datetime) -> tuple[StoryRef, Updates]:
        """Put a new article in a story; its story and the other members' updates."""
        with self.state.db.write() as tx, self._lock:
            known = self._member(doc["id"])
            if known is not None:  # kept before (a replay after a crash): same story
                return self._ref(known["story_id"]), []
            self.sync(now)
            language = doc.get("language", "")
            within = shingles.within_language(doc.get("title", ""), doc.get("text", ""))
            english = _english(doc)
            within_sig = signature(within) if len(within) >= shingles.MIN_WITHIN_SHINGLES else None
            english_sig = signature(english) if len(english) >= shingles.MIN_ACROSS_WORDS else None
            story = self._best(f"orig:{language}", within_sig, doc["id"], None)
            if story is None:
                story = self._best(ENGLISH, english_sig, doc["id"], language)
            added = iso(now)
            if story is None:
                story = doc["id"]
                seeds = self._related(doc.get("title_en", ""), doc.get("text_en", ""), english)
                tx.execute(
                    "INSERT INTO stories (story_id, first_at, last_at, size, related_seed_ids) "
                    "VALUES (?, ?, ?, 0, ?)",
                    (story, added, added, json.dumps(seeds)),
                )
            tx.execute(
                "INSERT INTO story_members (article_id, story_id, language, source, title, "
                "title_en, url, added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    doc["id"], story, language, doc.get("source", ""), doc.get("title", ""),
                    doc.get("title_en", ""), doc.get("url", ""), added,
                ),
            )  # fmt: skip
            tx.execute(
                "UPDATE stories SET size = size + 1, last_at = max(last_at, ?) WHERE story_id = ?",
                (added, story),
            )
            self._add_signature(tx, f"orig:{language}", doc["id"], language, within_sig, added)
            self._add_signature(tx, ENGLISH, doc["id"], language, english_sig, added)
            ref = self._ref(story)
            others = [m for m in self._members(story) if m != doc["id"]]
            return ref, [(m, {"story_size": ref.size}) for m in others]

    def translated(self, doc: dict[str, Any], now: datetime) -> Updates:
        """An article's English arrived: it may show the story in another language."""
        with self.state.db.write() as tx, self._lock:
            member = self._member(doc["id"])
            if member is None:  # stored before stories existed
                return []
            self.sync(now)
            tx.execute(
                "UPDATE story_members SET title_en = ? WHERE article_id = ?",
                (doc.get("title_en", ""), doc["id"]),
            )
            english = _english(doc)
            sig = signature(english) if len(english) >= shingles.MIN_ACROSS_WORDS else None
            story = member["story_id"]
            other = self._best(ENGLISH, sig, doc["id"], member["language"], exclude_story=story)
            self._add_signature(tx, ENGLISH, doc["id"], member["language"], sig, iso(now))
            if other is not None:
                story = self._merge(tx, story, other)
            changed = other is not None
            if not json.loads(self._story(story)["related_seed_ids"]):
                seeds = self._related(doc.get("title_en", ""), doc.get("text_en", ""), english)
                if seeds:
                    tx.execute(
                        "UPDATE stories SET related_seed_ids = ? WHERE story_id = ?",
                        (json.dumps(seeds), story),
                    )
                    changed = True
            if not changed:
                return []
            fields = self._ref(story).fields()
            return [(m, dict(fields)) for m in self._members(story)]

    def _best(
        self, space: str, sig, own_id: str, other_than: str | None, exclude_story: str = ""
    ) -> str | None:
        """The story of the most similar signature in a space (only members in another
        language than ``other_than`` when it is given), or None."""
        if sig is None:
            return None
        index = self._index(space)
        for key, _score in index.similar(sig):
            if key == own_id:
                continue
            member = self._member(key)
            if member is None:  # its transaction was rolled back
                index.remove(key)
                continue
            if other_than is not None and member["language"] == other_than:
                continue
            if member["story_id"] != exclude_story:
                return member["story_id"]
        return None

    def _merge(self, tx, story: str, other: str) -> str:
        """Merge two stories into the older one; returns the one that stays."""
        a, b = self._story(story), self._story(other)
        older = (a["first_at"], a["story_id"]) <= (b["first_at"], b["story_id"])
        keep, gone = (a, b) if older else (b, a)
        seeds = json.loads(keep["related_seed_ids"]) or json.loads(gone["related_seed_ids"])
        tx.execute(
            "UPDATE story_members SET story_id = ? WHERE story_id = ?",
            (keep["story_id"], gone["story_id"]),
        )
        tx.execute(
            "UPDATE stories SET size = size + ?, last_at = max(last_at, ?), related_seed_ids = ? "
            "WHERE story_id = ?",
            (gone["size"], gone["last_at"], json.dumps(seeds), keep["story_id"]),
        )
        tx.execute(
            "UPDATE stories SET size = 0, merged_into = ? WHERE story_id = ?",
            (keep["story_id"], gone["story_id"]),
        )
        return keep["story_id"]

    def _add_signature(self, tx, space: str, key: str, language: str, sig, added: str) -> None:
        if sig is None:
            return
        hashes = to_bytes(sig)
        cur = tx.execute(
            "INSERT OR IGNORE INTO signatures (article_id, space, language, hashes, added_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (key, space, language, hashes, added),
        )
        if cur.rowcount:
            self._remember(space, key, hashes, added)
            if self._added is not None:
                self._added.append((space, key))

    def _related(self, title_en: str, text_en: str, english: set[str]) -> list[str]:
        if not english or self.related_limit <= 0:
            return []
        if self._linker is None:
            self._linker = SeedLinker(self._seeds())
        return self._linker.related(title_en, text_en, self.related_limit)

    # -- reading ------------------------------------------------------------------------

    def _member(self, article_id: str):
        rows = self.state.db.read(
            "SELECT story_id, language FROM story_members WHERE article_id = ?", (article_id,)
        )
        return rows[0] if rows else None

    def _members(self, story_id: str) -> list[str]:
        rows = self.state.db.read(
            "SELECT article_id FROM story_members WHERE story_id = ? ORDER BY added_at, article_id",
            (story_id,),
        )
        return [r["article_id"] for r in rows]

    def _story(self, story_id: str):
        return self.state.db.read("SELECT * FROM stories WHERE story_id = ?", (story_id,))[0]

    def _ref(self, story_id: str) -> StoryRef:
        row = self._story(story_id)
        return StoryRef(story_id, row["size"], tuple(json.loads(row["related_seed_ids"])))


def _english(doc: dict[str, Any]) -> set[str]:
    """The content words of the document's English, if it has any yet."""
    if not (doc.get("title_en") or doc.get("text_en")):
        return set()
    return shingles.across_languages(doc.get("title_en", ""), doc.get("text_en", ""))
