"""The store interface: where documents are kept and searched.

The embedded store (SQLite with FTS5) is the one-machine store; Elasticsearch is the
production one (``elasticsearch_url``). Every store offers the same calls, so the
pipeline and the commands never know which one they hold.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class SearchQuery:
    """A search: query string, filters and paging. Empty text lists newest first."""

    text: str = ""
    languages: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 20
    offset: int = 0
    sort: str = "relevance"  # "relevance" | "date"


@dataclass
class SearchResult:
    """One page of hits and the total number of matches."""

    total: int
    hits: list[dict[str, Any]] = field(default_factory=list)


class Store(Protocol):
    """What every store offers."""

    name: str

    def add(self, document: dict[str, Any]) -> bool:
        """Create the document if its id is new; True if created, False if it existed."""

    def batch(self) -> AbstractContextManager:
        """Writes inside this block are committed together (one transaction or request)."""

    def update(self, doc_id: str, fields: dict[str, Any]) -> bool:
        """Change some fields of a stored document (partial); False if it is not there."""

    def find(self, patterns: dict[str, str], limit: int = 1000) -> list[dict[str, Any]]:
        """Documents whose fields match all the patterns (``%`` is a wildcard)."""

    def get(self, doc_id: str) -> dict[str, Any] | None:
        """The stored document, or None."""

    def search(self, query: SearchQuery) -> SearchResult:
        """Run a search; raises ``QueryError`` for a query it cannot run."""

    def counts(self) -> dict[str, dict[str, int]]:
        """Document counts by ``language``, ``source``, ``kind``, ``translation`` (language
        and translation status) and ``total``."""

    def connect(self) -> dict[str, Any]:
        """Check the store answers and set it up; what it is (for the start-up log).
        Raises ``StartupError`` (wrong settings) or ``StoreUnavailable`` (down now)."""

    def flush(self, force: bool = False) -> dict[str, int]:
        """Send writes that wait (a remote store); counts by disposition."""

    def waiting(self) -> dict[str, Any] | None:
        """The writes that wait to be sent (the outbox), or None for a local store."""

    def close(self) -> None:
        """Release connections."""


def open_store(settings, state, clock) -> Store:
    """Elasticsearch when ``elasticsearch_url`` is set, else the embedded store."""
    if settings.uses_elasticsearch:
        from monitor.store.elastic.store import ElasticStore

        return ElasticStore(settings, state, clock)
    from monitor.store.sqlite import SQLiteStore

    return SQLiteStore(settings.store_db_path)
