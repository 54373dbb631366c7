"""The daemon: one APScheduler job picks the due feeds and hands them to a bounded pool.

Per-feed state (next poll time, validators, failures) lives in the state database, so
the scheduler holds no state of its own: a restart picks up where the last run left.
SIGTERM and SIGINT set a stop event; in-flight polls stop between articles (every
article is its own transaction) and the process exits within ``shutdown_grace_seconds``.
A poll cut short records nothing, so the feed is simply polled again next time.
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler

from monitor import shard
from monitor.components import component_lines
from monitor.context import Context
from monitor.errors import StartupError, StoreUnavailable
from monitor.feeds import Feed, load_feeds
from monitor.health import Endpoint, Health
from monitor.metrics import STORE_COUNTS_SECONDS, DatabaseCollector
from monitor.pipeline import PollReport, poll_feed
from monitor.seed import load_seed
from monitor.stages.fetch import Fetcher
from monitor.stages.fulltext import Pages
from monitor.stages.translate import translate_waiting
from monitor.state import parse_iso

log = logging.getLogger("monitor.daemon")
SWEEP_LIMIT = 1000  # documents per language per sweep: the next sweep takes the rest
# How often the outbox is offered to a remote store; the store's own backoff decides
# whether it really sends (every feed's poll also flushes what it queued).
OUTBOX_FLUSH_SECONDS = 5
# In compose the daemon starts when Elasticsearch is healthy, while Kibana still migrates
# its indices for one to two minutes: the import at start waits up to 5 minutes for it.
KIBANA_WAIT_SECONDS = 300
# Signatures older than the story window (days) are dropped hourly: a signature lives at
# most an hour past the window, a bounded excess, for one cheap pass an hour.
STORY_FORGET_SECONDS = 3600
# The translation cache saves repeated sentences (boilerplate, syndicated copies within
# days); a month covers that, and without a limit it grows by every sentence ever
# translated, for months. Pruned once a day.
TRANSLATION_CACHE_DAYS = 30
TRANSLATION_CACHE_PRUNE_SECONDS = 86400


class WorkerPool:
    """A fixed number of daemon threads polling feeds; a feed is queued at most once."""

    def __init__(self, size: int, work: Callable[[Feed], PollReport], stop: threading.Event):
        self._work = work
        self._stop = stop
        self._queue: queue.Queue[Feed | None] = queue.Queue()
        self._in_flight: set[str] = set()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        # Kept only for a caller that collects them (poll_once): a running daemon would
        # otherwise keep every poll's report for its whole life (0.6 KiB a poll,
        # tests/test_soak.py).
        self.reports: list[PollReport] | None = None
        self._threads = [
            threading.Thread(target=self._loop, name=f"poll-{i}", daemon=True) for i in range(size)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, feed: Feed) -> bool:
        """Queue a feed unless it is queued or being polled; True if queued."""
        with self._lock:
            if feed.feed_id in self._in_flight:
                return False
            self._in_flight.add(feed.feed_id)
        self._queue.put(feed)
        return True

    def alive(self) -> bool:
        """True while every polling thread runs (a thread never dies of a feed's fault)."""
        return all(thread.is_alive() for thread in self._threads)

    def busy(self) -> int:
        """Feeds queued or being polled."""
        with self._lock:
            return len(self._in_flight)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is queued or in flight; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._idle:
            while self._in_flight:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def shutdown(self, grace: float) -> bool:
        """Stop the threads, waiting at most ``grace`` seconds; True if all finished."""
        for _ in self._threads:
            self._queue.put(None)
        deadline = time.monotonic() + grace
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self._threads)

    def _loop(self) -> None:
        while True:
            feed = self._queue.get()
            if feed is None:
                return
            try:
                if not self._stop.is_set():
                    report = self._work(feed)
                    with self._lock:
                        if self.reports is not None:
                            self.reports.append(report)
            except Exception:  # noqa: BLE001 - the daemon never dies of a feed
                log.exception("poll_crashed", extra={"feed_name": feed.name, "feed_url": feed.url})
            finally:
                with self._idle:
                    self._in_flight.discard(feed.feed_id)
                    self._idle.notify_all()


def due_feeds(feeds: list[Feed], states: dict[str, dict], now: datetime) -> list[Feed]:
    """Enabled feeds whose next poll time has come (never-polled ones first)."""
    due = []
    for feed in feeds:
        state = states.get(feed.feed_id)
        if not feed.enabled:
            continue
        if state is None:
            due.append((datetime.min.isoformat(), feed))
        elif not state["disabled_reason"] and (
            not state["next_poll_at"] or parse_iso(state["next_poll_at"]) <= now
        ):
            due.append((state["next_poll_at"] or "", feed))
    return [feed for _, feed in sorted(due, key=lambda pair: pair[0])]


class FeedList:
    """The feed list (this shard's share, setting ``shard``), reloaded when the feeds
    file or the imported feeds change."""

    def __init__(self, settings):
        self.settings = settings
        self._paths = (settings.feeds_file, settings.imported_feeds_path)
        self._stamp = self._mtimes()
        self.feeds = self._load()

    def _load(self) -> list[Feed]:
        return shard.select(load_feeds(*self._paths), self.settings.shard)

    def current(self) -> list[Feed]:
        """The feeds; a broken edit keeps the previous list and says why."""
        stamp = self._mtimes()
        if stamp != self._stamp:
            self._stamp = stamp
            try:
                self.feeds = self._load()
                log.info("feeds_reloaded", extra={"feeds": len(self.feeds)})
            except Exception as exc:  # noqa: BLE001 - keep polling the old list
                log.error("feeds_reload_failed", extra={"error": str(exc)})
        return self.feeds

    def _mtimes(self) -> tuple:
        return tuple(p.stat().st_mtime_ns if p.exists() else 0 for p in self._paths)


def every(scheduler, job_id: str, seconds: float, func, **options) -> None:
    """Run ``func`` every ``seconds``: never two at once, a late run is done once (not
    once per missed interval), and never skipped for being late."""
    scheduler.add_job(
        func,
        "interval",
        seconds=seconds,
        id=job_id,
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
        **options,
    )


class Daemon:
    """The long-running process behind ``monitor run``."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.feed_list = FeedList(ctx.settings)
        self.fetcher = Fetcher(ctx.settings, stop=ctx.stop)
        ctx.pages = Pages(self.fetcher, ctx.settings, ctx.cpu)
        self.pool = WorkerPool(ctx.settings.workers, self._poll, ctx.stop)
        self.health = Health(ctx, ctx.settings.scheduler_tick_seconds, self.pool.alive)
        self.endpoint: Endpoint | None = None
        self.collector: DatabaseCollector | None = None

    def _poll(self, feed: Feed) -> PollReport:
        return poll_feed(self.ctx, self.fetcher, feed)

    def tick(self) -> int:
        """Queue every due feed; returns how many were queued."""
        if self.ctx.stop.is_set():
            return 0
        self.health.ticked()
        feeds = due_feeds(self.feed_list.current(), self.ctx.state.feed_states(), self.ctx.clock())
        return sum(self.pool.submit(feed) for feed in feeds)

    def sweep_translations(self) -> None:
        """Translate what waits: a newly installed model is noticed here, no restart."""
        if self.ctx.translator.changed():
            log.info("models_changed", extra={"models_dir": str(self.ctx.translator.dir)})
        outcomes = translate_waiting(self.ctx, "pending", limit=SWEEP_LIMIT)
        self.ctx.metrics.translations(outcomes)
        if outcomes:
            log.info("translations_swept", extra={"outcomes": dict(outcomes)})

    def poll_once(self, names: list[str] | None = None) -> list[PollReport]:
        """One pass over the due feeds (or the named ones, due or not), then return."""
        if self.pool.reports is None:
            self.pool.reports = []
        if names:
            wanted = set(names)
            feeds = [f for f in self.feed_list.current() if f.name in wanted or f.url in wanted]
            for feed in feeds:
                self.pool.submit(feed)
        else:
            self.tick()
        self.pool.wait_idle()
        return list(self.pool.reports)

    def run(self, install_signals: bool = True) -> None:
        """Poll until SIGTERM/SIGINT (or ``ctx.stop`` is set)."""
        settings = self.ctx.settings
        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, self._on_signal)
        self.start_endpoint()
        store = self._connect_store()
        if settings.load_seed_on_start and not self.ctx.state.get_meta("seed_loaded_at"):
            report = load_seed(self.ctx)
            counts = {"files": report.files, "documents_created": report.created}
            log.info("seed_loaded", extra=counts)
        self.load_stories()
        scheduler = BackgroundScheduler(timezone="UTC")
        every(scheduler, "forget_old_stories", STORY_FORGET_SECONDS, self.forget_stories)
        every(
            scheduler,
            "pick_due_feeds",
            settings.scheduler_tick_seconds,
            self.tick,
            next_run_time=self.ctx.clock(),
        )
        if self.ctx.translator is not None:
            every(
                scheduler,
                "forget_old_translations",
                TRANSLATION_CACHE_PRUNE_SECONDS,
                self.forget_translations,
                next_run_time=self.ctx.clock(),
            )
            every(
                scheduler,
                "translate_pending",
                settings.translation_sweep_seconds,
                self.sweep_translations,
            )
        if self.ctx.store.waiting() is not None:
            every(scheduler, "flush_outbox", OUTBOX_FLUSH_SECONDS, self.ctx.store.flush)
        if self.ctx.alerts is not None:
            every(scheduler, "alerts", settings.alerts_match_seconds, self.run_alerts)
        if self.collector is not None:
            every(
                scheduler,
                "store_counts",
                STORE_COUNTS_SECONDS,
                self.collector.refresh_store_counts,
                next_run_time=self.ctx.clock(),
            )
        scheduler.start()
        if settings.kibana_url:
            threading.Thread(target=self.setup_kibana, name="kibana-setup", daemon=True).start()
        log.info(
            "daemon_started",
            extra={
                "feeds": len(self.feed_list.feeds),
                "workers": settings.workers,
                "store": self.ctx.store.name,
                **store,
                "data_dir": str(settings.data_dir),
                "tick_seconds": settings.scheduler_tick_seconds,
            },
        )
        self._log_components()
        self.health.phase = "running"
        try:
            while not self.ctx.stop.wait(1.0):
                pass
        finally:
            self.health.phase = "stopping"
            started = time.monotonic()
            scheduler.shutdown(wait=False)
            clean = self.pool.shutdown(settings.shutdown_grace_seconds)
            self.fetcher.close()
            if self.endpoint is not None:
                self.endpoint.close()
            log.info(
                "daemon_stopped",
                extra={
                    "clean": clean,
                    "stop_seconds": round(time.monotonic() - started, 2),
                },
            )

    def start_endpoint(self) -> None:
        """Serve /healthz and /metrics (setting ``http_port``; 0: none). A port in use
        stops start-up: a second daemon on one data folder is a mistake to hear about."""
        settings = self.ctx.settings
        if not settings.http_port:
            return
        self.collector = DatabaseCollector(self.ctx, lambda: self.feed_list.feeds)
        self.ctx.metrics.registry.register(self.collector)
        self.endpoint = Endpoint(
            settings.http_host, settings.http_port, self.health, self.ctx.metrics
        )
        self.endpoint.start()
        log.info("endpoint_started", extra={"url": self.endpoint.address})

    def load_stories(self) -> None:
        """Fill the story index from the state database before the first poll, so the
        first articles after a restart join the stories they belong to."""
        started = time.monotonic()
        forgotten = self.ctx.stories.forget(self.ctx.clock())
        loaded = self.ctx.stories.sync(self.ctx.clock())
        extra = {"signatures": loaded, "forgotten": forgotten}
        log.info("stories_loaded", extra={**extra, "seconds": round(time.monotonic() - started, 2)})

    def forget_stories(self) -> None:
        """Drop signatures older than the story window (memory stays bounded)."""
        dropped = self.ctx.stories.forget(self.ctx.clock())
        if dropped:
            in_memory = self.ctx.stories.signatures_in_memory()
            log.info("stories_forgotten", extra={"signatures": dropped, "in_memory": in_memory})

    def forget_translations(self) -> None:
        """Drop cached translations older than ``TRANSLATION_CACHE_DAYS`` (disk bound)."""
        before = self.ctx.clock() - timedelta(days=TRANSLATION_CACHE_DAYS)
        dropped = self.ctx.state.forget_translations(before)
        if dropped:
            log.info("translations_forgotten", extra={"cached_translations": dropped})

    def run_alerts(self) -> None:
        """Match queued articles against the rules and send what is due."""
        outcomes = self.ctx.alerts.run()
        if any(v for k, v in outcomes.items() if k != "documents"):
            log.info("alerts_run", extra={"outcomes": dict(outcomes)})

    def setup_kibana(self, wait_seconds: float = KIBANA_WAIT_SECONDS) -> None:
        """Import Kibana's saved objects (idempotent), off the polling path: a Kibana that
        is down costs a warning line, never a poll."""
        from monitor import kibana

        try:
            report = kibana.setup(self.ctx.settings, wait_seconds=wait_seconds)
        except (StartupError, StoreUnavailable) as exc:
            log.warning(
                "kibana_setup_failed", extra={"error": str(exc), "fix": "monitor kibana setup"}
            )
            return
        log.info("kibana_setup", extra={"summary": report.summary(), "errors": len(report.errors)})

    def _connect_store(self) -> dict:
        """Check and set up the store. Wrong settings stop start-up (``StartupError``);
        a cluster that is down now is said in one line, and writes wait in the outbox."""
        try:
            return self.ctx.store.connect()
        except StoreUnavailable as exc:
            log.warning(
                "store_unavailable",
                extra={"store": self.ctx.store.name, "error": str(exc), "outbox": "on"},
            )
            return {}

    def _log_components(self) -> None:
        """Say which parts are on, and why the others are off (off is not broken)."""
        for component, on, why in component_lines(self):
            log.info("component", extra={"component": component, "on": on, "why": why})

    def close(self) -> None:
        """Stop the pool and close the HTTP client (for poll_once callers)."""
        self.ctx.stop.set()
        self.pool.shutdown(self.ctx.settings.shutdown_grace_seconds)
        self.fetcher.close()

    def _on_signal(self, signum, _frame) -> None:
        log.info("signal_received", extra={"signal": signal.Signals(signum).name})
        self.ctx.stop.set()
