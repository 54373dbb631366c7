"""Faults, each with a clear expected result: the daemon killed with SIGKILL in the
middle of a poll and restarted, a database locked by another process, Elasticsearch
unreachable. (A translation that throws on one article: test_faults_translate.py.)

Everything runs against real things on 127.0.0.1: ``monitor run`` as a process, the feed
server, the webhook receiver, a second process holding SQLite's write lock; the tools
are in tests/faultkit.py. Every wait is bounded.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from collections import Counter
from contextlib import closing, contextmanager

import pytest

from tests.faultkit import (
    RULES,
    WAIT_SECONDS,
    Deployment,
    article,
    kill_in_the_middle_of_a_send,
    outbox_rows,
    query,
    received,
    rss,
    settled,
    store_write_locked,
    wait_for,
    would_send,
)

pytest_plugins = ("tests.alertservers", "tests.faultkit")


@pytest.fixture
def drill(tmp_path, feed_server, webhook_receiver):
    """``drill({feed number: (articles, full_text)})``: the feeds served on the feed
    server and a deployment on them (alerts to the webhook receiver unless ``alerts`` is
    false); every daemon is killed at the end of the test."""
    made: list[Deployment] = []

    def make(feeds: dict[int, tuple[int, bool]], alerts: bool = True):
        specs, articles = [], {}
        for number, (count, full_text) in feeds.items():
            items = [article(number, n) for n in range(count)]
            path = f"/drill-feeds/{number}.xml"
            feed_server.set_route(path, body=rss(feed_server.base_url, items))
            spec = {"name": f"drill {number}", "url": feed_server.url(path), "language": "en"}
            specs.append({**spec, "full_text": full_text})
            articles.update({feed_server.base_url + a["url"]: a for a in items})
        hook = webhook_receiver.url if alerts else None
        deployment = Deployment(tmp_path, hook, specs, articles)
        made.append(deployment)
        return deployment

    yield make
    for deployment in made:
        deployment.cleanup()


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


# -- SIGKILL in the middle of a poll -------------------------------------------------------


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


def test_a_death_between_the_stores_commit_and_the_states(
    make_settings, make_context, feed_server, webhook_receiver, tmp_path
):
    """The store commits first, the state database (seen, stories, alert queue) second; a
    process that dies in between (SIGKILL, power) leaves articles in the store that the
    state never saw. SIGKILL cannot be aimed at that microsecond, so the state's commit
    is made to fail right after the store's. Expected after a restart: each article
    stored once, ``seen`` agrees, and the alerts the dead run never queued are sent."""
    from monitor import pipeline
    from monitor.alerts.matching import open_alerter
    from monitor.feeds import Feed
    from monitor.stages.fetch import Fetcher

    class Died(BaseException):
        """The process ends here."""

    (tmp_path / "alerts.toml").write_text(RULES.format(hook=webhook_receiver.url))
    settings = make_settings(translation=False, alerts_file=tmp_path / "alerts.toml")
    items = [article(5, n) for n in range(4)]
    feed_server.set_route("/between.xml", body=rss(feed_server.base_url, items))
    feed = Feed(name="between", url=feed_server.url("/between.xml"), language="en")

    def open_ctx():
        ctx = make_context(settings)
        ctx.alerts = open_alerter(ctx)
        return ctx, Fetcher(settings, ctx.stop)

    ctx, fetcher = open_ctx()
    state_batch = ctx.state.batch

    @contextmanager
    def dies_before_committing():
        with state_batch():
            yield
            raise Died  # after the store's commit: the state's rolls back

    ctx.state.batch = dies_before_committing
    with pytest.raises(Died):
        pipeline.poll_feed(ctx, fetcher, feed)
    fetcher.close()
    assert ctx.store.counts()["total"]["documents"] == 4
    assert ctx.state.db.read("SELECT count(*) FROM seen")[0][0] == 0
    ctx, fetcher = open_ctx()  # the restart
    report = pipeline.poll_feed(ctx, fetcher, feed)
    fetcher.close()
    assert report.articles == {"stored": 4}
    assert ctx.store.counts()["total"]["documents"] == 4
    ids = {d["id"] for d in ctx.store.find({"feed_id": feed.feed_id})}
    assert {r[0] for r in ctx.state.db.read("SELECT article_id FROM seen")} == ids
    ctx.alerts.run()
    assert len(received(webhook_receiver)) == sum(a["marked"] for a in items) == 2
    members = ctx.state.db.read("SELECT article_id, story_id FROM story_members")
    assert {r[0]: r[1] for r in members} == {
        d["id"]: d["story_id"] for d in ctx.store.find({"feed_id": feed.feed_id})
    }


# -- a database locked by another process ----------------------------------------------


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
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
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


@pytest.mark.parametrize("name", ["state", "store"])
def test_a_database_locked_at_start_up_stops_it_with_one_line(
    name, tmp_path, lock_holders, monkeypatch
):
    """A new data folder whose database file another process holds locked (nothing can
    be created in it): start-up stops with one line that names the file and what to do,
    not a traceback."""
    from monitor import db
    from monitor.errors import StoreUnavailable
    from monitor.state import StateDB
    from monitor.store.sqlite import SQLiteStore

    monkeypatch.setattr(db, "BUSY_TIMEOUT_MS", 300)
    path = tmp_path / f"{name}.sqlite3"
    lock_holders(path)
    # exit status 1 (unavailable now), not 2 (configuration): the unit restarts on 1
    with pytest.raises(StoreUnavailable) as error:
        (StateDB if name == "state" else SQLiteStore)(path)
    message = str(error.value)
    assert message.startswith(f"cannot open database {path}: ") and "\n" not in message
    assert "another process holds a write transaction on it" in message


# -- Elasticsearch unreachable ------------------------------------------------------------
# test_elastic_down.py proves that articles polled while the cluster is down wait in the
# outbox in order (a re-poll queues none again), that sends back off, that a 503 keeps
# the writes, and that the daemon starts, polls and stops with the cluster down;
# test_elastic_integration.py (a real cluster, MONITOR_TEST_ES_URL) that writes queued
# while it was down arrive in order once it is up. Added here: a SIGKILL in the middle
# of a send, and the daemon's own round trip to a real cluster afterwards.


def test_killed_while_sending_to_an_elasticsearch_that_does_not_answer(drill):
    """SIGKILL while a send to the cluster waits for an answer (its rows claimed), then a
    restart with the cluster still down (a closed port). Expected: every article waits in
    the outbox exactly once (the re-poll of the feed whose poll was cut queues none
    again), ``seen`` agrees, the rows claimed by the dead sender are not taken by the new
    one before its claim is stale (never two senders at once), and what would be sent is
    one ``create`` per article, with its story."""
    from tests.localservers import closed_port_url

    d = drill({1: (5, False), 2: (5, False), 3: (5, False)}, alerts=False)
    claimed = kill_in_the_middle_of_a_send(d)
    d.env["MONITOR_ELASTICSEARCH_URL"] = closed_port_url()
    d.start()

    def settled() -> bool:
        assert d.alive(), d.events()[-5:]
        polled = query(d.state, "SELECT count(*) FROM feed_state WHERE last_outcome = 'ok'")
        rows = outbox_rows(d)
        tried = [r for r in rows if r["seq"] not in claimed]
        return polled == [(3,)] and all("cannot reach" in (r["last_error"] or "") for r in tried)

    wait_for(settled, "every feed polled and the restart's send failed")
    assert d.stop() == 0
    rows = outbox_rows(d)
    assert {r["seq"] for r in rows if r["claimed_at"]} == claimed  # still the dead one's
    creates = Counter(r["doc_id"] for r in rows if r["op"] == "create")
    assert len(creates) == len(d.articles) and max(creates.values()) == 1
    assert set(creates) == d.seen()
    actions = would_send(rows, "monitor")
    assert [a["_op_type"] for a in actions] == ["create"] * len(d.articles)
    assert {a["_id"] for a in actions} == d.seen()
    assert {a["_source"]["url"] for a in actions} == set(d.articles)
    assert all(a["_source"]["story_id"] for a in actions)
    # the poll cut short (its articles kept and queued) was polled again: duplicates
    again = [e["articles"] for e in d.events() if e["event"] == "poll_done"]
    assert {"dropped_duplicate_id": 5} in again


ES_URL = os.environ.get("MONITOR_TEST_ES_URL", "")


@pytest.mark.skipif(not ES_URL, reason="MONITOR_TEST_ES_URL is not set (a real Elasticsearch)")
def test_after_a_kill_mid_send_every_article_reaches_a_real_cluster_once(drill):
    """The same kill, then a restart against a real cluster once the dead sender's claim
    is stale: every article is indexed exactly once and the outbox is empty."""
    import uuid

    from monitor.settings import load_settings
    from monitor.store.elastic.client import build_client, remove_installed
    from tests.test_elastic_integration import _es_overrides

    alias = f"monitor-test-{uuid.uuid4().hex[:8]}"
    overrides = _es_overrides(alias)
    d = drill({1: (5, False), 2: (5, False), 3: (5, False)}, alerts=False)
    kill_in_the_middle_of_a_send(d)
    with closing(sqlite3.connect(d.state, timeout=10)) as conn, conn:
        conn.execute("UPDATE outbox SET claimed_at = '2000-01-01T00:00:00+00:00'")  # stale
    d.env.pop("MONITOR_ELASTICSEARCH_TIMEOUT_SECONDS")  # the default, for a real cluster
    for key, value in overrides.items():
        d.env[f"MONITOR_{key.upper()}"] = str(value).lower() if value is False else str(value)
    client = build_client(load_settings(None, overrides, environ={}))
    try:
        d.start()
        wait_for(lambda: d.alive() and not outbox_rows(d), "the outbox sent")
        assert d.stop() == 0
        client.indices.refresh(index=alias)
        hits = client.search(index=alias, size=100, query={"match_all": {}})["hits"]["hits"]
        urls = Counter(h["_source"]["url"] for h in hits)
        assert set(urls) == set(d.articles) and max(urls.values()) == 1
        assert {h["_id"] for h in hits} == d.seen()
    finally:
        remove_installed(client, alias)
        client.close()
