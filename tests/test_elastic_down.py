"""Elasticsearch unreachable or failing: nothing is lost, the daemon goes on, and the
user reads one clear line. The cluster here is a closed port on 127.0.0.1, or a recorder
of requests scripted to answer every request with one error status (as a proxy in front
of a recovering cluster does); neither pretends to be Elasticsearch. That the waiting
articles arrive once the cluster is up is checked against a real one in
test_elastic_integration.py (it runs whenever MONITOR_TEST_ES_URL is set)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from monitor import pipeline
from monitor.daemon import Daemon
from monitor.errors import StartupError, StoreUnavailable
from monitor.feeds import Feed
from monitor.stages.fetch import Fetcher
from monitor.store.elastic.store import BACKOFF_FIRST_SECONDS
from tests.localservers import closed_port_url
from tests.test_cli import Cli


@pytest.fixture
def down(make_settings, make_context, feed_server):
    """A context whose store is Elasticsearch on a closed port, and a poll helper."""
    settings = make_settings(elasticsearch_url=closed_port_url(), translation=False)
    ctx = make_context(settings)
    fetcher = Fetcher(settings, ctx.stop)

    def poll(fixture: str, language: str):
        feed = Feed(name=fixture, url=feed_server.url(f"/feeds/{fixture}"), language=language)
        return pipeline.poll_feed(ctx, fetcher, feed)

    yield ctx, poll
    fetcher.close()


def test_articles_polled_while_elasticsearch_is_down_wait_in_the_outbox_in_order(down):
    ctx, poll = down
    first = poll("hy_armenian.xml", "hy")
    second = poll("ru_rdf.xml", "ru")  # the daemon goes on polling
    assert (first.stored, second.stored) == (5, 4)
    assert ctx.store.waiting()["last_error"].startswith("cannot reach Elasticsearch at")
    waiting = ctx.store.outbox.claim(100, ctx.clock())
    assert [e.op for e in waiting] == ["create"] * 9
    assert [e.body["source"] for e in waiting] == ["hy_armenian.xml"] * 5 + ["ru_rdf.xml"] * 4
    # each article is seen once: a third poll of the same feed queues nothing more
    ctx.store.outbox.release([e.seq for e in waiting], "test")
    assert poll("hy_armenian.xml", "hy").stored == 0
    assert ctx.store.waiting()["waiting"] == 9


def test_a_failed_send_backs_off_instead_of_trying_at_every_poll(down):
    ctx, poll = down
    poll("hy_armenian.xml", "hy")
    store = ctx.store
    assert store._failures == 1
    before = store.waiting()
    assert store.flush() == {}  # within the backoff: not even tried
    assert store.waiting() == before
    store.flush(force=True)  # `monitor outbox flush` tries anyway, and fails again
    assert store._failures == 2
    assert store.waiting()["waiting"] == 5
    assert BACKOFF_FIRST_SECONDS >= 1


def _error(status: int, error_type: str) -> tuple[int, dict]:
    """An answer with Elasticsearch's documented error body."""
    return status, {"error": {"type": error_type, "reason": "test fault"}, "status": status}


def test_a_cluster_answering_503_keeps_the_writes_and_names_the_status(
    make_settings, make_context, request_recorder
):
    server = request_recorder
    server.answer(_error(503, "unavailable"))
    ctx = make_context(make_settings(elasticsearch_url=server.url))
    ctx.store.add({"id": "a", "kind": "article", "published": "2026-11-23T00:00:00+00:00"})
    assert ctx.store.flush(force=True) == {}
    depth = ctx.store.waiting()
    assert depth["waiting"] == 1
    assert depth["last_error"].startswith("Elasticsearch at http://127.0.0.1:")
    assert "answered 503: test fault" in depth["last_error"]
    assert server.requests  # it was really asked


def test_wrong_credentials_at_start_up_are_one_line_naming_the_settings(
    make_settings, make_context, request_recorder
):
    server = request_recorder
    server.answer(_error(401, "security_exception"))
    ctx = make_context(
        make_settings(
            elasticsearch_url=server.url,
            elasticsearch_username="monitor",
            elasticsearch_password="wrong",
        )
    )
    with pytest.raises(StartupError) as error:
        ctx.store.connect()
    message = str(error.value)
    assert "\n" not in message
    assert "refused the credentials (401)" in message
    assert "elasticsearch_password" in message and "elasticsearch_api_key" in message


def test_an_unreachable_cluster_at_start_up_is_one_line_and_the_daemon_goes_on(down, caplog):
    ctx, _ = down
    with pytest.raises(StoreUnavailable) as error:
        ctx.store.connect()
    assert "cannot reach Elasticsearch at http://127.0.0.1:" in str(error.value)
    assert "MONITOR_ELASTICSEARCH_URL" in str(error.value)
    daemon = Daemon(ctx)
    try:
        assert daemon._connect_store() == {}  # logged, not raised
    finally:
        daemon.close()
    assert any(r.msg == "store_unavailable" for r in caplog.records)


@pytest.fixture
def cli_down(tmp_path, feed_server):
    cli = Cli(tmp_path, feed_server)
    cli.env["MONITOR_ELASTICSEARCH_URL"] = closed_port_url()
    cli.env["MONITOR_TRANSLATION"] = "false"
    return cli


def test_commands_with_elasticsearch_down(cli_down):
    polled = cli_down.json_lines("poll", "--once", "--json")
    assert sum(r["stored"] for r in polled) > 0
    search = cli_down.run("search", "Ереван", check=False)
    assert search.returncode == 1
    assert search.stderr.startswith("monitor: store unavailable: cannot reach Elasticsearch")
    assert len(search.stderr.strip().splitlines()) == 1  # one line, no traceback
    stats = json.loads(cli_down.run("stats", "--json").stdout)
    assert stats["documents"] is None and "cannot reach" in stats["store_unavailable"]
    assert stats["outbox"]["waiting"] == sum(r["stored"] for r in polled)
    assert "writes waiting" in cli_down.run("stats").stdout
    shown = json.loads(cli_down.run("outbox", "show", "--json").stdout)
    assert shown["waiting"] == stats["outbox"]["waiting"]
    flushed = cli_down.run("outbox", "flush")
    assert "still waiting: " + str(shown["waiting"]) in flushed.stdout


def test_outbox_commands_say_the_embedded_store_has_none(cli):
    result = cli.run("outbox", "show", check=False)
    assert result.returncode == 2 and "has no outbox" in result.stderr


@pytest.fixture
def cli(tmp_path, feed_server):
    return Cli(tmp_path, feed_server)


def test_the_daemon_starts_polls_and_stops_with_elasticsearch_down(cli_down):
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "run", "--set", "scheduler_tick_seconds=1",
         "--log-format", "json"],
        cwd=cli_down.tmp, env=cli_down.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()[1]  # the daemon died
            stats = json.loads(cli_down.run("stats", "--json").stdout)
            if stats["outbox"]["waiting"] >= 27:  # every fixture article, seed corpus too
                break
            time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    events = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    names = [e["event"] for e in events]
    assert names.count("daemon_started") == 1 and "daemon_stopped" in names
    warnings = [e for e in events if e["event"] == "store_unavailable"]
    assert warnings and all("cannot reach Elasticsearch" in e["error"] for e in warnings)
    assert not [line for line in stderr.splitlines() if line.startswith("Traceback")]
    component = [e for e in events if e.get("component", "").startswith("store ")]
    assert component and "outbox" in component[0]["why"]


def test_story_fields_ride_in_the_waiting_creates(down, feed_server):
    """With the cluster down, each copy's story and the members' new size merge into
    the create rows that wait: one row per document, the last size in each."""
    from tests.fixtures import stories as fx

    ctx, _ = down
    fetcher = Fetcher(ctx.settings, ctx.stop)
    for name, articles in (("agency", fx.AGENCY[:2]), ("copy", fx.AGENCY[2:])):
        feed_server.set_route(f"/down/{name}.xml", body=fx.rss(feed_server.base_url, articles))
        feed = Feed(name=name, url=feed_server.url(f"/down/{name}.xml"), language="ru")
        assert pipeline.poll_feed(ctx, fetcher, feed).stored == len(articles)
    fetcher.close()
    waiting = ctx.store.outbox.claim(100, ctx.clock())
    assert [e.op for e in waiting] == ["create"] * 4
    assert {e.body["story_id"] for e in waiting} == {waiting[0].doc_id}
    assert [e.body["story_size"] for e in waiting] == [4, 4, 4, 4]
