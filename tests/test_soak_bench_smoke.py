"""Smoke test of bench/soak_bench.py: the quick run works and reports every figure.

It checks that the benchmark runs and measures what it says, never how fast anything is,
nor its verdict (six simulated hours are too few for a steady story index).
"""

from tests.benchsmoke import run_quick

FIGURES = (
    "simulated_hours",
    "feeds",
    "samples_after_warmup",
    "polls",
    "articles_stored",
    "distinct_items_served",
    "stories_of_2_or_more",
    "alerts_sent",
    "scrapes",
    "wall_s",
    "cpu_s",
    "rss_mib_after_warmup",
    "rss_mib_end",
    "fds_end",
    "threads_end",
    "sqlite_connections_end",
    "signatures_end",
    "traced_mib_after_warmup",
    "traced_mib_end",
    "story_index_kib_after_warmup",
)


# Not marked slow: the quick run takes about 5 seconds (20 feeds, 6 simulated hours).
def test_quick_soak_benchmark_reports_every_figure(tmp_path):
    out = tmp_path / "soak.json"
    result, stdout = run_quick("soak_bench.py", out, FIGURES, timeout=120)
    figures = result["figures"]
    assert (figures["feeds"], figures["simulated_hours"]) == (20, 6)
    # one sample a simulated hour, hour 0 to 6, and every item served was stored once
    assert [s["hour"] for s in result["samples"]] == [0, 1, 2, 3, 4, 5, 6]
    assert figures["articles_stored"] == figures["distinct_items_served"]
    sample = result["samples"][-1]
    for key in ("rss_mib", "traced_mib", "fds", "threads", "sqlite_connections", "signatures"):
        assert sample[key] > 0, key
    assert set(result["growth"]) >= {"rss_mib", "heap_outside_story_index_kib", "threads"}
    assert isinstance(result["problems"], list)
    assert result["machine"]["cores"] > 0 and "soak_bench.py --quick" in result["command"]
    assert "| simulated hour | polls | articles | RSS MiB | tracemalloc MiB |" in stdout
