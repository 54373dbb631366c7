"""From a kept or translated article to recorded alerts, on either store.

An article is queued for matching in the transaction that keeps it (and again in the
one that gives it English): nothing kept is ever missed, even if the process dies just
after. ``Alerter.run`` then matches the queue against the rules (the project's own
evaluator on the embedded store, a percolator index on Elasticsearch: the same meaning,
``tests/alert_cases.py``), records each alert once (``deliver.record``, with the
idempotency key ``<rule>/<article id>``), throttled to one per rule per story, removes
the matched rows from the queue in the same transaction, and hands the alerts to the
channels (``deliver.Sender``), which retry on their own schedule.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from monitor.alerts import deliver
from monitor.alerts.channels import build_channels
from monitor.alerts.evaluate import Document, matches
from monitor.alerts.rules import Rule, RuleSet
from monitor.errors import RetryLater, StoreUnavailable
from monitor.state import iso

log = logging.getLogger("monitor.alerts")
# The fields a rule can read, and the ones an alert says: what the queue keeps.
QUEUED_FIELDS = (
    "id", "kind", "title", "text", "title_en", "text_en", "language", "source", "country",
    "url", "published", "story_id", "feed_id",
)  # fmt: skip
BATCH = 200  # queued documents matched per round: one percolate request on Elasticsearch
# After a failed match (Elasticsearch down) the queue waits 5 s doubling to 5 minutes,
# the outbox's rhythm; the rows stay until a match succeeds.
BACKOFF_FIRST, BACKOFF_MAX = 5.0, 300.0


class Alerter:
    """The rules, their channels, and the matching of queued articles."""

    def __init__(self, ctx, ruleset: RuleSet):
        self.ctx = ctx
        self.rules = ruleset.rules
        self.channels = build_channels(ruleset.channels, ctx.settings)
        self.sender = deliver.Sender(ctx.state, self.channels, ctx.clock)
        self.engine = _engine(ctx)
        self._failures = 0
        self._next_try = 0.0
        self._matching = threading.Lock()

    def close(self) -> None:
        """Release the channels' connections."""
        for channel in self.channels.values():
            channel.close()

    # -- queueing (inside the caller's state transaction) --------------------------------

    def enqueue(self, docs: list[dict[str, Any]], now: datetime) -> None:
        """Queue documents for matching; joins the caller's transaction if one is open."""
        if not self.rules:
            return
        rows = [
            (doc["id"], json.dumps({k: doc.get(k) for k in QUEUED_FIELDS}, ensure_ascii=False))
            for doc in docs
        ]
        with self.ctx.state.db.write() as tx:
            tx.executemany(
                "INSERT INTO alert_queue (article_id, doc, queued_at) VALUES (?, ?, ?)",
                [(article_id, doc, iso(now)) for article_id, doc in rows],
            )

    def waiting(self) -> int:
        """Documents queued for matching."""
        return self.ctx.state.db.read("SELECT count(*) FROM alert_queue")[0][0]

    # -- matching and sending --------------------------------------------------------------

    def match(self, force: bool = False) -> Counter:
        """Match what is queued (unless backing off after a failure); counts by outcome.
        Local work on the embedded store, one request per batch on Elasticsearch: the
        pipeline calls it after each feed's commit."""
        outcomes: Counter = Counter()
        # One matcher at a time: every polling thread calls this after its commit, and
        # each used to evaluate the same queued rows (6.4 evaluations an article in the
        # soak run). A thread that finds another matching leaves it the rows: that one
        # loops until the queue is empty, and the daemon's job comes within seconds.
        if not self._matching.acquire(blocking=force):
            return outcomes
        try:
            if force or time.monotonic() >= self._next_try:
                for _ in range(50):  # bounded: a flood is finished by the next runs
                    try:
                        done = self.match_queued()
                    except RetryLater:  # the state database is locked: rows stay queued
                        break
                    outcomes.update(done)
                    if not done.get("documents"):
                        break
        finally:
            self._matching.release()
        return outcomes

    def run(self, force: bool = False) -> Counter:
        """Match, then send what is due (the daemon's job, off the polling threads: a
        channel may take its timeout). Never raises for a channel or a store down."""
        outcomes = self.match(force)
        outcomes.update({f"delivery_{k}": v for k, v in self.sender.send_due().items()})
        return outcomes

    def match_queued(self) -> Counter:
        """One batch of the queue: match, record the alerts, remove the rows."""
        outcomes: Counter = Counter()
        rows = self.ctx.state.db.read(
            "SELECT seq, doc FROM alert_queue ORDER BY seq LIMIT ?", (BATCH,)
        )
        if not rows:
            return outcomes
        docs = [json.loads(row["doc"]) for row in rows]
        try:
            found = self.engine.match(self.rules, docs)
        except StoreUnavailable as exc:
            self._failures += 1
            wait = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (self._failures - 1))
            self._next_try = time.monotonic() + wait
            log.warning(
                "alert_matching_waits",
                extra={"queued": len(rows), "error": str(exc), "retry_seconds": wait},
            )
            return outcomes
        self._failures = 0
        now = self.ctx.clock()
        alerted: dict[str, list[str]] = {}
        with self.ctx.state.db.write() as tx:
            for rule, slot in found:
                doc = docs[slot]
                outcome = self._alert(tx, rule, doc, now)
                outcomes[outcome] += 1
                if outcome == "alerted":
                    alerted.setdefault(doc["id"], []).append(rule.name)
            tx.execute("DELETE FROM alert_queue WHERE seq <= ?", (rows[-1]["seq"],))
        outcomes["documents"] = len(rows)
        self._mark_documents(alerted)
        return outcomes

    def _alert(self, tx, rule: Rule, doc: dict[str, Any], now: datetime) -> str:
        if not rule.accepts(doc):
            return "filtered"
        story = doc.get("story_id") or doc["id"]
        if rule.throttle_hours > 0:
            since = iso(now - timedelta(hours=rule.throttle_hours))
            recent = tx.execute(
                "SELECT 1 FROM alerts WHERE rule = ? AND story_id = ? AND created_at >= ? LIMIT 1",
                (rule.name, story, since),
            ).fetchone()
            if recent:
                return "throttled"
        alert = self.describe(rule, doc, story, now)
        if deliver.record(self.ctx.state, alert, list(rule.channels), now) is None:
            return "repeated"  # the same rule and article after a replay: already recorded
        log.info(
            "alert",
            extra={
                "rule": rule.name,
                "article_id": doc["id"],
                "story_id": story,
                "key": alert["key"],
            },
        )
        return "alerted"

    def describe(self, rule: Rule, doc: dict[str, Any], story: str, now: datetime) -> dict:
        """What an alert says."""
        return {
            "key": f"{rule.name}/{doc['id']}",
            "rule": rule.name,
            "query": rule.query,
            "story_id": story,
            "article_id": doc["id"],
            "title": doc.get("title") or "",
            "title_en": doc.get("title_en") or "",
            "source": doc.get("source") or "",
            "language": doc.get("language") or "",
            "published": doc.get("published") or "",
            "url": doc.get("url") or "",
            "matched_terms": matches(rule.node, doc) or [],
            "kibana_url": kibana_link(self.ctx.settings.alert_link_base, doc["id"]),
            "created_at": iso(now),
        }

    def _mark_documents(self, alerted: dict[str, list[str]]) -> None:
        """Record the rules on the documents (``alerts``; Kibana's saved search
        "Monitor: alerts"). A store that is down keeps the update in its outbox; the
        embedded store may refuse while locked, which costs the marker, not the alert."""
        for article_id in alerted:
            rules = [
                r["rule"]
                for r in self.ctx.state.db.read(
                    "SELECT DISTINCT rule FROM alerts WHERE article_id = ? ORDER BY rule",
                    (article_id,),
                )
            ]
            try:
                self.ctx.store.update(article_id, {"alerts": rules})
            except Exception as exc:  # noqa: BLE001 - the alert is recorded; the marker waits
                log.warning(
                    "alert_marker_failed", extra={"article_id": article_id, "error": str(exc)}
                )
        if alerted:
            self.ctx.store.flush()


def kibana_link(base: str, article_id: str) -> str:
    """A Discover link that opens this article in the data view, or empty without Kibana."""
    if not base:
        return ""
    query = quote(f"'id:\"{article_id}\"'", safe="':")
    return (
        f"{base}/app/discover#/?_g=(time:(from:now-1y,to:now))"
        f"&_a=(index:monitor-data-view,query:(language:kuery,query:{query}))"
    )


class Evaluator:
    """The embedded store's matcher: the project's evaluator, rule by rule."""

    def match(self, rules: list[Rule], docs: list[dict]) -> list[tuple[Rule, int]]:
        """(rule, document index) of every match. Each document's text is analyzed once
        (``Document``) and serves every rule, not once per rule."""
        found = []
        for slot, doc in enumerate(docs):
            document = Document(doc)
            found += [(rule, slot) for rule in rules if matches(rule.node, document) is not None]
        return found


def _engine(ctx):
    if ctx.settings.uses_elasticsearch:
        from monitor.alerts.percolator import Percolator

        return Percolator(ctx.store, ctx.settings)
    return Evaluator()


def open_alerter(ctx, ruleset: RuleSet | None = None) -> Alerter | None:
    """The alerter for the configured rules file, or None when there are no rules."""
    from monitor.alerts.rules import load_rules

    ruleset = ruleset or load_rules(ctx.settings)
    if not ruleset.rules:
        return None
    return Alerter(ctx, ruleset)
