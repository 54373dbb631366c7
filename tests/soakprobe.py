"""What the soak test measures in its own process, from /proc and the interpreter.

Every figure is read, never estimated: resident memory (VmRSS), the Python heap
(tracemalloc, after a full collection), SQLite's own heap (``sqlite3_memory_used``, which
tracemalloc does not see), open file descriptors by kind, threads, and SQLite
connections.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import re
import threading
import tracemalloc
from collections import Counter
from pathlib import Path

MIB = 2**20


def status_field(name: str, pid: int | str = "self") -> int:
    """A number from /proc/<pid>/status (kB fields in kB); 0 if the process is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(rf"^{name}:\s+(\d+)", text, re.M)
    return int(match.group(1)) if match else 0


def _sqlite_memory_used():
    # The sqlite3 module links the system's libsqlite3; loading it again by name gives
    # the same library, whose allocator counts every connection's page cache.
    name = ctypes.util.find_library("sqlite3")
    if not name:
        return None
    try:
        fn = ctypes.CDLL(name).sqlite3_memory_used
    except (OSError, AttributeError):
        return None
    fn.restype = ctypes.c_int64
    return fn


SQLITE_MEMORY_USED = _sqlite_memory_used()


def sqlite_mib() -> float:
    """SQLite's heap in this process (page caches, statements), or -1 if unknown."""
    return SQLITE_MEMORY_USED() / MIB if SQLITE_MEMORY_USED else -1.0


def traced_mib() -> float:
    """Python allocations alive now (tracemalloc), after a full collection."""
    gc.collect()
    return tracemalloc.get_traced_memory()[0] / MIB if tracemalloc.is_tracing() else -1.0


def tcp_remote_ports() -> dict[str, int]:
    """Socket inode -> remote port, for this process's TCP sockets."""
    ports = {}
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            ports[fields[9]] = int(fields[2].rsplit(":", 1)[1], 16)
    return ports


def open_fds() -> dict[str, str]:
    """This process's open descriptors: number -> what it points to."""
    fds = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            fds[fd] = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # the descriptor listdir itself used, closed since
    return fds


def fd_kinds(feed_port: int, before: dict[str, str]) -> Counter:
    """Descriptors opened since ``before`` (``open_fds()`` at the start: what earlier
    tests left open, and may close meanwhile, is not ours) by kind: ``feed_connection``
    (a keep-alive connection to the feed server), ``socket`` (any other), ``pipe``,
    ``sqlite`` (a database, WAL or shm file), ``file``, ``anon`` (eventfd, epoll...)."""
    kinds: Counter = Counter()
    ports = None
    for fd, target in open_fds().items():
        if before.get(fd) == target:
            continue
        if target.startswith("socket:["):
            ports = tcp_remote_ports() if ports is None else ports
            feed = ports.get(target[8:-1]) == feed_port
            kinds["feed_connection" if feed else "socket"] += 1
        elif target.startswith("pipe:"):
            kinds["pipe"] += 1
        elif target.startswith("anon_inode:"):
            kinds["anon"] += 1
        elif re.search(r"\.(db|sqlite3?)(-wal|-shm|-journal)?$", target):
            kinds["sqlite"] += 1
        else:
            kinds["file"] += 1
    return kinds


def threads_since(before: set) -> int:
    """Python threads started since ``before`` (``threading.enumerate()`` at the start)."""
    return sum(1 for thread in threading.enumerate() if thread not in before)


def sqlite_connections(*databases) -> int:
    """Connections held open by these ``monitor.db.Database`` objects."""
    return sum(len(db._all) for db in databases if db is not None)


def join_request_threads(timeout: float = 5.0) -> None:
    """Wait for the HTTP endpoint's per-request threads to end: a response read by the
    client may still have its thread closing the socket."""
    for thread in threading.enumerate():
        if "process_request_thread" in thread.name:
            thread.join(timeout)


def heap_statistics() -> dict[str, tuple[int, int]]:
    """The Python heap by source line: {"file:line": (bytes, blocks)}."""
    stats = tracemalloc.take_snapshot().statistics("lineno")
    return {f"{s.traceback[0].filename}:{s.traceback[0].lineno}": (s.size, s.count) for s in stats}


def heap_growth(before: dict, after: dict) -> list[tuple[int, int, str]]:
    """(bytes, blocks, "file:line") of every source line whose live allocations changed
    between two ``heap_statistics``, largest growth first."""
    rows = []
    for where in before.keys() | after.keys():
        size, count = after.get(where, (0, 0))
        old_size, old_count = before.get(where, (0, 0))
        if size != old_size:
            rows.append((size - old_size, count - old_count, short(where)))
    return sorted(rows, reverse=True)


def short(where: str) -> str:
    """A path from the project or site-packages, without the machine's prefix."""
    for marker in ("site-packages/", "/monitor/", "/tests/", "/lib/python3"):
        if marker in where:
            return where[where.index(marker) :].lstrip("/")
    return where
