"""Soak: 48 simulated hours of the daemon over 200 feeds leak nothing.

The daemon is built as ``monitor run`` builds it and driven by a fake clock
(tests/soak.py): 200 feeds on a feed server in a child process publish in Russian,
Armenian, Azerbaijani and Persian, rewrite each other, answer 304, 500 and 429 for hours
(tests/soakfeeds.py); story forgetting, alert matching and delivery to the log channel,
the translation sweep and a scrape of /metrics and /healthz run at each step. After the
warm-up (the one-day story window and its hourly forgetting), descriptors, threads and
SQLite connections must not move, and memory may grow only within the bounds of
tests/soakcheck.py. About 45 seconds on two cores; bench/soak_bench.py runs longer ones.
"""

from dataclasses import replace

import pytest

from tests.soak import Sample, SoakParams, SoakResult, run_soak
from tests.soakcheck import problems, table


@pytest.mark.slow
def test_48_hours_of_200_feeds_leak_no_memory_descriptor_or_thread(tmp_path):
    params = SoakParams()
    result = run_soak(params, tmp_path)
    found = problems(result)
    assert not found, "\n".join(["the soak run shows growth:", *found, "", table(result)])
    # What ran: two days at a 30-minute step, and three times the first poll's items.
    assert result.samples[-1].hour == 48 and result.scrapes == 97
    assert result.stored > 3 * params.feeds * params.window


def _sample(hour: float, **changes) -> Sample:
    base = Sample(
        hour=hour, polls=100, articles=100, rss_mib=200.0, traced_mib=30.0, sqlite_mib=6.0,
        parsers_rss_mib=280.0, fds=61, fd_kinds={"feed_connection": 8, "pipe": 14, "sqlite": 40},
        threads=12, native_threads=2, sqlite_connections=19, signatures=2400, reports_kept=0,
        wall_s=1.0, cpu_s=1.0,
    )  # fmt: skip
    return replace(base, **changes)


def _result(samples: list[Sample], heap_growth=()) -> SoakResult:
    result = SoakResult(SoakParams(), samples=samples, heap_growth=list(heap_growth))
    result.heap_at_baseline = {"/x/site-packages/datasketch/storage.py:259": (20 << 20, 9)}
    result.served = {"served_items": 10, "statuses": {s: 1 for s in (304, 404, 410, 429, 500)}}
    result.stored, result.stories_of_2_or_more, result.alerts_sent = 10, 1, 1
    names = ("polls.ok", "polls.not_modified", "polls.unchanged", "polls.http_error")
    result.counters = dict.fromkeys(names, 1)
    return result


def test_the_checks_name_what_grew():
    """Each check fails when its figure moves, and says which and by how much (the soak
    above passes only because nothing moved, not because nothing is checked)."""
    steady = [_sample(h) for h in (26, 30, 36, 42, 48)]
    assert problems(_result(steady)) == []
    grown = [
        *steady[:3],
        _sample(42, fd_kinds={"feed_connection": 9, "pipe": 14, "sqlite": 42}, threads=13),
        _sample(48, traced_mib=60.0, rss_mib=240.0, sqlite_connections=20, signatures=3000),
    ]
    heap = [(900 << 10, 4000, "monitor/pipeline.py:202"), (10 << 20, 100, "datasketch/lsh.py:1")]
    found = "\n".join(problems(_result(grown, heap)))
    for expected in (
        "open sqlite descriptors 40 -> 42 at hour 42",
        "9 connections to the feed server at hour 42",
        "threads 12 -> 13 at hour 42",
        "sqlite_connections 19 -> 20 at hour 48",
        "Python heap grew 10.00 MiB",  # the last quarter (36, 42, 48): (30 + 30 + 60) / 3 - 30
        "outside the story index grew 900 KiB",
        "monitor/pipeline.py:202",
        "the story index's heap grew 10240 KiB",
        "story signatures in memory moved 25%",
        "resident memory grew 40.0 MiB",
    ):
        assert expected in found, (expected, found)
    lost = _result(steady)
    lost.stored, lost.counters["polls.unchanged"] = 9, 0
    found = "\n".join(problems(lost))
    assert "9 documents stored, 10 distinct items served" in found
    assert "no polls.unchanged" in found
