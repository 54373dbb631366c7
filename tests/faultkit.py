"""The tools of the fault tests (tests/test_faults*.py): invented articles and feeds,
``monitor run`` processes on one data folder (started, SIGKILLed, restarted), what their
databases say, another process holding SQLite's write lock, an address that never
answers. All on 127.0.0.1, every wait bounded."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

from tests.conftest import monitor_env, write_feeds

MARKER = "quartzite"  # the alert rule's word: in every other article
RULES = f"""
[channels.desk]
type = "webhook"
url = "{{hook}}"

[[rules]]
name = "drill"
query = "{MARKER}"
channels = ["desk"]
throttle_hours = 0
"""
WAIT_SECONDS = 60  # the bound of every wait on a daemon (CI machines are slow)

_TOPICS = (
    "grain exports through the northern port",
    "a new bridge over the river near the old market",
    "winter heating prices in the capital",
    "the regional football final and its crowd",
    "a museum that reopened after restoration",
    "water supply repairs in three districts",
    "the university entrance examinations",
    "a mountain road closed by a landslide",
)


def article(feed: int, n: int) -> dict:
    """An invented English article, distinct from every other one."""
    topic = _TOPICS[(feed + n) % len(_TOPICS)]
    marked = n % 2 == 0 and n < 20  # at most 10 alerts a feed
    text = (
        f"Report {feed}-{n} on {topic}. Officials said on day {n} of the month that work "
        f"in sector {feed * 100 + n} would continue. "
        + (f"Engineers found {MARKER} deposits under the site. " if marked else "")
        + f"Residents of block {n * 7 + feed} asked for more information."
    )
    return {
        "title": f"Drill {feed}-{n}: {topic}",
        "text": text,
        "url": f"/drill/{feed}/{n}",
        "marked": marked,
    }


def rss(base_url: str, articles: list[dict]) -> bytes:
    """An RSS 2.0 document of these articles."""
    from xml.sax.saxutils import escape

    items = "".join(
        f"<item><title>{escape(a['title'])}</title><link>{base_url}{a['url']}</link>"
        f"<description>{escape(a['text'])}</description>"
        f"<pubDate>Tue, 12 Nov 2024 09:{i % 60:02d}:00 +0000</pubDate></item>"
        for i, a in enumerate(articles)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>drill</title><link>{base_url}</link><description>d</description>"
        f"{items}</channel></rss>"
    ).encode()


def wait_for(condition: Callable[[], bool], what: str, seconds: float = WAIT_SECONDS) -> None:
    """Poll ``condition`` until true; fail naming ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        time.sleep(0.05)


def query(path: Path, sql: str, params: tuple = ()) -> list[tuple]:
    """Rows of a query on a database the daemon may be writing (WAL: readers never wait)."""
    if not path.exists():
        return []
    with closing(sqlite3.connect(path, timeout=10)) as conn:
        try:
            return conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):  # the daemon has not created it yet
                return []
            raise


class Deployment:
    """A data folder, feeds, rules and ``monitor run`` processes on them, one at a time."""

    def __init__(self, tmp_path: Path, hook_url: str | None, feeds: list[dict], articles: dict):
        self.tmp = tmp_path
        self.articles = articles  # every article of the feeds, by URL
        self.data = tmp_path / "data"
        (tmp_path / "monitor.toml").write_text(
            'data_dir = "data"\nfeeds_file = "feeds.toml"\n'
            "per_host_min_interval_seconds = 0\nper_host_concurrency = 16\n"
            "scheduler_tick_seconds = 1\nalerts_match_seconds = 0.5\nhttp_port = 0\n"
            'translation = false\nload_seed_on_start = false\nlog_format = "json"\n'
        )
        write_feeds(tmp_path / "feeds.toml", feeds)
        if hook_url:  # else no alerts.toml beside the config: no alerts
            (tmp_path / "alerts.toml").write_text(RULES.format(hook=hook_url))
        self.env = monitor_env(tmp_path / "monitor.toml")
        self.proc: subprocess.Popen | None = None
        self.runs = 0

    def start(self) -> None:
        """Start ``monitor run`` in its own process group (its parser processes with it)."""
        self.runs += 1
        self._log = open(self.tmp / f"run-{self.runs}.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "run"],
            cwd=self.tmp,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            start_new_session=True,
        )

    def alive(self) -> bool:
        """True while the daemon runs."""
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole process group: no handler runs, nothing is flushed."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._log.close()

    def stop(self) -> int:
        """SIGTERM, as systemd stops it; the exit status."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        finally:
            self._log.close()

    def cleanup(self) -> None:
        """Kill what still runs (the end of a test that failed half-way)."""
        if self.alive():
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def events(self, run: int | None = None) -> list[dict]:
        """The JSON log lines of a run (the last one by default)."""
        text = (self.tmp / f"run-{run or self.runs}.log").read_text()
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]

    # -- what the databases say ---------------------------------------------------------

    @property
    def store(self) -> Path:
        """The embedded store's file."""
        return self.data / "store.sqlite3"

    @property
    def state(self) -> Path:
        """The state database's file."""
        return self.data / "state.sqlite3"

    def urls(self) -> Counter:
        """How many stored documents each URL has."""
        return Counter(u for (u,) in query(self.store, "SELECT url FROM documents"))

    def ids(self) -> set[str]:
        """The stored documents' ids."""
        return {i for (i,) in query(self.store, "SELECT id FROM documents")}

    def seen(self) -> set[str]:
        """The ids the state database has seen."""
        return {i for (i,) in query(self.state, "SELECT article_id FROM seen")}

    def pending_deliveries(self) -> list[tuple]:
        """(key, channel, next attempt) of every delivery not sent yet."""
        return query(
            self.state,
            "SELECT a.key, d.channel, d.next_attempt_at FROM alert_deliveries d "
            "JOIN alerts a ON a.id = d.alert_id WHERE d.status = 'pending'",
        )

    def queued(self) -> int:
        """Documents waiting to be matched against the rules."""
        return len(query(self.state, "SELECT seq FROM alert_queue"))

    def leased(self) -> set[str]:
        """Keys of deliveries claimed by a sender (a lease ahead of now) and not marked:
        the ones in flight when a process died."""
        now = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() + 60))
        return {key for key, _, at in self.pending_deliveries() if at > now}

    def expire_leases(self) -> None:
        """Move every claim's lease to now, as if its 10 minutes had passed."""
        now = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
        with closing(sqlite3.connect(self.state, timeout=10)) as conn, conn:
            conn.execute(
                "UPDATE alert_deliveries SET next_attempt_at = ? WHERE status = 'pending'", (now,)
            )


def store_write_locked(path: Path) -> bool:
    """True while another connection holds the database's write lock (a transaction)."""
    with closing(sqlite3.connect(path, timeout=0, isolation_level=None)) as conn:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc):
                return True
            raise
        conn.execute("ROLLBACK")
        return False


def received(receiver) -> Counter:
    """How many times each alert key reached the webhook receiver."""
    return Counter(r.headers["idempotency-key"] for r in receiver.requests)


def settled(d: Deployment, receiver, expected: int) -> Callable[[], bool]:
    """Every article stored, matched and its alerts delivered."""

    def check() -> bool:
        if not d.alive():
            raise AssertionError(f"the daemon died: {d.events()[-5:]}")
        return (
            sum(d.urls().values()) >= len(d.articles)
            and d.queued() == 0
            and not d.pending_deliveries()
            and len(received(receiver)) >= expected
        )

    return check


# -- SQLite's write lock held by another process -------------------------------------

HOLD_LOCK = r"""
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()  # until the test says so, or its end closes the pipe
conn.execute("ROLLBACK")
"""


class LockHolder:
    """Another process holding SQLite's exclusive write lock on a file (as an open
    ``sqlite3`` shell in a transaction, or a backup tool, does)."""

    def __init__(self, path: Path):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLD_LOCK, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        if self.proc.stdout.readline().strip() != "locked":
            raise AssertionError(f"could not lock {path}")

    def release(self) -> None:
        """End the transaction and the process."""
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)


@pytest.fixture
def lock_holders():
    """Start ``LockHolder(path)``s; every one is released at the end of the test."""
    made: list[LockHolder] = []

    def hold(path: Path) -> LockHolder:
        made.append(LockHolder(path))
        return made[-1]

    yield hold
    for holder in made:
        holder.release()


# -- Elasticsearch that does not answer ------------------------------------------------


@contextmanager
def black_hole():
    """An address that accepts connections and never answers (a hung cluster, a network
    dropping the replies): every request waits for its timeout. Not Elasticsearch."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


def outbox_rows(d: Deployment) -> list[dict]:
    """The writes waiting for Elasticsearch, oldest first."""
    rows = query(
        d.state,
        "SELECT seq, op, doc_id, body, attempts, claimed_at, last_error FROM outbox "
        "WHERE rejected_at IS NULL ORDER BY seq",
    )
    keys = ("seq", "op", "doc_id", "body", "attempts", "claimed_at", "last_error")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def would_send(rows: list[dict], alias: str) -> list[dict]:
    """The bulk actions the store builds from these rows (monitor.store.elastic.bulk):
    what goes to the cluster once it answers."""
    from monitor.store.elastic.bulk import bulk_actions, coalesce, split_ops
    from monitor.store.outbox import Entry

    entries = [
        Entry(r["seq"], r["op"], r["doc_id"], json.loads(r["body"]), r["attempts"]) for r in rows
    ]
    _, creates, updates = split_ops(coalesce(entries), {})
    create_actions, update_actions = bulk_actions(creates, updates, {}, alias)
    return create_actions + update_actions


def kill_in_the_middle_of_a_send(d: Deployment) -> set[int]:
    """Run with a cluster that never answers (0.5 s timeout, 4 tries) and SIGKILL the
    daemon while a send holds claimed rows; the seqs claimed."""
    d.env["MONITOR_ELASTICSEARCH_TIMEOUT_SECONDS"] = "0.5"
    with black_hole() as url:
        d.env["MONITOR_ELASTICSEARCH_URL"] = url
        d.start()
        wait_for(lambda: any(r["claimed_at"] for r in outbox_rows(d)), "a send in flight")
        d.kill()
    claimed = {r["seq"] for r in outbox_rows(d) if r["claimed_at"]}
    if not claimed:
        raise AssertionError("no row was claimed at the kill")
    return claimed
