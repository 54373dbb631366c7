"""The outbox: writes to a remote store wait here, in the state database, until the
store acknowledges them.

A write is queued in the same transaction that marks the article as seen, so an article
is either not seen (the next poll brings it back) or queued (it will be sent): nothing
is lost when Elasticsearch is down, and the daemon goes on polling. Rows are sent in
queue order. A later write to a document that still waits is merged into the waiting
row (an update into the create, two updates into one), so each document appears once
per send and the result is the same as sending every write in order.

A sender claims rows before sending them, so two processes sharing the state database
(the daemon and a ``monitor`` command) never send the same row twice at once; a claim
older than ``stale_seconds`` belongs to a sender that died and may be taken again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from monitor.db import Database
from monitor.state import iso


@dataclass(frozen=True)
class Entry:
    """One waiting write: ``create`` (a whole document) or ``update`` (some fields)."""

    seq: int
    op: str
    doc_id: str
    body: dict[str, Any]
    attempts: int


class Outbox:
    """Queue, claim, acknowledge and reject writes in the state database."""

    def __init__(self, db: Database, stale_seconds: float):
        self.db = db
        self.stale = timedelta(seconds=stale_seconds)

    def put(self, op: str, doc_id: str, body: dict[str, Any], now: datetime) -> None:
        """Queue a write, merged into the waiting write of the same document if any."""
        with self.db.write() as tx:
            row = tx.execute(
                "SELECT seq, op, body FROM outbox WHERE doc_id = ? AND claimed_at IS NULL "
                "AND rejected_at IS NULL ORDER BY seq DESC LIMIT 1",
                (doc_id,),
            ).fetchone()
            if row is not None and op == "update":
                merged = {**json.loads(row["body"]), **body}
                tx.execute(
                    "UPDATE outbox SET body = ? WHERE seq = ?",
                    (_dumps(merged), row["seq"]),
                )
                return
            tx.execute(
                "INSERT INTO outbox (op, doc_id, body, queued_at) VALUES (?, ?, ?, ?)",
                (op, doc_id, _dumps(body), iso(now)),
            )

    def claim(self, limit: int, now: datetime) -> list[Entry]:
        """The oldest waiting writes (up to ``limit``), marked as being sent."""
        with self.db.write() as tx:
            rows = tx.execute(
                "SELECT seq, op, doc_id, body, attempts FROM outbox WHERE rejected_at IS NULL "
                "AND (claimed_at IS NULL OR claimed_at < ?) ORDER BY seq LIMIT ?",
                (iso(now - self.stale), limit),
            ).fetchall()
            tx.executemany(
                "UPDATE outbox SET claimed_at = ? WHERE seq = ?",
                [(iso(now), r["seq"]) for r in rows],
            )
        return [
            Entry(r["seq"], r["op"], r["doc_id"], json.loads(r["body"]), r["attempts"])
            for r in rows
        ]

    def ack(self, seqs: list[int]) -> None:
        """The store has these writes: forget them."""
        with self.db.write() as tx:
            tx.executemany("DELETE FROM outbox WHERE seq = ?", [(s,) for s in seqs])

    def release(self, seqs: list[int], error: str) -> None:
        """Sending failed for a transient reason: the writes wait for the next try."""
        with self.db.write() as tx:
            tx.executemany(
                "UPDATE outbox SET claimed_at = NULL, attempts = attempts + 1, last_error = ? "
                "WHERE seq = ?",
                [(error[:500], s) for s in seqs],
            )

    def reject(self, seq: int, error: str, now: datetime) -> None:
        """The store refused this write for good (a mapping error): keep it aside,
        visible in ``monitor stats`` and retried only by ``monitor outbox retry``."""
        with self.db.write() as tx:
            tx.execute(
                "UPDATE outbox SET claimed_at = NULL, rejected_at = ?, last_error = ?, "
                "attempts = attempts + 1 WHERE seq = ?",
                (iso(now), error[:500], seq),
            )

    def retry_rejected(self) -> int:
        """Put every rejected write back in the queue; returns how many."""
        with self.db.write() as tx:
            return tx.execute(
                "UPDATE outbox SET rejected_at = NULL WHERE rejected_at IS NOT NULL"
            ).rowcount

    def depth(self) -> dict[str, Any]:
        """How many writes wait and were rejected, the oldest waiting, the last error."""
        row = self.db.read(
            "SELECT count(*) FILTER (WHERE rejected_at IS NULL) AS waiting, "
            "count(*) FILTER (WHERE rejected_at IS NOT NULL) AS rejected, "
            "min(queued_at) FILTER (WHERE rejected_at IS NULL) AS oldest FROM outbox"
        )[0]
        error = self.db.read(
            "SELECT last_error FROM outbox WHERE last_error IS NOT NULL ORDER BY seq DESC LIMIT 1"
        )
        return {
            "waiting": row["waiting"],
            "rejected": row["rejected"],
            "oldest_queued_at": row["oldest"],
            "last_error": error[0]["last_error"] if error else None,
        }

    def rejected(self, limit: int = 100) -> list[dict[str, Any]]:
        """The rejected writes, oldest first, with their errors."""
        rows = self.db.read(
            "SELECT seq, op, doc_id, rejected_at, last_error FROM outbox "
            "WHERE rejected_at IS NOT NULL ORDER BY seq LIMIT ?",
            (limit,),
        )
        return [dict(r) for r in rows]


def _dumps(body: dict[str, Any]) -> str:
    return json.dumps(body, ensure_ascii=False, default=str)
