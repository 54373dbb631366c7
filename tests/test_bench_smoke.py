"""Smoke test of bench/pipeline_bench.py: the quick run works and reports every figure.

It checks that the benchmark runs and measures what it says, never how fast anything is.
"""

import pytest

from tests.benchsmoke import run_quick

FIGURES = (
    "feedparser_items_per_s",
    "parse_stage_items_per_s",
    "lingua_warmup_s",
    "rss_before_pipeline_kib",
    "peak_rss_kib",
    "pipeline_items",
    "pipeline_wall_s",
    "pipeline_cpu_s",
    "pipeline_items_per_s",
    "pipeline_ratio",
    "cycle_feeds",
    "cycle_cpu_s",
    "cycle_rusage_cpu_s",
    "cycle_wall_s",
    "cycle_cpu_ms_per_feed",
)


@pytest.mark.slow
def test_quick_benchmark_reports_every_figure(tmp_path):
    out = tmp_path / "pipeline.json"
    result, stdout = run_quick("pipeline_bench.py", out, FIGURES, timeout=120)
    figures = result["figures"]
    # What was measured is what the quick run promises (20 feeds x 20 items, 100 feeds of 304).
    assert figures["pipeline_items"] == 20 * 20
    assert result["outcomes"]["articles"]["stored"] == 20 * 20
    assert figures["cycle_feeds"] == 100
    assert result["outcomes"]["cycle_polls"] == {"not_modified": 100}
    # parse and the article-only stages are timed one by one when they run in the polling
    # threads, and as one wait when they run in parser processes (parse_processes)
    in_workers = "parse+prepare (worker processes, wall)"
    prepare = (
        [in_workers]
        if in_workers in result["stages"]
        else ["parse", "normalize", "detect_language"]
    )
    for stage in ("fetch", *prepare, "dedupe", "index"):
        assert result["stages"][stage]["calls"] > 0, stage
    assert result["machine"]["cores"] > 0 and result["machine"]["python"]
    assert "pipeline_bench.py --quick" in result["command"]
    assert "| figure | value |" in stdout
