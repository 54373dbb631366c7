"""A real HTTP/1.1 feed server for tests (stdlib only).

``FeedServer`` runs a ``ThreadingHTTPServer`` on 127.0.0.1 (ephemeral port) in a
daemon thread. Besides programmable routes (``set_route`` / ``set_handler``) it
has built-in endpoints that reproduce the failure modes a feed poller meets:

==============================================  ===============================================
``/feeds/<file>``                               fixture bytes; ``?charset=X`` / ``?ctype=...``
``/etag/<file>``                                like /feeds + ETag/Last-Modified, 304 support
``/status/<code>``                              that status with a short text body
``/retry-after/<code>/<seconds>``               that status + ``Retry-After: <seconds>``
``/retry-after-date/<code>/<seconds>``          same, Retry-After as an HTTP-date
``/slow/<seconds>``                             sleeps (max 30 s, interruptible), then SLOW_FEED
``/drip/<nbytes>/<interval>``                   one byte per interval, no Content-Length
``/drop``                                       closes the socket without any response
``/redirect-loop/<n>``                          302 -> /redirect-loop/<n+1> forever
``/redirect/<k>/<file>``                        k 302s, then /feeds/<file>
``/oversize/<mib>``                             chunked, ~<mib> MiB valid RSS generated lazily
``/oversize-declared/<mib>``                    Content-Length <mib> MiB, short body, close
``/gzip/<file>``                                fixture gzip-compressed, Content-Encoding gzip
``/garbage``                                    64 KiB of seeded random bytes as RSS
==============================================  ===============================================

Programmed routes take precedence over built-in endpoints. Nothing is ever written to
stderr: request logging is disabled and handler errors are collected in
``FeedServer.errors`` instead.
"""

from __future__ import annotations

import contextlib
import email.utils
import gzip
import hashlib
import random
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest

FIXTURES_DIR = Path(__file__).resolve().parent / "fixtures" / "feeds"

#: Fixed Last-Modified value served by ``/etag/<file>``.
LAST_MODIFIED = "Mon, 01 Jan 2024 00:00:00 GMT"
#: Feed served by ``/slow/<seconds>``.
SLOW_FEED = "ru_windows1251_declared.xml"
MAX_SLOW_SECONDS = 30.0
GARBAGE_SIZE = 64 * 1024
GARBAGE_SEED = 20240101
MIB = 1024 * 1024

_CLIENT_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)

Handler = Callable[["FeedRequestHandler"], None]


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it.

    ``path`` is the path without the query string; ``target`` is the raw request
    target (path plus query). Header names are lower-cased.
    """

    path: str
    method: str
    headers: dict[str, str]
    query: str = ""
    target: str = ""
    body: bytes = b""
    timestamp: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class _Route:
    status: int
    body: bytes
    headers: dict[str, str]


def content_type_for(name: str) -> str:
    """Default Content-Type (without charset) for a fixture file name."""
    lower = name.lower()
    if "atom" in lower:
        return "application/atom+xml"
    if "rdf" in lower:
        return "application/rdf+xml"
    return "application/rss+xml"


def _rss_head(title: str = "Oversize test feed") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0">\n<channel>\n'
        f"<title>{title}</title>\n<link>https://big.example-ru.test/</link>\n"
        "<description>Generated feed</description>\n<language>ru</language>\n"
    ).encode()


_RSS_TAIL = b"</channel>\n</rss>\n"


def _rss_item(i: int) -> bytes:
    return (
        "<item>\n"
        f"<title>Новости Южного Кавказа, выпуск {i}</title>\n"
        f"<link>https://big.example-ru.test/news/{i}</link>\n"
        f'<guid isPermaLink="false">big-{i}</guid>\n'
        "<pubDate>Fri, 20 Nov 2026 09:00:00 +0300</pubDate>\n"
        "<description>Армения и Азербайджан продолжили переговоры о делимитации "
        "границы; эксперты обсудили транзитные маршруты через Сюник, Нахичевань "
        "и Грузию, а также позиции России, Ирана и Турции.</description>\n"
        "</item>\n"
    ).encode()


def iter_oversize_feed(total_bytes: int) -> Iterator[bytes]:
    """Yield a syntactically valid RSS document of roughly ``total_bytes`` bytes.

    Items are generated lazily, so the whole document never lives in memory.
    """
    head = _rss_head()
    yield head
    sent = len(head) + len(_RSS_TAIL)
    i = 0
    batch: list[bytes] = []
    batch_len = 0
    while sent < total_bytes:
        item = _rss_item(i)
        i += 1
        batch.append(item)
        batch_len += len(item)
        sent += len(item)
        if batch_len >= 64 * 1024:
            yield b"".join(batch)
            batch, batch_len = [], 0
    if batch:
        yield b"".join(batch)
    yield _RSS_TAIL


def iter_drip_bytes() -> Iterator[int]:
    """An endless, valid-looking RSS byte stream (prefix, then items forever)."""
    yield from _rss_head("Drip test feed")
    i = 0
    while True:
        yield from _rss_item(i)
        i += 1


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # server_close() must not join handler threads (an idle keep-alive reader could
    # block it for the socket timeout); FeedServer.stop() bounds the wait itself.
    block_on_close = False
    allow_reuse_address = True
    owner: FeedServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Never print tracebacks to stderr; keep them for inspection instead.
        exc = sys.exc_info()[1]
        if exc is not None and not isinstance(exc, _CLIENT_GONE):
            self.owner._record_error(exc)


class FeedRequestHandler(BaseHTTPRequestHandler):
    """Request handler; custom ``set_handler`` functions receive an instance.

    Useful helpers for custom handlers: ``send_bytes``, ``sleep`` (interruptible,
    returns False when the server is stopping), ``stopping``, ``feed_server``,
    ``request_path``, ``query`` (dict of first values) and ``request_body``.
    """

    server: _Server
    protocol_version = "HTTP/1.1"
    # Socket timeout for idle keep-alive connections and slow clients.
    timeout = 30

    request_path: str = ""
    query: dict[str, str]
    request_body: bytes = b""

    # ------------------------------------------------------------ plumbing
    @property
    def feed_server(self) -> FeedServer:
        return self.server.owner

    @property
    def stopping(self) -> bool:
        return self.server.owner._stop_event.is_set()

    def sleep(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; return False (early) if the server is stopping."""
        return not self.server.owner._stop_event.wait(max(0.0, seconds))

    def setup(self) -> None:
        super().setup()
        self.server.owner._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass  # the client went away: nothing left to flush to
        finally:
            self.server.owner._track(self.connection, add=False)

    def handle(self) -> None:
        try:
            super().handle()
        except OSError:  # BrokenPipe / ConnectionReset / timeouts: the client gave up
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log."""

    def send_bytes(
        self,
        status: int,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        *,
        content_length: bool = True,
    ) -> None:
        """Send a complete response (body omitted for HEAD and bodiless statuses)."""
        self.send_response(status)
        names = set()
        for name, value in (headers or {}).items():
            self.send_header(name, value)
            names.add(name.lower())
        bodiless = status in (204, 304) or 100 <= status < 200
        if content_length and not bodiless and "content-length" not in names:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and not bodiless and body:
            self.wfile.write(body)
        self.wfile.flush()

    def _text(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
        all_headers = {"Content-Type": "text/plain; charset=utf-8"}
        all_headers.update(headers or {})
        self.send_bytes(status, text.encode("utf-8"), all_headers)

    def _not_found(self, what: str = "") -> None:
        self._text(404, f"not found: {what or self.request_path}\n")

    def _bad_request(self, why: str) -> None:
        self._text(400, f"bad request: {why}\n")

    def _close_now(self) -> None:
        self.close_connection = True

    # ------------------------------------------------------------ dispatch
    def _dispatch(self) -> None:
        split = urlsplit(self.path)
        self.request_path = split.path or "/"
        self.query = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        length = self.headers.get("Content-Length")
        if length and length.isdigit():
            self.request_body = self.rfile.read(int(length))
        owner = self.server.owner
        owner._set_busy(self.connection, busy=True)
        owner._record(
            RecordedRequest(
                path=self.request_path,
                method=self.command,
                headers={k.lower(): v for k, v in self.headers.items()},
                query=split.query,
                target=self.path,
                body=self.request_body,
            )
        )
        try:
            custom = owner._lookup(self.path, self.request_path)
            if isinstance(custom, _Route):
                self.send_bytes(custom.status, custom.body, custom.headers)
            elif custom is not None:
                custom(self)
            elif self.command in ("GET", "HEAD"):
                self._builtin()
            else:
                self._text(405, "method not allowed\n", {"Allow": "GET, HEAD"})
        except _CLIENT_GONE:
            self.close_connection = True
        except Exception as exc:  # keep tests quiet; expose via FeedServer.errors
            owner._record_error(exc)
            self.close_connection = True
        finally:
            if self.stopping:
                self.close_connection = True
            owner._set_busy(self.connection, busy=False)

    do_GET = _dispatch
    do_HEAD = _dispatch
    do_POST = _dispatch
    do_PUT = _dispatch
    do_DELETE = _dispatch

    def _builtin(self) -> None:
        parts = [p for p in self.request_path.split("/") if p]
        if not parts:
            self._text(200, "feedserver\n")
            return
        head, args = parts[0], parts[1:]
        endpoint = _BUILTINS.get(head)
        if endpoint is None:
            self._not_found()
            return
        try:
            endpoint(self, args)
        except (ValueError, IndexError) as exc:
            self._bad_request(str(exc) or type(exc).__name__)

    # ------------------------------------------------------------ helpers
    def _fixture(self, name: str) -> bytes | None:
        base = self.server.owner.fixtures_dir.resolve()
        if not name or "/" in name or "\\" in name or name.startswith("."):
            return None
        path = (base / name).resolve()
        if path.parent != base or not path.is_file():
            return None
        return path.read_bytes()

    def _feed_content_type(self, name: str) -> str:
        if "ctype" in self.query:
            return self.query["ctype"]
        ctype = content_type_for(name)
        if self.query.get("charset"):
            ctype += f"; charset={self.query['charset']}"
        return ctype

    def _send_feed(self, name: str, extra: dict[str, str] | None = None) -> None:
        data = self._fixture(name)
        if data is None:
            self._not_found(name)
            return
        headers = {"Content-Type": self._feed_content_type(name)}
        headers.update(extra or {})
        self.send_bytes(200, data, headers)

    # ------------------------------------------------------------ endpoints
    def ep_feeds(self, args: list[str]) -> None:
        self._send_feed("/".join(args))

    def ep_etag(self, args: list[str]) -> None:
        name = "/".join(args)
        data = self._fixture(name)
        if data is None:
            self._not_found(name)
            return
        etag = '"' + hashlib.sha1(data).hexdigest() + '"'
        validators = {"ETag": etag, "Last-Modified": LAST_MODIFIED}
        if _not_modified(self.headers, etag):
            self.send_bytes(304, b"", validators)
            return
        self._send_feed(name, validators)

    def ep_status(self, args: list[str]) -> None:
        code = _status_code(args[0])
        self._text(code, f"status {code}\n")

    def ep_retry_after(self, args: list[str]) -> None:
        code = _status_code(args[0])
        seconds = int(args[1])
        self._text(code, f"status {code}, retry after {seconds}s\n", {"Retry-After": str(seconds)})

    def ep_retry_after_date(self, args: list[str]) -> None:
        code = _status_code(args[0])
        seconds = int(args[1])
        when = email.utils.formatdate(time.time() + seconds, usegmt=True)
        self._text(code, f"status {code}, retry after {when}\n", {"Retry-After": when})

    def ep_slow(self, args: list[str]) -> None:
        seconds = min(float(args[0]), MAX_SLOW_SECONDS)
        if not self.sleep(seconds):
            self._close_now()
            return
        self._send_feed(SLOW_FEED)

    def ep_drip(self, args: list[str]) -> None:
        nbytes = int(args[0])
        interval = float(args[1])
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.flush()
        if self.command == "HEAD":
            return
        source = iter_drip_bytes()
        for _ in range(nbytes):
            self.wfile.write(bytes((next(source),)))
            self.wfile.flush()
            if not self.sleep(interval):
                return

    def ep_drop(self, args: list[str]) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def ep_redirect_loop(self, args: list[str]) -> None:
        n = int(args[0]) if args else 0
        self._redirect(f"/redirect-loop/{n + 1}")

    def ep_redirect(self, args: list[str]) -> None:
        k = int(args[0])
        name = "/".join(args[1:])
        if k < 0 or not name:
            raise ValueError("usage: /redirect/<k>/<file>")
        if k == 0:
            self._send_feed(name)
            return
        target = f"/feeds/{quote(name)}" if k == 1 else f"/redirect/{k - 1}/{quote(name)}"
        self._redirect(target)

    def _redirect(self, location: str) -> None:
        query = urlsplit(self.path).query
        if query:
            location += "?" + query
        self._text(302, f"redirect to {location}\n", {"Location": location})

    def ep_oversize(self, args: list[str]) -> None:
        total = int(float(args[0]) * MIB)
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if self.command == "HEAD":
            self.wfile.flush()
            return
        for chunk in iter_oversize_feed(total):
            if self.stopping:
                self.close_connection = True
                return
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def ep_oversize_declared(self, args: list[str]) -> None:
        declared = int(float(args[0]) * MIB)
        body = _rss_head() + _rss_item(0)
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
        self.send_header("Content-Length", str(declared))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body[:declared])
        self.wfile.flush()

    def ep_gzip(self, args: list[str]) -> None:
        name = "/".join(args)
        data = self._fixture(name)
        if data is None:
            self._not_found(name)
            return
        compressed = gzip.compress(data, mtime=0)
        headers = {"Content-Type": self._feed_content_type(name), "Content-Encoding": "gzip"}
        self.send_bytes(200, compressed, headers)

    def ep_garbage(self, args: list[str]) -> None:
        self.send_bytes(200, garbage_bytes(), {"Content-Type": "application/rss+xml"})


_BUILTINS: dict[str, Callable[[FeedRequestHandler, list[str]], None]] = {
    "feeds": FeedRequestHandler.ep_feeds,
    "etag": FeedRequestHandler.ep_etag,
    "status": FeedRequestHandler.ep_status,
    "retry-after": FeedRequestHandler.ep_retry_after,
    "retry-after-date": FeedRequestHandler.ep_retry_after_date,
    "slow": FeedRequestHandler.ep_slow,
    "drip": FeedRequestHandler.ep_drip,
    "drop": FeedRequestHandler.ep_drop,
    "redirect-loop": FeedRequestHandler.ep_redirect_loop,
    "redirect": FeedRequestHandler.ep_redirect,
    "oversize": FeedRequestHandler.ep_oversize,
    "oversize-declared": FeedRequestHandler.ep_oversize_declared,
    "gzip": FeedRequestHandler.ep_gzip,
    "garbage": FeedRequestHandler.ep_garbage,
}


def garbage_bytes() -> bytes:
    """The deterministic 64 KiB served by ``/garbage``."""
    return random.Random(GARBAGE_SEED).randbytes(GARBAGE_SIZE)


def _status_code(text: str) -> int:
    code = int(text)
    if not 100 <= code <= 599:
        raise ValueError(f"status code out of range: {code}")
    return code


def _not_modified(headers: Any, etag: str) -> bool:
    """RFC 9110 conditional GET: If-None-Match wins over If-Modified-Since."""
    inm = headers.get("If-None-Match")
    if inm is not None:
        tags = [t.strip() for t in inm.split(",")]
        plain = [t[2:] if t.startswith("W/") else t for t in tags]
        return "*" in tags or etag in plain
    ims = headers.get("If-Modified-Since")
    if ims is None:
        return False
    if ims.strip() == LAST_MODIFIED:
        return True
    try:
        since = email.utils.parsedate_to_datetime(ims)
    except (TypeError, ValueError):
        return False
    if since is None or since.tzinfo is None:
        return False
    return since >= email.utils.parsedate_to_datetime(LAST_MODIFIED)


class FeedServer:
    """Threaded HTTP/1.1 test server on 127.0.0.1 with an ephemeral port."""

    def __init__(self, fixtures_dir: str | Path | None = None, host: str = "127.0.0.1") -> None:
        self.fixtures_dir = Path(fixtures_dir) if fixtures_dir is not None else FIXTURES_DIR
        self.host = host
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._routes: dict[str, _Route | Handler] = {}
        self._errors: list[BaseException] = []
        self._connections: set[socket.socket] = set()
        self._busy: set[socket.socket] = set()
        self._stop_event = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle
    def start(self) -> FeedServer:
        if self._httpd is not None:
            return self
        self._stop_event = threading.Event()
        httpd = _Server((self.host, 0), FeedRequestHandler)
        httpd.owner = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"FeedServer:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 1.5) -> None:
        """Stop serving. Returns within ~``timeout`` s even with handlers mid-response."""
        httpd = self._httpd
        if httpd is None:
            return
        deadline = time.monotonic() + timeout
        self._stop_event.set()
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(max(0.0, deadline - time.monotonic()))
        # Idle keep-alive connections are blocked reading the next request: unblock
        # them now. Busy handlers get a moment to notice the stop event and finish
        # (their sleeps are interruptible); whatever is left is then cut off.
        self._shutdown_sockets(self._active_connections(idle_only=True))
        while time.monotonic() < deadline - 0.3 and self._active_connections():
            time.sleep(0.01)
            self._shutdown_sockets(self._active_connections(idle_only=True))
        self._shutdown_sockets(self._active_connections())
        while time.monotonic() < deadline and self._active_connections():
            time.sleep(0.01)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._httpd is not None

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("FeedServer is not started")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str = "/") -> str:
        if not path.startswith("/"):
            path = "/" + path
        return self.base_url + path

    # ------------------------------------------------------------ programming
    def set_route(
        self,
        path: str,
        status: int = 200,
        body: bytes | str = b"",
        headers: dict[str, str] | None = None,
    ) -> None:
        """Serve a static response for an exact path (or exact path+query)."""
        if isinstance(body, str):
            body = body.encode("utf-8")
        with self._lock:
            self._routes[_norm(path)] = _Route(status, body, dict(headers or {}))

    def set_handler(self, path: str, fn: Handler) -> None:
        """Let ``fn(handler)`` write the whole response for an exact path."""
        with self._lock:
            self._routes[_norm(path)] = fn

    def clear_route(self, path: str) -> None:
        with self._lock:
            self._routes.pop(_norm(path), None)

    def reset(self) -> None:
        """Forget programmed routes, recorded requests and recorded errors."""
        with self._lock:
            self._routes.clear()
            self._requests.clear()
            self._errors.clear()

    # ------------------------------------------------------------ inspection
    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot (copy) of the requests received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def errors(self) -> list[BaseException]:
        """Unexpected exceptions raised inside handlers (never printed)."""
        with self._lock:
            return list(self._errors)

    def count(self, path: str) -> int:
        """Requests to ``path``; matches the raw target if ``path`` contains '?'."""
        with self._lock:
            if "?" in path:
                return sum(1 for r in self._requests if r.target == path)
            return sum(1 for r in self._requests if r.path == path)

    def wait_for_requests(self, path: str, n: int = 1, timeout: float = 5.0) -> bool:
        """Wait until ``count(path) >= n``; return whether that happened."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.count(path) >= n:
                return True
            time.sleep(0.01)
        return self.count(path) >= n

    # ------------------------------------------------------------ internals
    def _record(self, req: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(req)

    def _record_error(self, exc: BaseException) -> None:
        with self._lock:
            self._errors.append(exc)

    def _lookup(self, target: str, path: str) -> _Route | Handler | None:
        with self._lock:
            found = self._routes.get(target)
            if found is None:
                found = self._routes.get(path)
            return found

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)
                self._busy.discard(conn)

    def _set_busy(self, conn: socket.socket, *, busy: bool) -> None:
        with self._lock:
            if busy:
                self._busy.add(conn)
            else:
                self._busy.discard(conn)

    def _active_connections(self, *, idle_only: bool = False) -> list[socket.socket]:
        with self._lock:
            if idle_only:
                return [c for c in self._connections if c not in self._busy]
            return list(self._connections)

    @staticmethod
    def _shutdown_sockets(conns: list[socket.socket]) -> None:
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


def _norm(path: str) -> str:
    return path if path.startswith("/") else "/" + path


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    """A started FeedServer, stopped after the test."""
    server = FeedServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def feed_server_session() -> Iterator[FeedServer]:
    """One FeedServer shared by the session; call ``reset()`` if you program routes."""
    server = FeedServer().start()
    try:
        yield server
    finally:
        server.stop()
