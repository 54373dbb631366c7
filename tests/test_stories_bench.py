"""Smoke test of bench/stories_bench.py: the quick run works and reports every figure.

It checks that the benchmark runs and measures what it says, never how fast anything is.
"""

import pytest

from monitor.stories import lsh, signatures
from tests.benchsmoke import run_quick

FIGURES = (
    "articles",
    "sample_articles",
    "sample_shingles_mean",
    "exact_seconds",
    "exact_intersection_seconds",
    "lsh_seconds",
    "lsh_us_per_article",
    "lsh_speedup_vs_exact",
    "lsh_speedup_vs_intersection",
    "exact_pairs",
    "lsh_pairs",
    "lsh_recall",
    "lsh_precision",
    "true_pairs",
    "assign_seconds",
    "assign_ms_per_article",
    "assign_cpu_ms_per_article",
    "index_signature_us",
    "index_query_us",
    "index_insert_us",
    "rss_before_kib",
    "assign_peak_rss_kib",
    "peak_rss_kib",
    "assign_rss_growth_kib_per_signature",
    "index_rss_growth_kib_per_signature",
    "assign_gc_seconds",
    "index_gc_seconds",
    "gc_longest_pause_ms",
    "signatures_in_memory",
    "stories",
    "stories_of_2_or_more",
    "copies_joined_share",
    "state_db_mib",
)


@pytest.mark.slow  # about 7 s: 3,000 articles clustered, a 300-article exact comparison
def test_quick_stories_benchmark_reports_every_figure(tmp_path):
    out = tmp_path / "stories.json"
    result, stdout = run_quick("stories_bench.py", out, FIGURES, timeout=120)
    figures, checks, sample = result["figures"], result["checks"], result["sample"]
    # What was measured is what the quick run promises: 3,000 articles through the
    # clustering stage, every one assigned and its signature held, and the exact
    # comparison on the first 300, where both methods found pairs to compare.
    assert figures["articles"] == checks["articles_assigned"] == 3000
    assert figures["signatures_in_memory"] == checks["signatures_held_by_the_index_alone"] == 3000
    assert figures["sample_articles"] == checks["sample_articles"] == 300
    assert figures["exact_pairs"] > 0 and figures["lsh_pairs"] > 0
    assert checks["exact_variants_agree"] and checks["warnings"] == []
    assert 0 < figures["lsh_recall"] <= 1 and 0 < figures["lsh_precision"] <= 1
    # The articles are what the docstring says: families of copies among single reports,
    # summaries and full texts, and pairs of both kinds above and below the threshold.
    articles = result["articles"]
    assert 0 < articles["events_reported_more_than_once"] < articles["events"]
    assert 0.3 < articles["summary_share_of_events"] < 0.5
    assert sum(sample["truth"]["true_pairs_by_jaccard"].values()) == figures["true_pairs"]
    assert sum(sample["exact_pairs_by_jaccard"].values()) == figures["exact_pairs"]
    # Every trade-off row ran against the same exact pairs; the first is monitor as it is.
    shipped = sample["rows"][0]
    assert shipped["candidate_factor"] == lsh.CANDIDATE_FACTOR
    assert shipped["perms"] == signatures.NUM_PERM
    assert shipped["verify"] == result["threshold"] - lsh.VERIFY_MARGIN
    assert [row["perms"] for row in sample["rows"][1:]] == [128, 128, 128, 256]
    assert {row["verify"] for row in sample["rows"][1:]} == {result["threshold"]}
    assert set(result["pass"]) == {"speedup_vs_exact", "speedup_vs_intersection", "recall"}
    assert "stories_bench.py --quick" in result["command"]
    assert "| figure | value |" in stdout and "| clustering stage | value |" in stdout
    assert stdout.count("PASS:") + stdout.count("FAIL:") == 3
