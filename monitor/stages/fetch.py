"""fetch: one HTTP GET of a feed, polite and bounded.

Conditional GET (ETag / Last-Modified), connect and read timeouts, an overall
deadline that every socket operation obeys (``deadline``: a server dripping its headers
cannot outlive it), a byte cap enforced while streaming on the bytes received and on
every layer of their Content-Encoding (``content_coding``: a gzip bomb stops at the cap
without ever being inflated whole), a redirect limit, a per-host concurrency limit and
a descriptive User-Agent. Every failure becomes a ``FetchError`` whose ``kind`` the
scheduling policy understands; nothing here decides when to poll again.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from monitor.stages import content_coding, deadline

# An error page larger than this is not worth reading to keep the connection.
ERROR_BODY_BYTES = 64 * 1024


@dataclass
class FetchResult:
    """What a fetch brought back."""

    status: int
    url: str  # final URL after redirects
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased names
    body: bytes = b""
    seconds: float = 0.0

    @property
    def not_modified(self) -> bool:
        """True for a 304."""
        return self.status == 304


class FetchError(Exception):
    """A fetch that brought no usable body. ``kind`` is a scheduling outcome kind."""

    def __init__(
        self,
        kind: str,
        message: str,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.headers = headers or {}


FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"


class HostGate:
    """One host's share of politeness: at most ``concurrency`` requests at once, and
    requests started at least ``min_interval`` seconds apart (feeds and pages alike)."""

    def __init__(self, concurrency: int, min_interval: float):
        self.slots = threading.BoundedSemaphore(concurrency)
        self.min_interval = min_interval
        self._lock = threading.Lock()
        self._next_at = 0.0

    @contextmanager
    def enter(self, stop: threading.Event) -> Iterator[None]:
        """Hold a slot, after waiting for this request's turn."""
        with self.slots:
            with self._lock:
                now = time.monotonic()
                start = max(now, self._next_at)
                self._next_at = start + self.min_interval
            if start > now and stop.wait(start - now):
                raise FetchError("aborted", "daemon is shutting down")
            yield


class Fetcher:
    """A shared HTTP client with per-host limits. Safe to use from many threads."""

    def __init__(self, settings, stop: threading.Event | None = None):
        self.max_bytes = settings.max_feed_bytes
        self.deadline = settings.fetch_deadline_seconds
        self.stop = stop or threading.Event()
        self._per_host = settings.per_host_concurrency
        self._min_interval = settings.per_host_min_interval_seconds
        self._hosts: dict[str, HostGate] = {}
        self._hosts_lock = threading.Lock()
        self.client = httpx.Client(
            follow_redirects=True,
            max_redirects=settings.max_redirects,
            timeout=httpx.Timeout(
                connect=settings.connect_timeout_seconds,
                read=settings.read_timeout_seconds,
                write=settings.read_timeout_seconds,
                pool=settings.fetch_deadline_seconds,
            ),
            headers={
                "User-Agent": settings.user_agent,
                "Accept": FEED_ACCEPT,
                "Accept-Encoding": "gzip, deflate",
            },
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        )
        deadline.install(self.client)

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()

    def fetch(
        self,
        url: str,
        etag: str | None = None,
        last_modified: str | None = None,
        max_bytes: int | None = None,
        accept: str | None = None,
    ) -> FetchResult:
        """GET ``url``; returns a 200/304 result or raises FetchError."""
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        if accept:
            headers["Accept"] = accept
        with self.gate(url).enter(self.stop):
            return self._get(url, headers, max_bytes or self.max_bytes)

    def gate(self, url: str) -> HostGate:
        """The politeness gate of ``url``'s host."""
        host = (urlsplit(url).hostname or "").lower()
        with self._hosts_lock:
            if host not in self._hosts:
                self._hosts[host] = HostGate(self._per_host, self._min_interval)
            return self._hosts[host]

    def _get(self, url: str, headers: dict[str, str], max_bytes: int) -> FetchResult:
        started = time.monotonic()
        try:
            with (
                deadline.deadline_at(started + self.deadline),
                self.client.stream("GET", url, headers=headers) as response,
            ):
                lowered = {k.lower(): v for k, v in response.headers.items()}
                if response.status_code == 304:
                    response.read()  # empty; reading it returns the connection to the pool
                    return FetchResult(304, str(response.url), lowered, b"", _since(started))
                if response.status_code >= 400 or response.status_code < 200:
                    _drain(response)
                    raise FetchError(
                        "http_error",
                        f"HTTP {response.status_code}",
                        response.status_code,
                        lowered,
                    )
                declared = lowered.get("content-length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise FetchError(
                        "too_large",
                        f"Content-Length {declared} exceeds {max_bytes} bytes",
                        response.status_code,
                        lowered,
                    )
                body = self._read_capped(response, started, max_bytes)
                return FetchResult(
                    response.status_code, str(response.url), lowered, body, _since(started)
                )
        except FetchError:
            raise
        except httpx.TooManyRedirects as exc:
            last = str(exc.request.url)[:300]  # httpx sets the request it gave up on
            reason = f"more than {self.client.max_redirects} redirects, the last to {last}"
            raise FetchError("too_many_redirects", reason) from None
        except httpx.TimeoutException as exc:
            if time.monotonic() >= started + self.deadline:
                raise FetchError("timeout", self._deadline_reason()) from None
            raise FetchError(
                "timeout", f"{type(exc).__name__} after {_since(started):.1f} s"
            ) from None
        except httpx.ConnectError as exc:
            raise FetchError(_connect_kind(exc), _reason(exc)) from None
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            raise FetchError("connect_error", f"connection broken: {_reason(exc)}") from None
        except httpx.DecodingError as exc:
            raise FetchError("malformed", f"bad content encoding: {_reason(exc)}") from None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise FetchError("http_error", f"invalid URL: {exc}", 400) from None
        except httpx.HTTPError as exc:
            raise FetchError("connect_error", _reason(exc)) from None

    def _read_capped(self, response: httpx.Response, started: float, max_bytes: int) -> bytes:
        """The body, decoded here rather than by httpx so that no layer of its
        Content-Encoding inflates past ``max_bytes`` (see content_coding)."""
        status = response.status_code
        encoding = response.headers.get("content-encoding", "")
        chunks: list[bytes] = []
        size = received = 0
        try:
            decoder = content_coding.Decoder(encoding, max_bytes)
            for raw in response.iter_raw():
                received += len(raw)
                if received > max_bytes:
                    raise FetchError("too_large", f"body exceeds {max_bytes} bytes", status)
                for piece in decoder.feed(raw):
                    size += len(piece)
                    if size > max_bytes:
                        raise FetchError("too_large", f"body exceeds {max_bytes} bytes", status)
                    chunks.append(piece)
                if time.monotonic() - started > self.deadline:
                    raise FetchError("timeout", self._deadline_reason())
                if self.stop.is_set():
                    raise FetchError("aborted", "daemon is shutting down")
            # What the layers still hold: the innermost layer counts it against the cap
            # (TooLarge), and without layers there is nothing left.
            chunks.extend(decoder.flush())
        except content_coding.TooLarge as exc:
            raise FetchError("too_large", f"{exc} (Content-Encoding: {encoding})", status) from None
        except content_coding.BadCoding as exc:
            raise FetchError("malformed", f"bad content encoding: {exc}", status) from None
        return b"".join(chunks)

    def _deadline_reason(self) -> str:
        return f"no complete response within the fetch deadline of {self.deadline:g} s"


def _drain(response: httpx.Response) -> None:
    """Read a small error body so the connection can be reused; a big one is dropped."""
    size = 0
    for chunk in response.iter_raw():
        size += len(chunk)
        if size > ERROR_BODY_BYTES:
            break


def _since(started: float) -> float:
    return round(time.monotonic() - started, 4)


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 300 else text[:300] + "…"


# What resolvers print when a name does not resolve (glibc, macOS, Windows, httpcore).
DNS_MARKERS = (
    "Name or service not known",
    "nodename nor servname",
    "getaddrinfo",
    "Temporary failure in name resolution",
)


def _connect_kind(exc: httpx.ConnectError) -> str:
    """Tell DNS and TLS failures from refused connections: they back off differently."""
    error: BaseException | None = exc
    while error is not None:
        text = str(error)
        if isinstance(error, ssl.SSLError | ssl.CertificateError) or (
            "CERTIFICATE" in text.upper() or "SSL" in text.upper()
        ):
            return "tls_error"
        if isinstance(error, socket.gaierror) or any(m in text for m in DNS_MARKERS):
            return "dns_error"
        error = error.__cause__ or error.__context__
    return "connect_error"
