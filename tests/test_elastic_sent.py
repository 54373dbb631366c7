"""Pure tests of what the Elasticsearch store sends: templates, mappings, analyzers,
queries, bulk actions, and what it does with each answer. No cluster is needed (the
tests against a real one are in test_elastic_integration.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from monitor.errors import QueryError
from monitor.store import SearchQuery
from monitor.store.elastic import query as q
from monitor.store.elastic import template
from monitor.store.elastic.bulk import (
    Op,
    bulk_actions,
    coalesce,
    disposition,
    split_ops,
    to_source,
)
from monitor.store.outbox import Entry
from monitor.store.query import to_fts5

# -- templates ----------------------------------------------------------------------------


def test_index_template_composes_settings_and_mappings_for_the_alias_pattern(make_settings):
    settings = make_settings(elasticsearch_index="news")
    body = template.index_template(settings)
    assert body["index_patterns"] == ["news-*"]
    assert body["composed_of"] == ["news-settings", "news-mappings"]
    assert body["priority"] > 100  # above Elasticsearch's built-in templates
    components = template.component_templates(settings, ilm=True)
    assert set(components) == set(body["composed_of"])


def test_ilm_settings_only_when_the_cluster_has_ilm(make_settings):
    settings = make_settings(elasticsearch_index="news", elasticsearch_replicas=0)
    with_ilm = template.component_templates(settings, ilm=True)["news-settings"]
    index = with_ilm["template"]["settings"]["index"]
    assert index["lifecycle"] == {"name": "news-policy", "rollover_alias": "news"}
    assert index["number_of_replicas"] == 0
    without = template.component_templates(settings, ilm=False)["news-settings"]
    assert "lifecycle" not in without["template"]["settings"]["index"]


def test_ilm_policy_rolls_over_by_age_and_size_from_the_settings(make_settings):
    settings = make_settings(
        elasticsearch_rollover_max_age_days=7, elasticsearch_rollover_max_primary_gb=5
    )
    rollover = template.ilm_policy(settings)["phases"]["hot"]["actions"]["rollover"]
    assert rollover == {"max_age": "7d", "max_primary_shard_size": "5gb"}
    assert "delete" not in json.dumps(template.ilm_policy(settings))  # we never delete


def test_first_index_is_the_write_index_of_the_alias(make_settings):
    name, body = template.first_index(make_settings(elasticsearch_index="news"))
    assert name == "news-000001"  # the -NNNNNN suffix rollover increments
    assert body == {"aliases": {"news": {"is_write_index": True}}}


def test_ids_and_facets_are_keywords_and_dates_are_dates():
    props = template.mappings()["properties"]
    for name in ("id", "kind", "source", "language", "story_id", "feed_id", "alerts"):
        assert props[name]["type"] == "keyword", name
    for name in ("published", "fetched_at"):
        assert props[name]["type"] == "date", name


def test_original_text_is_analyzed_per_language_and_english_under_english():
    props = template.mappings()["properties"]
    for name in ("title", "text"):
        assert props[name]["analyzer"] == "monitor_text"
        subs = {code: f["analyzer"] for code, f in props[name]["fields"].items()}
        assert subs == {
            "ru": "russian",
            "hy": "armenian",
            "fa": "persian",
            "az": "monitor_azerbaijani",
        }
    assert props["title_en"]["analyzer"] == props["text_en"]["analyzer"] == "english"


def test_custom_analyzers_only_use_filters_that_are_defined_or_built_in():
    analysis = template.analysis()
    built_in = {"lowercase", "decimal_digit", "arabic_normalization", "persian_normalization"}
    for name, analyzer in analysis["analyzer"].items():
        for f in analyzer["filter"]:
            assert f in built_in or f in analysis["filter"], (name, f)
        for c in analyzer.get("char_filter", []):
            assert c in analysis["char_filter"], (name, c)
    # every analyzer a mapping names is built in or defined here
    names = set(analysis["analyzer"]) | {"russian", "armenian", "persian", "english"}
    for field in template.mappings()["properties"].values():
        for sub in [field, *field.get("fields", {}).values()]:
            if "analyzer" in sub:
                assert sub["analyzer"] in names


def test_azerbaijani_lowercases_the_turkic_way_and_folds_for_ascii_queries():
    az = template.analysis()["analyzer"]["monitor_azerbaijani"]["filter"]
    filters = template.analysis()["filter"]
    assert filters[az[0]] == {"type": "lowercase", "language": "turkish"}
    assert {"type": "asciifolding", "preserve_original": True} in [
        filters[f] for f in az[1:] if f in filters
    ]


def test_new_string_fields_become_keywords_not_text():
    (rule,) = template.mappings()["dynamic_templates"]
    assert rule["strings_as_keywords"]["mapping"]["type"] == "keyword"


# -- queries ------------------------------------------------------------------------------


def _show(node: dict) -> str:
    """A query in a compact notation: T:/X: mark title/text filters, * a prefix."""
    if "multi_match" in node:
        m = node["multi_match"]
        mark = {"title": "T:", "text": "X:"}.get(m["fields"][0], "")
        return mark + m["query"] + ("*" if m["type"] == "phrase_prefix" else "")
    b = node["bool"]
    if "should" in b:
        return "(" + " OR ".join(map(_show, b["should"])) + ")"
    if "must_not" in b:
        return "(" + _show(b["must"][0]) + " NOT " + _show(b["must_not"][0]) + ")"
    return "(" + " AND ".join(map(_show, b["must"])) + ")"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Karabakh", "Karabakh"),
        ("a b", "(a AND b)"),
        ("a OR b c", "(a OR (b AND c))"),  # AND binds tighter than OR, as in FTS5
        ("a OR b -c", "(a OR (b NOT c))"),  # and NOT tighter than AND
        ("a -b c", "((a NOT b) AND c)"),
        ('"Zangezur corridor" OR Зангезур*', "(Zangezur corridor OR Зангезур*)"),
        ("title:Пашинян text:визит", "(T:Пашинян AND X:визит)"),
        ("title:(Баку OR Ереван) -text:футбол", "((T:Баку OR T:Ереван) NOT X:футбол)"),
        ("title:(a OR text:b)", "(T:a OR X:b)"),
        ("Nagorno-Karabakh", "Nagorno-Karabakh"),  # one phrase, as FTS5 reads it
        ("Şuşa", "Şuşa"),
        ("كابل", "کابل"),  # Arabic kaf folded to the Persian letter, as on the embedded store
    ],
)
def test_query_has_the_meaning_it_has_on_the_embedded_store(text, expected):
    assert _show(q.to_query(text)) == expected


def test_every_term_is_a_phrase_over_original_and_english_fields():
    node = q.to_query("Ереван")["multi_match"]
    assert node["type"] == "phrase"
    assert {"title", "title.*", "title_en", "text", "text.*", "text_en"} <= {
        f.split("^")[0] for f in node["fields"]
    }


@pytest.mark.parametrize("text", ["a OR", "(a", "a)", "-b", "OR a", 'title:""', "foo:bar", ""])
def test_a_bad_query_fails_the_same_way_on_both_stores(text):
    with pytest.raises(QueryError) as fts5:
        to_fts5(text)
    with pytest.raises(QueryError) as es:
        q.to_query(text)
    assert str(es.value) == str(fts5.value)


def test_search_body_filters_pages_sorts_and_highlights():
    since = datetime(2026, 11, 1, tzinfo=UTC)
    body = q.search_body(
        SearchQuery(
            text="Ереван",
            languages=("ru", "hy"),
            sources=("News.am",),
            kinds=("article",),
            since=since,
            limit=10,
            offset=20,
        )
    )
    filters = body["query"]["bool"]["filter"]
    assert {"terms": {"language": ["ru", "hy"]}} in filters
    assert {"terms": {"source": ["News.am"]}} in filters
    assert {"terms": {"kind": ["article"]}} in filters
    assert {"range": {"published": {"gte": "2026-11-01T00:00:00+00:00"}}} in filters
    assert body["from"] == 20 and body["size"] == 10 and body["track_total_hits"] is True
    assert body["sort"] == ["_score", {"id": "asc"}]
    assert body["highlight"]["pre_tags"] == ["["]


def test_search_without_text_lists_newest_first_without_highlight():
    body = q.search_body(SearchQuery(sort="relevance"))
    assert "must" not in body["query"]["bool"]
    assert body["sort"] == [{"published": "desc"}, {"id": "asc"}]
    assert "highlight" not in body


def test_find_turns_like_patterns_into_wildcards_and_exact_values_into_terms():
    query = q.find_query({"translation_status": "pending", "fulltext_status": "timeout%"})
    assert query == {
        "bool": {
            "filter": [
                {"term": {"translation_status": "pending"}},
                {"wildcard": {"fulltext_status": {"value": "timeout*"}}},
            ]
        }
    }
    assert q.find_query({"x": "a*b%"})["bool"]["filter"][0]["wildcard"]["x"]["value"] == "a\\*b*"
    with pytest.raises(ValueError):
        q.find_query({"x) OR (1": "y"})


def test_counts_read_the_aggregations_like_the_embedded_store_reports_them():
    response = {
        "hits": {"total": {"value": 3}},
        "aggregations": {
            "language": {"buckets": [{"key": "ru", "doc_count": 2}, {"key": "en", "doc_count": 1}]},
            "source": {"buckets": [{"key": "TASS", "doc_count": 3}]},
            "kind": {"buckets": [{"key": "article", "doc_count": 3}]},
            "translation": {
                "buckets": [
                    {"key": "ru", "status": {"buckets": [{"key": "pending", "doc_count": 2}]}},
                    {"key": "en", "status": {"buckets": [{"key": "original", "doc_count": 1}]}},
                ]
            },
        },
    }
    counts = q.counts_from(response)
    assert counts["language"] == {"ru": 2, "en": 1}
    assert counts["total"] == {"documents": 3}
    assert counts["translation"] == {"ru pending": 2, "en original": 1}
    assert q.counts_body()["aggs"]["translation"]["aggs"]["status"]["terms"]["missing"] == "?"


# -- bulk actions and answers -------------------------------------------------------------


def _entry(seq, op, doc_id, **body):
    return Entry(seq, op, doc_id, body, 0)


def test_outbox_entries_replay_in_order_with_each_document_merged_once():
    entries = [
        _entry(1, "create", "a", title="A", translation_status="pending"),
        _entry(2, "create", "b", title="B"),
        _entry(3, "update", "a", title_en="A en", translation_status="done"),
        _entry(4, "update", "c", fulltext_status="ok"),
        _entry(5, "update", "c", fulltext_status="timeout", text="long"),
    ]
    ops = coalesce(entries)
    assert [(o.op, o.doc_id, o.seqs) for o in ops] == [
        ("create", "a", [1, 3]),
        ("create", "b", [2]),
        ("update", "c", [4, 5]),
    ]
    assert ops[0].body == {"title": "A", "translation_status": "done", "title_en": "A en"}
    assert ops[2].body == {"fulltext_status": "timeout", "text": "long"}  # the later wins


def test_creates_go_through_the_alias_and_updates_to_the_index_holding_the_document():
    ops = [
        Op("create", "new", {"t": 1}, [1]),
        Op("create", "old", {"t": 2}, [2]),
        Op("update", "x", {"f": 3}, [3]),
        Op("update", "fresh", {"f": 4}, [4]),
    ]
    located = {"old": "news-000001", "x": "news-000001"}
    duplicates, creates, updates = split_ops(ops, located)
    assert [o.doc_id for o in duplicates] == ["old"]  # in an older index: not sent again
    create_actions, update_actions = bulk_actions(creates, updates, located, "news")
    assert create_actions == [
        {"_op_type": "create", "_index": "news", "_id": "new", "_source": {"t": 1}}
    ]
    assert [(a["_index"], a["_id"], a["doc"]) for a in update_actions] == [
        ("news-000001", "x", {"f": 3}),
        ("news", "fresh", {"f": 4}),  # not searchable yet: the write index has it
    ]
    assert all(a["_op_type"] == "update" and a["retry_on_conflict"] for a in update_actions)


@pytest.mark.parametrize(
    "op, status, expected",
    [
        ("create", 201, "ack"),
        ("update", 200, "ack"),
        ("create", 409, "duplicate"),  # a second daemon or a re-poll: counted, not an error
        ("update", 409, "reject"),  # a version conflict after retry_on_conflict
        ("create", 429, "retry"),
        ("update", 503, "retry"),
        ("create", 400, "reject"),  # mapper_parsing_exception: sending again will not help
        ("update", 404, "reject"),  # document_missing_exception
    ],
)
def test_what_each_answer_does_to_the_outbox_row(op, status, expected):
    assert disposition(op, status) == expected


def test_documents_go_without_nulls_and_empty_dates():
    doc = {
        "id": "a",
        "published": "2026-11-23T10:00:00+00:00",
        "fetched_at": "",
        "x": None,
        "title_en": "",
    }
    assert to_source(doc) == {"id": "a", "published": "2026-11-23T10:00:00+00:00", "title_en": ""}
