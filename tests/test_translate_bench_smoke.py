"""Smoke test of bench/translate_bench.py: the quick run works and reports every figure.

It checks that the benchmark runs and measures what it says, never how fast anything is.
Needs the translation stack (ctranslate2, sentencepiece, argostranslate).
"""

import pytest

from tests.benchsmoke import run_quick

pytest.importorskip("ctranslate2")
pytest.importorskip("sentencepiece")
pytest.importorskip("argostranslate")

FIGURES = (
    "sentences",
    "argos_seconds",
    "argos_sentences_per_s",
    "argos_peak_rss_mib",
    "argos_output_tokens_per_sentence",
    "batched_seconds",
    "batched_sentences_per_s",
    "batched_peak_rss_mib",
    "batched_output_tokens_per_sentence",
    "cached_seconds",
    "cached_sentences_per_s",
    "speedup",
)


@pytest.mark.slow
def test_quick_translate_benchmark_reports_every_figure(tmp_path):
    out = tmp_path / "translate.json"
    result, stdout = run_quick("translate_bench.py", out, FIGURES, timeout=300)
    figures = result["figures"]
    # What was measured is what the quick run promises: 100 sentences through both paths,
    # the same ones, decoded to the same lengths, the second project run all from the cache,
    # and nothing tried the network.
    checks = result["checks"]
    assert figures["sentences"] == figures["argos_ct2_sentences"] == 100
    assert figures["batched_ct2_sentences"] == 100
    assert checks["project_split_matches_generated"] and checks["argos_sentences_match"]
    assert checks["argos_bound_misses"] == 0
    assert figures["argos_output_tokens_per_sentence"] == pytest.approx(
        figures["batched_output_tokens_per_sentence"], rel=0.05
    )
    assert checks["cached_sentences"] == 100 and checks["cached_ct2_calls"] == 0
    assert checks["network_attempts"] == 0
    assert (
        checks["argos_settings"]["beam_size"] == checks["project_settings"]["translation_beam_size"]
    )
    assert "translate_bench.py --quick" in result["command"]
    assert "| path | sentences/s |" in stdout
