"""Translation through the real path: a tiny real Argos package built here (SentencePiece
trained on fixture text, a CTranslate2 Transformer from numpy weights), installed with
`monitor models install`, used by the pipeline, the daemon's sweep and the commands.
Its English is not meaningful; the tests assert what is true of it."""

from __future__ import annotations

import json
import socket
import zipfile
from pathlib import Path

import pytest

from monitor import pipeline
from monitor.daemon import Daemon
from monitor.stages.fetch import Fetcher
from monitor.stages.translate import translate_documents, translate_waiting
from monitor.store import SearchQuery
from monitor.translate.engine import Engine, _loops
from monitor.translate.models import find_model, install_file, installed_models
from tests.conftest import write_feeds
from tests.fixtures.argos_model import build_package, serve_index
from tests.test_cli import Cli


@pytest.fixture(scope="session")
def packages(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("argos-packages")
    return {code: build_package(out, code) for code in ("ru", "hy")}


@pytest.fixture
def cli(tmp_path, feed_server):
    c = Cli(tmp_path, feed_server)
    home = tmp_path / "home"
    # argostranslate writes its index, downloads and caches under the user's folders
    for var in ("HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME"):
        c.env[var] = str(home / var.lower())
    # never the real index: a test that reaches for it meets a closed port on 127.0.0.1
    c.env["ARGOS_PACKAGE_INDEX"] = "http://127.0.0.1:9/"
    return c


@pytest.fixture
def env(make_settings, make_context, feed_server, tmp_path):
    """An in-process context with the translation engine, as `monitor run` builds it."""
    made = []

    class Env:
        server = feed_server

        def __init__(self, feeds=None, **overrides):
            self.settings = make_settings(feeds, models_dir=tmp_path / "models", **overrides)
            self.ctx = make_context(self.settings)
            self.ctx.translator = Engine(self.settings, self.ctx.state)
            self.fetcher = Fetcher(self.settings, self.ctx.stop)
            made.append(self)

        def poll(self, path: str, language: str):
            from monitor.feeds import Feed

            feed = Feed(name=path, url=feed_server.url(path), language=language)
            return pipeline.poll_feed(self.ctx, self.fetcher, feed)

        def docs(self, **filters) -> list[dict]:
            return self.ctx.store.search(SearchQuery(limit=100, **filters)).hits

        def install(self, package: Path):
            return install_file(package, self.settings.models_dir)

    yield Env
    for e in made:
        e.fetcher.close()


def test_models_install_from_a_file_then_list(cli, packages):
    out = cli.run("models", "install", str(packages["ru"])).stdout
    assert "installed ru-en" in out
    listed = cli.run("models", "list").stdout
    assert "ru-en" in listed and "version 1.0" in listed
    assert "hy-en  missing" in listed and "convert-opus-mt" in listed
    assert "az-en  missing" in listed and "monitor models install az" in listed
    rows = cli.json_lines("models", "list", "--json")
    assert [(r["pair"], r["version"]) for r in rows] == [("ru-en", "1.0")]


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: _write(p, b"not a zip"), "is not a zip file"),
        (lambda p: _zip(p, {"pkg/README.md": b"x"}), "has no <folder>/metadata.json"),
        (lambda p: _zip(p, {"pkg/metadata.json": b"{nope"}), "metadata.json is not valid JSON"),
        (
            lambda p: _zip(
                p,
                {
                    "pkg/metadata.json": json.dumps(
                        {"from_code": "ru", "to_code": "en", "package_version": "1"}
                    ).encode()
                },
            ),
            "has no pkg/model/ folder",
        ),
        (lambda p: p, "does not exist"),
    ],
)
def test_a_broken_package_gives_a_clear_error(cli, tmp_path, make, message):
    path = make(tmp_path / "broken.argosmodel")
    proc = cli.run("models", "install", str(path), check=False)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr
    assert cli.json_lines("models", "list", "--json") == []


def test_poll_translates_with_the_installed_model(cli, packages, feed_server):
    cli.run("models", "install", str(packages["ru"]))
    cli.feeds = [{"name": "ru", "url": feed_server.url("/feeds/ru_rdf.xml"), "language": "ru"}]
    write_feeds(cli.tmp / "feeds.toml", cli.feeds)
    cli.run("poll", "--once")
    hits = cli.json_lines("search", "--json", "--lang", "ru")
    assert len(hits) == 4
    for hit in hits:
        assert hit["title_en"] and hit["title_en"] != hit["title"]
        assert hit["translation_status"] == "done"
        assert hit["translation_engine"] == "ctranslate2"
        assert hit["translation_package"].startswith("translate-ru_en")
        assert hit["translation_version"] == "1.0"
        assert hit["translation_seconds"] >= 0


def test_pending_without_a_model_then_translated_after_install(cli, packages, feed_server):
    cli.feeds = [{"name": "hy", "url": feed_server.url("/feeds/hy_armenian.xml"), "language": "hy"}]
    write_feeds(cli.tmp / "feeds.toml", cli.feeds)
    cli.run("poll", "--once")
    hits = cli.json_lines("search", "--json", "--lang", "hy")
    assert len(hits) == 5
    assert {h["translation_status"] for h in hits} == {"pending"}
    assert all("monitor models install hy" in h["translation_reason"] for h in hits)
    assert "nothing to translate" in cli.run("translate", "--pending").stdout
    cli.run("models", "install", str(packages["hy"]))
    assert "done 5" in cli.run("translate", "--pending").stdout
    hits = cli.json_lines("search", "--json", "--lang", "hy")
    assert {h["translation_status"] for h in hits} == {"done"}
    assert all(h["title_en"] for h in hits)


def test_the_daemon_notices_a_new_model_without_a_restart(env, packages):
    e = env(feeds=[])
    e.poll("/feeds/hy_armenian.xml", "hy")
    assert {d["translation_status"] for d in e.docs()} == {"pending"}
    daemon = Daemon(e.ctx)
    try:
        daemon.sweep_translations()
        assert {d["translation_status"] for d in e.docs()} == {"pending"}
        e.install(packages["hy"])
        daemon.sweep_translations()
        assert {d["translation_status"] for d in e.docs()} == {"done"}
    finally:
        daemon.close()


def test_a_repeated_sentence_is_translated_once(env, packages):
    e = env()
    model = e.install(packages["ru"])
    sentences = ["Министры встретились в Алматы.", "Переговоры продолжатся завтра."]
    first = e.ctx.translator.translate(model, sentences)
    second = e.ctx.translator.translate(model, sentences + sentences)
    assert not any(s.cached for s in first)
    assert all(s.cached for s in second)
    assert [s.text for s in second] == [s.text for s in first] * 2


def test_a_new_package_version_does_not_reuse_the_old_cache(env, packages, tmp_path):
    e = env()
    old = e.install(packages["ru"])
    e.ctx.translator.translate(old, ["Министры встретились."])
    newer = build_package(tmp_path / "v2", "ru", version="1.1", seed=1)
    e.install(newer)
    assert e.ctx.translator.changed()
    model = find_model(e.settings.models_dir, "ru")
    assert model.version == "1.1"
    assert not e.ctx.translator.translate(model, ["Министры встретились."])[0].cached


def test_no_socket_is_opened_while_translating(env, packages, monkeypatch):
    e = env()
    e.install(packages["ru"])
    e.ctx.translator = Engine(e.settings, e.ctx.state)  # load nothing yet
    e.ctx.translator, translator = None, e.ctx.translator
    e.poll("/feeds/ru_rdf.xml", "ru")  # stored, pending: no translator in the poll
    e.ctx.translator = translator

    def refuse(*args, **kwargs):
        raise AssertionError("a socket was opened during translation")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    outcomes = translate_documents(e.ctx, e.docs())
    assert outcomes == {"done": 4}


def test_one_failing_document_is_marked_and_the_batch_goes_on(env, packages, monkeypatch):
    e = env()
    e.install(packages["ru"])
    real = e.ctx.translator.translate

    def breaks_on_one(model, sentences):
        if any("Нахичевани" in s for s in sentences):
            raise RuntimeError("model blew up")
        return real(model, sentences)

    monkeypatch.setattr(e.ctx.translator, "translate", breaks_on_one)
    report = e.poll("/feeds/ru_rdf.xml", "ru")
    assert report.stored == 4
    docs = {d["title"]: d for d in e.docs()}
    failed = [d for d in docs.values() if d["translation_status"] == "failed"]
    assert len(failed) == 1 and "model blew up" in failed[0]["translation_error"]
    assert sum(d["translation_status"] == "done" for d in docs.values()) == 3
    monkeypatch.setattr(e.ctx.translator, "translate", real)
    assert translate_waiting(e.ctx, "failed", 100) == {"done": 1}
    assert {d["translation_status"] for d in e.docs()} == {"done"}


def test_english_articles_and_the_seed_corpus_are_their_own_translation(env):
    from monitor.seed import load_seed

    e = env()
    e.poll("/feeds/en_atom.xml", "en")
    load_seed(e.ctx)
    for doc in e.docs():
        assert doc["translation_status"] == "original"
        assert doc["title_en"] == doc["title"] and doc["text_en"] == doc["text"]


def test_search_matches_the_english_fields(env, packages):
    e = env()
    e.install(packages["ru"])
    e.poll("/feeds/ru_rdf.xml", "ru")
    doc = e.docs()[0]
    word = max(doc["title_en"].split(), key=len).strip(".,:;!?\"'()«»")
    assert word and word not in doc["title"]
    found = [h["id"] for h in e.ctx.store.search(SearchQuery(text=word)).hits]
    assert doc["id"] in found
    found = [h["id"] for h in e.ctx.store.search(SearchQuery(text=f"title:{word}")).hits]
    assert doc["id"] in found


def test_output_length_is_bounded_and_flagged(env, packages):
    e = env(translation_max_length_ratio=1.0)
    model = e.install(packages["ru"])
    sentence = "Министры иностранных дел встретились в Алматы."
    out = e.ctx.translator.translate(model, [sentence])[0]
    loaded = e.ctx.translator._load(model)
    in_tokens = len(loaded.source.encode(sentence, out_type=str))
    out_tokens = len(loaded.target.encode(out.text, out_type=str))
    assert out_tokens <= in_tokens + 10 + 2  # bound, plus re-tokenization slack
    # random weights never pick the end token by themselves: the bound cut it
    assert "cut_at_max_length" in out.flags


@pytest.mark.parametrize(
    "tokens, loops",
    [
        (["a", "b", "c", "d", "e"], False),
        (["x", "x", "x", "x"], True),
        (["a", "b", "a", "b", "a", "b", "a", "b"], True),
        (["z", "a", "b", "a", "b", "a", "b", "a", "b"], True),  # not aligned to 0
        (["a", "b", "c", "a", "b", "c", "a", "b", "c"], False),  # three times only
        (["a", "b", "c"] * 4, True),
    ],
)
def test_loops(tokens, loops):
    assert _loops(tokens) is loops


def test_models_install_from_an_index_on_127_0_0_1(cli, packages, feed_server):
    serve_index(feed_server, packages["ru"], "ru")
    env = {"ARGOS_PACKAGE_INDEX": feed_server.url("/index/")}
    out = cli.run("models", "install", "ru", env=env).stdout
    assert "installed ru-en" in out
    proc = cli.run("models", "install", "hy", env=env, check=False)
    assert proc.returncode == 2 and "no hy→en package" in proc.stderr
    assert "convert-opus-mt" in proc.stderr


def test_models_install_offline_says_what_is_missing_and_how_to_get_it(cli):
    env = {"ARGOS_PACKAGE_INDEX": "http://127.0.0.1:9/"}
    proc = cli.run("models", "install", "ru", env=env, check=False)
    assert proc.returncode == 2
    assert "cannot reach the Argos package index" in proc.stderr
    assert "monitor models install PATH.argosmodel" in proc.stderr


def test_convert_opus_mt_names_what_is_missing(cli, tmp_path):
    folder = tmp_path / "opus-mt-hy-en"
    folder.mkdir()
    (folder / "source.spm").write_bytes(b"x")
    proc = cli.run("models", "convert-opus-mt", str(folder), "--from", "hy", check=False)
    assert proc.returncode == 2
    assert "decoder.yml" in proc.stderr and "target.spm" in proc.stderr


def test_installed_models_skips_a_broken_folder(tmp_path, packages):
    install_file(packages["ru"], tmp_path)
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "metadata.json").write_text("{not json")
    assert [m.pair for m in installed_models(tmp_path)] == ["ru-en"]


def test_stats_show_the_translation_backlog_per_language(cli, feed_server):
    cli.feeds = [
        {"name": "hy", "url": feed_server.url("/feeds/hy_armenian.xml"), "language": "hy"},
        {"name": "en", "url": feed_server.url("/feeds/en_atom.xml"), "language": "en"},
    ]
    write_feeds(cli.tmp / "feeds.toml", cli.feeds)
    cli.run("poll", "--once")
    stats = json.loads(cli.run("stats", "--json").stdout)
    assert stats["documents"]["translation"] == {"en original": 4, "hy pending": 5}
    assert "hy pending 5" in cli.run("stats").stdout
