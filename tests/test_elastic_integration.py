"""The Elasticsearch store against a real cluster. These run whenever
MONITOR_TEST_ES_URL is set (with MONITOR_TEST_ES_USERNAME / _PASSWORD or _API_KEY if
the cluster has security on), and skip otherwise: no Elasticsearch can be installed on
the machines this project is built on, and none is imitated. The hosted CI workflow
(.github/workflows/elasticsearch.yml) runs them against a service container.

Each test module run uses its own alias (``monitor-test-<random>``) and deletes what it
created."""

from __future__ import annotations

import os
import uuid

import pytest

from monitor import pipeline
from monitor.context import Context, utc_now
from monitor.feeds import Feed
from monitor.seed import load_seed
from monitor.settings import load_settings
from monitor.stages.fetch import Fetcher
from monitor.store import SearchQuery
from monitor.store.elastic import template
from monitor.store.elastic.client import build_client, remove_installed
from monitor.store.elastic.store import ElasticStore
from tests.localservers import closed_port_url

ES_URL = os.environ.get("MONITOR_TEST_ES_URL", "")
pytestmark = pytest.mark.skipif(
    not ES_URL,
    reason="MONITOR_TEST_ES_URL is not set: these need a real Elasticsearch "
    "(none can be installed here; the hosted CI workflow provides one)",
)
FEEDS = [("hy_armenian.xml", "hy"), ("ru_rdf.xml", "ru"), ("fa_persian.xml", "fa"),
         ("az_latin.xml", "az"), ("en_atom.xml", "en")]  # fmt: skip


@pytest.fixture(scope="module")
def alias():
    name = f"monitor-test-{uuid.uuid4().hex[:8]}"
    yield name
    if ES_URL:
        client = build_client(load_settings(None, _es_overrides(name), environ={}))
        left = remove_installed(client, name)
        client.close()
        assert not left, left


def _es_overrides(alias: str) -> dict:
    values = {
        "elasticsearch_url": ES_URL,
        "elasticsearch_index": alias,
        "elasticsearch_replicas": 0,
        "translation": False,
    }
    for key in ("username", "password", "api_key"):
        value = os.environ.get(f"MONITOR_TEST_ES_{key.upper()}")
        if value:
            values[f"elasticsearch_{key}"] = value
    if os.environ.get("MONITOR_TEST_ES_CA_CERTS"):
        values["elasticsearch_ca_certs"] = os.environ["MONITOR_TEST_ES_CA_CERTS"]
    return values


@pytest.fixture
def es(make_settings, make_context, tmp_path, alias):
    """Make contexts on the test alias, each with its own state database."""

    def make(name: str = "a", **overrides) -> Context:
        values = {**_es_overrides(alias), **overrides}
        return make_context(make_settings(data_dir=tmp_path / name, **values))

    return make


def _poll_all(ctx, server) -> int:
    fetcher = Fetcher(ctx.settings, ctx.stop)
    try:
        stored = 0
        for fixture, language in FEEDS:
            feed = Feed(name=fixture, url=server.url(f"/feeds/{fixture}"), language=language)
            stored += pipeline.poll_feed(ctx, fetcher, feed).stored
        return stored
    finally:
        fetcher.close()


def _article(doc_id: str, **fields) -> dict:
    """A small article document; ``fields`` replace or add to the defaults."""
    return {
        "id": doc_id,
        "kind": "article",
        "language": "en",
        "source": "test",
        "published": "2026-11-23T10:00:00+00:00",
        **fields,
    }


def _refresh(ctx) -> None:
    ctx.store.client.indices.refresh(index=ctx.settings.elasticsearch_index)


def _ids(store, text: str, **kw) -> set[str]:
    result = store.search(SearchQuery(text=text, limit=500, **kw))
    return {hit["id"] for hit in result.hits}


def test_connect_installs_template_policy_and_write_alias_idempotently(es):
    ctx = es()
    info = ctx.store.connect()
    assert info["alias"] == ctx.settings.elasticsearch_index
    again = es("b").store.connect()  # a second daemon: no error, same alias
    assert again["alias"] == info["alias"]
    client = ctx.store.client
    aliases = client.indices.get_alias(name=info["alias"]).body
    writes = [i for i, a in aliases.items() if a["aliases"][info["alias"]].get("is_write_index")]
    assert len(writes) == 1
    mapping = client.indices.get_mapping(index=writes[0])[writes[0]]["mappings"]["properties"]
    assert mapping["text"]["fields"]["ru"]["analyzer"] == "russian"
    assert mapping["story_id"]["type"] == "keyword"


def test_same_hits_as_the_embedded_store_for_the_same_feeds(
    es, feed_server, make_settings, make_context
):
    ctx = es()
    ctx.store.connect()
    stored = _poll_all(ctx, feed_server)
    assert ctx.store.waiting()["waiting"] == 0
    _refresh(ctx)
    local = make_context(make_settings(translation=False))  # the embedded store
    assert _poll_all(local, feed_server) == stored
    # Everything the embedded store finds, Elasticsearch finds too; it may find more,
    # as the language analyzers match inflected forms ("Ереване" for "Ереван").
    for text in (
        "Ереван",
        "title:Ереван",
        "Армения OR Азербайджан",
        "Hayastan*",
        '"Nagorno-Karabakh"',
        "Tehran",
        "Bakı",
    ):
        local_ids = _ids(local.store, text)
        assert local_ids <= _ids(ctx.store, text), text
    assert ctx.store.counts()["language"] == local.store.counts()["language"]
    page = ctx.store.search(SearchQuery(languages=("hy",), limit=2, offset=2, sort="date"))
    local_page = local.store.search(SearchQuery(languages=("hy",), limit=2, offset=2, sort="date"))
    assert [h["id"] for h in page.hits] == [h["id"] for h in local_page.hits]
    assert page.total == local_page.total


def test_a_second_daemon_writing_the_same_articles_makes_no_copy(es, feed_server):
    first, second = es("a"), es("b")  # separate state databases: no shared seen-ids
    first.store.connect()
    n = _poll_all(first, feed_server)
    _refresh(first)
    assert _poll_all(second, feed_server) == n  # new to its own state...
    _refresh(first)
    assert first.store.counts()["total"]["documents"] >= n
    assert second.state.counters()["store.duplicate"] == n  # ...a counted duplicate there


def test_translation_lands_as_a_partial_update(es):
    ctx = es()
    ctx.store.connect()
    ctx.store.add(
        _article("t1", title="Ереван", text="Текст", language="ru", translation_status="pending")
    )
    assert ctx.store.flush(force=True) == {"ack": 1}
    ctx.store.update("t1", {"title_en": "Yerevan", "translation_status": "done"})
    assert ctx.store.flush(force=True) == {"ack": 1}
    _refresh(ctx)
    stored = ctx.store.get("t1")
    assert stored["title_en"] == "Yerevan" and stored["title"] == "Ереван"
    assert stored["translation_status"] == "done" and stored["text"] == "Текст"


def test_after_rollover_updates_reach_the_old_index_and_creates_stay_unique(es):
    ctx = es()
    ctx.store.connect()
    ctx.store.add(_article("r1", title="before rollover"))
    ctx.store.flush(force=True)
    client = ctx.store.client
    client.indices.rollover(alias=ctx.settings.elasticsearch_index)
    _refresh(ctx)
    ctx.store.update("r1", {"title_en": "updated"})
    other = es("other")  # does not know r1 was seen
    other.store.add(_article("r1", title="again"))
    assert ctx.store.flush(force=True) == {"ack": 1}
    assert other.store.flush(force=True) == {"duplicate": 1}
    _refresh(ctx)
    hits = client.search(index=ctx.settings.elasticsearch_index, query={"ids": {"values": ["r1"]}})[
        "hits"
    ]["hits"]
    assert len(hits) == 1 and hits[0]["_source"]["title_en"] == "updated"


def test_writes_queued_while_down_arrive_in_order_once_the_cluster_is_up(es):
    down = es("down", elasticsearch_url=closed_port_url())
    for i in range(3):
        down.store.add(
            _article(f"o{i}", published=f"2026-11-23T10:0{i}:00+00:00", title=f"queued {i}")
        )
    down.store.update("o0", {"title_en": "queued 0 en"})
    assert down.store.flush(force=True) == {}
    assert down.store.waiting()["waiting"] == 3
    up = ElasticStore(  # same state database, the cluster now answering
        down.settings.model_copy(update={"elasticsearch_url": ES_URL}), down.state, utc_now
    )
    try:
        assert up.flush(force=True) == {"ack": 3}
        assert up.waiting()["waiting"] == 0
        up.client.indices.refresh(index=down.settings.elasticsearch_index)
        assert up.get("o0")["title_en"] == "queued 0 en"
    finally:
        up.close()


def test_a_document_the_mapping_refuses_is_kept_aside_not_retried_forever(es):
    ctx = es()
    ctx.store.connect()
    ctx.store.add(_article("bad", published="not a date"))
    ctx.store.add(_article("good"))
    assert ctx.store.flush(force=True) == {"reject": 1, "ack": 1}
    depth = ctx.store.waiting()
    assert depth["rejected"] == 1 and depth["waiting"] == 0
    assert "published" in ctx.store.outbox.rejected()[0]["last_error"]


def test_seed_corpus_is_indexed_as_kind_seed(es):
    ctx = es()
    ctx.store.connect()
    report = load_seed(ctx)
    assert report.created == report.files > 0
    _refresh(ctx)
    assert ctx.store.counts()["kind"]["seed"] == report.files
    assert load_seed(ctx).existing == report.files


@pytest.mark.parametrize(
    "field, text, expected",
    [
        ("text.ru", "Зангезурского коридора", ["зангезурск", "коридор"]),
        ("text", "۱۴۰۳", ["1403"]),  # Persian digits fold to ASCII
        ("text.az", "İLHAM Əliyev", ["ilham", "əliyev", "eliyev"]),
    ],
)
def test_analyzers_do_what_the_template_says(es, field, text, expected):
    ctx = es()
    ctx.store.connect()
    index = template.names(ctx.settings.elasticsearch_index)["first_index"]
    tokens = ctx.store.client.indices.analyze(index=index, field=field, text=text)["tokens"]
    assert [t["token"] for t in tokens] == expected


def test_stories_group_the_fixture_families_in_elasticsearch(es, feed_server):
    from tests.fixtures import stories as fx

    ctx = es("stories")
    ctx.store.connect()
    fetcher = Fetcher(ctx.settings, ctx.stop)
    try:
        for name, articles in fx.feeds().items():
            path = f"/es-stories/{name}.xml"
            feed_server.set_route(path, body=fx.rss(feed_server.base_url, articles))
            feed = Feed(name=name, url=feed_server.url(path), language=articles[0]["language"])
            pipeline.poll_feed(ctx, fetcher, feed)
    finally:
        fetcher.close()
    ctx.store.flush(force=True)
    _refresh(ctx)
    docs = ctx.store.search(SearchQuery(limit=100, kinds=("article",))).hits
    by_story: dict[str, set[str]] = {}
    for doc in docs:
        by_story.setdefault(doc["story_id"], set()).add(
            doc["url"].removeprefix(feed_server.base_url)
        )
        assert doc["story_size"] == len([d for d in docs if d["story_id"] == doc["story_id"]])
    assert sorted(map(len, by_story.values()), reverse=True) == [4, 2, 1, 1, 1, 1]
    assert {a["url"] for a in fx.AGENCY} in by_story.values()
    # the story id is a keyword Kibana can group by
    aggs = ctx.store.client.search(
        index=ctx.settings.elasticsearch_index,
        size=0,
        aggs={"stories": {"terms": {"field": "story_id", "size": 1}}},
        query={"term": {"kind": "article"}},
    )
    assert aggs["aggregations"]["stories"]["buckets"][0]["doc_count"] == 4
