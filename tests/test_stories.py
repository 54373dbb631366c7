"""Stories: fixture families fetched over real HTTP, clustered through the pipeline into
the embedded store, the grouping asserted exactly; the window, restarts, merges across
languages, seed links and `monitor stories`."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from monitor import pipeline
from monitor.feeds import Feed
from monitor.stages.fetch import Fetcher
from monitor.store import SearchQuery
from monitor.stories import shingles
from monitor.stories.lsh import SimilarityIndex
from monitor.stories.seeds import SeedLinker
from monitor.stories.signatures import from_bytes, signature, to_bytes
from tests.clocks import START, Clock
from tests.fixtures import stories as fx


@pytest.fixture
def env(make_settings, make_context, feed_server):
    made = []

    class Env:
        def __init__(self, settings=None, clock=None, **overrides):
            self.settings = settings or make_settings(translation=False, **overrides)
            self.ctx = make_context(self.settings)
            self.ctx.clock = clock or Clock()
            self.fetcher = Fetcher(self.settings, self.ctx.stop)
            made.append(self)

        def serve(self, name: str, articles: list[dict]) -> Feed:
            feed_server.set_route(
                f"/stories/{name}.xml", body=fx.rss(feed_server.base_url, articles)
            )
            return Feed(
                name=name,
                url=feed_server.url(f"/stories/{name}.xml"),
                language=articles[0]["language"],
            )

        def poll(self, name: str, articles: list[dict]) -> pipeline.PollReport:
            return pipeline.poll_feed(self.ctx, self.fetcher, self.serve(name, articles))

        def docs(self) -> list[dict]:
            return self.ctx.store.search(SearchQuery(limit=200, kinds=("article",))).hits

        def by_url(self) -> dict[str, dict]:
            base = feed_server.base_url
            return {d["url"].removeprefix(base): d for d in self.docs()}

        def translate(self, article: dict) -> None:
            """Give a stored article its English as the translate stage does: the story
            first, then the document and the other members (fixture English)."""
            doc = self.by_url()[article["url"]]
            title_en, text_en = article["english"]
            fields = {"title_en": title_en, "text_en": text_en, "translation_status": "done"}
            updates = self.ctx.stories.translated({**doc, **fields}, self.ctx.clock())
            with self.ctx.store.batch():
                self.ctx.store.update(doc["id"], fields)
                for doc_id, changes in updates:
                    self.ctx.store.update(doc_id, changes)

    yield Env
    for e in made:
        e.fetcher.close()


def groups(docs_by_url: dict[str, dict]) -> list[set[str]]:
    """The partition of the articles by story, as sets of URLs, largest first."""
    by_story: dict[str, set[str]] = {}
    for url, doc in docs_by_url.items():
        by_story.setdefault(doc["story_id"], set()).add(url)
    return sorted(by_story.values(), key=lambda g: (-len(g), sorted(g)))


def expected(families: list[set[str]], articles: list[dict]) -> list[set[str]]:
    grouped = set().union(*families)
    alone = [{a["url"]} for a in articles if a["url"] not in grouped]
    return sorted(families + alone, key=lambda g: (-len(g), sorted(g)))


def poll_all(env) -> None:
    for name, articles in fx.feeds().items():
        report = env.poll(name, articles)
        assert report.articles["stored"] == len(articles), (name, report.articles)


def test_the_fixture_families_group_exactly(env):
    e = env()
    poll_all(e)
    # before any translation: the cross-language pair is still two stories
    assert groups(e.by_url()) == expected(fx.FAMILIES[:2], fx.ALL)
    for article in fx.CROSS + fx.APART:
        e.translate(article)
    docs = e.by_url()
    assert groups(docs) == expected(fx.FAMILIES, fx.ALL)
    # every member carries its story's size, and the story id is its first report's
    for family in fx.FAMILIES:
        assert {docs[url]["story_size"] for url in family} == {len(family)}
    agency = [docs[a["url"]] for a in fx.AGENCY]
    assert {d["story_id"] for d in agency} == {agency[0]["id"]}
    for article in fx.APART:
        assert docs[article["url"]]["story_size"] == 1


def test_cross_language_merge_keeps_the_older_story_and_updates_every_member(env):
    clock = Clock()
    e = env(clock=clock)
    ru, hy = fx.CROSS
    e.poll("ru", [ru])
    clock.now += timedelta(minutes=5)
    e.poll("hy", [hy])
    e.translate(hy)  # the Russian has no English yet: nothing to compare with
    assert len({d["story_id"] for d in e.docs()}) == 2
    e.translate(ru)
    docs = e.by_url()
    assert docs[hy["url"]]["story_id"] == docs[ru["url"]]["id"]  # the older story stays
    assert {d["story_size"] for d in docs.values()} == {2}
    merged = e.ctx.state.db.read("SELECT * FROM stories WHERE size = 0")
    assert [r["merged_into"] for r in merged] == [docs[ru["url"]]["id"]]


def test_an_english_original_joins_a_translated_story_at_once(env):
    e = env()
    ru = fx.CROSS[0]
    e.poll("ru", [ru])
    e.translate(ru)
    english = {**ru, "language": "en", "url": "/outlet-i/en/crossing", "feed": "outlet-i-en"}
    english["title"], english["text"] = ru["english"]
    e.poll("en", [english])
    docs = e.by_url()
    assert docs["/outlet-i/en/crossing"]["story_id"] == docs[ru["url"]]["story_id"]
    assert docs["/outlet-i/en/crossing"]["story_size"] == 2


def test_a_restart_keeps_the_index(env, make_settings):
    settings = make_settings(translation=False)
    first = env(settings=settings)
    first.poll("agency-ru", fx.AGENCY[:1])
    first.ctx.close()
    second = env(settings=settings)  # a new process: the index is rebuilt from the state
    second.poll("outlet-a-ru", fx.AGENCY[1:2])
    docs = second.by_url()
    assert docs[fx.AGENCY[1]["url"]]["story_id"] == docs[fx.AGENCY[0]["url"]]["id"]
    assert second.ctx.stories.signatures_in_memory() == 2


def test_another_process_s_articles_are_seen_without_a_restart(env, make_settings):
    settings = make_settings(translation=False)
    daemon, command = env(settings=settings), env(settings=settings)
    daemon.poll("agency-ru", fx.AGENCY[:1])  # the daemon has loaded its index now
    command.poll("outlet-a-ru", fx.AGENCY[1:2])
    daemon.poll("outlet-b-ru", fx.AGENCY[2:3])
    assert len({d["story_id"] for d in daemon.docs()}) == 1


def test_stories_older_than_the_window_are_forgotten(env):
    clock = Clock()
    e = env(clock=clock, story_window_days=2)
    e.poll("agency-ru", fx.AGENCY[:1])
    assert e.ctx.stories.signatures_in_memory() == 1
    clock.now += timedelta(days=3)
    assert e.ctx.stories.forget(clock.now) == 1
    assert e.ctx.stories.signatures_in_memory() == 0
    assert e.ctx.state.db.read("SELECT count(*) FROM signatures")[0][0] == 0
    e.poll("outlet-a-ru", fx.AGENCY[1:2])
    assert len({d["story_id"] for d in e.docs()}) == 2  # a copy after the window: new story
    # and the story itself is still listed
    assert e.ctx.state.db.read("SELECT count(*) FROM stories")[0][0] == 2


def test_a_rolled_back_batch_leaves_no_signature_in_memory(env):
    e = env()
    ctx = e.ctx
    e.poll("agency-ru", fx.AGENCY[:1])
    before = ctx.stories.signatures_in_memory()
    doc = {"id": "x1", "language": "ru", "title": "t", "text": fx.AGENCY[1]["text"]}
    with pytest.raises(RuntimeError), ctx.state.batch(), ctx.stories.batch():
        ctx.stories.assign(doc, ctx.clock())
        assert ctx.stories.signatures_in_memory() == before + 1
        raise RuntimeError("the store refused the batch")
    assert ctx.stories.signatures_in_memory() == before
    assert ctx.state.db.read("SELECT count(*) FROM story_members")[0][0] == 1


def test_a_replayed_article_keeps_its_story(env):
    e = env()
    e.poll("agency-ru", fx.AGENCY[:2])
    doc = e.by_url()[fx.AGENCY[1]["url"]]
    ref, updates = e.ctx.stories.assign(doc, e.ctx.clock())
    assert (ref.story_id, ref.size, updates) == (doc["story_id"], 2, [])


def test_short_texts_start_their_own_story(env):
    e = env()
    a = {"url": "/s/1", "language": "ru", "title": "Заседание", "text": "Заседание правительства"}
    b = {**a, "url": "/s/2", "text": "Заседание правительства перенесли"}
    e.poll("short-a", [a])
    e.poll("short-b", [b])
    docs = e.docs()
    assert len(docs) == 2 and len({d["story_id"] for d in docs}) == 2


def test_stories_link_the_related_seed_analyses(env):
    e = env()
    english = {
        "feed": "outlet-en",
        "language": "en",
        "url": "/en/escalation",
        "title": "Expert: the USA and Great Britain want escalation in the South Caucasus",
        "text": (
            "Russian military expert Alexey Leonkov said the escalation of tension on the "
            "border of Armenia and Artsakh with Azerbaijan serves the USA and Great Britain, "
            "who want a second front in the South Caucasus. He recalled the Russian "
            "peacekeepers in South Ossetia."
        ),
    }
    e.poll("outlet-en", [english])
    doc = e.by_url()["/en/escalation"]
    assert doc["related_seed_ids"], "no seed linked"
    first = doc["related_seed_ids"][0]
    assert first.startswith("seed-")
    # the linker reads the packaged corpus; the first link is the Leonkov analysis
    from monitor.seed import PACKAGED, seed_documents

    titles = {d["id"]: d["title"] for d in seed_documents(PACKAGED, START)}
    assert titles[first].startswith("Alexey Leonkov"), titles[first]


def test_seed_linker_scores_unrelated_text_below_the_cutoff():
    seeds = [
        {"id": "s1", "title": "Gas exports", "text": "gas pipeline exports Europe " * 20},
        {"id": "s2", "title": "Border", "text": "border delimitation commission villages " * 20},
    ]
    linker = SeedLinker(seeds)
    assert linker.related("Delimitation", "the border commission met in villages", 3) == ["s2"]
    assert linker.related("Football", "the national team won the match on Sunday", 3) == []


def test_shingles_fold_case_punctuation_and_persian_letter_forms():
    assert shingles.within_language("Ali Said", "") == {"ali said"}
    arabic = shingles.within_language("", "كتاب علي جديد است")
    persian = shingles.within_language("", "کتاب علی جدید است")
    assert arabic == persian
    assert shingles.across_languages("The talks in Baku", "were held") == {"talks", "baku", "held"}


def test_signatures_round_trip_and_estimate_similarity():
    a = {f"w{i} w{i + 1} w{i + 2}" for i in range(200)}
    b = set(list(sorted(a))[:150]) | {f"x{i}" for i in range(50)}
    true = len(a & b) / len(a | b)
    sa, sb = signature(a), signature(b)
    assert from_bytes(to_bytes(sa)).jaccard(sb) == sa.jaccard(sb)
    assert abs(sa.jaccard(sb) - true) < 0.15  # about three standard errors at 128


def test_similarity_index_forgets_in_time_order():
    index = SimilarityIndex(0.5)
    sig = signature({"a b c", "b c d", "c d e", "d e f", "e f g"})
    index.add("old", sig, "2024-11-01T00:00:00+00:00")
    index.add("new", sig, "2024-11-09T00:00:00+00:00")
    assert [k for k, _ in index.similar(sig)] == ["new", "old"]
    assert index.forget_before("2024-11-05T00:00:00+00:00") == 1
    assert [k for k, _ in index.similar(sig)] == ["new"]


def test_translation_through_the_real_model_records_the_english_signature(
    make_settings, make_context, feed_server, tmp_path
):
    from monitor.translate.engine import Engine
    from monitor.translate.models import install_file
    from tests.fixtures.argos_model import build_package

    settings = make_settings(models_dir=tmp_path / "models")
    install_file(build_package(tmp_path / "pkg", "ru"), settings.models_dir)
    ctx = make_context(settings)
    ctx.translator = Engine(settings, ctx.state)
    fetcher = Fetcher(settings, ctx.stop)
    article = fx.CROSS[0]
    feed_server.set_route("/stories/t.xml", body=fx.rss(feed_server.base_url, [article]))
    report = pipeline.poll_feed(
        ctx, fetcher, Feed(name="t", url=feed_server.url("/stories/t.xml"), language="ru")
    )
    fetcher.close()
    assert report.translations["done"] == 1
    spaces = [r["space"] for r in ctx.state.db.read("SELECT space FROM signatures ORDER BY space")]
    assert spaces == ["en", "orig:ru"]
    title_en = ctx.state.db.read("SELECT title_en FROM story_members")[0]["title_en"]
    assert title_en


def test_monitor_stories_lists_and_shows_them(tmp_path, feed_server):
    from tests.conftest import write_feeds
    from tests.test_cli import Cli

    cli = Cli(tmp_path, feed_server)
    feeds = []
    for name, articles in fx.feeds().items():
        feed_server.set_route(f"/cli/{name}.xml", body=fx.rss(feed_server.base_url, articles))
        feeds.append(
            {
                "name": name,
                "url": feed_server.url(f"/cli/{name}.xml"),
                "language": articles[0]["language"],
            }
        )
    write_feeds(tmp_path / "feeds.toml", feeds)
    env = {"MONITOR_TRANSLATION": "false"}
    cli.run("poll", "--once", env=env)
    listed = [
        json.loads(line) for line in cli.run("stories", "--json", env=env).stdout.splitlines()
    ]
    assert [s["size"] for s in listed] == [4, 2, 1, 1, 1, 1]
    agency = listed[0]
    assert agency["languages"] == ["ru"]
    assert agency["sources"] == ["agency-ru", "outlet-a-ru", "outlet-b-ru", "outlet-c-ru"]
    assert agency["title"] in {a["title"] for a in fx.AGENCY}  # the first one polled
    text = cli.run("stories", "--min-size", "2", env=env).stdout
    assert text.startswith("2 stories since 24h")
    assert "   4 × " + agency["title"] in text
    shown = cli.run("stories", agency["story_id"], env=env).stdout
    assert shown.startswith(f"story {agency['story_id']}: 4 reports")
    assert all(a["title"] in shown for a in fx.AGENCY)
    missing = cli.run("stories", "nope", check=False, env=env)
    assert missing.returncode == 2 and "no story 'nope'" in missing.stderr
    old = cli.run("stories", "--since", "2000-01-01", "--json", env=env).stdout
    assert len(old.splitlines()) == 6
