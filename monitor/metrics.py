"""Prometheus metrics: what this process counted, and what the databases say now.

Counters and histograms of this process (articles by stage and outcome, polls, fetch
latency, translation time) live in a registry owned by the ``Context``, not in the
client library's global one, so two contexts in one test never share counts. Values that
the databases already know (outbox depth, alerts sent, feeds failing, translation
backlog) are read at scrape time by ``DatabaseCollector``: they survive restarts and
include what ``monitor poll`` and other commands did between scrapes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from monitor.errors import StoreUnavailable
from monitor.feeds import condition

log = logging.getLogger("monitor.metrics")
# Fetches: a healthy feed answers in well under a second; 30 s and 60 s catch the slow
# ones against the default read timeout and deadline (docs/choices.md).
FETCH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
# Translation batches: a title takes tens of milliseconds, a batch of 32 long sentences
# on two cores tens of seconds.
TRANSLATION_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
# The store's counts (translation backlog) cost one aggregation on Elasticsearch and a scan
# of the embedded store: a daemon job asks once a minute, however often Prometheus scrapes.
STORE_COUNTS_SECONDS = 60


class Metrics:
    """This process's counters and histograms."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.articles = Counter(
            "monitor_articles",
            "Articles by the stage that ended them and their outcome (stored, dropped_*, "
            "retry, quarantined; translate: done, failed, pending).",
            ["stage", "outcome"],
            registry=self.registry,
        )
        self.polls = Counter(
            "monitor_polls", "Feed polls by outcome.", ["outcome"], registry=self.registry
        )
        self.fetch_seconds = Histogram(
            "monitor_fetch_seconds",
            "Time of one feed's HTTP fetch, by outcome.",
            ["outcome"],
            buckets=FETCH_BUCKETS,
            registry=self.registry,
        )
        self.translation_seconds = Histogram(
            "monitor_translation_seconds",
            "Time of one translation batch, by source language.",
            ["language"],
            buckets=TRANSLATION_BUCKETS,
            registry=self.registry,
        )

    def translations(self, outcomes) -> None:
        """Translation outcomes (a poll's or a sweep's) as articles of stage translate."""
        for status, count in outcomes.items():
            self.articles.labels("translate", status).inc(count)

    def translated(self, language: str, seconds: float) -> None:
        """One translation batch of ``language`` took ``seconds``."""
        self.translation_seconds.labels(language).observe(seconds)

    def exposition(self) -> bytes:
        """Every metric in the Prometheus text format."""
        return generate_latest(self.registry)


class DatabaseCollector:
    """Gauges and counters read from the state database and the store at scrape time."""

    def __init__(self, ctx, feeds: Callable[[], list] = lambda: []):
        self.ctx = ctx
        self.feeds = feeds
        self._counts: dict | None = None
        self._lock = threading.Lock()

    def describe(self) -> list:
        """Nothing to describe up front: the families depend on the data."""
        return []

    def collect(self) -> Iterator[Metric]:
        """The families, each from one query; a failing source drops only its own."""
        for family in (self._feeds, self._outbox, self._alerts, self._stories, self._backlog):
            try:
                yield from family()
            except Exception as exc:  # noqa: BLE001 - a scrape never fails as a whole
                log.warning("metrics_failed", extra={"family": family.__name__, "error": str(exc)})

    def _feeds(self) -> Iterator[Metric]:
        states = self.ctx.state.feed_states()
        configured = self.feeds()
        gauge = GaugeMetricFamily(
            "monitor_feeds", "Feeds of this daemon by state.", labels=["state"]
        )
        counts = {"ok": 0, "failing": 0, "disabled": 0, "never_polled": 0}
        for feed in configured:
            counts[condition(feed, states.get(feed.feed_id))] += 1
        for key, value in counts.items():
            gauge.add_metric([key], value)
        yield gauge

    def _outbox(self) -> Iterator[Metric]:
        waiting = self.ctx.store.waiting()
        if waiting is None:
            return
        depth = GaugeMetricFamily(
            "monitor_outbox_depth", "Writes waiting for Elasticsearch.", labels=["state"]
        )
        depth.add_metric(["waiting"], waiting["waiting"])
        depth.add_metric(["rejected"], waiting["rejected"])
        yield depth

    def _alerts(self) -> Iterator[Metric]:
        rows = self.ctx.state.db.read(
            "SELECT channel, status, count(*) AS n FROM alert_deliveries GROUP BY channel, status"
        )
        sent = CounterMetricFamily(
            "monitor_alerts_sent", "Alert deliveries sent, by channel.", labels=["channel"]
        )
        failed = GaugeMetricFamily(
            "monitor_alerts_failed",
            "Alert deliveries given up (`monitor alerts retry` sends them again).",
            labels=["channel"],
        )
        pending = GaugeMetricFamily(
            "monitor_alerts_pending", "Alert deliveries waiting to be sent.", labels=["channel"]
        )
        by_status = {"sent": sent, "failed": failed, "pending": pending}
        for row in rows:
            if row["status"] in by_status:
                by_status[row["status"]].add_metric([row["channel"]], row["n"])
        queue = self.ctx.state.db.read("SELECT count(*) FROM alert_queue")[0][0]
        queued = GaugeMetricFamily(
            "monitor_alert_queue_depth", "Articles waiting to be matched against the rules."
        )
        queued.add_metric([], queue)
        yield from (sent, failed, pending, queued)

    def _stories(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily(
            "monitor_story_signatures", "Story signatures held in memory (the story window)."
        )
        gauge.add_metric([], self.ctx.stories.signatures_in_memory())
        yield gauge

    def _backlog(self) -> Iterator[Metric]:
        with self._lock:
            counts = self._counts or {}
        gauge = GaugeMetricFamily(
            "monitor_documents",
            "Stored documents by language and translation status (pending: the backlog).",
            labels=["language", "translation_status"],
        )
        for key, value in counts.get("translation", {}).items():
            language, _, status = key.partition(" ")
            gauge.add_metric([language, status], value)
        yield gauge

    def refresh_store_counts(self) -> None:
        """Ask the store for its counts (a daemon job, off the request path)."""
        try:
            counts = self.ctx.store.counts()
        except StoreUnavailable:
            counts = None  # the store is down: /healthz and `monitor status` say so
        with self._lock:
            self._counts = counts
