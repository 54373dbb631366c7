"""Bodies of the hostile endpoints of tests/feedserver.py, generated lazily.

Nothing here holds a big body in memory: a 10 GiB gzip bomb is a few MB of repeated
deflate blocks, a 1 GiB feed is produced item by item (``feedserver.iter_oversize_feed``),
and the XML entity bombs are small documents that only a careless parser inflates.
"""

from __future__ import annotations

import functools
import random
import struct
import zlib
from collections.abc import Iterator

MIB = 1024 * 1024
ZERO_MIB = bytes(MIB)

# ------------------------------------------------------------------ compression bombs


@functools.cache
def _zero_block() -> bytes:
    """Raw deflate data for 1 MiB of zeros that ends on a byte boundary with no
    reference to what came before, so that any number of copies is a valid stream."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(ZERO_MIB) + compressor.flush(zlib.Z_FULL_FLUSH)


def _zero_blocks(mib: int, batch: int = 64) -> Iterator[bytes]:
    # 64 blocks (64 MiB inflated) per write, so that one network read brings a lot.
    block = _zero_block()
    for start in range(0, mib, batch):
        yield block * min(batch, mib - start)


def _final_block() -> bytes:
    return zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS).flush(zlib.Z_FINISH)


def iter_zero_gzip(mib: int) -> Iterator[bytes]:
    """A gzip member that inflates to ``mib`` MiB of zeros (about 1 KiB on the wire a MiB).

    The CRC is computed only if a client reads to the end (it costs a pass over the
    zeros); clients under test stop long before."""
    yield b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # magic, deflate, no flags, mtime 0
    yield from _zero_blocks(mib)
    yield _final_block()
    crc = 0
    for _ in range(mib):
        crc = zlib.crc32(ZERO_MIB, crc)
    yield struct.pack("<II", crc, (mib * MIB) & 0xFFFFFFFF)


def iter_zero_deflate(mib: int) -> Iterator[bytes]:
    """The same zeros as ``Content-Encoding: deflate`` (a zlib stream)."""
    yield b"\x78\xda"
    yield from _zero_blocks(mib)
    yield _final_block()
    # Adler-32 of n zero bytes: a stays 1, b adds 1 per byte.
    yield struct.pack(">I", (((mib * MIB) % 65521) << 16) | 1)


def iter_gzip(chunks: Iterator[bytes], flush_every: int = 256) -> Iterator[bytes]:
    """Gzip ``chunks`` lazily (an outer layer: ``Content-Encoding: gzip, gzip``)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    for i, chunk in enumerate(chunks, 1):
        out = compressor.compress(chunk)
        if i % flush_every == 0:
            out += compressor.flush(zlib.Z_SYNC_FLUSH)
        if out:
            yield out
    yield compressor.flush(zlib.Z_FINISH)


def iter_bomb(mib: int, encoding: str) -> Iterator[bytes]:
    """``mib`` MiB of zeros encoded as ``encoding``: gzip, deflate or "gzip, gzip"."""
    if encoding == "gzip":
        return iter_zero_gzip(mib)
    if encoding == "deflate":
        return iter_zero_deflate(mib)
    if encoding.replace(" ", "") == "gzip,gzip":
        return iter_gzip(iter_zero_gzip(mib))
    raise ValueError(f"unknown bomb encoding: {encoding!r}")


# ------------------------------------------------------------------ XML entity documents

_HEAD = '<?xml version="1.0" encoding="utf-8"?>\n'


def _rss(doctype: str, items: str) -> bytes:
    return (
        f'{_HEAD}{doctype}<rss version="2.0">\n<channel>\n<title>Entities</title>\n'
        f"<link>https://entities.example.test/</link>\n<description>d</description>\n"
        f"{items}</channel>\n</rss>\n"
    ).encode()


def _item(i: int, title: str, description: str = "text") -> str:
    return (
        f"<item><title>{title}</title><link>https://entities.example.test/{i}</link>"
        f"<guid>entities-{i}</guid><description>{description}</description></item>\n"
    )


def _laughs(hide: bool) -> bytes:
    # The classic "billion laughs": ten levels of ten references, 10^9 "lol"s (3 GB).
    # ``hide`` puts "<b" in the first value: feedparser cuts the prolog at the first
    # "<letter" when it strips unsafe declarations, so expat sees every level.
    first = '<!ENTITY lol "lol<b/>">' if hide else '<!ENTITY lol "lol">'
    levels = "".join(
        f'<!ENTITY lol{i} "{("&lol%s;" % (i - 1 if i > 1 else "")) * 10}">\n' for i in range(1, 10)
    )
    doctype = f"<!DOCTYPE rss [\n{first}\n{levels}]>\n"
    return _rss(doctype, _item(1, "&lol9;") + _item(2, "plain"))


def _quadratic(value_kib: int, refs: int) -> bytes:
    # One big entity referenced many times: nothing nested, so it passes feedparser's
    # "safe entity" filter, and its loose parser expands it without any limit.
    doctype = f'<!DOCTYPE rss [\n<!ENTITY a "{"A" * (value_kib * 1024)}">\n]>\n'
    return _rss(doctype, _item(1, "quadratic", "&a;" * refs) + _item(2, "plain"))


def _external(base_url: str) -> bytes:
    # XXE: a file on the poller's disk, a URL the poller would fetch, and a parameter
    # entity that would load a DTD. None may ever be read.
    doctype = (
        "<!DOCTYPE rss [\n"
        '<!ENTITY xxe SYSTEM "file:///etc/passwd">\n'
        f'<!ENTITY probe SYSTEM "{base_url}/xxe-probe">\n'
        f'<!ENTITY % dtd SYSTEM "{base_url}/xxe-probe-dtd">\n'
        "%dtd;\n"
        "]>\n"
    )
    return _rss(doctype, _item(1, "a &xxe; b", "c &probe; d") + _item(2, "plain"))


def _harmless() -> bytes:
    # What real feeds declare: short text and character references, used a few times.
    doctype = '<!DOCTYPE rss [\n<!ENTITY nbsp "&#160;">\n<!ENTITY org "Example News">\n]>\n'
    return _rss(doctype, _item(1, "Hello&nbsp;from &org;") + _item(2, "&org; again"))


ENTITY_KINDS = ("laughs", "laughs-hidden", "quadratic", "external", "harmless")


def entity_document(kind: str, base_url: str, refs: int = 16384) -> bytes:
    """A feed declaring XML entities: one of ``ENTITY_KINDS``."""
    if kind == "laughs":
        return _laughs(hide=False)
    if kind == "laughs-hidden":
        return _laughs(hide=True)
    if kind == "quadratic":
        return _quadratic(64, refs)  # 16384 refs of 64 KiB: 1 GiB from a 112 KB body
    if kind == "external":
        return _external(base_url)
    if kind == "harmless":
        return _harmless()
    raise ValueError(f"unknown entity kind: {kind!r} (one of {', '.join(ENTITY_KINDS)})")


# ------------------------------------------------------------------ garbage

GARBAGE_KINDS = ("random", "xml", "nul", "nul-item")
_RSS_OPEN = b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0">\n<channel>\n'
#: The one item of ``garbage("nul-item")``: its title has a NUL byte between "a" and "b".
NUL_ITEM = b"<item><title>a\x00b</title><link>https://nul.example.test/1</link></item>\n"


def garbage(kind: str, size: int, seed: int) -> bytes:
    """Binary garbage of ``size`` bytes: ``random`` bytes, random bytes after an XML
    declaration and an opening ``<rss>`` (``xml``), NUL bytes after them (``nul``), or
    the same with one item before the NULs (``nul-item``)."""
    if kind == "random":
        return random.Random(seed).randbytes(size)
    if kind == "xml":
        return _RSS_OPEN + random.Random(seed).randbytes(size)
    if kind == "nul":
        return _RSS_OPEN + bytes(size)
    if kind == "nul-item":
        return _RSS_OPEN + NUL_ITEM + bytes(size)
    raise ValueError(f"unknown garbage kind: {kind!r} (one of {', '.join(GARBAGE_KINDS)})")
