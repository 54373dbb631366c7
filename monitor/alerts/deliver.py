"""The delivery outbox of alerts, in the state database.

``record`` writes an alert and one pending delivery per channel in one transaction (the
caller's, when one is open), so an alert exists with all its deliveries or not at all.
``Sender.send_due`` sends what is due, one delivery at a time, and writes the outcome.

Delivery is at least once. A delivery is claimed by moving its ``next_attempt_at`` a
lease ahead, in a write transaction, so two processes sharing the state database never
send it at the same time; its status is written after the channel returns. A crash
between the two leaves it pending with the lease, and it is sent again once the lease
has passed: at most one repeat, which the receiver recognises by the alert's key
(webhook ``Idempotency-Key``, email ``Message-ID``, the log line's ``key``).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from monitor.alerts.channels import Channel, DeliveryError
from monitor.errors import RetryLater
from monitor.state import iso, parse_iso

log = logging.getLogger("monitor.alerts.deliver")

# Backoff after a transient failure: 30 s, doubling, capped at 1 h. The first retries
# come quickly (a receiver restarting is back within a minute); the cap keeps a long
# outage at one attempt an hour per delivery, and the channel's first failure in a run
# stops the others of that run (below), so a dead server costs one timeout per run.
BACKOFF_FIRST_SECONDS = 30
BACKOFF_CAP_SECONDS = 3600
# After a failure, a delivery older than this is given up: alerts are about news, and a
# weekend's outage (Friday evening to Monday morning, about 62 h) still gets through.
MAX_AGE = timedelta(days=3)
# A claim must outlast one send (timeouts are at most 300 s); a crashed sender's claim
# falls due again after it.
LEASE = timedelta(minutes=10)
ERROR_CHARS = 500
REQUIRED_KEYS = ("key", "rule", "story_id", "article_id")


def backoff_seconds(attempts: int, retry_after_seconds: float | None = None) -> float:
    """The wait before the next attempt after ``attempts`` failed ones (1 or more);
    never shorter than the receiver's Retry-After, never longer than the cap."""
    delay = min(BACKOFF_FIRST_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_CAP_SECONDS)
    if retry_after_seconds:
        delay = max(delay, min(retry_after_seconds, BACKOFF_CAP_SECONDS))
    return float(delay)


def record(state, alert: dict[str, Any], channels: list[str], now: datetime) -> int | None:
    """Store an alert and a pending delivery to each channel; its id, or None when an
    alert with the same ``key`` exists (nothing is written then)."""
    missing = [k for k in REQUIRED_KEYS if not alert.get(k)]
    if missing:
        raise ValueError(f"alert lacks {', '.join(missing)}")
    payload = {**alert, "created_at": alert.get("created_at") or iso(now)}
    with state.db.write() as tx:
        cur = tx.execute(
            "INSERT INTO alerts (key, rule, story_id, article_id, created_at, payload) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
            (*(str(alert[k]) for k in REQUIRED_KEYS), payload["created_at"], _dumps(payload)),
        )
        if cur.rowcount == 0:
            return None
        alert_id = int(cur.lastrowid)
        tx.executemany(
            "INSERT INTO alert_deliveries (alert_id, channel, next_attempt_at) VALUES (?, ?, ?)",
            [(alert_id, channel, iso(now)) for channel in dict.fromkeys(channels)],
        )
    return alert_id


class Sender:
    """Sends due deliveries through the configured channels and records the outcome."""

    def __init__(self, state, channels: dict[str, Channel], clock: Callable[[], datetime]):
        self.state = state
        self.channels = channels
        self.clock = clock
        self._reported: set[str] = set()

    def send_due(self, limit: int = 100) -> Counter:
        """Send up to ``limit`` due deliveries. Counts ``sent``, ``failed`` (transient,
        tried again later), ``gave_up`` (marked failed for good) and ``unconfigured``
        (due to a channel that is not configured: left pending). Never raises because
        of a channel."""
        outcomes = Counter()
        outcomes["unconfigured"] = self._report_unconfigured()
        down: set[str] = set()
        for _ in range(limit):
            try:
                claimed = self._claim(set(self.channels) - down)
                if claimed is None:
                    break
                outcome = self._deliver(claimed)
            except RetryLater:
                # The state database is locked (``database_locked`` says by what): the
                # next run goes on; a delivery sent but not marked is sent once more
                # after its lease, with the same key.
                break
            outcomes[outcome] += 1
            if outcome == "failed":  # not again in this run: it would likely fail again
                down.add(claimed["channel"])
        return +outcomes

    def _claim(self, channels: set[str]) -> dict[str, Any] | None:
        if not channels:
            return None
        now = self.clock()
        marks = ", ".join("?" * len(channels))
        with self.state.db.write() as tx:
            row = tx.execute(
                "SELECT d.alert_id, d.channel, d.attempts, a.created_at, a.payload "
                "FROM alert_deliveries d JOIN alerts a ON a.id = d.alert_id "
                f"WHERE d.status = 'pending' AND d.next_attempt_at <= ? AND d.channel IN ({marks}) "
                "ORDER BY d.next_attempt_at, d.alert_id LIMIT 1",
                (iso(now), *sorted(channels)),
            ).fetchone()
            if row is None:
                return None
            tx.execute(
                "UPDATE alert_deliveries SET next_attempt_at = ? "
                "WHERE alert_id = ? AND channel = ?",
                (iso(now + LEASE), row["alert_id"], row["channel"]),
            )
        return dict(row)

    def _deliver(self, claimed: dict[str, Any]) -> str:
        alert = json.loads(claimed["payload"])
        name = claimed["channel"]
        fields = {"channel": name, "alert_key": alert["key"], "rule": alert["rule"]}
        try:
            self.channels[name].send(alert)
        except DeliveryError as exc:
            return self._failed(claimed, exc, fields)
        except Exception as exc:  # a plugin's bug: counted and retried like an outage
            log.warning("alert_channel_crashed", extra=fields, exc_info=True)
            return self._failed(claimed, DeliveryError(f"{type(exc).__name__}: {exc}"), fields)
        self._mark(claimed, status="sent", sent_at=iso(self.clock()))
        log.info("alert_sent", extra={**fields, "attempts": claimed["attempts"] + 1})
        return "sent"

    def _failed(self, claimed: dict[str, Any], exc: DeliveryError, fields: dict) -> str:
        now = self.clock()
        attempts = claimed["attempts"] + 1
        error = exc.message[:ERROR_CHARS]
        fields = {**fields, "attempts": attempts, "error": error}
        too_old = now - parse_iso(claimed["created_at"]) >= MAX_AGE
        if exc.permanent or too_old:
            reason = "permanent" if exc.permanent else f"older than {MAX_AGE.days} days"
            self._mark(claimed, status="failed", last_error=error)
            log.warning("alert_delivery_gave_up", extra={**fields, "reason": reason})
            return "gave_up"
        delay = backoff_seconds(attempts, exc.retry_after_seconds)
        next_at = iso(now + timedelta(seconds=delay))
        self._mark(claimed, next_attempt_at=next_at, last_error=error)
        log.warning("alert_delivery_failed", extra={**fields, "retry_in_seconds": delay})
        return "failed"

    def _mark(self, claimed: dict[str, Any], **columns: Any) -> None:
        sets = ", ".join(f"{column} = ?" for column in columns)
        with self.state.db.write() as tx:
            tx.execute(
                f"UPDATE alert_deliveries SET {sets}, attempts = attempts + 1 "
                "WHERE alert_id = ? AND channel = ? AND status = 'pending'",
                (*columns.values(), claimed["alert_id"], claimed["channel"]),
            )

    def _report_unconfigured(self) -> int:
        """Due deliveries to channels no longer configured stay pending (the channel may
        come back with the next rules file); say so once per channel and sender."""
        due = self.state.db.read(
            "SELECT channel, count(*) AS n FROM alert_deliveries "
            "WHERE status = 'pending' AND next_attempt_at <= ? GROUP BY channel",
            (iso(self.clock()),),
        )
        orphans = {row["channel"]: row["n"] for row in due if row["channel"] not in self.channels}
        for channel in sorted(set(orphans) - self._reported):
            log.warning(
                "alert_channel_not_configured",
                extra={"channel": channel, "pending": orphans[channel],
                       "fix": "configure it again, or let the deliveries wait"},
            )  # fmt: skip
        self._reported |= set(orphans)
        return sum(orphans.values())


def history(state, limit: int = 50) -> list[dict[str, Any]]:
    """The newest alerts first, each with its payload and its deliveries."""
    alerts = state.db.read("SELECT * FROM alerts ORDER BY id DESC LIMIT ?", (limit,))
    if not alerts:
        return []
    ids = [row["id"] for row in alerts]
    deliveries: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    rows = state.db.read(
        f"SELECT * FROM alert_deliveries WHERE alert_id IN ({', '.join('?' * len(ids))}) "
        "ORDER BY channel",
        ids,
    )
    for row in rows:
        delivery = dict(row)
        deliveries[delivery.pop("alert_id")].append(delivery)
    out = []
    for row in alerts:
        item = dict(row)
        item["alert"] = json.loads(item.pop("payload"))
        item["deliveries"] = deliveries[item["id"]]
        out.append(item)
    return out


def pending_counts(state) -> dict[str, int]:
    """Deliveries waiting (due or backing off), by channel."""
    rows = state.db.read(
        "SELECT channel, count(*) AS n FROM alert_deliveries WHERE status = 'pending' "
        "GROUP BY channel ORDER BY channel"
    )
    return {row["channel"]: row["n"] for row in rows}


def retry_failed(state, now: datetime, channel: str | None = None) -> int:
    """Put deliveries that were given up back in the queue, due now; how many. A
    requeued delivery gets one attempt at least, even when the alert is old."""
    where = "status = 'failed'" + (" AND channel = ?" if channel else "")
    with state.db.write() as tx:
        return tx.execute(
            f"UPDATE alert_deliveries SET status = 'pending', next_attempt_at = ? WHERE {where}",
            (iso(now), *([channel] if channel else [])),
        ).rowcount


def _dumps(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False, default=str)
