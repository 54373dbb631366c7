"""SQLite plumbing shared by the state database and the embedded store.

One connection per thread (sqlite3 connections must not cross threads), WAL so that
readers (``monitor search`` while the daemon runs) never block the writer, and one
in-process write lock so worker threads queue instead of spinning on SQLITE_BUSY.
``busy_timeout`` covers writers in other processes.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from monitor.errors import RetryLater, StartupError, StoreUnavailable

log = logging.getLogger("monitor.db")
# Another process (a CLI command, a second daemon by mistake) may hold the write lock
# for a moment; 10 s is far longer than any of our transactions and short enough that a
# stuck lock surfaces as a retry instead of a hung worker.
BUSY_TIMEOUT_MS = 10_000
# A lock held for minutes fails every write of every worker: one line a minute per file
# says so (with how many writes were refused meanwhile), not one line per write.
LOCKED_LOG_EVERY_SECONDS = 60
LOCKED_FIX = (
    "another process holds a write transaction on this file (an open sqlite3 shell, a "
    "backup, a second monitor on this data folder?): end it. Nothing is lost: what could "
    "not be kept is fetched again at the next poll"
)


class Database:
    """A SQLite file with per-thread connections and a serialized writer."""

    def __init__(self, path: Path, migrations: tuple[str, ...]):
        """``migrations[i]`` takes the schema from version i to i + 1; a new file runs
        them all, an older one the ones it lacks (``PRAGMA user_version`` counts)."""
        self.path = path
        self._migrations = migrations
        self._version = len(migrations)
        self._local = threading.local()
        self._write_lock = threading.RLock()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._locked_logged_at = float("-inf")
        self._locked_since_log = 0
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._migrate()
        except (OSError, sqlite3.Error, RetryLater) as exc:
            if isinstance(exc, RetryLater) or "locked" in str(exc):
                # Not a configuration error (exit 2, which systemd does not restart): the
                # lock passes, so exit 1 as for a store down, and a restart may succeed.
                raise StoreUnavailable(
                    f"cannot open database {path}: {exc}; another process holds a write "
                    "transaction on it: end it, then start again"
                ) from None
            raise StartupError(
                f"cannot open database {path}: {exc}; check that the data folder "
                "(data_dir / MONITOR_DATA_DIR) is writable"
            ) from None

    def connection(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            _enable_wal(conn)
            # NORMAL in WAL mode is durable against a process crash (SIGKILL); only a
            # power loss can drop the last transactions, which a re-poll brings back.
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: all of it lands, or none of it.

        Nested calls on the same thread join the outer transaction, so a caller can
        group many small writes (a feed's articles) into one commit.
        """
        conn = self.connection()
        if conn.in_transaction:
            yield conn
            return
        with self._write_lock:
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise self._locked(exc) from exc
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")

    def _locked(self, exc: sqlite3.OperationalError) -> RetryLater:
        """The RetryLater for a write refused after the busy timeout, said in the log
        (at most once a minute per file) with what to do."""
        waited = BUSY_TIMEOUT_MS / 1000
        self._locked_since_log += 1
        now = time.monotonic()
        if now - self._locked_logged_at >= LOCKED_LOG_EVERY_SECONDS:
            log.warning(
                "database_locked",
                extra={
                    "path": str(self.path),
                    "waited_seconds": waited,
                    "writes_refused": self._locked_since_log,
                    "error": str(exc),
                    "fix": LOCKED_FIX,
                },
            )
            self._locked_logged_at, self._locked_since_log = now, 0
        return RetryLater(
            "database_locked", f"{self.path} stayed locked by another process for {waited:g} s"
        )

    def read(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        """Run a query on this thread's connection and return all rows."""
        return self.connection().execute(sql, params).fetchall()

    def close(self) -> None:
        """Close every connection this object opened."""
        with self._all_lock:
            for conn in self._all:
                with suppress(sqlite3.Error):
                    conn.close()
            self._all.clear()
        self._local = threading.local()

    def _migrate(self) -> None:
        conn = self.connection()
        current = conn.execute("PRAGMA user_version").fetchone()[0]
        if current > self._version:
            raise StartupError(
                f"{self.path} was written by a newer monitor (schema {current} > "
                f"{self._version}); upgrade monitor or use another data folder"
            )
        if current < self._version:
            with self.write() as tx:
                # Read again under the write lock: another process (a command started
                # beside the daemon) may have migrated the file since the first read.
                current = tx.execute("PRAGMA user_version").fetchone()[0]
                for script in self._migrations[current:]:
                    for statement in _split(script):
                        tx.execute(statement)
                tx.execute(f"PRAGMA user_version={self._version}")


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch the file to WAL. The switch needs an exclusive lock, and when two processes
    open the same new file at once (a command started beside the daemon's first start)
    SQLite may answer "database is locked" at once, without waiting in the busy handler
    (it would deadlock otherwise): try again within the same busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _split(script: str) -> list[str]:
    """Split a schema script into statements (no semicolons inside our statements
    except in trigger bodies, which end with ``END;``)."""
    statements, buf = [], []
    for line in script.strip().splitlines():
        buf.append(line)
        joined = "\n".join(buf).strip()
        is_trigger = joined.upper().startswith("CREATE TRIGGER")
        if joined.endswith(";") and (not is_trigger or joined.upper().endswith("END;")):
            statements.append(joined)
            buf = []
    if "".join(buf).strip():
        statements.append("\n".join(buf))
    return statements
