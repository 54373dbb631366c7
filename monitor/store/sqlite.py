"""The embedded store: SQLite with FTS5, in the data folder, WAL mode.

Writes are create-if-absent on the document id, so a re-poll is a counted duplicate,
not an error. Searches go through ``store.query.to_fts5``; filters are plain SQL.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from monitor.db import Database
from monitor.errors import QueryError, RetryLater
from monitor.store import SearchQuery, SearchResult
from monitor.store.query import to_fts5
from monitor.text import fold_persian

COLUMNS = (
    "id", "kind", "url", "title", "text", "language", "source", "feed_id", "country",
    "published", "fetched_at", "author", "content_hash", "title_en", "text_en",
)  # fmt: skip
# The full-text index covers the original and the English text, so one query in any of
# the five languages reaches every document. unicode61 folds case in every script;
# remove_diacritics 2 lets "Susa" find "Şuşa" while leaving Armenian and Persian alone.
FTS_COLUMNS = ("title", "text", "title_en", "text_en")
_NEW = ", ".join(f"new.{c}" for c in FTS_COLUMNS)
_OLD = ", ".join(f"old.{c}" for c in FTS_COLUMNS)
_FTS = ", ".join(FTS_COLUMNS)
SCHEMA = f"""
CREATE TABLE documents (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    url TEXT NOT NULL DEFAULT '',
    title TEXT NOT NULL DEFAULT '',
    text TEXT NOT NULL DEFAULT '',
    language TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT '',
    feed_id TEXT NOT NULL DEFAULT '',
    country TEXT NOT NULL DEFAULT '',
    published TEXT NOT NULL,
    fetched_at TEXT,
    author TEXT NOT NULL DEFAULT '',
    content_hash TEXT NOT NULL DEFAULT '',
    title_en TEXT NOT NULL DEFAULT '',
    text_en TEXT NOT NULL DEFAULT '',
    extra TEXT NOT NULL DEFAULT '{{}}'
);
CREATE INDEX documents_published ON documents (published);
CREATE INDEX documents_language ON documents (language, published);
CREATE INDEX documents_source ON documents (source, published);
CREATE VIRTUAL TABLE documents_fts USING fts5(
    {_FTS}, content='documents', content_rowid='rowid',
    tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER documents_ai AFTER INSERT ON documents BEGIN
    INSERT INTO documents_fts (rowid, {_FTS}) VALUES (new.rowid, {_NEW});
END;
CREATE TRIGGER documents_au AFTER UPDATE OF {_FTS} ON documents BEGIN
    INSERT INTO documents_fts (documents_fts, rowid, {_FTS}) VALUES ('delete', old.rowid, {_OLD});
    INSERT INTO documents_fts (rowid, {_FTS}) VALUES (new.rowid, {_NEW});
END;
CREATE TRIGGER documents_ad AFTER DELETE ON documents BEGIN
    INSERT INTO documents_fts (documents_fts, rowid, {_FTS}) VALUES ('delete', old.rowid, {_OLD});
END;
"""
MIGRATIONS = (SCHEMA,)
_SNIPPET = "snippet(documents_fts, 1, '[', ']', ' … ', 16)"


class SQLiteStore:
    """Documents and their full-text index in one SQLite file."""

    name = "sqlite"

    def __init__(self, path: Path):
        self.path = path
        self.db = Database(path, MIGRATIONS)

    def add(self, document: dict[str, Any]) -> bool:
        """Insert the document unless its id exists; True if it was created."""
        row = {c: document.get(c) if document.get(c) is not None else "" for c in COLUMNS}
        # Persian feeds mix Arabic and Persian letter forms; index one form.
        for key in ("title", "text"):
            row[key] = fold_persian(row[key])
        extra = {k: v for k, v in document.items() if k not in COLUMNS}
        row["extra"] = json.dumps(extra, ensure_ascii=False)
        cols = ", ".join(row)
        marks = ", ".join(f":{c}" for c in row)
        try:
            with self.db.write() as tx:
                cur = tx.execute(f"INSERT OR IGNORE INTO documents ({cols}) VALUES ({marks})", row)
                return cur.rowcount == 1
        except sqlite3.OperationalError as exc:
            # "database is locked" / disk I/O: transient, the article comes back.
            raise RetryLater("store_unavailable", f"{self.path}: {exc}") from exc

    def update(self, doc_id: str, fields: dict[str, Any]) -> bool:
        """Change some fields of a stored document; False if there is no such id."""
        try:
            with self.db.write() as tx:
                row = tx.execute("SELECT extra FROM documents WHERE id = ?", (doc_id,)).fetchone()
                if row is None:
                    return False
                columns = {k: v for k, v in fields.items() if k in COLUMNS and k != "id"}
                for key in ("title", "text"):
                    if key in columns:
                        columns[key] = fold_persian(columns[key] or "")
                extra = json.loads(row["extra"] or "{}")
                extra.update({k: v for k, v in fields.items() if k not in COLUMNS})
                columns["extra"] = json.dumps(extra, ensure_ascii=False)
                sets = ", ".join(f"{c} = :{c}" for c in columns)
                tx.execute(
                    f"UPDATE documents SET {sets} WHERE id = :doc_id", {**columns, "doc_id": doc_id}
                )
                return True
        except sqlite3.OperationalError as exc:
            raise RetryLater("store_unavailable", f"{self.path}: {exc}") from exc

    def find(self, patterns: dict[str, str], limit: int = 1000) -> list[dict[str, Any]]:
        """Documents whose fields match all the SQL LIKE ``patterns`` (``fetch_%``)."""
        where, params = [], {"limit": limit}
        for i, (field, pattern) in enumerate(patterns.items()):
            if not field.isidentifier():
                raise ValueError(f"not a field name: {field!r}")
            expr = f"d.{field}" if field in COLUMNS else f"json_extract(d.extra, '$.{field}')"
            where.append(f"{expr} LIKE :p{i}")
            params[f"p{i}"] = pattern
        clause = " AND ".join(where) or "1"
        rows = self.db.read(
            f"SELECT d.* FROM documents d WHERE {clause} ORDER BY d.published DESC LIMIT :limit",
            params,
        )
        return [_document(r) for r in rows]

    def batch(self):
        """One transaction for every ``add`` inside the block."""
        return self.db.write()

    def get(self, doc_id: str) -> dict[str, Any] | None:
        """The stored document, or None."""
        rows = self.db.read("SELECT * FROM documents WHERE id = ?", (doc_id,))
        return _document(rows[0]) if rows else None

    def search(self, query: SearchQuery) -> SearchResult:
        """Full-text search with filters and paging."""
        where, params = _filters(query)
        if query.text.strip():
            match = to_fts5(query.text)
            where.insert(0, "documents_fts MATCH :match")
            params["match"] = match
            source = "documents_fts JOIN documents d ON d.rowid = documents_fts.rowid"
            order = "rank" if query.sort == "relevance" else "d.published DESC"
            snippet = _SNIPPET
        else:
            source, order, snippet = "documents d", "d.published DESC", "''"
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        params.update(limit=query.limit, offset=query.offset)
        try:
            total = self.db.read(f"SELECT count(*) FROM {source} {clause}", params)[0][0]
            rows = self.db.read(
                f"SELECT d.*, {snippet} AS snippet FROM {source} {clause} "
                f"ORDER BY {order}, d.id LIMIT :limit OFFSET :offset",
                params,
            )
        except sqlite3.OperationalError as exc:
            if "fts5" in str(exc) or "syntax" in str(exc):
                raise QueryError(f"cannot search for {query.text!r}: {exc}") from None
            raise
        return SearchResult(total=total, hits=[_document(r) for r in rows])

    def counts(self) -> dict[str, dict[str, int]]:
        """Document counts by language, source, kind, and language + translation status."""
        out: dict[str, dict[str, int]] = {}
        for column in ("language", "source", "kind"):
            rows = self.db.read(
                f"SELECT {column} AS k, count(*) AS n FROM documents GROUP BY {column} "
                "ORDER BY n DESC, k"
            )
            out[column] = {r["k"]: r["n"] for r in rows}
        out["total"] = {"documents": self.db.read("SELECT count(*) FROM documents")[0][0]}
        # the translation backlog per language: a language whose articles stay pending
        # (no model) is visible here, not silent
        rows = self.db.read(
            "SELECT language || ' ' || coalesce(json_extract(extra, '$.translation_status'), "
            "'?') AS k, count(*) AS n FROM documents GROUP BY k ORDER BY k"
        )
        out["translation"] = {r["k"]: r["n"] for r in rows}
        return out

    def connect(self) -> dict[str, Any]:
        """Nothing to connect to: the file was opened (and migrated) already."""
        return {"path": str(self.path)}

    def flush(self, force: bool = False) -> dict[str, int]:
        """Every write is committed at once; nothing waits."""
        return {}

    def waiting(self) -> None:
        """No outbox: writes land in the file or fail at once."""
        return None

    def close(self) -> None:
        """Close connections."""
        self.db.close()


def _filters(query: SearchQuery) -> tuple[list[str], dict[str, Any]]:
    where: list[str] = []
    params: dict[str, Any] = {}
    for column, values in (
        ("language", query.languages),
        ("source", query.sources),
        ("kind", query.kinds),
    ):
        if values:
            names = [f"{column}{i}" for i in range(len(values))]
            where.append(f"d.{column} IN ({', '.join(':' + n for n in names)})")
            params.update(zip(names, values, strict=True))
    if query.since:
        where.append("d.published >= :since")
        params["since"] = query.since.isoformat(timespec="seconds")
    if query.until:
        where.append("d.published < :until")
        params["until"] = query.until.isoformat(timespec="seconds")
    return where, params


def _document(row: sqlite3.Row) -> dict[str, Any]:
    doc = {k: row[k] for k in row.keys() if k not in ("rowid", "extra")}  # noqa: SIM118
    doc.update(json.loads(row["extra"] or "{}"))
    return doc
