"""Undo a response's Content-Encoding (gzip, deflate) with a bound on what comes out.

httpx inflates each network read whole: 64 KiB of gzip'd zeros become 64 MiB at once,
and a body gzip'd twice ("Content-Encoding: gzip, gzip") turns a 300-byte read into
gigabytes before any byte cap can look (measured: 8 GiB resident for a 10 GiB double
bomb). Here every layer inflates at most ``PIECE`` bytes per step and at most
``limit`` bytes in all, so memory stays near the byte cap whatever the ratio.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

PIECE = 64 * 1024  # bytes inflated per step: one network read's worth
MAX_CODINGS = 4  # "gzip, gzip" is a server mistake seen in the wild; more is an attack
_GZIP_MAGIC = b"\x1f\x8b"


class TooLarge(Exception):
    """A layer inflated to more than the limit."""


class BadCoding(Exception):
    """The body is not what its Content-Encoding says."""


class _Inflater:
    """One gzip or deflate layer, inflating piece by piece."""

    def __init__(self, coding: str, limit: int):
        self.coding = coding
        self.limit = limit
        self.out = 0
        # "deflate" is meant to be a zlib stream, but some servers send raw deflate: the
        # first two bytes (the zlib header) are kept until zlib has accepted them.
        self._head: bytes | None = b"" if coding == "deflate" else None
        self._z = self._new()

    def _new(self, raw: bool = False):
        if self.coding == "gzip":
            return zlib.decompressobj(zlib.MAX_WBITS | 16)
        return zlib.decompressobj(-zlib.MAX_WBITS if raw else zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Inflate ``data``; yields pieces of at most PIECE bytes."""
        while True:
            try:
                out = self._z.decompress(data, PIECE)
            except zlib.error as exc:
                if self._head is None:
                    raise BadCoding(f"{self.coding}: {exc}") from None
                self._z, data, self._head = self._new(raw=True), self._head + data, None
                continue
            if self._head is not None:
                self._head = (self._head + data[:2])[:2]
                if len(self._head) == 2:
                    self._head = None  # zlib took its header: a zlib stream indeed
            data = self._z.unconsumed_tail
            yield from self._count(out)
            if self._z.eof:
                # A new gzip member may follow (concatenated gzip files); anything else
                # after the end is ignored, as httpx does.
                rest = self._z.unused_data
                if self.coding != "gzip" or not rest.startswith(_GZIP_MAGIC):
                    return
                self._z, data = self._new(), rest
            elif not data and len(out) < PIECE:
                return  # a full piece may leave output pending: go round with no input

    def flush(self) -> Iterator[bytes]:
        """What is left at the end of the body (a truncated stream is not an error)."""
        yield from self._count(self._z.flush())

    def _count(self, out: bytes) -> Iterator[bytes]:
        self.out += len(out)
        if self.out > self.limit:
            raise TooLarge(f"{self.coding} body inflates to more than {self.limit} bytes")
        if out:
            yield out


class Decoder:
    """The layers of one Content-Encoding header, last applied first undone.

    ``identity`` and unknown codings are left as they are (like httpx: some servers
    send ``Content-Encoding: utf-8``)."""

    def __init__(self, header: str, limit: int):
        codings = [c.strip().lower() for c in header.split(",") if c.strip()]
        codings = ["gzip" if c == "x-gzip" else c for c in codings]
        known = [c for c in codings if c in ("gzip", "deflate")]
        if len(known) > MAX_CODINGS:
            raise BadCoding(f"{len(known)} content codings ({header[:100]}); at most {MAX_CODINGS}")
        self.layers = [_Inflater(c, limit) for c in reversed(known)]

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Decode the next bytes of the body; yields bounded pieces."""
        return self._through(0, data)

    def flush(self) -> Iterator[bytes]:
        """Decode what the layers still hold at the end of the body."""
        for i, layer in enumerate(self.layers):
            for piece in layer.flush():
                yield from self._through(i + 1, piece)

    def _through(self, i: int, data: bytes) -> Iterator[bytes]:
        if i == len(self.layers):
            yield data
            return
        for piece in self.layers[i].feed(data):
            yield from self._through(i + 1, piece)
