"""A translation that throws on one article (fault injected on the real engine, the
tiny real Argos model of tests/fixtures/argos_model.py): that article is quarantined,
its original stays stored and searchable, the rest go on; ``monitor quarantine
list|replay`` show and translate it. A locked database during translation is no
failure."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

# the lock_holders fixture
pytest_plugins = ("tests.faultkit",)


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
