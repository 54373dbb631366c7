"""Smoke test of bench/store_bench.py: the quick run works and reports every figure.

It checks that the benchmark runs and measures what it says, never how fast anything is.
No cluster: with MONITOR_BENCH_ES_URL unset the Elasticsearch sending is skipped, and says so.
"""

from tests.benchsmoke import run_quick

FIGURES = (
    "documents",
    "text_chars_mean",
    "document_json_bytes_mean",
    "embedded_seconds",
    "embedded_docs_per_s",
    "embedded_cpu_ms_per_doc",
    "embedded_store_mib",
    "embedded_store_bytes_per_doc",
    "embedded_rss_before_kib",
    "embedded_peak_rss_kib",
    "outbox_seconds",
    "outbox_docs_per_s",
    "outbox_cpu_ms_per_doc",
    "outbox_state_mib",
    "outbox_rss_before_kib",
    "outbox_peak_rss_kib",
)


# Not marked slow: the quick run takes about a second (300 documents, two processes).
def test_quick_store_benchmark_reports_every_figure(tmp_path, monkeypatch):
    monkeypatch.delenv("MONITOR_BENCH_ES_URL", raising=False)  # the child inherits os.environ
    out = tmp_path / "store.json"
    result, stdout = run_quick("store_bench.py", out, FIGURES, timeout=120)
    figures = result["figures"]
    # What was measured is what the quick run promises: 300 documents in the five
    # languages, each stored by the embedded store and queued in the outbox.
    assert figures["documents"] == 300
    assert set(result["documents"]["languages"]) == {"ru", "hy", "az", "fa", "en"}
    assert result["checks"]["embedded_stored"] == [300]
    assert result["checks"]["outbox_queued"] == [300]
    assert result["checks"]["warnings"] == []
    assert 1000 < figures["text_chars_mean"] < 2000  # articles of about 1,500 characters
    # The Elasticsearch column is skipped, said to be, and why; no sending figure is made up.
    assert result["elasticsearch"]["status"] == "skipped"
    assert "MONITOR_BENCH_ES_URL is not set" in result["elasticsearch"]["reason"]
    assert not [key for key in figures if key.startswith("es_")]
    assert "Elasticsearch sending: SKIPPED" in stdout
    assert "store_bench.py --quick" in result["command"]
    assert "| path | docs/s |" in stdout and "| figure | value |" in stdout
