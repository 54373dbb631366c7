"""Operating the daemon: /healthz and /metrics, `monitor status` and `monitor health`,
structured log lines with stable keys, and `--shard i/N`."""

from __future__ import annotations

import gc
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from monitor import shard
from monitor.daemon import Daemon
from monitor.errors import StartupError
from monitor.feeds import Feed
from monitor.health import Endpoint, Health
from monitor.logs import JsonFormatter
from tests.conftest import monitor_env, write_feeds

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = [
    ("ru_windows1251.xml", "ru", 5),
    ("hy_armenian.xml", "hy", 5),
    ("az_latin.xml", "az", 5),
]
ARTICLES = sum(n for _, _, n in FIXTURES)
# The keys every `poll_done` line carries, in every release (README, "Log lines").
POLL_DONE_KEYS = {
    "ts", "level", "event", "logger", "feed_id", "feed_name", "feed_url", "outcome", "status",
    "error", "entries", "items_new", "articles", "translations", "next_poll_at",
    "schedule_reason", "consecutive_failures", "poll_seconds",
}  # fmt: skip
ARTICLE_DONE_KEYS = {
    "ts", "level", "event", "logger", "feed_id", "feed_name", "article_id", "article_url",
    "stage", "outcome", "error",
}  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def metrics(text: str) -> dict[tuple, float]:
    """``{(sample name, sorted labels): value}`` from a Prometheus exposition, and
    ``(family name, "families")`` for every family declared."""
    out = {}
    for family in text_string_to_metric_families(text):
        out[(family.name, "families")] = 1
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def _monitor(tmp: Path, env: dict, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        capture_output=True,
        text=True,
        cwd=tmp,
        env=env,
        timeout=timeout,
    )


@pytest.fixture
def daemon_dir(tmp_path, feed_server):
    port = free_port()
    (tmp_path / "monitor.toml").write_text(
        'data_dir = "data"\nfeeds_file = "feeds.toml"\nper_host_min_interval_seconds = 0\n'
        f"scheduler_tick_seconds = 1\nhttp_port = {port}\n"
    )
    feeds = [
        {"name": f"fixture {name}", "url": feed_server.url(f"/etag/{name}"), "language": lang}
        for name, lang, _ in FIXTURES
    ]
    feeds.append({"name": "gone", "url": feed_server.url("/status/404"), "language": "ru"})
    write_feeds(tmp_path / "feeds.toml", feeds)
    env = monitor_env(tmp_path / "monitor.toml")
    return tmp_path, env, f"http://127.0.0.1:{port}"


def test_the_running_daemon_answers_healthz_metrics_status_and_health(daemon_dir):
    tmp, env, base = daemon_dir
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "run", "--log-format", "json"],
        cwd=tmp,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        samples = _wait_for_articles(proc, base, ARTICLES)
        health = httpx.get(f"{base}/healthz", timeout=5)
        assert health.status_code == 200
        report = health.json()
        assert report["ready"] is True and report["reasons"] == []
        assert report["checks"]["state_database"] == "ok"
        assert httpx.get(f"{base}/other", timeout=5).status_code == 404

        # what this process counted, by stage and outcome
        assert samples[("monitor_articles_total", (("outcome", "stored"), ("stage", "index")))] == (
            ARTICLES
        )
        assert samples[("monitor_polls_total", (("outcome", "ok"),))] == len(FIXTURES)
        assert samples[("monitor_polls_total", (("outcome", "http_error"),))] == 1
        assert samples[("monitor_fetch_seconds_count", (("outcome", "ok"),))] == len(FIXTURES)
        assert samples[("monitor_fetch_seconds_count", (("outcome", "http_error"),))] == 1
        # what the databases say
        assert samples[("monitor_feeds", (("state", "ok"),))] == len(FIXTURES)
        assert samples[("monitor_feeds", (("state", "failing"),))] == 1
        assert samples[("monitor_alert_queue_depth", ())] == 0
        # the store's counts are asked at most once a minute: the first scrape, before any
        # article, is still the answer; `monitor status` below reads them fresh
        assert ("monitor_documents", "families") in samples

        ok = _monitor(tmp, env, "health")
        assert ok.returncode == 0 and ok.stdout.startswith("ready"), ok.stdout + ok.stderr
        status = json.loads(_monitor(tmp, env, "status", "--json").stdout)
        assert status["daemon"]["ready"] is True
        feeds = {f["name"]: f for f in status["feeds"]}
        assert [f["name"] for f in status["feeds"]][0] == "gone"  # failing first
        assert feeds["gone"]["consecutive_failures"] == 1 and "404" in feeds["gone"]["last_error"]
        assert all(feeds[f"fixture {n}"]["items_today"] == c for n, _, c in FIXTURES)
        assert all(feeds[f"fixture {n}"]["last_success_at"] for n, _, _ in FIXTURES)
        assert status["store"]["documents"] == ARTICLES + 5  # and the seed corpus
        assert status["translation_backlog"]["hy"]["pending"] == 5
        assert "monitor models install hy" in status["translation_backlog"]["hy"]["reason"]
        assert status["alerts"]["channels"]["log"]["sent"] == 0
        text = _monitor(tmp, env, "status").stdout
        assert "daemon: ready" in text and "FEED" in text and "LAST SUCCESS" in text
        assert "hy→en: 5 pending" in text
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    polls = [line for line in lines if line["event"] == "poll_done"]
    assert polls and all(set(line) == POLL_DONE_KEYS for line in polls), polls[0]
    assert not [line for line in lines if line["event"] == "article_done"]  # debug only
    assert any(line["event"] == "endpoint_started" for line in lines)
    components = {line["component"]: line for line in lines if line["event"] == "component"}
    assert components["endpoint"]["on"] and base in components["endpoint"]["why"]
    assert components["shard"]["on"] is False
    down = _monitor(tmp, env, "health")
    assert down.returncode == 1 and "is `monitor run` running?" in down.stdout


def _wait_for_articles(proc, base: str, count: int) -> dict:
    deadline = time.monotonic() + 60
    samples: dict = {}
    key = ("monitor_articles_total", (("outcome", "stored"), ("stage", "index")))
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1]
        try:
            samples = metrics(httpx.get(f"{base}/metrics", timeout=5).text)
        except httpx.HTTPError:
            samples = {}
        if samples.get(key) == count and samples.get(
            ("monitor_polls_total", (("outcome", "http_error"),))
        ):
            return samples
        time.sleep(0.2)
    raise AssertionError(f"no {count} articles stored within 60 s: {samples.get(key)}")


@pytest.fixture
def ctx(make_settings, make_context):
    return make_context(make_settings())


def test_healthz_says_why_it_is_not_ready(ctx):
    alive = [True]
    health = Health(ctx, tick_seconds=1, workers_alive=lambda: alive[0])
    endpoint = Endpoint("127.0.0.1", 0, health, ctx.metrics)
    endpoint.start()
    try:
        url = f"{endpoint.address}/healthz"
        starting = httpx.get(url, timeout=5)
        assert starting.status_code == 503
        assert starting.json()["status"] == "starting"
        assert "loading the story index" in starting.json()["reasons"][0]
        health.phase = "running"
        assert httpx.get(url, timeout=5).status_code == 200
        health._last_tick -= 120  # the scheduler has not picked feeds for two minutes
        stalled = httpx.get(url, timeout=5).json()
        assert not stalled["ready"] and stalled["reasons"][0].startswith("scheduler stalled")
        health.ticked()
        alive[0] = False
        dead = httpx.get(url, timeout=5).json()
        assert dead["reasons"] == ["a polling thread died: restart the daemon (see its log)"]
        alive[0] = True
        health.phase = "stopping"
        assert httpx.get(url, timeout=5).json()["status"] == "stopping"
    finally:
        endpoint.close()


def test_a_port_in_use_stops_start_up_naming_the_setting(ctx):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(StartupError, match=r"http_port.*or 0 for none"):
            Endpoint("127.0.0.1", port, Health(ctx, 1), ctx.metrics)


def test_articles_are_counted_by_the_stage_that_ended_them(
    make_settings, make_context, feed_server
):
    feeds = [
        {"name": "one", "url": feed_server.url("/feeds/ru_windows1251.xml"), "language": "ru"},
        {
            "name": "two",
            "url": feed_server.url("/feeds/ru_windows1251_declared.xml"),
            "language": "ru",
        },
    ]
    ctx = make_context(make_settings(feeds, parse_processes=0, translation=False))
    daemon = Daemon(ctx)
    try:
        daemon.poll_once(["one"])
        daemon.poll_once(["two"])
    finally:
        daemon.close()
    samples = metrics(ctx.metrics.exposition().decode())
    assert samples[("monitor_articles_total", (("outcome", "stored"), ("stage", "index")))] == 5
    duplicates = {
        labels: value
        for (name, labels), value in samples.items()
        if name == "monitor_articles_total" and dict(labels)["stage"] == "dedupe"
    }
    assert sum(duplicates.values()) == 5, samples


def test_debug_logs_one_line_per_article_with_stable_keys(make_settings, make_context, feed_server):
    feeds = [{"name": "one", "url": feed_server.url("/feeds/hy_armenian.xml"), "language": "hy"}]
    ctx = make_context(make_settings(feeds, parse_processes=0, translation=False))
    lines: list[dict] = []

    class Collect(logging.Handler):
        def emit(self, record):
            lines.append(json.loads(JsonFormatter().format(record)))

    handler = Collect(level=logging.DEBUG)
    logger = logging.getLogger("monitor")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    daemon = Daemon(ctx)
    try:
        daemon.poll_once(["one"])
    finally:
        daemon.close()
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    done = [line for line in lines if line["event"] == "article_done"]
    assert len(done) == 5
    assert all(set(line) == ARTICLE_DONE_KEYS for line in done), done[0]
    assert {(line["stage"], line["outcome"]) for line in done} == {("index", "stored")}
    assert all(line["article_url"].startswith("http") for line in done)


def _feeds(n: int) -> list[Feed]:
    return [Feed(name=f"f{i}", url=f"https://example.org/{i}/rss", language="ru") for i in range(n)]


def test_shards_split_the_feeds_into_disjoint_stable_shares():
    feeds = _feeds(300)
    shares = [shard.select(feeds, f"{i}/3") for i in (1, 2, 3)]
    names = [f.name for share in shares for f in share]
    assert sorted(names) == sorted(f.name for f in feeds)  # every feed once
    assert all(70 <= len(share) <= 130 for share in shares), [len(s) for s in shares]
    # stable: the share follows the URL, not the order of the file or the other feeds
    assert shard.select(list(reversed(feeds)), "2/3") == list(reversed(shares[1]))
    assert shard.select(feeds[:50], "2/3") == [f for f in shares[1] if f in feeds[:50]]
    # and across releases: a feed's shard is a contract between machines on two versions
    pinned = {
        "https://tass.ru/rss/v2.xml": (1, 3),
        "https://news.am/rus/rss/": (3, 1),
        "https://www.bbc.com/persian/index.xml": (2, 1),
    }
    for url, (of_four, of_three) in pinned.items():
        feed_id = Feed(name="t", url=url, language="ru").feed_id
        assert (shard.shard_of(feed_id, 4), shard.shard_of(feed_id, 3)) == (of_four, of_three)
    assert shard.select(feeds, "") == feeds


@pytest.mark.parametrize("value", ["0/2", "3/2", "1/0", "a/b", "2"])
def test_a_bad_shard_is_refused_with_the_form(make_settings, value):
    with pytest.raises(StartupError, match="shard"):
        make_settings(shard=value)


def test_poll_with_a_shard_polls_only_its_share(tmp_path, feed_server):
    names = [f"feed {i}" for i in range(8)]
    feeds = [
        {"name": n, "url": feed_server.url(f"/feeds/ru_windows1251.xml?n={i}"), "language": "ru"}
        for i, n in enumerate(names)
    ]
    write_feeds(tmp_path / "feeds.toml", feeds)
    (tmp_path / "monitor.toml").write_text(
        'data_dir = "data"\nfeeds_file = "feeds.toml"\nhttp_port = 0\ntranslation = false\n'
        "load_seed_on_start = false\n"
    )
    env = monitor_env(tmp_path / "monitor.toml")
    polled = {}
    for i in (1, 2):
        out = _monitor(tmp_path, env, "poll", "--once", "--json", "--shard", f"{i}/2")
        assert out.returncode == 0, out.stderr
        polled[i] = {json.loads(line)["feed"] for line in out.stdout.splitlines()}
    expected = {
        i: {f.name for f in shard.select([Feed(**f) for f in feeds], f"{i}/2")} for i in (1, 2)
    }
    assert polled == expected
    assert polled[1] and polled[2] and not polled[1] & polled[2]
    status = json.loads(_monitor(tmp_path, env, "status", "--json", "--shard", "1/2").stdout)
    assert {f["name"] for f in status["feeds"]} == expected[1] and status["shard"] == "1/2"


def test_translation_batches_are_timed_per_language(make_settings, feed_server, tmp_path):
    from monitor.commands import open_context
    from monitor.translate.models import install_file
    from tests.fixtures.argos_model import build_package

    feeds = [{"name": "hy", "url": feed_server.url("/feeds/hy_armenian.xml"), "language": "hy"}]
    settings = make_settings(feeds, parse_processes=0, models_dir=tmp_path / "models")
    install_file(build_package(tmp_path / "packages", "hy"), settings.models_dir)
    with open_context(settings) as ctx:  # the daemon's own wiring of engine and metrics
        daemon = Daemon(ctx)
        try:
            daemon.poll_once(["hy"])
        finally:
            daemon.close()
        samples = metrics(ctx.metrics.exposition().decode())
    assert samples[("monitor_translation_seconds_count", (("language", "hy"),))] >= 1
    assert samples[("monitor_translation_seconds_sum", (("language", "hy"),))] > 0
    stored = ("monitor_articles_total", (("outcome", "stored"), ("stage", "index")))
    translated = ("monitor_articles_total", (("outcome", "done"), ("stage", "translate")))
    assert samples[stored] == samples[translated] == 5


def test_scrapes_for_months_open_no_file_handles_or_threads(ctx):
    from monitor.metrics import DatabaseCollector

    collector = DatabaseCollector(ctx, lambda: [])
    ctx.metrics.registry.register(collector)
    collector.refresh_store_counts()
    health = Health(ctx, tick_seconds=1)
    health.phase = "running"
    endpoint = Endpoint("127.0.0.1", 0, health, ctx.metrics)
    endpoint.start()

    def scrape(times: int) -> None:
        with httpx.Client() as client:  # one connection: the server's count is what we watch
            for _ in range(times):
                assert client.get(f"{endpoint.address}/metrics").status_code == 200
                assert client.get(f"{endpoint.address}/healthz").status_code == 200

    try:
        scrape(5)  # warm-up: the server thread's SQLite connections are opened once
        gc.collect()  # earlier tests' garbage closes its own files meanwhile: not ours
        fds, threads = len(os.listdir("/proc/self/fd")), len(threading.enumerate())
        scrape(200)  # a connection a request (or a thread) would show as 200 more
        gc.collect()
        assert len(os.listdir("/proc/self/fd")) <= fds
        assert len(threading.enumerate()) <= threads
    finally:
        endpoint.close()


def test_cached_translations_older_than_a_month_are_dropped(ctx):
    from datetime import UTC, datetime, timedelta

    ctx.state.cache_translations({"k1": "one", "k2": "two"})
    now = datetime.now(UTC)
    daemon = Daemon(ctx)
    try:
        ctx.clock = lambda: now + timedelta(days=29)
        daemon.forget_translations()
        assert ctx.state.cached_translations(["k1", "k2"]) == {"k1": "one", "k2": "two"}
        ctx.clock = lambda: now + timedelta(days=31)
        daemon.forget_translations()
        assert ctx.state.cached_translations(["k1", "k2"]) == {}
    finally:
        daemon.close()


def test_a_feeds_condition_is_one_answer_for_status_and_metrics():
    from monitor.feeds import condition

    feed = Feed(name="f", url="https://example.org/rss", language="ru")
    off = Feed(name="f", url="https://example.org/rss", language="ru", enabled=False)
    state = {"disabled_reason": None, "consecutive_failures": 0}
    assert condition(feed, None) == "never_polled"
    assert condition(feed, state) == "ok"
    assert condition(feed, {**state, "consecutive_failures": 2}) == "failing"
    assert condition(feed, {**state, "disabled_reason": "gone_410"}) == "disabled"
    assert condition(off, None) == condition(off, state) == "disabled"  # off in the file
