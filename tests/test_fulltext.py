"""Full article text on real HTTP: summary-only feeds whose links lead to article pages
with real-world clutter, robots.txt rules, slow and failing pages, all on 127.0.0.1."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime

import pytest

from monitor import pipeline
from monitor.article import Article, Entry, FeedRef
from monitor.cpu import CpuPool
from monitor.feeds import Feed
from monitor.stages.fetch import Fetcher
from monitor.stages.fulltext import Pages
from monitor.store import SearchQuery
from tests.conftest import ROOT

PAGES = tomllib.loads((ROOT / "tests/fixtures/pages/MANIFEST.toml").read_text("utf-8"))["pages"]
ROBOTS = b"User-agent: *\nDisallow: /private/\n"


def rss(items: list[tuple[str, str, str]]) -> bytes:
    """An RSS 2.0 body of (title, link, description) items."""
    body = "".join(
        f"<item><title>{t}</title><link>{link}</link><description>{d}</description>"
        f"<guid>{link}</guid></item>"
        for t, link, d in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        f"<link>http://127.0.0.1/</link><description>d</description>{body}</channel></rss>"
    ).encode()


@pytest.fixture
def env(make_settings, make_context, feed_server):
    """A context with page fetching, as the daemon builds it."""
    made = []

    class Env:
        server = feed_server

        def __init__(self, **overrides):
            self.settings = make_settings(**{"full_text": True, **overrides})
            self.ctx = make_context(self.settings)
            self.fetcher = Fetcher(self.settings, self.ctx.stop)
            self.ctx.pages = Pages(self.fetcher, self.settings, self.ctx.cpu)
            made.append(self)

        def feed(self, path: str, language: str, name: str = "feed", **kw) -> Feed:
            return Feed(name=name, url=feed_server.url(path), language=language, **kw)

        def poll(self, feed: Feed) -> pipeline.PollReport:
            return pipeline.poll_feed(self.ctx, self.fetcher, feed)

        def doc(self, url_path: str) -> dict:
            found = [d for d in self.all() if d["url"] == feed_server.url(url_path)]
            assert len(found) == 1, url_path
            return found[0]

        def all(self) -> list[dict]:
            return self.ctx.store.search(SearchQuery(limit=100, sort="date")).hits

    yield Env
    for e in made:
        e.fetcher.close()


def _body_sentences(page: str) -> list[str]:
    return PAGES[page]["body"]


def _clutter(page: str) -> list[str]:
    leaks = set(PAGES[page].get("known_leaks", []))
    return [c for c in PAGES[page]["clutter"] if c not in leaks]


@pytest.mark.parametrize("language", ["ru", "hy", "az", "fa"])
def test_a_summary_only_feed_gets_the_page_text_and_none_of_the_clutter(env, language):
    e = env()
    e.server.set_route("/robots.txt", body=ROBOTS, headers={"Content-Type": "text/plain"})
    feed = e.feed(f"/template/summary_only_{language}.xml", language)
    report = e.poll(feed)
    assert report.outcome == "ok" and report.stored == 3, report
    page = f"{language}_article.html"
    doc = e.doc(f"/pages/{page}")
    assert doc["text_source"] == "page" and doc["fulltext_status"] == "ok"
    for sentence in _body_sentences(page):
        assert sentence in doc["text"], sentence
    for clutter in _clutter(page):
        assert clutter not in doc["text"], clutter
    assert doc["summary"] and doc["summary"] in open_feed(language)
    assert len(doc["text"]) > len(doc["summary"])
    assert doc["language"] == language
    # a body sentence from the fourth paragraph is searchable; the summary alone lacked it
    last = _body_sentences(page)[-1]
    word = max(last.split(), key=len).strip("«»\"'.,:;!?()՝։؟")
    hits = e.ctx.store.search(SearchQuery(text=word)).hits
    assert doc["id"] in [h["id"] for h in hits], word


def open_feed(language: str) -> str:
    return (ROOT / f"tests/fixtures/feeds/summary_only_{language}.xml").read_text("utf-8")


def test_a_failed_page_leaves_the_feed_text_and_the_reason(env):
    e = env()
    e.poll(e.feed("/template/summary_only_ru.xml", "ru"))
    failed = e.doc("/status/500")
    assert failed["text_source"] == "feed"
    assert failed["fulltext_status"] == "fetch_http_error_500"
    assert failed["text"] == failed["summary"] and failed["text"]


def test_a_paywall_page_shorter_than_the_feed_keeps_the_feed_text(env):
    e = env()
    e.poll(e.feed("/template/summary_only_ru.xml", "ru"))
    paywalled = e.doc("/pages/paywall.html")
    assert paywalled["text_source"] == "feed"
    assert paywalled["fulltext_status"] == "shorter_than_feed"
    assert paywalled["text"] == paywalled["summary"]


def test_robots_txt_is_honoured_and_fetched_once_per_host(env):
    e = env()
    e.server.set_route("/robots.txt", body=ROBOTS, headers={"Content-Type": "text/plain"})
    items = [
        ("Secret one", e.server.url("/private/secret.html"), "A short summary."),
        ("Open page", e.server.url("/pages/az_article.html"), "Qısa xülasə."),
        ("Secret two", e.server.url("/private/ru_article.html"), "Short."),
    ]
    e.server.set_route("/feed.xml", body=rss(items))
    e.poll(e.feed("/feed.xml", "az"))
    assert e.server.count("/private/secret.html") == 0
    assert e.server.count("/private/ru_article.html") == 0
    assert e.server.count("/robots.txt") == 1
    assert e.doc("/private/secret.html")["fulltext_status"] == "robots_disallowed"
    assert e.doc("/pages/az_article.html")["text_source"] == "page"


def test_an_unreachable_robots_txt_forbids_the_host_for_a_while(env):
    e = env()
    e.server.set_route("/robots.txt", status=503, body=b"down")
    items = [("Page", e.server.url("/pages/hy_article.html"), "Կարճ։")]
    e.server.set_route("/feed.xml", body=rss(items))
    e.poll(e.feed("/feed.xml", "hy"))
    doc = e.doc("/pages/hy_article.html")
    assert doc["fulltext_status"].startswith("robots_unreachable")
    assert e.server.count("/pages/hy_article.html") == 0


def test_no_page_is_fetched_for_an_article_already_stored(env):
    e = env()
    e.poll(e.feed("/template/summary_only_az.xml", "az", name="first"))
    assert e.server.count("/pages/az_article.html") == 1
    # another feed carries the same article (same link): a duplicate, no second fetch
    e.poll(e.feed("/template/summary_only_az.xml?copy=1", "az", name="second"))
    assert e.server.count("/pages/az_article.html") == 1


def test_full_text_off_fetches_no_page(env):
    e = env(full_text=False)
    e.poll(e.feed("/template/summary_only_fa.xml", "fa"))
    assert e.server.count("/pages/fa_article.html") == 0
    doc = e.doc("/pages/fa_article.html")
    assert doc["fulltext_status"] == "off" and doc["text"] == doc["summary"]


def test_a_feed_can_turn_full_text_on_when_the_default_is_off(env):
    e = env(full_text=False)
    e.poll(e.feed("/template/summary_only_fa.xml", "fa", full_text=True))
    assert e.doc("/pages/fa_article.html")["text_source"] == "page"


def test_persian_zero_width_non_joiners_survive_extraction(env):
    e = env()
    e.poll(e.feed("/template/summary_only_fa.xml", "fa"))
    text = e.doc("/pages/fa_article.html")["text"]
    assert "\u200c" in text
    assert "می‌رسد" in text  # not "میرسد"


@pytest.mark.parametrize(
    "path, overrides, status",
    [
        ("/slow/5", {"read_timeout_seconds": 0.5}, "fetch_timeout"),
        ("/pdf/report.pdf", {}, "not_html (application/pdf)"),
        ("/pages/app_shell.html", {}, "empty_extraction"),
        ("/redirect-loop/0", {}, "fetch_too_many_redirects"),
    ],
)
def test_pages_that_give_nothing_are_recorded_with_their_reason(env, path, overrides, status):
    e = env(**overrides)
    e.server.set_route("/feed.xml", body=rss([("Title", e.server.url(path), "Summary here.")]))
    report = e.poll(e.feed("/feed.xml", "en"))
    assert report.stored == 1
    doc = e.all()[0]
    assert doc["fulltext_status"] == status and doc["text"] == "Summary here."


def test_a_giant_page_is_capped(env):
    e = env(full_text_max_chars=5000)
    link = e.server.url("/pages/long_article.html")
    e.server.set_route("/feed.xml", body=rss([("Long", link, "Short summary.")]))
    e.poll(e.feed("/feed.xml", "en"))
    doc = e.all()[0]
    assert doc["text_source"] == "page" and len(doc["text"]) <= 5000
    assert doc["page_chars"] > 50_000


def test_the_page_fills_in_a_missing_date_and_author(env):
    e = env()
    link = e.server.url("/pages/ru_article.html")
    e.server.set_route("/feed.xml", body=rss([("Садахло", link, "Кратко.")]))
    e.poll(e.feed("/feed.xml", "ru"))
    doc = e.all()[0]
    truth = PAGES["ru_article.html"]
    if truth["author"]:
        assert doc["author"] == truth["author"]
    if truth["published"]:
        assert doc["published_source"] == "page"
        assert doc["published"][:10] == truth["published"][:10]


def test_requests_to_one_host_keep_the_minimum_interval(env):
    e = env(per_host_min_interval_seconds=0.3)
    items = [
        (f"Page {i}", e.server.url(f"/pages/{p}"), "x")
        for i, p in enumerate(["ru_article.html", "az_article.html", "en_article.html"])
    ]
    e.server.set_route("/feed.xml", body=rss(items))
    e.poll(e.feed("/feed.xml", "en"))
    times = sorted(r.timestamp for r in e.server.requests)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert len(times) == 5  # feed, robots.txt, three pages
    # The gate spaces the starts 0.3 s apart on the client; the server sees arrivals, which
    # a loaded machine delays one by one (a late one shortens the next gap). Without the
    # gate the gaps are milliseconds; with it, the span of four gaps is at least 1.2 s less
    # the first request's delay.
    assert min(gaps) >= 0.15, gaps
    assert times[-1] - times[0] >= 1.1, gaps


def test_retry_failed_fetches_the_page_again_and_updates_the_document(env):
    e = env()
    e.server.set_route("/pages/later.html", status=503, body=b"busy")
    link = e.server.url("/pages/later.html")
    e.server.set_route("/feed.xml", body=rss([("Садахло", link, "Кратко о переходе.")]))
    e.poll(e.feed("/feed.xml", "ru"))
    doc = e.all()[0]
    assert doc["fulltext_status"] == "fetch_http_error_503"
    word = "реконструкции"
    assert e.ctx.store.search(SearchQuery(text=word)).total == 0

    page = (ROOT / "tests/fixtures/pages/ru_article.html").read_bytes()
    e.server.set_route("/pages/later.html", body=page, headers={"Content-Type": "text/html"})
    assert pipeline.retry_fulltext(e.ctx) == {"ok": 1}
    again = e.ctx.store.get(doc["id"])
    assert again["text_source"] == "page" and again["summary"] == "Кратко о переходе."
    assert e.ctx.store.search(SearchQuery(text=word)).total == 1  # the index follows
    assert pipeline.retry_fulltext(e.ctx) == {}  # nothing left to retry


def test_pages_extract_in_a_parser_process(env):
    e = env()
    e.ctx.pages = Pages(e.fetcher, e.settings, CpuPool(1))
    try:
        ref = FeedRef("f", "f", e.server.url("/"), "hy", full_text=True)
        article = Article(ref, Entry(link=e.server.url("/pages/hy_article.html"),
                                     title="Վերնագիր", summary="Կարճ։"), datetime.now(UTC))
        outcomes = pipeline.process_articles([article], e.ctx)
        assert outcomes == ["stored"] and article.fulltext.source == "page"
    finally:
        e.ctx.pages.cpu.close()


def test_feeds_check_full_text_shows_the_extraction_and_writes_nothing(tmp_path, feed_server):
    from tests.test_cli import Cli

    cli = Cli(tmp_path, feed_server)
    url = feed_server.url("/template/summary_only_ru.xml")
    out = cli.run("feeds", "check", url, "--full-text", "--language", "ru").stdout
    assert "text from the page: ok" in out
    assert "text from the feed: shorter_than_feed" in out  # the paywall
    assert "text from the feed: fetch_http_error_500" in out
    rows = cli.json_lines("feeds", "check", url, "--full-text", "--json")
    assert rows[0]["text_source"] == "page" and len(rows[0]["text"]) > len(rows[0]["summary"])
    assert not (tmp_path / "data" / "store.sqlite3").exists()
