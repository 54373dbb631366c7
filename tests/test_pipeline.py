"""The whole pipeline on real HTTP: fixture feeds served on 127.0.0.1 into the SQLite store."""

from __future__ import annotations

import socket
import ssl
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from monitor import pipeline
from monitor.errors import RetryLater
from monitor.feeds import Feed
from monitor.stages import normalize
from monitor.stages.fetch import Fetcher
from monitor.store import SearchQuery


@pytest.fixture
def env(make_settings, make_context, feed_server):
    """A context, a fetcher and a poll helper on a fresh data folder."""

    class Env:
        server = feed_server

        def __init__(self, **overrides):
            self.settings = make_settings(**overrides)
            self.ctx = make_context(self.settings)
            self.fetcher = Fetcher(self.settings, self.ctx.stop)

        def feed(self, path: str, language: str = "ru", name: str | None = None) -> Feed:
            return Feed(name=name or path, url=feed_server.url(path), language=language)

        def poll(self, feed: Feed, **kw) -> pipeline.PollReport:
            return pipeline.poll_feed(self.ctx, self.fetcher, feed, **kw)

        def docs(self, feed: Feed) -> list[dict]:
            hits = self.ctx.store.search(SearchQuery(sources=(feed.name,), limit=100, sort="date"))
            return hits.hits

        def state(self, feed: Feed) -> dict:
            return self.ctx.state.feed_state(feed.feed_id)

    made = []

    def make(**overrides):
        made.append(Env(**overrides))
        return made[-1]

    yield make
    for e in made:
        e.fetcher.close()


def test_undeclared_windows_1251_decodes_to_cyrillic(env):
    e = env()
    feed = e.feed("/feeds/ru_windows1251.xml")
    report = e.poll(feed)
    assert report.outcome == "ok" and report.stored == 5
    titles = [d["title"] for d in e.docs(feed)]
    assert any("Ереван" in t for t in titles), titles
    assert all(d["language"] == "ru" and not d["language_mismatch"] for d in e.docs(feed))
    # no mojibake: windows-1252 would have produced Latin-1 letters such as "Ð"
    assert not any("Ð" in t or "Ã" in t for t in titles)


def test_tracking_parameters_and_fragment_are_stripped(env):
    e = env()
    feed = e.feed("/feeds/ru_windows1251.xml")
    e.poll(feed)
    urls = [d["url"] for d in e.docs(feed)]
    assert urls and not any("utm_" in u or "#" in u for u in urls)


@pytest.mark.parametrize(
    "path, declared, expected, method",
    [
        ("/feeds/fa_persian.xml", "fa", "fa", "script"),
        ("/feeds/hy_armenian.xml", "hy", "hy", "script"),
        ("/feeds/az_latin.xml", "az", "az", "detector"),
        ("/feeds/ru_rdf.xml", "ru", "ru", "detector"),
        ("/feeds/en_atom.xml", "en", "en", "detector"),
    ],
)
def test_each_language_is_stored_under_its_language(env, path, declared, expected, method):
    e = env()
    feed = e.feed(path, declared)
    report = e.poll(feed)
    assert report.outcome == "ok" and report.stored == report.entries > 0
    docs = e.docs(feed)
    assert {d["language"] for d in docs} == {expected}
    assert {d["language_method"] for d in docs} == {method}


def test_persian_arabic_letter_forms_are_searchable_with_persian_letters(env):
    e = env()
    feed = e.feed("/feeds/fa_persian.xml", "fa")
    e.poll(feed)
    # "ایران" typed with the Arabic yeh (ي) finds text written with the Persian yeh (ی).
    typed = "ايران"
    assert e.ctx.store.search(SearchQuery(text=typed)).total >= 1
    assert e.ctx.store.search(SearchQuery(text="ایران")).total >= 1


def test_declared_language_disagreement_is_recorded(env):
    e = env()
    feed = e.feed("/feeds/mixed_language.xml", "ru")
    e.poll(feed)
    by_lang = {}
    for d in e.docs(feed):
        by_lang.setdefault(d["language"], []).append(d)
    assert len(by_lang["ru"]) == 3 and len(by_lang["az"]) == 2 and len(by_lang["en"]) == 1
    assert all(d["language_mismatch"] and d["language_declared"] == "ru" for d in by_lang["az"])
    assert not any(d["language_mismatch"] for d in by_lang["ru"])


def test_dates_are_utc_and_missing_or_future_dates_are_marked(env):
    e = env()
    feed = e.feed("/feeds/dates.xml")
    e.poll(feed)
    docs = {d["url"].rsplit("/", 1)[-1]: d for d in e.docs(feed)}
    assert docs["601"]["published_source"] == "fetched"  # no date at all
    assert docs["602"]["published_source"] == "fetched_future"  # 2031
    assert docs["603"]["published"] == "2026-11-19T14:30:00+00:00"  # +0400 to UTC
    assert docs["604"]["published"] == "2026-11-19T07:45:00+00:00"  # GMT
    assert docs["605"]["published_source"] == "fetched"  # unparseable
    for d in docs.values():
        assert datetime.fromisoformat(d["published"]).utcoffset() == timedelta(0)


def test_html_and_scripts_never_reach_titles_or_text(env):
    e = env()
    feed = e.feed("/feeds/html_titles.xml")
    e.poll(feed)
    docs = e.docs(feed)
    assert docs
    for d in docs:
        for value in (d["title"], d["text"]):
            assert "<" not in value and "alert(1)" not in value and "&laquo;" not in value
    assert any("«Зангезурский коридор»" in d["title"] for d in docs)


def test_relative_links_resolve_against_the_feed_url(env):
    e = env()
    feed = e.feed("/feeds/relative_links.xml", "en")
    e.poll(feed)
    base = e.server.url("/")
    urls = sorted(d["url"] for d in e.docs(feed))
    assert len(urls) == 3 and all(u.startswith(base) for u in urls), urls
    assert e.server.url("/news/1") in urls


def test_duplicate_guids_keep_each_article_once(env):
    e = env()
    feed = e.feed("/feeds/duplicate_guids.xml")
    report = e.poll(feed)
    assert report.entries == 4
    assert report.articles == {"stored": 3, "dropped_duplicate_id": 1}
    assert len(e.docs(feed)) == 3


def test_malformed_feed_keeps_what_parsed(env):
    e = env()
    feed = e.feed("/feeds/malformed.xml")
    report = e.poll(feed)
    assert report.outcome == "ok" and report.stored >= 3
    assert "not well-formed" in report.warning
    assert e.state(feed)["consecutive_failures"] == 0


def test_empty_channel_is_a_success_with_nothing_new(env):
    e = env()
    feed = e.feed("/feeds/empty_channel.xml")
    report = e.poll(feed)
    assert report.outcome == "ok" and report.entries == 0
    assert e.state(feed)["failure_class"] is None


@pytest.mark.parametrize(
    "path, overrides, outcome, failure_class",
    [
        ("/feeds/empty_body.xml", {}, "malformed", "soft"),
        ("/garbage", {}, "malformed", "soft"),
        ("/garbage/xml", {}, "malformed", "soft"),
        ("/entities/laughs", {}, "malformed", "soft"),
        ("/status/404", {}, "http_error", "hard"),
        ("/status/500", {}, "http_error", "temporary"),
        ("/retry-after/503/600", {}, "http_error", "temporary"),
        ("/slow/5", {"read_timeout_seconds": 0.5}, "timeout", "temporary"),
        ("/oversize/3", {"max_feed_bytes": 1024 * 1024}, "too_large", "soft"),
        ("/oversize-declared/50", {}, "too_large", "soft"),
        ("/gzip-bomb/1024?encoding=gzip,gzip", {"max_feed_bytes": 65536}, "too_large", "soft"),
        ("/redirect-loop/0", {}, "too_many_redirects", "soft"),
        ("/drop", {}, "connect_error", "temporary"),
    ],
)
def test_a_failing_feed_is_recorded_and_backed_off(env, path, overrides, outcome, failure_class):
    e = env(**overrides)
    feed = e.feed(path)
    before = datetime.now(UTC)
    report = e.poll(feed)
    assert report.outcome == outcome, report.error
    state = e.state(feed)
    assert state["failure_class"] == failure_class
    assert state["consecutive_failures"] == 1
    assert state["last_error"]
    assert datetime.fromisoformat(state["next_poll_at"]) > before + timedelta(minutes=4)
    assert state["disabled_reason"] is None


def test_gone_disables_the_feed(env):
    e = env()
    feed = e.feed("/status/410")
    e.poll(feed)
    assert e.state(feed)["disabled_reason"] == "gone_410"


def test_retry_after_is_honoured(env):
    e = env()
    feed = e.feed("/retry-after/429/7200")
    before = datetime.now(UTC)
    e.poll(feed)
    assert datetime.fromisoformat(e.state(feed)["next_poll_at"]) >= before + timedelta(hours=2)


def test_closed_port_is_a_connect_error(env):
    e = env()
    feed = Feed(name="closed", url="http://127.0.0.1:9/feed.xml", language="ru")
    assert e.poll(feed).outcome == "connect_error"


def test_redirect_chain_within_the_limit_is_followed(env):
    e = env()
    feed = e.feed("/redirect/3/az_latin.xml", "az")
    report = e.poll(feed)
    assert report.outcome == "ok" and report.stored == 5


def test_gzip_body_is_decoded(env):
    e = env()
    feed = e.feed("/gzip/hy_armenian.xml", "hy")
    assert e.poll(feed).stored == 5


def test_second_poll_sends_validators_and_a_304_costs_nothing(env):
    e = env()
    feed = e.feed("/etag/az_latin.xml", "az")
    assert e.poll(feed).stored == 5
    second = e.poll(feed)
    assert second.outcome == "not_modified" and second.stored == 0
    last = e.server.requests[-1]
    assert last.headers.get("if-none-match", "").startswith('"')
    assert e.ctx.store.counts()["total"]["documents"] == 5


def test_unchanged_body_without_validators_adds_nothing(env):
    e = env()
    feed = e.feed("/feeds/hy_armenian.xml", "hy")  # no ETag, no Last-Modified
    assert e.poll(feed).stored == 5
    second = e.poll(feed)
    assert second.outcome == "unchanged" and second.stored == 0 and second.entries == 0


def test_every_nth_poll_goes_out_without_validators(env):
    e = env(revalidate_every_polls=2)
    feed = e.feed("/etag/az_latin.xml", "az")
    e.poll(feed)  # poll 1: unconditional (first poll)
    e.poll(feed)  # poll 2: revalidation due, no validators
    e.poll(feed)  # poll 3: conditional again
    sent = [r.headers.get("if-none-match") for r in e.server.requests if r.path.startswith("/etag")]
    assert sent[0] is None and sent[1] is None and sent[2] is not None


def test_the_same_article_in_two_feeds_is_stored_once(env):
    e = env()
    first = e.feed("/feeds/ru_windows1251.xml", name="one")
    second = e.feed("/feeds/ru_windows1251_declared.xml", name="two")
    assert e.poll(first).stored == 5
    report = e.poll(second)
    assert report.stored == 0
    assert sum(report.articles.values()) == 5


class FlakyStore:
    """The real store, refusing the first ``failures`` writes as a locked database would."""

    def __init__(self, store, failures: int):
        self.store, self.failures = store, failures
        self.name = store.name

    def add(self, document):
        if self.failures:
            self.failures -= 1
            raise RetryLater("store_unavailable", "database is locked")
        return self.store.add(document)

    def __getattr__(self, name):
        return getattr(self.store, name)


def test_an_article_the_store_refused_comes_back_on_the_next_poll(env):
    e = env()
    e.ctx.store = FlakyStore(e.ctx.store, failures=2)
    feed = e.feed("/etag/az_latin.xml", "az")
    first = e.poll(feed)
    assert first.articles == {"stored": 3, "retry": 2}
    assert e.state(feed)["etag"] is None  # validators not advanced
    second = e.poll(feed)
    assert second.outcome == "ok" and second.stored == 2
    assert e.ctx.store.counts()["total"]["documents"] == 5


def test_a_poison_article_is_quarantined_and_the_rest_go_on(env, monkeypatch):
    e = env()
    real = normalize.run

    def breaks_on_one(article, ctx):
        if "Naxçıvan" in article.entry.title or "Naxçıvan" in article.entry.summary:
            raise ValueError("cannot normalize this one")
        real(article, ctx)

    monkeypatch.setattr(normalize, "run", breaks_on_one)
    feed = e.feed("/feeds/mixed_language.xml", "ru")
    report = e.poll(feed)
    assert report.articles["quarantined"] == 1 and report.stored == 5
    items = e.ctx.state.quarantined()
    assert len(items) == 1 and "cannot normalize" in items[0]["error"]
    assert items[0]["stage"] == "normalize"
    monkeypatch.setattr(normalize, "run", real)
    assert pipeline.replay_quarantined(e.ctx) == {"stored": 1}
    assert e.ctx.state.quarantined() == []
    assert e.ctx.store.counts()["total"]["documents"] == 6


def test_stop_between_articles_records_an_aborted_poll_without_validators(env):
    e = env()
    feed = e.feed("/etag/az_latin.xml", "az")
    e.ctx.stop.set()
    report = e.poll(feed)
    assert report.outcome == "aborted" and report.stored == 0
    state = e.state(feed)
    assert state["etag"] is None and state["consecutive_failures"] == 0


@pytest.mark.parametrize(
    "cause, kind",
    [
        (OSError(111, "Connection refused"), "connect_error"),
        (socket.gaierror(-2, "Name or service not known"), "dns_error"),
        (OSError("[Errno -3] Temporary failure in name resolution"), "dns_error"),
        (ssl.SSLCertVerificationError(1, "certificate verify failed"), "tls_error"),
    ],
)
def test_connect_failures_are_told_apart(cause, kind):
    from monitor.stages.fetch import _connect_kind

    try:
        try:
            raise cause
        except Exception as inner:
            raise httpx.ConnectError(str(inner)) from inner
    except httpx.ConnectError as exc:
        assert _connect_kind(exc) == kind
