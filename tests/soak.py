"""The soak driver: the daemon's loop over simulated hours, measured as it goes.

Shared by tests/test_soak.py (48 simulated hours, checked) and bench/soak_bench.py
(longer runs, a table). The context and the daemon are built as ``monitor run`` builds
them (``open_context``, the rules file's alerter, ``Daemon``, its /healthz and /metrics
endpoint, the story index loaded), with a fake clock. Each step moves the clock, then
does what the daemon's scheduler would have done by then: ``tick()`` and waiting for
the polls, then every other interval job of ``Daemon.run`` that is due (story
forgetting hourly, alert matching and delivery, the translation sweep, which finds no
model, as for a user without one, the store counts of /metrics...), then a scrape of
/metrics and /healthz as Prometheus and a container health check do. The jobs are read
from ``Daemon.run`` itself and run on this thread, not on APScheduler's pool.

Samples are taken after a full collection, right after the hourly story forgetting, so
the story index is at the same point of its hourly saw-tooth in every sample.
"""

from __future__ import annotations

import gc
import logging
import resource
import socket
import threading
import time
import tracemalloc
import urllib.error
import urllib.request
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from tests import soakprobe as probe
from tests.clocks import START, Clock
from tests.soakfeeds import feeds_toml, plan, served

# One rule on the alert log channel: Russian titles naming two towns of southern
# Armenia, about one Russian item in ten (some 180 alerts over 48 hours).
RULES = """
[[rules]]
name = "syunik"
query = 'title:(Мегри OR Капан*)'
"""


@dataclass
class SoakParams:
    """What a soak run simulates; the defaults are tests/test_soak.py's run (reasons in
    docs/choices.md), bench/soak_bench.py takes others."""

    feeds: int = 200
    hours: float = 48.0
    step_minutes: float = 30.0  # one tick (and scrape, and due jobs) per simulated step
    poll_interval_minutes: float = 60.0
    story_window_days: int = 1  # the smallest: the story index is steady after a day
    warmup_hours: float = 25.0  # the story window, and the hourly forgetting
    sample_hours: float = 2.0
    workers: int = 8  # the default
    window: int = 5  # items each feed shows
    seed: int = 0
    alerts: bool = True  # the rule on the log channel
    trace: bool = True  # tracemalloc on (it slows allocation-heavy code ~3 times)
    max_wall_seconds: float = 600.0  # a run that takes longer stops with an error
    extra: dict = field(default_factory=dict)  # more settings (parse_processes...)


@dataclass
class Sample:
    """The process at one simulated hour."""

    hour: float
    polls: int
    articles: int
    rss_mib: float
    traced_mib: float
    sqlite_mib: float
    parsers_rss_mib: float
    fds: int
    fd_kinds: dict[str, int]
    threads: int  # Python threads started by the run
    native_threads: int
    sqlite_connections: int
    signatures: int
    reports_kept: int
    wall_s: float
    cpu_s: float  # this process, user + system


@dataclass
class SoakResult:
    """Samples and totals of a run."""

    params: SoakParams
    samples: list[Sample] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    served: dict = field(default_factory=dict)
    stored: int = 0
    stories_of_2_or_more: int = 0
    alerts_sent: int = 0
    scrapes: int = 0
    pool_alive: bool = True
    # Live Python allocations by source line, first sample after warm-up -> the end:
    # (bytes, blocks, "file:line"), largest growth first.
    heap_growth: list[tuple[int, int, str]] = field(default_factory=list)
    heap_at_baseline: dict[str, tuple[int, int]] = field(default_factory=dict)
    wall_s: float = 0.0

    def after_warmup(self) -> list[Sample]:
        """The samples the checks look at."""
        return [s for s in self.samples if s.hour >= self.params.warmup_hours]

    def as_dict(self) -> dict:
        """For the benchmark's JSON (the heap's 20 largest changes each way)."""
        out = asdict(self)
        rows = self.heap_growth
        out["heap_growth"] = rows[:20] + rows[max(20, len(rows) - 20) :]
        del out["heap_at_baseline"]
        return out


def free_port() -> int:
    """A port nothing listens on now (for the daemon's endpoint)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def settings_for(params: SoakParams, workdir: Path, base_url: str):
    """The soak's settings: defaults, except what 200 feeds on one host need."""
    from monitor.settings import load_settings

    (workdir / "feeds.toml").write_text(feeds_toml(plan(params.feeds, params.seed), base_url))
    (workdir / "alerts.toml").write_text(RULES if params.alerts else "")
    (workdir / "empty.toml").write_text("")
    overrides = {
        "data_dir": workdir / "data",
        "feeds_file": workdir / "feeds.toml",
        "alerts_file": workdir / "alerts.toml",
        "poll_interval_minutes": params.poll_interval_minutes,
        "story_window_days": params.story_window_days,
        "workers": params.workers,
        # Every feed is on 127.0.0.1: limits meant for one outlet would serialize 200
        # outlets' feeds behind one host's 2 slots and 1 s spacing.
        "per_host_concurrency": min(16, params.workers),
        "per_host_min_interval_seconds": 0,
        "load_seed_on_start": False,  # a one-off at first start, not the steady state
        **params.extra,
        "http_port": free_port(),
    }
    return load_settings(config_path=workdir / "empty.toml", overrides=overrides, environ={})


@contextmanager
def daemon_logs(path: Path):
    """The daemon's INFO log as JSON lines in a file, as ``monitor run`` writes them to
    stderr; not into pytest's capture, whose memory would count as ours."""
    from monitor.logs import setup_logging

    logger = logging.getLogger("monitor")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    with open(path, "a", encoding="utf-8") as stream:
        setup_logging("INFO", "json", stream)
        try:
            yield
        finally:
            logger.handlers[:], logger.level, logger.propagate = saved


def scrape(address: str) -> None:
    """GET /metrics and /healthz once each, then wait for their server threads."""
    for path in ("/metrics", "/healthz"):
        try:
            with urllib.request.urlopen(address + path, timeout=30) as response:
                response.read()
        except urllib.error.HTTPError as exc:  # 503 is an answer too
            exc.read()
            exc.close()
    probe.join_request_threads()


def run_soak(
    params: SoakParams, workdir: Path, on_sample: Callable[[Sample], None] | None = None
) -> SoakResult:
    """Simulate ``params.hours`` of the daemon; returns the samples and totals."""
    from monitor.alerts.matching import open_alerter
    from monitor.commands import open_context
    from monitor.daemon import Daemon

    result = SoakResult(params)
    started = time.monotonic()
    # What the process holds before the run (earlier tests' threads and files, which may
    # end meanwhile) is left out of the counts.
    gc.collect()
    before = (set(threading.enumerate()), probe.open_fds())
    # Traced from the end of the first tick: the start-up burst (every feed's first
    # items, lazy imports) is long forgotten by the first sample compared (warmup_hours).
    tracing = params.trace and not tracemalloc.is_tracing()
    clock = Clock(START)
    try:
        with (
            served(params.feeds, START, params.seed, params.window) as server,
            daemon_logs(workdir / "daemon.log"),
        ):
            settings = settings_for(params, workdir, server.base_url)
            feed_port = int(server.base_url.rsplit(":", 1)[1])
            with open_context(settings) as ctx:
                ctx.clock = clock
                ctx.alerts = open_alerter(ctx)  # after the clock: its sender keeps it
                daemon = Daemon(ctx)
                try:
                    jobs = start_daemon(daemon, clock)
                    loop = (params, daemon, jobs, clock, server, feed_port, result, on_sample)
                    _loop(*loop, tracing, before)
                    result.pool_alive = daemon.pool.alive()
                    _totals(ctx, server, result)
                finally:
                    daemon.close()
                    if daemon.endpoint is not None:
                        daemon.endpoint.close()
    finally:
        if tracing and tracemalloc.is_tracing():
            tracemalloc.stop()
    result.wall_s = round(time.monotonic() - started, 1)
    return result


class _Started(Exception):
    """Raised by ``JobRecorder.start``: ``Daemon.run`` has done its start-up."""


class JobRecorder:
    """Stands in for APScheduler in ``Daemon.run``: keeps each interval job as [seconds,
    function, next run] (a job given ``next_run_time`` is due at once, the others after
    one interval, as APScheduler's interval trigger has it), and ``start`` ends ``run``
    there, after its start-up and before its wait for a signal."""

    jobs: list[list] = []
    now: datetime = START

    def __init__(self, *args, **kwargs):
        JobRecorder.jobs = []

    def add_job(self, func, trigger, seconds, next_run_time=None, **options) -> None:
        """Keep the job (``every`` always asks for an interval, coalesced)."""
        assert trigger == "interval" and options.get("coalesce"), (trigger, options)
        due = next_run_time or JobRecorder.now + timedelta(seconds=seconds)
        JobRecorder.jobs.append([seconds, func, due])

    def start(self) -> None:
        """The end of ``Daemon.run`` here."""
        raise _Started


def start_daemon(daemon, clock) -> list[list]:
    """``Daemon.run``'s own start-up (endpoint, store, seed, story index) and its interval
    jobs, read from it rather than copied, so that a job added there runs here too."""
    import monitor.daemon

    JobRecorder.now = clock()
    real = monitor.daemon.BackgroundScheduler
    monitor.daemon.BackgroundScheduler = JobRecorder
    try:
        daemon.run(install_signals=False)
    except _Started:
        pass
    finally:
        monitor.daemon.BackgroundScheduler = real
    daemon.health.phase = "running"  # what run() says next
    return JobRecorder.jobs


def run_due(jobs: list[list], now) -> None:
    """Run each due job once however many runs it missed (APScheduler's coalesce)."""
    for job in jobs:
        seconds, fn, next_at = job
        if next_at <= now:
            fn()
            while job[2] <= now:
                job[2] += timedelta(seconds=seconds)


def _loop(
    params, daemon, jobs, clock, server, feed_port, result, on_sample, tracing, before
) -> None:
    step = timedelta(minutes=params.step_minutes)
    steps = round(params.hours * 60 / params.step_minutes)
    # The scheduler's tick job is this loop's own step: every step, then wait for the polls.
    jobs = [job for job in jobs if job[1] != daemon.tick]
    next_sample, baseline = START, None
    started = time.monotonic()
    for i in range(steps + 1):
        clock.now = START + i * step
        server.set_time(clock.now)
        daemon.tick()
        if not daemon.pool.wait_idle(timeout=120):
            raise RuntimeError(f"polls still running 120 s after the tick at {clock.now}")
        if time.monotonic() - started > params.max_wall_seconds:
            raise RuntimeError(f"past {params.max_wall_seconds:.0f} s at {clock.now}")
        run_due(jobs, clock.now)
        scrape(daemon.endpoint.address)
        result.scrapes += 1
        if i == 0 and tracing:
            tracemalloc.start()
        if clock.now < next_sample:
            continue
        hour = (clock.now - START) / timedelta(hours=1)
        next_sample += timedelta(hours=params.sample_hours)
        if baseline is None and hour >= params.warmup_hours and params.trace:
            baseline = probe.heap_statistics()  # before the reading: it counts in all
        sample = _sample(daemon, hour, feed_port, time.monotonic() - started, before)
        result.samples.append(sample)
        if on_sample:
            on_sample(sample)
    if baseline is not None:
        result.heap_at_baseline = baseline
        result.heap_growth = probe.heap_growth(baseline, probe.heap_statistics())


def _sample(daemon, hour: float, feed_port: int, wall: float, before) -> Sample:
    ctx = daemon.ctx
    counters = ctx.state.counters()
    kinds = probe.fd_kinds(feed_port, before[1])
    return Sample(
        hour=round(hour, 2),
        polls=sum(v for k, v in counters.items() if k.startswith("polls.")),
        articles=counters.get("articles.stored", 0),
        rss_mib=round(probe.status_field("VmRSS") / 1024, 1),
        traced_mib=round(probe.traced_mib(), 2),
        sqlite_mib=round(probe.sqlite_mib(), 2),
        parsers_rss_mib=round(
            sum(probe.status_field("VmRSS", p) for p in ctx.cpu.pids()) / 1024, 1
        ),
        fds=sum(kinds.values()),
        fd_kinds=dict(sorted(kinds.items())),
        threads=probe.threads_since(before[0]),
        # native threads (the OS's count less Python's): C libraries' pools
        native_threads=probe.status_field("Threads") - threading.active_count(),
        sqlite_connections=probe.sqlite_connections(ctx.state.db, getattr(ctx.store, "db", None)),
        signatures=ctx.stories.signatures_in_memory(),
        reports_kept=len(daemon.pool.reports or ()),
        wall_s=round(wall, 1),
        cpu_s=round(sum(resource.getrusage(resource.RUSAGE_SELF)[:2]), 1),
    )


def _totals(ctx, server, result: SoakResult) -> None:
    result.counters = ctx.state.counters()
    result.served = server.stats()
    result.stored = ctx.store.counts()["total"]["documents"]
    db = ctx.state.db
    result.stories_of_2_or_more = db.read("SELECT count(*) FROM stories WHERE size >= 2")[0][0]
    result.alerts_sent = db.read("SELECT count(*) FROM alert_deliveries WHERE status = 'sent'")[0][
        0
    ]
