"""Hostile feeds served on 127.0.0.1: each ends in bounded time and memory with a logged
reason, and the other feeds go on.

Every case is polled through ``pipeline.poll_feed`` with a 3 s fetch deadline and a
2 MiB byte cap; memory is the tracemalloc peak of the poll (parsing inline), and once
for a whole ``monitor poll --once`` in a child process (its peak resident size).
Bounds are generous: the code before these tests measured 8 GiB for the double gzip
bomb, 0.8-3 GB for the quadratic entity blow-up and an endless header drip.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
import tracemalloc

import pytest

from monitor import pipeline
from monitor.daemon import Daemon
from monitor.feeds import Feed
from monitor.stages.fetch import Fetcher
from monitor.store import SearchQuery
from tests.conftest import ROOT, monitor_env, write_feeds
from tests.hostile import MIB

DEADLINE = 3.0
CAP = 2 * MIB
MARGIN = 2.5  # seconds past the deadline a noisy VM may take to close and record a poll
SETTINGS = {
    "fetch_deadline_seconds": DEADLINE,
    "read_timeout_seconds": 2,
    "connect_timeout_seconds": 2,
    "max_feed_bytes": CAP,
    "translation": False,
}
FETCH_PEAK = 16 * MIB  # a fetch holds at most the cap and a few 64 KiB pieces
PARSE_PEAK = 32 * MIB  # feedparser on 1 MiB of garbage (12 MiB measured), and the store

# name: (path, outcome, a piece of the logged reason, peak bound of the poll)
CASES = {
    "drip_headers": ("/drip-head/0.2", "timeout", "fetch deadline of 3 s", FETCH_PEAK),
    "drip_body": ("/drip/100000/0.2", "timeout", "fetch deadline of 3 s", FETCH_PEAK),
    "gzip_bomb": (
        "/gzip-bomb/10240",
        "too_large",
        f"gzip body inflates to more than {CAP} bytes",
        FETCH_PEAK,
    ),
    "deflate_bomb": (
        "/gzip-bomb/10240?encoding=deflate",
        "too_large",
        f"deflate body inflates to more than {CAP} bytes",
        FETCH_PEAK,
    ),
    "double_gzip_bomb": (
        "/gzip-bomb/10240?encoding=gzip,gzip",
        "too_large",
        "(Content-Encoding: gzip,gzip)",
        FETCH_PEAK,
    ),
    "1gb_chunked": ("/oversize/1024", "too_large", f"body exceeds {CAP} bytes", FETCH_PEAK),
    "1gb_no_length": (
        "/oversize/1024?framing=close",
        "too_large",
        f"body exceeds {CAP} bytes",
        FETCH_PEAK,
    ),
    "1gb_content_length": (
        "/oversize/1024?framing=length",
        "too_large",
        f"Content-Length 1073741824 exceeds {CAP} bytes",
        FETCH_PEAK,
    ),
    "redirect_loop": (
        "/redirect-loop/0",
        "too_many_redirects",
        "more than 5 redirects",
        FETCH_PEAK,
    ),
    "billion_laughs": (
        "/entities/laughs",
        "malformed",
        "refused: XML entity 'lol1' is built from other entities",
        PARSE_PEAK,
    ),
    "billion_laughs_past_feedparser": (
        "/entities/laughs-hidden",
        "malformed",
        "refused: XML entity 'lol1' is built from other entities",
        PARSE_PEAK,
    ),
    "quadratic_blowup": (
        "/entities/quadratic",
        "malformed",
        "refused: XML entity references would add over",
        PARSE_PEAK,
    ),
    "external_entities": (
        "/entities/external",
        "malformed",
        "refused: external XML entity 'xxe' declared (SYSTEM)",
        PARSE_PEAK,
    ),
    "garbage_as_rss": ("/garbage", "malformed", "not well-formed", PARSE_PEAK),
    "garbage_as_text_xml": (
        "/garbage/random?kib=1024&ctype=text/xml",
        "malformed",
        "not well-formed",
        PARSE_PEAK,
    ),
    "garbage_after_xml_declaration": ("/garbage/xml", "malformed", "not well-formed", PARSE_PEAK),
    "nul_bytes": ("/garbage/nul", "malformed", "not well-formed", PARSE_PEAK),
}
GOOD = {  # fixture: entries (tests/fixtures/feeds/MANIFEST.toml)
    "az_latin.xml": ("az", 5),
    "hy_armenian.xml": ("hy", 5),
    "fa_persian.xml": ("fa", 5),
    "ru_windows1251.xml": ("ru", 5),
    "en_atom.xml": ("en", 4),
}


@pytest.fixture
def polled(caplog, monkeypatch):
    """The ``poll_done`` records of monitor.poll, by feed name."""
    # setup_logging (run by CLI tests) stops "monitor" records at its own handler
    monkeypatch.setattr(logging.getLogger("monitor"), "propagate", True)
    caplog.set_level(logging.INFO, logger="monitor.poll")
    return lambda: {
        r.feed_name: r for r in caplog.records if r.name == "monitor.poll" and r.msg == "poll_done"
    }


@pytest.fixture
def env(make_settings, make_context, feed_server):
    """Poll one feed at a time, parsing inline (so that tracemalloc sees the parse)."""

    class Env:
        server = feed_server

        def __init__(self):
            self.ctx = make_context(make_settings(parse_processes=0, **SETTINGS))
            self.fetcher = Fetcher(self.ctx.settings, self.ctx.stop)

        def feed(self, path: str, name: str = "", language: str = "en") -> Feed:
            return Feed(name=name or path, url=feed_server.url(path), language=language)

        def poll(self, feed: Feed) -> tuple[pipeline.PollReport, int]:
            """The poll's report and its tracemalloc peak in bytes."""
            with traced() as peak:
                report = pipeline.poll_feed(self.ctx, self.fetcher, feed)
            return report, peak()

        def docs(self, feed: Feed) -> list[dict]:
            query = SearchQuery(sources=(feed.name,), limit=100, sort="date")
            return self.ctx.store.search(query).hits

    e = Env()
    yield e
    e.fetcher.close()


class traced:
    """Trace Python allocations inside the block; ``peak()`` is the highest point."""

    def __enter__(self):
        self._was_tracing = tracemalloc.is_tracing()
        if not self._was_tracing:
            tracemalloc.start()
        tracemalloc.reset_peak()
        self._base = tracemalloc.get_traced_memory()[0]
        self._peak = 0
        return lambda: self._peak

    def __exit__(self, *exc):
        self._peak = tracemalloc.get_traced_memory()[1] - self._base
        if not self._was_tracing:
            tracemalloc.stop()


@pytest.mark.parametrize("name", list(CASES))
def test_a_hostile_feed_ends_with_its_reason(env, polled, name):
    path, outcome, reason, peak_bound = CASES[name]
    feed = env.feed(path, name)
    started = time.monotonic()
    report, peak = env.poll(feed)
    seconds = time.monotonic() - started
    print(f"{name}: {report.outcome} in {seconds:.2f} s, peak {peak / MIB:.1f} MiB")
    assert (report.outcome, report.stored) == (outcome, 0), report.error
    assert seconds < DEADLINE + MARGIN, seconds
    assert peak < peak_bound, f"{name}: {peak / MIB:.1f} MiB"
    assert reason in report.error
    record = polled()[name]
    assert (record.outcome, record.error) == (outcome, report.error)
    assert record.levelno == logging.WARNING and record.consecutive_failures == 1
    state = env.ctx.state.feed_state(feed.feed_id)
    assert state["last_error"] == report.error and state["failure_class"] in ("soft", "temporary")


def test_external_entities_are_never_read(env):
    feed = env.feed("/entities/external")
    report, _ = env.poll(feed)
    assert report.outcome == "malformed"
    # The entity pointing at this server was never fetched, the DTD neither.
    assert env.server.count("/xxe-probe") == env.server.count("/xxe-probe-dtd") == 0
    assert env.docs(feed) == []


def test_harmless_entity_declarations_still_parse(env):
    feed = env.feed("/entities/harmless")
    report, _ = env.poll(feed)
    assert (report.outcome, report.stored) == ("ok", 2), report.error
    titles = sorted(d["title"] for d in env.docs(feed))
    assert titles == ["Example News again", "Hello from Example News"], titles


def test_nul_bytes_after_an_item_keep_the_item_without_them(env):
    feed = env.feed("/garbage/nul-item")
    report, _ = env.poll(feed)
    assert (report.outcome, report.stored) == ("ok", 1), report.error
    assert "not well-formed" in report.warning
    assert [d["title"] for d in env.docs(feed)] == ["ab"]


@pytest.mark.parametrize("vary", [False, True], ids=["same_bytes", "new_bytes_same_items"])
def test_a_new_etag_on_every_response_stores_nothing_twice_and_slows_down(env, vary):
    path = "/etag-churn/az_latin.xml" + ("?vary=1" if vary else "")
    feed = env.feed(path, language="az")
    first, _ = env.poll(feed)
    assert (first.outcome, first.stored) == ("ok", 5)
    factors = [env.ctx.state.feed_state(feed.feed_id)["interval_factor"]]
    for _ in range(3):
        report, _ = env.poll(feed)
        # Same bytes: the body hash says so before any parsing. New bytes: parsed, and
        # every article is a counted duplicate.
        if vary:
            assert report.outcome == "ok" and report.articles == {"dropped_duplicate_id": 5}
        else:
            assert report.outcome == "unchanged" and report.entries == 0
        assert report.stored == 0
        factors.append(env.ctx.state.feed_state(feed.feed_id)["interval_factor"])
    print("interval factors:", factors)
    assert len(env.docs(feed)) == 5
    # Nothing new: the interval only grows (adaptive polling), never speeds up.
    assert factors == sorted(factors) and factors[-1] > factors[0]
    sent = [r.headers.get("if-none-match") for r in env.server.requests if r.path in path]
    assert sent == [None, '"churn-1"', '"churn-2"', '"churn-3"']


def _feeds(server) -> tuple[list[dict], list[dict]]:
    hostile = [{"name": n, "url": server.url(c[0]), "language": "en"} for n, c in CASES.items()]
    good = [
        {"name": f"good_{f}", "url": server.url(f"/feeds/{f}"), "language": lang}
        for f, (lang, _) in GOOD.items()
    ]
    return hostile, good


def test_hostile_feeds_polled_together_with_good_ones(
    make_settings, make_context, feed_server, polled
):
    hostile, good = _feeds(feed_server)
    # One host serves them all here; elsewhere each hostile feed is its own site.
    settings = make_settings(hostile + good, workers=16, per_host_concurrency=16, **SETTINGS)
    ctx = make_context(settings)  # parse_processes left at -1: the worker processes
    daemon = Daemon(ctx)
    started = time.monotonic()
    try:
        reports = {r.feed.name: r for r in daemon.poll_once()}
    finally:
        daemon.close()
    assert time.monotonic() - started < 30
    records = polled()
    assert set(reports) == set(records) == {f["name"] for f in hostile + good}
    for name, (_, outcome, reason, _) in CASES.items():
        assert (reports[name].outcome, records[name].outcome) == (outcome, outcome), name
        assert reason in records[name].error, (name, records[name].error)
    for feed in good:
        entries = GOOD[feed["name"].removeprefix("good_")][1]
        report = reports[feed["name"]]
        assert (report.outcome, report.stored, records[feed["name"]].error) == ("ok", entries, "")
    stored = ctx.store.search(SearchQuery(limit=100)).total
    assert stored == sum(entries for _, entries in GOOD.values())


def test_a_poll_of_them_all_stays_small_in_a_child_process(tmp_path, feed_server):
    hostile, good = _feeds(feed_server)
    feeds_file = write_feeds(tmp_path / "feeds.toml", hostile + good)
    config = tmp_path / "monitor.toml"
    config.write_text("")
    sets = {**SETTINGS, "parse_processes": 0, "workers": 16, "per_host_concurrency": 16}
    sets.update(feeds_file=str(feeds_file), per_host_min_interval_seconds=0, http_port=0)
    command = [sys.executable, "-m", "monitor", "--config", str(config)]
    command += ["--data-dir", str(tmp_path / "data"), "--log-level", "WARNING"]
    for key, value in sets.items():
        command += ["--set", f"{key}={str(value).lower() if isinstance(value, bool) else value}"]
    command += ["poll", "--once", "--json"]
    # A fresh parent, so that its children's peak is this poll's and no earlier test's.
    measure = (
        "import resource, subprocess, sys\n"
        "proc = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=120)\n"
        "sys.stderr.write(proc.stderr)\n"
        "print(proc.stdout + '@@' + str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))"
    )
    env = monitor_env()
    proc = subprocess.run(
        [sys.executable, "-c", measure, *command],
        capture_output=True,
        text=True,
        timeout=150,
        cwd=ROOT,
        env=env,
    )
    out, _, maxrss_kib = proc.stdout.rpartition("@@")
    rows = {row["feed"]: row for row in map(json.loads, filter(None, out.splitlines()))}
    assert len(rows) == len(hostile) + len(good), proc.stderr[-3000:]
    assert {n: rows[n]["outcome"] for n in CASES} == {n: c[1] for n, c in CASES.items()}
    assert all(rows[f["name"]]["outcome"] == "ok" for f in good)
    # The interpreter, lingua's models and SQLite come to ~250 MiB; the code before these
    # tests reached 8 GiB on the double gzip bomb alone.
    peak_mib = int(maxrss_kib) / 1024
    print(f"peak of the poll: {peak_mib:.0f} MiB")
    assert peak_mib < 400, f"{peak_mib:.0f} MiB"
