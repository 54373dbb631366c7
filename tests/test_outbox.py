"""The outbox in a real state database: queued in order, merged per document, claimed
by one sender at a time, acknowledged, released, rejected and retried."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.state import StateDB
from monitor.store.outbox import Outbox

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
def outbox(tmp_path):
    state = StateDB(tmp_path / "state.sqlite3")
    yield Outbox(state.db, stale_seconds=90)
    state.close()


def test_writes_wait_in_queue_order(outbox):
    for i in range(5):
        outbox.put("create", f"d{i}", {"n": i}, NOW)
    entries = outbox.claim(10, NOW)
    assert [e.doc_id for e in entries] == ["d0", "d1", "d2", "d3", "d4"]
    assert [e.body["n"] for e in entries] == [0, 1, 2, 3, 4]


def test_an_update_joins_the_waiting_create_of_its_document(outbox):
    outbox.put("create", "a", {"title": "A", "translation_status": "pending"}, NOW)
    outbox.put("create", "b", {"title": "B"}, NOW)
    outbox.put("update", "a", {"title_en": "A", "translation_status": "done"}, NOW)
    entries = outbox.claim(10, NOW)
    assert [(e.op, e.doc_id) for e in entries] == [("create", "a"), ("create", "b")]
    assert entries[0].body == {"title": "A", "translation_status": "done", "title_en": "A"}


def test_an_update_after_its_create_was_claimed_waits_as_its_own_row(outbox):
    outbox.put("create", "a", {"title": "A"}, NOW)
    claimed = outbox.claim(10, NOW)
    outbox.put("update", "a", {"title_en": "A"}, NOW)  # must not vanish with the create
    outbox.ack([e.seq for e in claimed])
    (entry,) = outbox.claim(10, NOW)
    assert (entry.op, entry.body) == ("update", {"title_en": "A"})


def test_claimed_rows_are_not_claimed_again_until_their_sender_is_presumed_dead(outbox):
    outbox.put("create", "a", {}, NOW)
    assert len(outbox.claim(10, NOW)) == 1
    assert outbox.claim(10, NOW + timedelta(seconds=60)) == []  # another sender: nothing
    assert len(outbox.claim(10, NOW + timedelta(seconds=91))) == 1  # stale claim taken


def test_acknowledged_rows_are_gone_and_released_rows_come_back_with_the_error(outbox):
    for doc_id in "abc":
        outbox.put("create", doc_id, {}, NOW)
    a, b, c = outbox.claim(10, NOW)
    outbox.ack([a.seq])
    outbox.release([b.seq, c.seq], "ConnectionError: refused")
    assert outbox.depth()["waiting"] == 2
    assert outbox.depth()["last_error"] == "ConnectionError: refused"
    again = outbox.claim(10, NOW)
    assert [(e.doc_id, e.attempts) for e in again] == [("b", 1), ("c", 1)]


def test_rejected_rows_stay_aside_until_retried(outbox):
    outbox.put("create", "bad", {"published": "not a date"}, NOW)
    outbox.put("create", "good", {}, NOW)
    bad, good = outbox.claim(10, NOW)
    outbox.reject(bad.seq, "mapper_parsing_exception: failed to parse [published]", NOW)
    outbox.ack([good.seq])
    depth = outbox.depth()
    assert (depth["waiting"], depth["rejected"]) == (0, 1)
    assert outbox.claim(10, NOW) == []
    (row,) = outbox.rejected()
    assert row["doc_id"] == "bad" and "mapper_parsing" in row["last_error"]
    assert outbox.retry_rejected() == 1
    assert [e.doc_id for e in outbox.claim(10, NOW)] == ["bad"]


def test_depth_reports_the_oldest_waiting_write(outbox):
    outbox.put("create", "a", {}, NOW)
    outbox.put("create", "b", {}, NOW + timedelta(minutes=5))
    assert outbox.depth()["oldest_queued_at"] == "2026-11-23T12:00:00+00:00"


def test_a_state_database_of_the_previous_version_gains_the_outbox(tmp_path):
    import sqlite3

    from monitor.state import MIGRATIONS

    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    conn.executescript(MIGRATIONS[0])
    conn.execute("INSERT INTO counters VALUES ('articles.stored', 7)")
    conn.execute("PRAGMA user_version=1")
    conn.commit()
    conn.close()
    state = StateDB(path)
    try:
        assert state.counters() == {"articles.stored": 7}  # kept
        Outbox(state.db, 90).put("create", "a", {}, NOW)
        assert state.db.read("PRAGMA user_version")[0][0] == len(MIGRATIONS)
    finally:
        state.close()


def test_a_database_migrated_by_another_process_meanwhile_is_not_migrated_twice(tmp_path):
    """A command started beside the daemon reads schema version 0, then waits for the
    write lock while the daemon creates the tables: it must not create them again."""
    import sqlite3
    import threading
    import time

    from monitor.state import MIGRATIONS

    path = tmp_path / "state.sqlite3"
    other = sqlite3.connect(path, isolation_level=None)  # "the daemon"
    other.execute("PRAGMA journal_mode=WAL")
    other.execute("BEGIN IMMEDIATE")
    opened: list = []
    thread = threading.Thread(target=lambda: opened.append(_open_or_error(path)))
    thread.start()
    time.sleep(0.5)  # the thread has read version 0 and waits for the lock
    for script in MIGRATIONS:
        for statement in script.split(";"):
            if statement.strip():
                other.execute(statement)
    other.execute(f"PRAGMA user_version={len(MIGRATIONS)}")
    other.execute("COMMIT")
    thread.join(30)
    other.close()
    assert isinstance(opened[0], StateDB), opened[0]
    opened[0].close()


def _open_or_error(path):
    try:
        return StateDB(path)
    except Exception as exc:  # noqa: BLE001 - returned to the test to show
        return exc


def test_a_new_file_another_process_is_writing_is_switched_to_wal_once_it_may(tmp_path):
    """Switching a new file to WAL is refused at once, without the busy timeout, while
    another process holds its write lock (the daemon's first start with `monitor stats`
    beside it): the open waits and succeeds instead of failing."""
    import sqlite3
    import threading
    import time

    path = tmp_path / "state.sqlite3"
    other = sqlite3.connect(path, isolation_level=None)  # a rollback-journal file
    other.execute("CREATE TABLE unrelated (x)")
    other.execute("BEGIN IMMEDIATE")
    opened: list = []
    thread = threading.Thread(target=lambda: opened.append(_open_or_error(path)))
    thread.start()
    time.sleep(0.5)
    other.execute("COMMIT")
    thread.join(30)
    other.close()
    assert isinstance(opened[0], StateDB), opened[0]
    opened[0].close()
