"""Faults, each with a clear expected result: the daemon killed with SIGKILL in the
middle of a poll and restarted, a database locked by another process, Elasticsearch
unreachable, a translation that throws on one article.

Everything runs against real things on 127.0.0.1: ``monitor run`` as a process, the feed
server, the webhook receiver, a second process holding SQLite's write lock, the tiny
real Argos model. Every wait is bounded.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

from tests.conftest import write_feeds

pytest_plugins = ("tests.alertservers",)

MARKER = "quartzite"  # the alert rule's word: in every other article
RULES = f"""
[channels.desk]
type = "webhook"
url = "{{hook}}"

[[rules]]
name = "drill"
query = "{MARKER}"
channels = ["desk"]
throttle_hours = 0
"""
WAIT_SECONDS = 60  # the bound of every wait on a daemon (CI machines are slow)

_TOPICS = (
    "grain exports through the northern port",
    "a new bridge over the river near the old market",
    "winter heating prices in the capital",
    "the regional football final and its crowd",
    "a museum that reopened after restoration",
    "water supply repairs in three districts",
    "the university entrance examinations",
    "a mountain road closed by a landslide",
)


def article(feed: int, n: int) -> dict:
    """An invented English article, distinct from every other one."""
    topic = _TOPICS[(feed + n) % len(_TOPICS)]
    marked = n % 2 == 0 and n < 20  # at most 10 alerts a feed
    text = (
        f"Report {feed}-{n} on {topic}. Officials said on day {n} of the month that work "
        f"in sector {feed * 100 + n} would continue. "
        + (f"Engineers found {MARKER} deposits under the site. " if marked else "")
        + f"Residents of block {n * 7 + feed} asked for more information."
    )
    return {
        "title": f"Drill {feed}-{n}: {topic}",
        "text": text,
        "url": f"/drill/{feed}/{n}",
        "marked": marked,
    }


def rss(base_url: str, articles: list[dict]) -> bytes:
    """An RSS 2.0 document of these articles."""
    from xml.sax.saxutils import escape

    items = "".join(
        f"<item><title>{escape(a['title'])}</title><link>{base_url}{a['url']}</link>"
        f"<description>{escape(a['text'])}</description>"
        f"<pubDate>Tue, 12 Nov 2024 09:{i % 60:02d}:00 +0000</pubDate></item>"
        for i, a in enumerate(articles)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>drill</title><link>{base_url}</link><description>d</description>"
        f"{items}</channel></rss>"
    ).encode()


def wait_for(condition: Callable[[], bool], what: str, seconds: float = WAIT_SECONDS) -> None:
    """Poll ``condition`` until true; fail naming ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        time.sleep(0.05)


def query(path: Path, sql: str, params: tuple = ()) -> list[tuple]:
    """Rows of a query on a database the daemon may be writing (WAL: readers never wait)."""
    if not path.exists():
        return []
    with closing(sqlite3.connect(path, timeout=10)) as conn:
        try:
            return conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):  # the daemon has not created it yet
                return []
            raise


class Deployment:
    """A data folder, feeds, rules and ``monitor run`` processes on them, one at a time."""

    def __init__(self, tmp_path: Path, hook_url: str, feeds: list[dict]):
        self.tmp = tmp_path
        self.data = tmp_path / "data"
        (tmp_path / "monitor.toml").write_text(
            'data_dir = "data"\nfeeds_file = "feeds.toml"\nalerts_file = "alerts.toml"\n'
            "per_host_min_interval_seconds = 0\nper_host_concurrency = 16\n"
            "scheduler_tick_seconds = 1\nalerts_match_seconds = 0.5\nhttp_port = 0\n"
            'translation = false\nload_seed_on_start = false\nlog_format = "json"\n'
        )
        write_feeds(tmp_path / "feeds.toml", feeds)
        (tmp_path / "alerts.toml").write_text(RULES.format(hook=hook_url))
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
        self.env["MONITOR_CONFIG"] = str(tmp_path / "monitor.toml")
        self.proc: subprocess.Popen | None = None
        self.runs = 0

    def start(self) -> None:
        """Start ``monitor run`` in its own process group (its parser processes with it)."""
        self.runs += 1
        self._log = open(self.tmp / f"run-{self.runs}.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "run"],
            cwd=self.tmp,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            start_new_session=True,
        )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole process group: no handler runs, nothing is flushed."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._log.close()

    def stop(self) -> int:
        """SIGTERM, as systemd stops it; the exit status."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        finally:
            self._log.close()

    def cleanup(self) -> None:
        if self.alive():
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def events(self, run: int | None = None) -> list[dict]:
        text = (self.tmp / f"run-{run or self.runs}.log").read_text()
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]

    # -- what the databases say ---------------------------------------------------------

    @property
    def store(self) -> Path:
        return self.data / "store.sqlite3"

    @property
    def state(self) -> Path:
        return self.data / "state.sqlite3"

    def urls(self) -> Counter:
        return Counter(u for (u,) in query(self.store, "SELECT url FROM documents"))

    def ids(self) -> set[str]:
        return {i for (i,) in query(self.store, "SELECT id FROM documents")}

    def seen(self) -> set[str]:
        return {i for (i,) in query(self.state, "SELECT article_id FROM seen")}

    def pending_deliveries(self) -> list[tuple]:
        return query(
            self.state,
            "SELECT a.key, d.channel, d.next_attempt_at FROM alert_deliveries d "
            "JOIN alerts a ON a.id = d.alert_id WHERE d.status = 'pending'",
        )

    def queued(self) -> int:
        return len(query(self.state, "SELECT seq FROM alert_queue"))

    def leased(self) -> set[str]:
        """Keys of deliveries claimed by a sender (a lease ahead of now) and not marked:
        the ones in flight when a process died."""
        now = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() + 60))
        return {key for key, _, at in self.pending_deliveries() if at > now}

    def expire_leases(self) -> None:
        """Move every claim's lease to now, as if its 10 minutes had passed."""
        now = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
        with closing(sqlite3.connect(self.state, timeout=10)) as conn, conn:
            conn.execute(
                "UPDATE alert_deliveries SET next_attempt_at = ? WHERE status = 'pending'", (now,)
            )


def store_write_locked(path: Path) -> bool:
    """True while another connection holds the database's write lock (a transaction)."""
    with closing(sqlite3.connect(path, timeout=0, isolation_level=None)) as conn:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc):
                return True
            raise
        conn.execute("ROLLBACK")
        return False


@pytest.fixture
def drill(tmp_path, feed_server, webhook_receiver):
    """``drill({feed number: (articles, full_text)})``: the feeds served on the feed
    server and a deployment on them; every daemon is killed at the end of the test."""
    made: list[Deployment] = []

    def make(feeds: dict[int, tuple[int, bool]]):
        specs, articles = [], {}
        for number, (count, full_text) in feeds.items():
            items = [article(number, n) for n in range(count)]
            path = f"/drill-feeds/{number}.xml"
            feed_server.set_route(path, body=rss(feed_server.base_url, items))
            spec = {"name": f"drill {number}", "url": feed_server.url(path), "language": "en"}
            specs.append({**spec, "full_text": full_text})
            articles.update({feed_server.base_url + a["url"]: a for a in items})
        deployment = Deployment(tmp_path, webhook_receiver.url, specs)
        deployment.articles = articles
        made.append(deployment)
        return deployment

    yield make
    for deployment in made:
        deployment.cleanup()


def received(receiver) -> Counter:
    """How many times each alert key reached the webhook receiver."""
    return Counter(r.headers["idempotency-key"] for r in receiver.requests)


def settled(d: Deployment, receiver, expected: int) -> Callable[[], bool]:
    """Every article stored, matched and its alerts delivered."""

    def check() -> bool:
        assert d.alive(), d.events()[-5:]  # the daemon died
        return (
            sum(d.urls().values()) >= len(d.articles)
            and d.queued() == 0
            and not d.pending_deliveries()
            and len(received(receiver)) >= expected
        )

    return check


def assert_each_once(d: Deployment, receiver, sent_twice: set[str] = frozenset()) -> None:
    """Every article stored once, ``seen`` agrees, every alert delivered once (those in
    flight at a kill: once more, with the same key), nothing left waiting."""
    urls = d.urls()
    assert set(urls) == set(d.articles), "an article is missing or unknown"
    assert [u for u, n in urls.items() if n > 1] == [], "an article is stored twice"
    ids = dict(query(d.store, "SELECT url, id FROM documents"))
    assert d.seen() == set(ids.values())
    expected = {f"drill/{ids[u]}" for u, a in d.articles.items() if a["marked"]}
    keys = received(receiver)
    assert set(keys) == expected
    assert {k for k, n in keys.items() if n > 1} <= set(sent_twice)
    assert max(keys.values()) <= 2
    recorded = [k for (k,) in query(d.state, "SELECT key FROM alerts")]
    assert sorted(recorded) == sorted(expected)  # each alert recorded once
    assert d.queued() == 0 and d.pending_deliveries() == []


def restart_and_finish(d: Deployment, receiver) -> None:
    """Start again, wait until everything is stored and delivered, stop with SIGTERM."""
    expected = sum(a["marked"] for a in d.articles.values())
    d.start()
    wait_for(settled(d, receiver, expected), "every article stored and alerted")
    assert d.stop() == 0
    names = [e["event"] for e in d.events()]
    assert "daemon_stopped" in names and "poll_crashed" not in names


def test_killed_while_a_feed_waits_for_its_pages(drill, feed_server, webhook_receiver):
    """SIGKILL while one feed's poll fetches its article pages (the others are stored
    and alerted): that feed had kept nothing, and after the restart it is polled again
    and every article is stored, seen and alerted exactly once."""
    d = drill({1: (6, False), 2: (6, False), 3: (4, True)})
    gate = threading.Event()

    def page(handler):
        gate.wait(WAIT_SECONDS)  # the page is slow until the test lets it go
        body = f"<html><body><article><p>{handler.request_path}</p></article></body></html>"
        handler.send_bytes(200, body.encode(), {"Content-Type": "text/html; charset=utf-8"})

    slow = [feed_server.base_url + f"/drill/3/{n}" for n in range(4)]
    for url in slow:
        feed_server.set_handler(url.removeprefix(feed_server.base_url), page)
    others = set(d.articles) - set(slow)
    others_marked = sum(d.articles[u]["marked"] for u in others)
    d.start()
    wait_for(
        lambda: (
            set(d.urls()) == others
            and feed_server.count("/drill/3/0") == 1
            and len(received(webhook_receiver)) == others_marked
            and not d.pending_deliveries()
        ),
        "the fast feeds stored and alerted, the slow one fetching its first page",
    )
    d.kill()
    assert set(d.urls()) == others  # the slow feed had kept nothing
    assert d.seen() == d.ids()
    gate.set()
    restart_and_finish(d, webhook_receiver)
    assert_each_once(d, webhook_receiver)


def test_killed_inside_a_feeds_transaction(drill, feed_server, webhook_receiver):
    """SIGKILL while the daemon holds the store's write lock for a feed of 300 articles
    (its one transaction): the store holds none of them or all of them, never part;
    after the restart every article is stored, seen and alerted exactly once."""
    d = drill({1: (300, False)})
    d.start()
    wait_for(lambda: feed_server.count("/drill-feeds/1.xml") == 1, "the feed fetched")
    wait_for(lambda: d.store.exists() and store_write_locked(d.store), "the transaction")
    d.kill()
    assert len(d.urls()) in (0, 300)  # all or nothing
    assert d.seen() == d.ids()
    in_flight = d.leased()  # only if the kill missed the transaction and hit a delivery
    d.expire_leases()
    restart_and_finish(d, webhook_receiver)
    assert_each_once(d, webhook_receiver, sent_twice=in_flight)


def test_killed_while_an_alert_is_being_delivered(drill, webhook_receiver):
    """SIGKILL while the webhook receiver holds a delivery's request: the alert was
    recorded once and its delivery stays claimed; after the restart the other alerts are
    delivered once and that one is not sent again within its lease (10 minutes); once
    the lease has passed it is sent once more with the same Idempotency-Key, so the
    receiver can tell. Delivery is at least once: a kill during a request cannot know
    whether the receiver acted on it."""
    d = drill({1: (4, False), 2: (4, False)})
    webhook_receiver.delay_seconds = WAIT_SECONDS  # the first delivery hangs
    d.start()
    wait_for(lambda: len(webhook_receiver.requests) == 1, "a delivery in flight")
    d.kill()
    (in_flight,) = received(webhook_receiver)
    assert d.leased() == {in_flight}
    webhook_receiver.delay_seconds = 0
    expected = sum(a["marked"] for a in d.articles.values())
    d.start()
    wait_for(
        lambda: (
            len(received(webhook_receiver)) == expected
            and [k for k, *_ in d.pending_deliveries()] == [in_flight]
        ),
        "every other alert delivered",
    )
    assert received(webhook_receiver)[in_flight] == 1  # not again within its lease
    d.expire_leases()
    wait_for(lambda: not d.pending_deliveries(), "the delivery sent again after its lease")
    assert d.stop() == 0
    assert_each_once(d, webhook_receiver, sent_twice={in_flight})
    assert received(webhook_receiver)[in_flight] == 2
    first, again = [
        r for r in webhook_receiver.requests if r.headers["idempotency-key"] == in_flight
    ]
    assert json.loads(first.body) == json.loads(again.body)


# -- a database locked by another process ----------------------------------------------

HOLD_LOCK = r"""
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()  # until the test says so, or its end closes the pipe
conn.execute("ROLLBACK")
"""


class LockHolder:
    """Another process holding SQLite's exclusive write lock on a file (as an open
    ``sqlite3`` shell in a transaction, or a backup tool, does)."""

    def __init__(self, path: Path):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLD_LOCK, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout.readline().strip() == "locked"

    def release(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)


@pytest.fixture
def lock_holders():
    """Start ``LockHolder(path)``s; every one is released at the end of the test."""
    made: list[LockHolder] = []

    def hold(path: Path) -> LockHolder:
        made.append(LockHolder(path))
        return made[-1]

    yield hold
    for holder in made:
        holder.release()


@pytest.fixture
def daemon_thread(make_context):
    """``start(settings)``: the daemon's own loop (scheduler, worker pool, alert job) in
    a thread, on a fake clock the test moves; stopped at the end of the test."""
    from monitor.alerts.matching import open_alerter
    from monitor.context import utc_now
    from monitor.daemon import Daemon
    from tests.clocks import Clock

    started = []

    def start(settings):
        ctx = make_context(settings)
        # from the real now: the scheduler starts its jobs at ``clock()``, and a start in
        # the past would make it count every missed run since
        ctx.clock = Clock(utc_now())
        ctx.alerts = open_alerter(ctx)
        daemon = Daemon(ctx)
        thread = threading.Thread(target=daemon.run, kwargs={"install_signals": False})
        thread.start()
        started.append((daemon, thread))
        return daemon, thread

    yield start
    for daemon, thread in started:
        daemon.ctx.stop.set()
        thread.join(timeout=30)
        assert not thread.is_alive(), "the daemon did not stop"


@pytest.mark.parametrize("locked", ["store", "state"])
def test_a_database_locked_by_another_process(
    locked, make_settings, daemon_thread, lock_holders, feed_server, webhook_receiver,
    monkeypatch, caplog, tmp_path,
):  # fmt: skip
    """Another process holds the write lock of the store (or of the state database)
    while a poll brings new articles. Expected: the daemon goes on; the new articles are
    not kept and the feed's body hash is not saved (so the next poll brings them back);
    one log line names the file, says it is locked and what to do; once the lock is gone
    the next poll stores each article once and its alerts go out once."""
    from datetime import timedelta

    from monitor import db

    # The busy timeout is 10 s; a lock longer than it is what this is about, so the test
    # waits 0.3 s instead (the lock itself is real, held by another process).
    monkeypatch.setattr(db, "BUSY_TIMEOUT_MS", 300)
    caplog.set_level("INFO")
    path = "/locked/feed.xml"
    items = [article(7, n) for n in range(8)]
    feed_server.set_route(path, body=rss(feed_server.base_url, items[:4]))
    (tmp_path / "alerts.toml").write_text(RULES.format(hook=webhook_receiver.url))
    feeds = [{"name": "locked", "url": feed_server.url(path), "language": "en"}]
    settings = make_settings(
        feeds, translation=False, load_seed_on_start=False, scheduler_tick_seconds=1,
        alerts_file=tmp_path / "alerts.toml", alerts_match_seconds=0.5,
    )  # fmt: skip
    daemon, thread = daemon_thread(settings)
    ctx = daemon.ctx

    def urls() -> Counter:
        return Counter(u for (u,) in query(settings.store_db_path, "SELECT url FROM documents"))

    wait_for(lambda: len(urls()) == 4 and len(webhook_receiver.requests) == 2, "the first poll")
    before = ctx.state.feed_states()
    (feed_id,) = before
    holder = lock_holders(settings.store_db_path if locked == "store" else settings.state_db_path)
    feed_server.set_route(path, body=rss(feed_server.base_url, items))  # four new articles
    ctx.clock.now += timedelta(minutes=61)  # the feed is due again
    wait_for(
        lambda: (
            any(r.msg == "database_locked" for r in caplog.records)
            and feed_server.count(path) == 2
            and daemon.pool.busy() == 0
        ),
        "a poll while the database is locked",
    )
    assert thread.is_alive() and daemon.pool.alive()
    assert len(urls()) == 4  # nothing new kept, nothing lost either
    assert ctx.state.feed_states()[feed_id]["body_hash"] == before[feed_id]["body_hash"]
    (line,) = [r for r in caplog.records if r.msg == "database_locked"]
    assert line.path == str(holder.proc.args[-1]) and line.levelname == "WARNING"
    assert "another process holds a write transaction" in line.fix
    assert "Nothing is lost" in line.fix
    holder.release()
    ctx.clock.now += timedelta(minutes=61)
    wait_for(lambda: len(urls()) == 8 and len(webhook_receiver.requests) == 4, "the next poll")
    assert set(urls()) == {feed_server.base_url + a["url"] for a in items}
    assert max(urls().values()) == 1
    assert ctx.state.db.read("SELECT count(*) FROM seen")[0][0] == 8
    keys = received(webhook_receiver)
    assert len(keys) == 4 and max(keys.values()) == 1
    assert thread.is_alive() and daemon.pool.alive()


# -- a translation that throws on one article -------------------------------------------


@pytest.fixture(scope="module")
def ru_package(tmp_path_factory) -> Path:
    """The tiny real Argos package ru→en (tests/fixtures/argos_model.py)."""
    from tests.fixtures.argos_model import build_package

    return build_package(tmp_path_factory.mktemp("argos-ru"), "ru")


POISON = "Нахичевани"  # in one title of ru_rdf.xml only


def test_a_translation_that_throws_on_one_article_is_quarantined_and_replayed(
    tmp_path, feed_server, make_settings, make_context, ru_package, monkeypatch
):
    """The engine throws for the batch holding one article's sentences (fault injected
    on the real engine, the tiny real model). Expected: that article is quarantined
    (stage ``translate``, with the error; ``monitor quarantine list`` shows it), its
    original stays stored and searchable with ``translation_status: failed``, the other
    articles are translated; a retry that fails again stays one open row; once the fault
    is gone ``monitor quarantine replay`` translates it and marks the row replayed. An
    article that broke a stage before it was kept is listed and replayed beside it."""
    from monitor import pipeline
    from monitor.feeds import Feed
    from monitor.stages import normalize
    from monitor.stages.fetch import Fetcher
    from monitor.stages.translate import translate_waiting
    from monitor.store import SearchQuery
    from monitor.translate.engine import Engine
    from monitor.translate.models import install_file
    from tests.test_cli import Cli

    cli = Cli(tmp_path, feed_server)  # the commands, on the same data folder
    settings = make_settings()
    install_file(ru_package, settings.data_dir / "models")
    ctx = make_context(settings)
    ctx.translator = engine = Engine(settings, ctx.state)
    real_translate, real_normalize = engine.translate, normalize.run

    def throws_on_one(model, sentences):
        if any(POISON in s for s in sentences):
            raise RuntimeError("CUDA out of memory (injected)")
        return real_translate(model, sentences)

    def breaks_on_one(article, ctx):
        if "Zangezur" in article.entry.title:
            raise ValueError("cannot normalize this one (injected)")
        real_normalize(article, ctx)

    monkeypatch.setattr(engine, "translate", throws_on_one)
    monkeypatch.setattr(normalize, "run", breaks_on_one)
    fetcher = Fetcher(settings, ctx.stop)
    try:
        for name, language in (("ru_rdf.xml", "ru"), ("en_atom.xml", "en")):
            feed = Feed(name=name, url=feed_server.url(f"/feeds/{name}"), language=language)
            pipeline.poll_feed(ctx, fetcher, feed)
    finally:
        fetcher.close()
    docs = {d["title"]: d for d in ctx.store.find({"language": "ru"})}
    (failed,) = [d for t, d in docs.items() if POISON in t]
    assert failed["translation_status"] == "failed"
    assert "CUDA out of memory" in failed["translation_error"]
    assert {d["translation_status"] for d in docs.values() if d is not failed} == {"done"}
    hits = ctx.store.search(SearchQuery(text=POISON)).hits
    assert [h["id"] for h in hits] == [failed["id"]]  # the original stays searchable

    rows = ctx.state.quarantined()
    assert [r["stage"] for r in rows] == ["translate", "normalize"]  # in the order polled
    row = rows[0]
    assert row["article_id"] == failed["id"] and "CUDA out of memory" in row["error"]
    assert translate_waiting(ctx, "failed", 100) == {"failed": 1}  # still broken…
    assert len(ctx.state.quarantined()) == 2  # …and still one row for it

    listed = [json.loads(x) for x in cli.run("quarantine", "list", "--json").stdout.splitlines()]
    assert [(x["stage"], x["feed"]) for x in listed] == [
        ("translate", "ru_rdf.xml"),
        ("normalize", "en_atom.xml"),
    ]
    assert listed[0]["article_id"] == failed["id"] and listed[0]["title"] == failed["title"]
    text = cli.run("quarantine", "list").stdout
    assert "stage=translate: RuntimeError: CUDA out of memory (injected)" in text
    assert f"(document {failed['id']})" in text and "cannot normalize this one" in text

    # the fault is gone in a new process: the command replays both rows
    replayed = cli.run("quarantine", "replay").stdout
    assert replayed.strip() == "replayed: translation_done 1, stored 1"
    assert ctx.store.get(failed["id"])["translation_status"] == "done"
    assert ctx.store.get(failed["id"])["title_en"]
    assert ctx.state.quarantined() == []
    assert all(r["replayed_at"] for r in ctx.state.quarantined(include_replayed=True))
    assert cli.run("quarantine", "list").stdout.strip() == "quarantine is empty"


def test_a_translation_failing_again_on_replay_opens_a_new_row(
    make_settings, make_context, feed_server, ru_package, monkeypatch
):
    """Replayed while the fault is still there: the old row is marked replayed and one
    new row holds the new error (the history stays readable)."""
    from monitor import pipeline
    from monitor.feeds import Feed
    from monitor.stages.fetch import Fetcher
    from monitor.translate.engine import Engine
    from monitor.translate.models import install_file

    settings = make_settings()
    install_file(ru_package, settings.data_dir / "models")
    ctx = make_context(settings)
    ctx.translator = engine = Engine(settings, ctx.state)
    real = engine.translate
    calls = Counter()

    def throws_on_one(model, sentences):
        if any(POISON in s for s in sentences):
            calls["failed"] += 1
            raise RuntimeError(f"failure {calls['failed']}")
        return real(model, sentences)

    monkeypatch.setattr(engine, "translate", throws_on_one)
    fetcher = Fetcher(settings, ctx.stop)
    feed = Feed(name="ru", url=feed_server.url("/feeds/ru_rdf.xml"), language="ru")
    pipeline.poll_feed(ctx, fetcher, feed)
    fetcher.close()
    (first,) = ctx.state.quarantined()
    assert first["error"] == f"RuntimeError: failure {calls['failed']}"
    assert pipeline.replay_quarantined(ctx) == {"translation_failed": 1}
    (second,) = ctx.state.quarantined()
    assert second["id"] != first["id"] and second["article_id"] == first["article_id"]
    assert second["error"] != first["error"]  # a later failure, its own error
    rows = ctx.state.quarantined(include_replayed=True)
    assert [(r["id"], bool(r["replayed_at"])) for r in rows] == [
        (first["id"], True),
        (second["id"], False),
    ]


@pytest.mark.parametrize("locked", ["store", "state"])
def test_a_translation_meeting_a_locked_database_is_retried_not_quarantined(
    locked, make_settings, make_context, feed_server, ru_package, lock_holders, monkeypatch
):
    """A locked database is not the article's fault: the documents stay ``pending``
    (the daemon's sweep translates them later), nothing is marked failed or quarantined."""
    from monitor import db, pipeline
    from monitor.feeds import Feed
    from monitor.stages.fetch import Fetcher
    from monitor.stages.translate import translate_documents, translate_waiting
    from monitor.translate.engine import Engine
    from monitor.translate.models import install_file

    monkeypatch.setattr(db, "BUSY_TIMEOUT_MS", 300)  # see test_a_database_locked_…
    settings = make_settings()
    install_file(ru_package, settings.data_dir / "models")
    ctx = make_context(settings)
    fetcher = Fetcher(settings, ctx.stop)
    feed = Feed(name="ru", url=feed_server.url("/feeds/ru_rdf.xml"), language="ru")
    assert pipeline.poll_feed(ctx, fetcher, feed).stored == 4  # no translator yet: pending
    fetcher.close()
    ctx.translator = Engine(settings, ctx.state)
    docs = ctx.store.find({"language": "ru"})
    holder = lock_holders(settings.store_db_path if locked == "store" else settings.state_db_path)
    assert translate_documents(ctx, docs) == {"retry": 4}
    holder.release()
    assert {d["translation_status"] for d in ctx.store.find({"language": "ru"})} == {"pending"}
    assert ctx.state.quarantined() == []
    assert translate_waiting(ctx, "pending", 100) == {"done": 4}
