"""Smoke test of bench/fulltext_bench.py: the quick run works and reports every figure.

It checks that the benchmark runs and measures what it says, never how fast anything is.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
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
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "fulltext_bench.py"), "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(out.read_text())
    figures = result["figures"]
    missing = [key for key in FIGURES if key not in figures]
    assert not missing, f"figures missing from the JSON: {missing}"
    for key, value in figures.items():
        assert isinstance(value, int | float) and not isinstance(value, bool), (key, value)
        assert value > 0, (key, value)
    # What was measured is what the quick run promises: 40 pages, each fetched and read.
    assert figures["pages"] == figures["pipeline_items"] == 40
    assert result["fetch_extract_statuses"] == {"ok": 40}
    assert result["fulltext_statuses"] == {"page:ok": 40}
    assert "fulltext_bench.py --quick" in result["command"]
    assert "| figure | value |" in proc.stdout
