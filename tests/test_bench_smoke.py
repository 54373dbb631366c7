"""Smoke test of bench/pipeline_bench.py: the quick run works and reports every figure.

It checks that the benchmark runs and measures what it says, never how fast anything is.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
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
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "pipeline_bench.py"), "--quick", "--out", str(out)],
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
    assert "| figure | value |" in proc.stdout
