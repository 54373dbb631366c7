"""A hard wall at a fetch's deadline, below httpx: every socket operation waits at most
until then.

httpx's timeouts are per operation: the read timeout starts again with every byte, so a
server that sends its status line or headers one byte a second keeps a request alive
forever, and the deadline that fetch checks between body chunks is never reached (the
headers never end). ``DeadlineBackend`` wraps httpcore's network backend and cuts the
timeout of each connect, read and write to what is left of the deadline set with
:func:`deadline_at` in the calling thread, so the request fails with a timeout at the
deadline wherever it is: connecting, sending, in the headers or in the body.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import httpcore
import httpx

# Monotonic time the current thread's fetch must end by (a ContextVar is per thread).
_AT: ContextVar[float | None] = ContextVar("fetch_deadline_at", default=None)


@contextmanager
def deadline_at(at: float) -> Iterator[None]:
    """Socket operations of this thread wait at most until ``at`` (time.monotonic())."""
    token = _AT.set(at)
    try:
        yield
    finally:
        _AT.reset(token)


def _left(timeout: float | None, error: type[Exception]) -> float | None:
    at = _AT.get()
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise error("fetch deadline reached")
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    """A connection whose every read and write ends by the deadline."""

    def __init__(self, inner: httpcore.NetworkStream):
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Read, waiting no longer than the deadline."""
        return self._inner.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Write, waiting no longer than the deadline."""
        self._inner.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        """Close the connection."""
        self._inner.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None) -> _Stream:
        """TLS handshake, ending by the deadline; the TLS stream keeps the wall."""
        timeout = _left(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str):
        """What the wrapped stream says (socket, peer address, TLS object)."""
        return self._inner.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's network backend with the deadline of :func:`deadline_at` on top.

    The name lookup inside a connect cannot be cut (getaddrinfo has no timeout)."""

    def __init__(self, inner: httpcore.NetworkBackend | None = None):
        self._inner = inner or httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable | None = None,
    ) -> _Stream:
        """Connect, waiting no longer than the deadline."""
        timeout = _left(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.connect_tcp(host, port, timeout, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable | None = None
    ) -> _Stream:
        """Connect to a Unix socket, waiting no longer than the deadline."""
        timeout = _left(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        """Sleep (httpcore's retries)."""
        self._inner.sleep(seconds)


def install(client: httpx.Client) -> None:
    """Put every transport of ``client`` (its own and the proxies' it mounted from the
    environment) on a DeadlineBackend.

    httpx has no public way to choose httpcore's network backend: this sets the
    connection pool's, and fails loudly if a new httpx or httpcore moved it (the
    hostile-feed tests would fail too: a header drip would never end)."""
    transports = [client._transport, *client._mounts.values()]
    for transport in transports:
        if transport is None:
            continue
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if backend is None:
            raise RuntimeError(
                f"cannot put the fetch deadline on {type(transport).__name__}: "
                "httpx/httpcore internals changed (see monitor/stages/deadline.py)"
            )
        if not isinstance(backend, DeadlineBackend):
            pool._network_backend = DeadlineBackend(backend)
