"""Smoke test of bench/fulltext_bench.py: the quick run works and reports every figure.

It checks that the benchmark runs and measures what it says, never how fast anything is.
"""

import pytest

from tests.benchsmoke import run_quick

FIGURES = (
    "pages",
    "page_kib_mean",
    "fetch_extract_pages_per_s",
    "fetch_extract_cpu_ms_per_page",
    "extract_alone_pages_per_s",
    "extract_alone_ms_per_page",
    "pipeline_items",
    "pipeline_without_wall_s",
    "pipeline_without_items_per_s",
    "pipeline_with_wall_s",
    "pipeline_with_items_per_s",
    "fulltext_share_ratio",
    "fulltext_cpu_share_ratio",
    "peak_rss_kib",
    "politeness_pages_per_host_per_min",
)


@pytest.mark.slow
def test_quick_fulltext_benchmark_reports_every_figure(tmp_path):
    out = tmp_path / "fulltext.json"
    result, stdout = run_quick("fulltext_bench.py", out, FIGURES, timeout=120)
    figures = result["figures"]
    # What was measured is what the quick run promises: 40 pages, each fetched and read.
    assert figures["pages"] == figures["pipeline_items"] == 40
    assert result["fetch_extract_statuses"] == {"ok": 40}
    assert result["fulltext_statuses"] == {"page:ok": 40}
    assert "fulltext_bench.py --quick" in result["command"]
    assert "| figure | value |" in stdout
