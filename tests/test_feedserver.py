"""Tests of the test HTTP server (tests/feedserver.py) and the feed fixtures."""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import html
import importlib.util
import re
import socket
import sys
import threading
import time
import tomllib
import urllib.robotparser
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import feedparser
import httpx
import pytest

try:
    from tests import hostile
    from tests.feedserver import (  # noqa: F401  (feed_server: the fixture)
        LAST_MODIFIED,
        FeedServer,
        RecordedRequest,
        feed_server,
    )
except ImportError:  # pragma: no cover - tests/ on sys.path but not a package
    import hostile  # type: ignore[no-redef]
    from feedserver import LAST_MODIFIED, FeedServer, RecordedRequest, feed_server  # noqa: F401

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FEEDS = FIXTURES / "feeds"
PAGES = FIXTURES / "pages"
PAGE_FILES = sorted(p.name for p in PAGES.glob("*.html"))
MANIFEST = tomllib.loads((FEEDS / "MANIFEST.toml").read_text(encoding="utf-8"))["files"]
FEED_FILES = sorted(p.name for p in FEEDS.glob("*.xml"))
CP1251_HEADERS = {"content-type": "application/rss+xml; charset=windows-1251"}
MIB = 1024 * 1024


def _load_feedgen():
    spec = importlib.util.spec_from_file_location("feedgen", FIXTURES / "feedgen.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("feedgen", module)
    spec.loader.exec_module(module)
    return module


feedgen = _load_feedgen()


def plain_text(value: str) -> str:
    """Title as plain text: drop script/style content and tags, decode entities."""
    value = re.sub(r"(?is)<(script|style)\b.*?</\1\s*>", "", value)
    value = re.sub(r"(?s)<[^>]*>", "", value)
    return re.sub(r"\s+", " ", html.unescape(value)).strip()


def parse_fixture(name: str, **kwargs):
    return feedparser.parse((FEEDS / name).read_bytes(), **kwargs)


@pytest.fixture
def client():
    with httpx.Client(timeout=5.0) as c:
        yield c


# --------------------------------------------------------------------------- /feeds


@pytest.mark.parametrize("name", FEED_FILES)
def test_feeds_serves_fixture_bytes_unmodified(feed_server, client, name):
    resp = client.get(feed_server.url(f"/feeds/{name}"))
    data = (FEEDS / name).read_bytes()
    assert resp.status_code == 200
    assert resp.content == data
    assert resp.headers["content-length"] == str(len(data))
    expected = "application/rss+xml"
    if "atom" in name:
        expected = "application/atom+xml"
    elif "rdf" in name:
        expected = "application/rdf+xml"
    assert resp.headers["content-type"] == expected  # no charset by default


def test_feeds_charset_and_ctype_queries(feed_server, client):
    url = feed_server.url("/feeds/ru_windows1251.xml")
    resp = client.get(url, params={"charset": "windows-1251"})
    assert resp.headers["content-type"] == "application/rss+xml; charset=windows-1251"
    assert resp.text.startswith('<?xml version="1.0"?>')
    assert "Ереван и Баку" in resp.text
    resp = client.get(url, params={"ctype": "text/html; charset=utf-8"})
    assert resp.headers["content-type"] == "text/html; charset=utf-8"
    assert client.get(feed_server.url("/feeds/en_atom.xml?charset=utf-8")).headers[
        "content-type"
    ] == ("application/atom+xml; charset=utf-8")


def test_feeds_head_and_missing(feed_server, client):
    resp = client.head(feed_server.url("/feeds/az_latin.xml"))
    assert resp.status_code == 200
    assert resp.content == b""
    assert resp.headers["content-length"] == str((FEEDS / "az_latin.xml").stat().st_size)
    assert client.get(feed_server.url("/feeds/nope.xml")).status_code == 404
    assert client.get(feed_server.url("/feeds/..%2Ftest_feedserver.py")).status_code == 404
    assert client.get(feed_server.url("/no-such-endpoint")).status_code == 404


# --------------------------------------------------------------------------- /etag


def test_etag_and_conditional_get(feed_server, client):
    name = "fa_persian.xml"
    data = (FEEDS / name).read_bytes()
    url = feed_server.url(f"/etag/{name}")
    first = client.get(url)
    etag = '"' + hashlib.sha1(data).hexdigest() + '"'
    assert first.status_code == 200
    assert first.content == data
    assert first.headers["etag"] == etag
    assert first.headers["last-modified"] == LAST_MODIFIED

    for headers in (
        {"If-None-Match": etag},
        {"If-None-Match": f'"other", W/{etag}'},
        {"If-Modified-Since": LAST_MODIFIED},
        {"If-None-Match": etag, "If-Modified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"},
    ):
        resp = client.get(url, headers=headers)
        assert resp.status_code == 304, headers
        assert resp.content == b""
        assert resp.headers["etag"] == etag

    assert client.get(url, headers={"If-None-Match": '"stale"'}).status_code == 200
    old = "Sat, 01 Jan 2000 00:00:00 GMT"
    assert client.get(url, headers={"If-Modified-Since": old}).status_code == 200
    assert feed_server.count(f"/etag/{name}") == 7
    assert feed_server.requests[1].headers["if-none-match"] == etag


# --------------------------------------------------------------------------- status


@pytest.mark.parametrize("code", [200, 301, 404, 410, 429, 500, 503])
def test_status(feed_server, client, code):
    resp = client.get(feed_server.url(f"/status/{code}"))
    assert resp.status_code == code
    assert resp.text == f"status {code}\n"


def test_retry_after_seconds_and_date(feed_server, client):
    resp = client.get(feed_server.url("/retry-after/429/120"))
    assert resp.status_code == 429
    assert resp.headers["retry-after"] == "120"

    resp = client.get(feed_server.url("/retry-after-date/503/3600"))
    assert resp.status_code == 503
    when = email.utils.parsedate_to_datetime(resp.headers["retry-after"])
    assert resp.headers["retry-after"].endswith(" GMT")
    assert abs(when.timestamp() - (time.time() + 3600)) < 5


# --------------------------------------------------------------------------- slow / drip / drop


def test_slow(feed_server, client):
    started = time.monotonic()
    resp = client.get(feed_server.url("/slow/0.3"))
    assert time.monotonic() - started >= 0.3
    assert resp.status_code == 200
    assert len(feedparser.parse(resp.content).entries) == 5


def test_drip_sends_bytes_slowly_without_length(feed_server):
    started = time.monotonic()
    with httpx.stream("GET", feed_server.url("/drip/30/0.01"), timeout=5.0) as resp:
        assert resp.status_code == 200
        assert "content-length" not in resp.headers
        assert resp.headers["connection"] == "close"
        body = resp.read()
    assert time.monotonic() - started >= 0.25
    assert body == b'<?xml version="1.0" encoding="utf-8"?>\n<rss versi'[:30]
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(feed_server.url("/drip/100/1"), timeout=0.3)


def test_drip_head_sends_the_status_line_and_headers_slowly(feed_server):
    with socket.create_connection(("127.0.0.1", feed_server.port), timeout=5.0) as sock:
        sock.sendall(b"GET /drip-head/0.05 HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        started = time.monotonic()
        while time.monotonic() - started < 0.5:
            received += sock.recv(100)
    # ~10 bytes in half a second, one at a time: the headers take minutes to arrive.
    assert b"HTTP/1.1 200 OK\r\n".startswith(received) and 3 <= len(received) <= 15
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(feed_server.url("/drip-head/1"), timeout=0.3)


def test_drop_closes_without_response(feed_server, client):
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        client.get(feed_server.url("/drop"))
    assert feed_server.count("/drop") == 1


# --------------------------------------------------------------------------- redirects


def test_redirect_loop(feed_server):
    resp = httpx.get(feed_server.url("/redirect-loop/0"))
    assert resp.status_code == 302
    assert resp.headers["location"] == "/redirect-loop/1"
    with (
        httpx.Client(follow_redirects=True, max_redirects=5) as c,
        pytest.raises(httpx.TooManyRedirects),
    ):
        c.get(feed_server.url("/redirect-loop/0"))
    assert feed_server.count("/redirect-loop/5") == 1


def test_redirect_chain(feed_server, client):
    url = feed_server.url("/redirect/3/en_atom.xml?charset=utf-8")
    resp = client.get(url, follow_redirects=True)
    assert resp.status_code == 200
    assert [r.status_code for r in resp.history] == [302, 302, 302]
    assert resp.url.path == "/feeds/en_atom.xml"
    assert resp.headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert resp.content == (FEEDS / "en_atom.xml").read_bytes()
    # The content type follows the file name: hy_armenian.xml is Atom but served as RSS.
    resp = client.get(feed_server.url("/redirect/0/hy_armenian.xml"), follow_redirects=True)
    assert (resp.history, resp.headers["content-type"]) == ([], "application/rss+xml")


# --------------------------------------------------------------------------- oversize


def test_oversize_streams_chunked_valid_rss(feed_server):
    total = 0
    with httpx.stream("GET", feed_server.url("/oversize/1"), timeout=5.0) as resp:
        assert resp.status_code == 200
        assert "content-length" not in resp.headers
        assert resp.headers["transfer-encoding"] == "chunked"
        parts = list(resp.iter_bytes())
        total = sum(len(p) for p in parts)
    assert 1024 * 1024 <= total < 1024 * 1024 + 2048
    root = ET.fromstring(b"".join(parts))
    items = root.findall("./channel/item")
    assert len(items) > 1000
    assert len({i.findtext("guid") for i in items}) == len(items)


def test_oversize_client_can_abort_early(feed_server, capfd):
    with httpx.stream("GET", feed_server.url("/oversize/50"), timeout=5.0) as resp:
        received = 0
        for chunk in resp.iter_bytes():
            received += len(chunk)
            if received > 256 * 1024:
                break
    assert received < 50 * 1024 * 1024
    time.sleep(0.2)
    assert capfd.readouterr().err == ""
    assert feed_server.errors == []


@pytest.mark.parametrize("framing", ["length", "close"])
def test_oversize_framings(feed_server, client, framing):
    resp = client.get(feed_server.url(f"/oversize/0.25?framing={framing}"))
    assert resp.status_code == 200 and "transfer-encoding" not in resp.headers
    if framing == "length":
        assert resp.headers["content-length"] == str(len(resp.content)) == str(MIB // 4)
    else:
        assert "content-length" not in resp.headers and resp.headers["connection"] == "close"
    assert len(ET.fromstring(resp.content).findall("./channel/item")) > 200
    with httpx.stream("GET", feed_server.url("/oversize/1024?framing=length")) as big:
        assert big.headers["content-length"] == str(1024 * MIB)
        assert next(big.iter_raw()).startswith(b"<?xml")  # and no more is read
    assert client.get(feed_server.url("/oversize/1?framing=other")).status_code == 400


def test_oversize_declared_length_then_short_body(feed_server):
    with httpx.stream("GET", feed_server.url("/oversize-declared/5"), timeout=5.0) as resp:
        assert resp.headers["content-length"] == str(5 * 1024 * 1024)
        with pytest.raises(httpx.RemoteProtocolError):
            resp.read()


# --------------------------------------------------------------------------- gzip / garbage


def test_gzip(feed_server, client):
    data = (FEEDS / "ru_rdf.xml").read_bytes()
    resp = client.get(feed_server.url("/gzip/ru_rdf.xml"))
    assert resp.headers["content-encoding"] == "gzip"
    assert resp.headers["content-type"] == "application/rdf+xml"
    assert resp.content == data  # httpx decodes transparently
    with httpx.stream("GET", feed_server.url("/gzip/ru_rdf.xml")) as raw:
        compressed = b"".join(raw.iter_raw())
    assert compressed[:2] == b"\x1f\x8b"
    assert gzip.decompress(compressed) == data


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "gzip,gzip"])
def test_gzip_bomb_inflates_to_zeros(feed_server, encoding):
    url = feed_server.url(f"/gzip-bomb/8?encoding={encoding}")
    with httpx.stream("GET", url, timeout=5.0) as resp:
        assert resp.headers["content-encoding"] == encoding
        assert resp.headers["transfer-encoding"] == "chunked"
        wire = b"".join(resp.iter_raw())
    if encoding == "deflate":
        inflated = zlib.decompress(wire)
    else:
        inflated = gzip.decompress(wire)
        if encoding == "gzip,gzip":
            inflated = gzip.decompress(inflated)
    assert inflated == bytes(8 * MIB)
    assert len(wire) < (10_000 if encoding != "gzip,gzip" else 200)  # ~1 KiB a MiB, or less


def test_gzip_bomb_of_ten_gib_starts_at_once(feed_server):
    first = b""
    with httpx.stream("GET", feed_server.url("/gzip-bomb/10240"), timeout=5.0) as resp:
        for raw in resp.iter_raw():
            first += raw
            if len(first) > 4096:
                break
    assert first.startswith(b"\x1f\x8b")
    inflated = zlib.decompressobj(zlib.MAX_WBITS | 16).decompress(first, MIB)
    assert inflated == bytes(len(inflated)) and len(inflated) == MIB


@pytest.mark.parametrize("kind", hostile.ENTITY_KINDS)
def test_entities(feed_server, client, kind):
    resp = client.get(feed_server.url(f"/entities/{kind}"))
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/rss+xml"
    body = resp.content
    assert body.startswith(b"<?xml") and b"<!DOCTYPE rss [" in body and b"<!ENTITY " in body
    if kind.startswith("laughs"):
        assert b'<!ENTITY lol9 "' + b"&lol8;" * 10 + b'">' in body and b"&lol9;" in body
        assert (b'"lol<b/>"' in body) == (kind == "laughs-hidden")
    elif kind == "quadratic":
        assert body.count(b"&a;") == 16384 and b"A" * 65536 in body
        assert client.get(feed_server.url(f"/entities/{kind}?refs=3")).content.count(b"&a;") == 3
    elif kind == "external":
        assert b'SYSTEM "file:///etc/passwd"' in body
        assert f'SYSTEM "{feed_server.url("/xxe-probe")}"'.encode() in body
        assert b"<!ENTITY % dtd SYSTEM" in body
    else:
        entries = feedparser.parse(body).entries
        assert [e.title for e in entries] == ["Hello\xa0from Example News", "Example News again"]
    assert client.get(feed_server.url("/entities/other")).status_code == 400


@pytest.mark.parametrize("vary", [False, True])
def test_etag_churn(feed_server, client, vary):
    url = feed_server.url("/etag-churn/az_latin.xml" + ("?vary=1" if vary else ""))
    first = client.get(url)
    second = client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert (first.status_code, second.status_code) == (200, 200)  # never 304
    assert first.headers["etag"] != second.headers["etag"]
    assert first.headers["last-modified"] != second.headers["last-modified"]
    data = (FEEDS / "az_latin.xml").read_bytes()
    if vary:
        assert first.content.startswith(data) and second.content.startswith(data)
        assert first.content != second.content
    else:
        assert first.content == second.content == data


@pytest.mark.parametrize("kind", hostile.GARBAGE_KINDS)
def test_garbage_kinds(feed_server, client, kind):
    resp = client.get(feed_server.url(f"/garbage/{kind}?kib=8&ctype=text/xml"))
    assert resp.headers["content-type"] == "text/xml"
    assert resp.content == client.get(feed_server.url(f"/garbage/{kind}?kib=8")).content
    tail = resp.content[-8 * 1024 :]
    if kind == "random":
        assert resp.content == tail and len(set(tail)) > 200
    else:
        assert resp.content.startswith(b'<?xml version="1.0"') and b"<rss" in resp.content
        assert (tail == bytes(8 * 1024)) == (kind != "xml")
        assert (hostile.NUL_ITEM in resp.content) == (kind == "nul-item")
    parsed = feedparser.parse(resp.content)
    assert parsed.bozo and len(parsed.entries) == (1 if kind == "nul-item" else 0)
    assert client.get(feed_server.url("/garbage/other")).status_code == 400


def test_garbage_is_deterministic(feed_server, client):
    first = client.get(feed_server.url("/garbage"))
    second = client.get(feed_server.url("/garbage"))
    assert first.status_code == 200
    assert first.headers["content-type"] == "application/rss+xml"
    assert len(first.content) == 64 * 1024
    assert first.content == second.content
    parsed = feedparser.parse(first.content)
    assert parsed.bozo and not parsed.entries


# --------------------------------------------------------------------------- pages, template, pdf


@pytest.mark.parametrize("name", PAGE_FILES)
def test_pages_serves_page_bytes(feed_server, client, name):
    resp = client.get(feed_server.url(f"/pages/{name}"))
    data = (PAGES / name).read_bytes()
    assert resp.status_code == 200
    assert resp.content == data
    assert resp.headers["content-length"] == str(len(data))
    if name.endswith("_cp1251.html"):
        assert resp.headers["content-type"] == "text/html"  # the <meta charset> must be used
    else:
        assert resp.headers["content-type"] == "text/html; charset=utf-8"


def test_pages_cp1251_needs_the_meta_charset(feed_server, client):
    resp = client.get(feed_server.url("/pages/ru_article_cp1251.html"))
    assert b'<meta charset="windows-1251"' in resp.content
    assert "Ялама" in resp.content.decode("cp1251")
    assert "Ялама" not in resp.text  # httpx falls back to UTF-8 without a charset header


def test_pages_head_missing_and_ctype(feed_server, client):
    resp = client.head(feed_server.url("/pages/ru_article.html"))
    assert (resp.status_code, resp.content) == (200, b"")
    assert resp.headers["content-length"] == str((PAGES / "ru_article.html").stat().st_size)
    for path in (
        "/pages/nope.html",
        "/pages/MANIFEST.toml",
        "/pages/make_long.py",
        "/pages/..%2Ffeeds%2Fdates.xml",
        "/pages/",
    ):
        assert client.get(feed_server.url(path)).status_code == 404, path
    resp = client.get(feed_server.url("/pages/ru_article.html?ctype=text/plain"))
    assert resp.headers["content-type"] == "text/plain"


def test_long_article_committed_or_generated(client, tmp_path):
    committed = PAGES / "long_article.html"
    with FeedServer(pages_dir=tmp_path) as server:  # an empty pages folder
        resp = client.get(server.url("/pages/long_article.html"))
        assert client.get(server.url("/pages/ru_article.html")).status_code == 404
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "text/html; charset=utf-8"
    assert len(resp.content) > 60_000
    assert "Дороги через горы" in resp.text
    if committed.exists():
        assert resp.content == committed.read_bytes(), "re-run tests/fixtures/pages/make_long.py"


def test_private_serves_pages_and_robots_txt_is_programmable(feed_server, client):
    assert client.get(feed_server.url("/robots.txt")).status_code == 404
    resp = client.get(feed_server.url("/private/secret.html"))
    assert resp.status_code == 200
    assert resp.content == (PAGES / "secret.html").read_bytes()
    assert resp.headers["content-type"] == "text/html; charset=utf-8"

    rules = b"User-agent: *\nDisallow: /private/\n"
    feed_server.set_route("/robots.txt", body=rules, headers={"Content-Type": "text/plain"})
    resp = client.get(feed_server.url("/robots.txt"))
    assert (resp.status_code, resp.content) == (200, rules)
    assert resp.headers["content-type"] == "text/plain"
    assert feed_server.count("/robots.txt") == 2
    assert feed_server.count("/private/secret.html") == 1

    robots = urllib.robotparser.RobotFileParser(feed_server.url("/robots.txt"))
    robots.read()
    assert not robots.can_fetch("monitor", feed_server.url("/private/secret.html"))
    assert robots.can_fetch("monitor", feed_server.url("/pages/fa_article.html"))
    feed_server.clear_route("/robots.txt")  # 404: everything allowed
    robots.read()
    assert robots.can_fetch("monitor", feed_server.url("/private/secret.html"))
    assert feed_server.count("/private/secret.html") == 1


@pytest.mark.parametrize("lang", ["ru", "hy", "az", "fa"])
def test_template_puts_the_base_url_in(feed_server, client, lang):
    name = f"summary_only_{lang}.xml"
    resp = client.get(feed_server.url(f"/template/{name}"))
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/rss+xml"
    assert resp.headers["content-length"] == str(len(resp.content))
    raw = (FEEDS / name).read_bytes()
    assert b"{{BASE}}" in raw and b"{{BASE}}" not in resp.content
    assert resp.content == raw.replace(b"{{BASE}}", feed_server.base_url.encode())

    entries = feedparser.parse(resp.content).entries
    assert [plain_text(e.title) for e in entries] == MANIFEST[name]["titles"]
    links = [e.link for e in entries]
    second = "/private/secret.html" if lang == "fa" else "/pages/paywall.html"
    assert links == [
        feed_server.url(f"/pages/{lang}_article.html"),
        feed_server.url(second),
        feed_server.url("/status/500"),
    ]
    assert [client.get(link).status_code for link in links] == [200, 200, 500]
    charset = client.get(feed_server.url(f"/template/{name}?charset=utf-8"))
    assert charset.headers["content-type"] == "application/rss+xml; charset=utf-8"
    assert client.get(feed_server.url("/template/nope.xml")).status_code == 404


def test_pdf(feed_server, client):
    resp = client.get(feed_server.url("/pdf/report.pdf"))
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/pdf"
    assert resp.content.startswith(b"%PDF-1.4")
    assert resp.headers["content-length"] == str(len(resp.content))
    assert client.get(feed_server.url("/pdf")).status_code == 400


# --------------------------------------------------------------------------- programming API


def test_routes_handlers_recording_and_reset(feed_server, client):
    feed_server.set_route(
        "/custom.xml", status=201, body="тело", headers={"Content-Type": "text/plain"}
    )
    feed_server.set_route("/feeds/az_latin.xml", status=410)  # overrides the built-in

    def handler(h):
        h.send_bytes(200, f"hello {h.headers['X-Probe']}".encode(), {"X-Dynamic": "yes"})

    feed_server.set_handler("/dynamic", handler)

    resp = client.get(feed_server.url("/custom.xml"), headers={"User-Agent": "probe/1"})
    assert (resp.status_code, resp.text) == (201, "тело")
    assert client.get(feed_server.url("/feeds/az_latin.xml")).status_code == 410
    resp = client.get(feed_server.url("dynamic?x=1"), headers={"X-Probe": "42"})
    assert resp.text == "hello 42"
    assert resp.headers["x-dynamic"] == "yes"

    assert feed_server.count("/custom.xml") == 1
    assert feed_server.count("/dynamic") == 1
    assert feed_server.count("/dynamic?x=1") == 1
    first = feed_server.requests[0]
    assert isinstance(first, RecordedRequest)
    assert (first.path, first.method) == ("/custom.xml", "GET")
    assert first.headers["user-agent"] == "probe/1"
    assert all(k == k.lower() for k in first.headers)
    assert feed_server.requests[2].query == "x=1"

    feed_server.reset()
    assert feed_server.requests == []
    assert client.get(feed_server.url("/custom.xml")).status_code == 404
    assert client.get(feed_server.url("/feeds/az_latin.xml")).status_code == 200


def test_keep_alive_and_concurrency(feed_server):
    with httpx.Client(timeout=5.0) as c:
        for _ in range(3):
            assert c.get(feed_server.url("/feeds/dates.xml")).status_code == 200
    results: list[int] = []

    def fetch():
        results.append(httpx.get(feed_server.url("/slow/0.3"), timeout=5.0).status_code)

    started = time.monotonic()
    threads = [threading.Thread(target=fetch) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 5
    assert time.monotonic() - started < 1.5  # served concurrently


def test_stop_is_prompt_with_requests_in_flight(capfd):
    server = FeedServer().start()
    outcomes: dict[str, object] = {}

    def fetch(path):
        try:
            outcomes[path] = httpx.get(server.url(path), timeout=10.0)
        except httpx.HTTPError as exc:
            outcomes[path] = exc

    threads = [threading.Thread(target=fetch, args=(p,)) for p in ("/slow/30", "/drip/1000/0.5")]
    for t in threads:
        t.start()
    assert server.wait_for_requests("/slow/30") and server.wait_for_requests("/drip/1000/0.5")
    idle = httpx.Client(timeout=10.0)  # an idle keep-alive connection must not block stop()
    assert idle.get(server.url("/status/200")).status_code == 200
    time.sleep(0.1)

    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 2.0
    for t in threads:
        t.join(3.0)
        assert not t.is_alive()
    idle.close()
    # /slow never answered; /drip's close-delimited body just ends early (no error).
    assert isinstance(outcomes["/slow/30"], httpx.RemoteProtocolError)
    drip = outcomes["/drip/1000/0.5"]
    assert isinstance(drip, httpx.Response) and 0 < len(drip.content) < 10
    assert capfd.readouterr().err == ""


def test_context_manager_and_restart():
    with FeedServer() as server:
        assert httpx.get(server.url("/status/204")).status_code == 204
    assert not server.running
    server.start()
    try:
        assert httpx.get(server.url("/feeds/empty_body.xml")).content == b""
    finally:
        server.stop()


def test_session_fixture(feed_server_session):
    assert httpx.get(feed_server_session.url("/status/200")).status_code == 200


# --------------------------------------------------------------------------- fixtures vs MANIFEST


def test_manifest_lists_every_fixture():
    assert sorted(MANIFEST) == FEED_FILES


@pytest.mark.parametrize("name", FEED_FILES)
def test_fixture_parses_as_manifest_says(name):
    spec = MANIFEST[name]
    kwargs = {}
    if "parse_charset" in spec:
        kwargs["response_headers"] = {
            "content-type": f"application/rss+xml; charset={spec['parse_charset']}"
        }
    parsed = parse_fixture(name, **kwargs)
    assert len(parsed.entries) == spec["entries"]
    assert [plain_text(e.get("title", "")) for e in parsed.entries] == spec["titles"]
    assert parsed.get("version", "") == spec["format"]
    assert bool(parse_fixture(name).bozo) == spec["bozo"]
    if spec.get("declared_language"):
        assert parsed.feed.get("language") == spec["declared_language"]
    for title in spec["titles"]:
        assert "<" not in title and "alert(" not in title


def test_windows1251_undeclared():
    raw = (FEEDS / "ru_windows1251.xml").read_bytes()
    assert raw.startswith(b'<?xml version="1.0"?>')
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert raw == (FEEDS / "ru_windows1251_declared.xml").read_bytes().replace(
        b' encoding="windows-1251"', b""
    )
    truth = MANIFEST["ru_windows1251.xml"]["titles"]

    parsed = feedparser.parse(raw, response_headers=CP1251_HEADERS)
    assert [e.title for e in parsed.entries] == truth
    assert all(re.search("[А-Яа-яЁё]", e.title) for e in parsed.entries)
    link = parsed.entries[0].link
    assert "utm_source=rss&utm_medium=feed" in link and link.endswith("#comments")

    # Without any charset feedparser guesses with chardet, a dependency of monitor
    # for exactly this case (without it, windows-1252 mojibake comes out).
    assert importlib.util.find_spec("chardet") is not None
    blind = feedparser.parse(raw)
    assert [e.title for e in blind.entries] == truth


def test_fixture_quirks():
    fa = (FEEDS / "fa_persian.xml").read_text(encoding="utf-8")
    for needle in ("۱۴۰۳", "۲۵", "؟", "\u200c", "<language>fa</language>"):
        assert needle in fa
    fa_titles = MANIFEST["fa_persian.xml"]["titles"]
    assert [t for t in fa_titles if "ي" in t and "ك" in t] == [fa_titles[2]]

    hy = (FEEDS / "hy_armenian.xml").read_text(encoding="utf-8")
    assert 'xml:lang="hy"' in hy and all(c in hy for c in "։՝՞")

    az = parse_fixture("az_latin.xml")
    assert az.feed.ttl == "90" and az.feed.language == "az"
    assert all(c in (FEEDS / "az_latin.xml").read_text(encoding="utf-8") for c in "əğışçöüİ")

    atom = parse_fixture("en_atom.xml")
    assert all(e.content[0].type == "text/html" for e in atom.entries)
    assert [("published" in e) for e in atom.entries] == [True, True, False, True]
    assert all(e.updated_parsed for e in atom.entries)

    rdf = parse_fixture("ru_rdf.xml")
    assert all(e.updated_parsed for e in rdf.entries)

    bad = parse_fixture("malformed.xml")
    assert bad.bozo and len(bad.entries) >= 3 and all(e.title for e in bad.entries[:3])

    dup = parse_fixture("duplicate_guids.xml").entries
    assert [e.id for e in dup] == ["dup-guid-aaa"] * 2 + ["dup-guid-bbb"] * 2
    assert dup[0].link != dup[1].link
    assert (dup[2].link, dup[2].summary) == (dup[3].link, dup[3].summary)

    rel = parse_fixture("relative_links.xml").entries
    assert [e.link for e in rel] == ["/news/1", "news/2", "../a/3"]

    dates = parse_fixture("dates.xml").entries
    assert "published" not in dates[0]
    assert dates[1].published_parsed.tm_year == 2031
    assert dates[2].published.endswith("+0400") and dates[3].published.endswith("GMT")
    assert dates[4].published == "вчера, 14:30" and dates[4].published_parsed is None

    html_feed = parse_fixture("html_titles.xml").entries
    for e in html_feed:
        assert "<script" not in e.summary and "alert(" not in e.summary

    assert (FEEDS / "empty_body.xml").stat().st_size == 0
    assert parse_fixture("empty_channel.xml").version == "rss20"


# --------------------------------------------------------------------------- feedgen


@pytest.mark.parametrize("language", sorted(feedgen.LANGUAGES))
def test_big_feed(language):
    body = feedgen.big_feed(120, language, seed=7)
    assert body == feedgen.big_feed(120, language, seed=7)
    parsed = feedparser.parse(body)
    assert not parsed.bozo
    assert parsed.feed.language == language
    entries = parsed.entries
    assert len(entries) == 120
    for key in ("title", "link", "id"):
        assert len({e[key] for e in entries}) == 120
    assert all(150 < len(e.summary) < 2000 for e in entries)


def test_many_feeds_served(feed_server, client):
    feeds = feedgen.many_feeds(20, 10, seed=3)
    items = [item for feed in feeds for item in feed.items]
    assert len(items) == 200
    assert len({i.guid for i in items}) == len({i.link for i in items}) == 200
    assert len({i.title for i in items}) == 200
    urls = feedgen.register_feeds(feed_server, feeds)
    resp = client.get(urls[3])
    assert resp.content == feeds[3].body
    assert len(feedparser.parse(resp.content).entries) == 10
    shared = feedgen.many_feeds(10, 8, seed=3, shared_fraction=0.5)
    guids = [g for feed in shared for g in feed.guids]
    assert len(guids) == 80 and len(set(guids)) < 80
