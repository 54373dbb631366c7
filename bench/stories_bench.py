"""Benchmark of story clustering (monitor/stories), run by hand (not a test):

    .venv/bin/python bench/stories_bench.py [--articles 100000 --sample 2000 --seed 0
                                             --batch 50 --quick]

1. Articles (bench/stories_docs.py), deterministic for a ``--seed``: syndicated news in
   made-up words. A vocabulary of 30,000 words drawn by Zipf's law (exponent 1: the
   commonest word is 9 % of the text, as "the" is about 6 % of English). Events: 40 % are
   summaries of 30-80 words, 60 % full texts of 150-500 words, each with a title of 6-12
   words. An event is on one of 500 topics: 15 % of its words are its topic's 40 words,
   and it names 1-4 of its topic's 6 names (2-4 words each) 1-3 times each, so different
   events on one topic share words and some 3-shingles. Every event is reported once as
   written (its first report, by one of 300 outlets); 30 % of events are also copied by
   2-6 other outlets, each copy changed as syndication changes it: the outlet's own
   headline (8-12 new words instead of the title: the first ~10 words replaced), the
   outlet's prefix (2-6 words: dateline, agency credit) and trailer (3-10 words: "read
   more on"), the same on every article of that outlet, the last 10-40 % of the text
   cut, and 1-5 % of the kept words replaced (light edits). Copies come out up to 40
   events after their first report, between other news. All articles carry one language
   label (ru): one index holds them all, the largest a language's index can be.
2. Exact against LSH on the first ``--sample`` articles of that stream (copies follow
   their first report closely, so whole families are in it). Both get the same shingle
   sets (``shingles.within_language``), made beforehand: shingling is not timed.
   Exact: every pair's Jaccard by the definition, ``len(a & b) / len(a | b)``, pairs
   >= ``story_similarity`` (0.5). Also timed, a variant with one set operation a pair:
   ``i / (len(a) + len(b) - i)``, ``i = len(a & b)`` (the same pairs, checked); the
   speed ratio against each is reported and checked. LSH path: article by article,
   ``signature``, ``SimilarityIndex.similar``, ``SimilarityIndex.add``, the calls the
   clustering stage makes, and the pairs ``similar`` reports. Recall: the share of the
   exact pairs the LSH path reports (also per band of exact Jaccard); precision: the
   share of its pairs that are exact pairs; and the share of its pairs that are two
   reports of one event. Targets: LSH path >= 50 times faster, recall >= 95 %. More rows
   show the trade-offs, against the same exact pairs (>= 0.5): the bands tuned for
   other thresholds (``lsh.CANDIDATE_FACTOR`` set for the row), 256 permutations instead
   of 128, and candidates verified at the threshold itself (``lsh.VERIFY_MARGIN`` 0)
   instead of from 0.05 below it. The true pairs (two reports
   of one event) are counted by exact Jaccard, as are the most similar pairs of two
   different events (one more pass over every pair, not timed).
3. The clustering stage over ``--articles``, in a fresh process (its memory is its own):
   a StateDB on a temporary data folder, ``Stories`` on the default settings but no
   seed analyses and ``story_window_days`` 7, ``Stories.assign`` for each article,
   ``--batch`` of them in each ``with state.batch(), stories.batch():`` transaction, as the pipeline
   writes. A fake clock moves one second an article, so all of them stay in the window:
   nothing is forgotten, the index only grows (the worst case). Reading the file is not
   timed. Then, in the same process, the index alone: a new ``SimilarityIndex`` given the
   same articles, each call timed on its own: ``signature``, ``similar`` (query), ``add``
   (insert); shingling is not timed. The grouping is checked against the truth.
4. Memory: VmRSS (/proc/self/status) after ``gc.collect()`` before and after each part;
   the growth over the signatures held is the memory a signature costs. The index
   alone gives the clean figure (its own objects only); the clustering stage's also
   holds SQLite's page cache and the stage's own objects. Peak: VmHWM. The time spent
   in Python's cyclic garbage collector during each part (``gc.callbacks``) and its
   longest pause. The state database on disk: its file and WAL, still open.

Prints Markdown tables and writes JSON (``--out``, default bench/out/stories.json). The
exit status is 0 unless something crashed: a FAIL against a target is only reported.
"""

from __future__ import annotations

import argparse
import faulthandler
import gc
import json
import os
import shlex
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pipeline_bench as pb  # noqa: E402 - machine info, result writing; puts ROOT on sys.path
import store_bench as sb  # noqa: E402 - rss_kib, peak_kib, files_bytes, settings_for, batches
import stories_docs as sd  # noqa: E402 - the articles and their truth

from monitor.stories import lsh, shingles, signatures  # noqa: E402

ROOT = pb.ROOT
TARGET_SPEEDUP = 50.0
TARGET_RECALL = 0.95
# (label, lsh.VERIFY_MARGIN, lsh.CANDIDATE_FACTOR, permutations); the first is monitor
# as it is, and the one checked against the targets.
SHIPPED = (
    f"as shipped (verified from {lsh.VERIFY_MARGIN} below, CANDIDATE_FACTOR {lsh.CANDIDATE_FACTOR})"
)
ROWS = (
    (SHIPPED, lsh.VERIFY_MARGIN, lsh.CANDIDATE_FACTOR, lsh.NUM_PERM),
    ("verified at the threshold, CANDIDATE_FACTOR 0.8", 0.0, 0.8, 128),
    ("verified at the threshold, CANDIDATE_FACTOR 1.0", 0.0, 1.0, 128),
    ("verified at the threshold, CANDIDATE_FACTOR 0.6", 0.0, 0.6, 128),
    ("verified at the threshold, 256 permutations, CANDIDATE_FACTOR 0.6", 0.0, 0.6, 256),
)
START = datetime(2024, 11, 12, tzinfo=UTC)
ADDED = "2024-11-12T00:00:00+00:00"
WINDOW_DAYS = 7
LIBS = ("datasketch", "numpy")


# --- 2. exact against LSH on the sample ---------------------------------------------------


@contextmanager
def variant(margin: float, factor: float, perms: int):
    """monitor.stories with another VERIFY_MARGIN, CANDIDATE_FACTOR and number of
    permutations (read when an index or a signature is made), put back afterwards."""
    saved = lsh.VERIFY_MARGIN, lsh.CANDIDATE_FACTOR, signatures.NUM_PERM, lsh.NUM_PERM
    lsh.VERIFY_MARGIN, lsh.CANDIDATE_FACTOR = margin, factor
    signatures.NUM_PERM = lsh.NUM_PERM = perms
    signatures._permutations.cache_clear()
    try:
        yield
    finally:
        lsh.VERIFY_MARGIN, lsh.CANDIDATE_FACTOR, signatures.NUM_PERM, lsh.NUM_PERM = saved
        signatures._permutations.cache_clear()


def lsh_path(sets: list[set[str]], threshold: float) -> tuple[float, dict, str]:
    """The clustering stage's calls, article by article: (seconds, {(j, i): estimate},
    the bands)."""
    index = lsh.SimilarityIndex(threshold)
    signatures.signature(sets[0])  # the permutations are made once a process
    found = {}
    started = time.perf_counter()
    for i, s in enumerate(sets):
        if len(s) < shingles.MIN_WITHIN_SHINGLES:  # as the stage: too short to compare
            continue
        sig = signatures.signature(s)
        for key, score in index.similar(sig):
            found[(int(key), i)] = score
        index.add(str(i), sig, ADDED)
    seconds = time.perf_counter() - started
    return seconds, found, f"{index._lsh.b} x {index._lsh.r}"


def compare(exact: dict, found: dict, docs: list[dict], sets: list[set[str]]) -> dict:
    """Recall, precision, recall per band, and what the LSH path found beyond the exact."""
    hits = found.keys() & exact.keys()
    bands = {}
    for label, low, high in sd.BANDS:
        pairs = [p for p, j in exact.items() if low <= j < high]
        hit = sum(p in found for p in pairs)
        recall = hit / len(pairs) if pairs else None  # None: no exact pair in the band
        bands[label] = {"exact": len(pairs), "found": hit, "recall": recall}
    extra = [sd.jaccard(sets[j], sets[i]) for j, i in found.keys() - exact.keys()]
    return {
        "pairs": len(found),
        "recall": len(hits) / max(1, len(exact)),
        "precision": len(hits) / max(1, len(found)),
        "bands": bands,
        "same_event_share": sum(docs[j]["event"] == docs[i]["event"] for j, i in found)
        / max(1, len(found)),
        "beyond_exact_jaccard": sd.in_bins(extra, sd.TRUE_BINS[:3]),
    }


def sample_phase(docs: list[dict], threshold: float) -> dict:
    """Exact against LSH, every row; the truth."""
    sets = [shingles.within_language(d["title"], d["text"]) for d in docs]
    exact_s, exact = sd.exact_definition(sets, threshold)
    intersection_s, same = sd.exact_intersection(sets, threshold)
    out = {"articles": len(docs), "shingles_mean": sum(map(len, sets)) / len(sets)}
    out |= {"exact_s": exact_s, "intersection_s": intersection_s, "exact_pairs": len(exact)}
    out["exact_variants_agree"] = same == exact.keys()
    out["exact_pairs_by_jaccard"] = sd.in_bins(exact.values(), sd.BANDS)
    out["rows"] = []
    for label, margin, factor, perms in ROWS:
        with variant(margin, factor, perms):
            seconds, found, bands = lsh_path(sets, threshold)
        verify = threshold - margin
        row = {"label": label, "verify": verify, "candidate_factor": factor, "perms": perms}
        row |= {"bands": bands, "seconds": seconds, "speedup_vs_exact": exact_s / seconds}
        row["speedup_vs_intersection"] = intersection_s / seconds
        out["rows"].append(row | {"lsh": compare(exact, found, docs, sets)})
        print(f"sample: {label}: {seconds:.2f} s", flush=True)
    out["truth"] = sd.truth_of(docs, sets, threshold)
    return out


# --- 3. the clustering stage in a child process -------------------------------------------


class GcClock:
    """Time spent in Python's cyclic garbage collector (``gc.callbacks``): every container
    object an index holds (datasketch keeps a set per band and key) is traversed again
    by each full collection."""

    def __init__(self):
        self.seconds, self.longest, self.full, self._started = 0.0, 0.0, 0, 0.0
        gc.callbacks.append(self._note)

    def _note(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        pause = time.perf_counter() - self._started
        self.seconds, self.longest = self.seconds + pause, max(self.longest, pause)
        self.full += info["generation"] == 2

    def take(self, prefix: str) -> dict:
        """What was spent since the last take, and start again."""
        out = {f"{prefix}gc_s": self.seconds, f"{prefix}gc_longest_ms": 1000 * self.longest}
        out[f"{prefix}gc_full_collections"] = self.full
        self.seconds, self.longest, self.full = 0.0, 0.0, 0
        return out


def clustering(spec: dict, gc_clock: GcClock):
    """``Stories.assign`` over every article; (figures, the Stories, kept alive)."""
    from monitor.state import StateDB
    from monitor.stories.clusterer import Stories

    settings = sb.settings_for(spec, Path(spec["tmp"]) / "data", story_window_days=WINDOW_DAYS)
    state = StateDB(settings.state_db_path)
    stories = Stories(state, settings, lambda: [])
    gc.collect()
    out = {"threshold": settings.story_similarity, "rss_before_kib": sb.rss_kib()}
    now, wall, cpu, per_batch = START, 0.0, 0.0, []
    gc_clock.take("")
    for batch in sb.read_batches(spec):
        started, used = time.perf_counter(), time.process_time()
        with state.batch(), stories.batch():
            for doc in batch:
                stories.assign(doc, now)
                now += timedelta(seconds=1)
        per_batch.append((len(batch), time.perf_counter() - started))
        wall += per_batch[-1][1]
        cpu += time.process_time() - used
    out |= gc_clock.take("")
    gc.collect()
    out |= {"wall_s": wall, "cpu_s": cpu, "ms_by_tenth": tenths(per_batch, 1000)}
    out |= {"rss_after_kib": sb.rss_kib(), "peak_rss_kib": sb.peak_kib()}
    out["signatures"] = stories.signatures_in_memory()
    out["state_bytes"] = sb.files_bytes(settings.state_db_path)
    story_of = dict(state.db.read("SELECT article_id, story_id FROM story_members"))
    sizes = state.db.read("SELECT size FROM stories WHERE merged_into IS NULL AND size > 0")
    out |= sd.grouping(story_of, [size for (size,) in sizes], sb.read_batches(spec))
    state.close()
    return out, stories


def tenths(per_item: list[tuple[int, float]], scale: float) -> list[float]:
    """Time an item (x scale) over each tenth of the items, in order."""
    total, out, done, count, seconds = sum(n for n, _ in per_item), [], 0, 0, 0.0
    for n, s in per_item:
        done, count, seconds = done + n, count + n, seconds + s
        if done >= total * (len(out) + 1) / 10:
            out.append(scale * seconds / count)
            count, seconds = 0, 0.0
    return out


def index_alone(spec: dict, threshold: float, gc_clock: GcClock) -> dict:
    """A new SimilarityIndex over the same articles: each call timed, its memory."""
    index = lsh.SimilarityIndex(threshold)
    gc.collect()
    before, per_batch, clock = sb.rss_kib(), [], time.perf_counter
    gc_clock.take("")
    for batch in sb.read_batches(spec):
        sets = [shingles.within_language(d["title"], d["text"]) for d in batch]
        spent = [0.0, 0.0, 0.0]
        for doc, s in zip(batch, sets, strict=True):
            t0 = clock()
            sig = signatures.signature(s)
            t1 = clock()
            index.similar(sig)
            t2 = clock()
            index.add(doc["id"], sig, ADDED)
            t3 = clock()
            spent = [a + b for a, b in zip(spent, (t1 - t0, t2 - t1, t3 - t2), strict=True)]
        per_batch.append((len(batch), spent))
    del sets, batch
    out = gc_clock.take("index_")  # the collections while shingling too (not timed)
    gc.collect()
    n = len(index)
    out |= {"index_signatures": n, "index_rss_growth_kib": sb.rss_kib() - before}
    for k, name in enumerate(("signature", "query", "insert")):
        column = [(count, spent[k]) for count, spent in per_batch]
        out[f"index_{name}_us"] = 1e6 * sum(seconds for _, seconds in column) / n
        out[f"index_{name}_us_by_tenth"] = tenths(column, 1e6)
    return out | {"index_peak_rss_kib": sb.peak_kib(), "index_lsh_bands": index._lsh.b}


def stage_then_index(spec: dict) -> dict:
    """In the child process: the clustering stage, then the index alone; the figures."""
    gc_clock = GcClock()
    out, stories = clustering(spec, gc_clock)
    out |= index_alone(spec, out["threshold"], gc_clock)
    del stories  # held until here, so the index alone cannot reuse its memory
    return out


def run_child(spec: dict, timeout: float) -> dict:
    """``stage_then_index`` in a fresh spawned process (a new ``sys.executable``)."""
    try:
        return sb.run_in_child(stage_then_index, (spec,), timeout, "the clustering run", 30)
    except RuntimeError as exc:
        raise SystemExit(f"stories_bench: {exc}") from None


# --- figures and the report ---------------------------------------------------------------


def figures_of(sample: dict, stage: dict) -> dict:
    """The figures (numbers only); the first row is monitor as it is."""
    shipped, n, lsh_ = sample["rows"][0], stage["assigned"], sample["rows"][0]["lsh"]
    fig = {"articles": n, "sample_articles": sample["articles"]}
    fig |= {"sample_shingles_mean": sample["shingles_mean"], "exact_seconds": sample["exact_s"]}
    fig |= {
        "exact_intersection_seconds": sample["intersection_s"],
        "lsh_seconds": shipped["seconds"],
    }
    fig["lsh_us_per_article"] = 1e6 * shipped["seconds"] / sample["articles"]
    for key in ("speedup_vs_exact", "speedup_vs_intersection"):
        fig[f"lsh_{key}"] = shipped[key]
    fig |= {"exact_pairs": sample["exact_pairs"], "lsh_pairs": lsh_["pairs"]}
    fig |= {"lsh_recall": lsh_["recall"], "lsh_precision": lsh_["precision"]}
    fig["true_pairs"] = sample["truth"]["true_pairs"]
    fig["assign_seconds"] = stage["wall_s"]
    fig["assign_ms_per_article"] = 1000 * stage["wall_s"] / n
    fig["assign_cpu_ms_per_article"] = 1000 * stage["cpu_s"] / n
    fig |= {f"index_{key}_us": stage[f"index_{key}_us"] for key in ("signature", "query", "insert")}
    fig["rss_before_kib"] = stage["rss_before_kib"]
    fig["assign_peak_rss_kib"] = stage["peak_rss_kib"]
    fig["peak_rss_kib"] = stage["index_peak_rss_kib"]
    growth = stage["rss_after_kib"] - stage["rss_before_kib"]
    fig["assign_rss_growth_kib_per_signature"] = growth / stage["signatures"]
    growth = stage["index_rss_growth_kib"]
    fig["index_rss_growth_kib_per_signature"] = growth / stage["index_signatures"]
    fig["assign_gc_seconds"] = stage["gc_s"]
    fig["index_gc_seconds"] = stage["index_gc_s"]
    fig["gc_longest_pause_ms"] = max(stage["gc_longest_ms"], stage["index_gc_longest_ms"])
    fig["signatures_in_memory"] = stage["signatures"]
    fig |= {key: stage[key] for key in ("stories", "stories_of_2_or_more")}
    fig["copies_joined_share"] = stage["copies_joined"] / stage["copies"]
    fig["state_db_mib"] = stage["state_bytes"] / 2**20
    return fig


def checks_of(args, sample: dict, stage: dict, threshold: float) -> dict:
    """What was measured is what was meant."""
    checks = {"articles_assigned": stage["assigned"], "sample_articles": sample["articles"]}
    checks["exact_variants_agree"] = sample["exact_variants_agree"]
    checks["child_threshold"] = stage["threshold"]
    checks["signatures_held_by_the_index_alone"] = stage["index_signatures"]
    wrong = [
        (stage["assigned"] != args.articles, f"{stage['assigned']} articles assigned"),
        (sample["articles"] != args.sample, f"a sample of {sample['articles']} articles"),
        (not sample["exact_variants_agree"], "the two exact variants found different pairs"),
        (stage["threshold"] != threshold, f"the child's story_similarity: {stage['threshold']}"),
        (not sample["exact_pairs"] or not sample["rows"][0]["lsh"]["pairs"], "no pairs found"),
    ]
    return checks | {"warnings": [message for failed, message in wrong if failed]}


def pct(value: float) -> str:
    return f"{value:.1%}"


def ends(values: list[float]) -> str:
    return f"{values[0]:.2f} → {values[-1]:.2f}"


def sample_table(sample: dict) -> list[str]:
    n = sample["articles"]
    lines = ["| method | LSH bands (b x r) | seconds | µs an article | speed-up: definition / "
             "intersection only | pairs | recall | precision | recall by exact Jaccard "
             "0.5-0.6 / 0.6-0.8 / 0.8-1.0 | pairs of one event |", "|---|---|---|---|---|---|"
             "---|---|---|---|"]  # fmt: skip
    for label in ("definition", "intersection only"):
        seconds = sample["exact_s" if label == "definition" else "intersection_s"]
        lines.append(f"| exact, {label} | | {seconds:.2f} | {1e6 * seconds / n:,.0f} | | "
                     f"{sample['exact_pairs']:,} | | | | |")  # fmt: skip
    for row in sample["rows"]:
        found = row["lsh"]
        bands = " / ".join(
            "-" if b["recall"] is None else pct(b["recall"]) for b in found["bands"].values()
        )
        lines.append(f"| LSH: {row['label']} | {row['bands']} | {row['seconds']:.2f} | "
                     f"{1e6 * row['seconds'] / n:,.0f} | {row['speedup_vs_exact']:.1f}× / "
                     f"{row['speedup_vs_intersection']:.1f}× | {found['pairs']:,} | "
                     f"{pct(found['recall'])} | {pct(found['precision'])} | {bands} | "
                     f"{pct(found['same_event_share'])} |")  # fmt: skip
    return lines


def report(result: dict) -> str:
    fig, m, sample, stage = result["figures"], result["machine"], result["sample"], result["stage"]
    truth, ok = sample["truth"], result["pass"]
    lines = [f"`{result['command']}`", ""]
    load = result["load_average_1min"]["start"]
    lines += [f"{m['cpu_model']}, {m['cores']} cores ({m['usable_cores']} usable), {m['python']}, "
              f"datasketch {m['datasketch']}, numpy {m['numpy']}, SQLite {m['sqlite']}; load "
              f"average (1 min) {load:.2f} at start", ""]  # fmt: skip
    lines += [f"Sample: the first {sample['articles']:,} articles "
              f"({sample['articles'] * (sample['articles'] - 1) // 2:,} pairs, "
              f"{sample['shingles_mean']:.0f} shingles an article on average); exact pairs >= "
              f"{result['threshold']}: {sample['exact_pairs']:,} "
              f"({', '.join(f'{k}: {v:,}' for k, v in sample['exact_pairs_by_jaccard'].items())}).",
              ""]  # fmt: skip
    lines += sample_table(sample)
    lines += ["", f"True pairs (two reports of one event) in the sample: {truth['true_pairs']:,}, "
              "by exact Jaccard: " + ", ".join(f"{k}: {v:,}" for k, v in
              truth["true_pairs_by_jaccard"].items()) + ". Pairs of different events: "
              f"{truth['different_events_above_threshold']:,} above {result['threshold']}, the "
              f"most similar at {truth['different_events_max_jaccard']:.3f} (on one topic: "
              f"{truth['same_topic_different_events_max_jaccard']:.3f}).", ""]  # fmt: skip
    kinds = {
        k: pct(v["joined"] / max(1, v["copies"])) for k, v in stage["copies_joined_by_kind"].items()
    }
    rows = [
        ("articles through `Stories.assign` (batches of "
         f"{result['params']['batch']})", f"{fig['articles']:,} in {fig['assign_seconds']:.1f} s"),
        ("assign, ms an article (wall / CPU)",
         f"**{fig['assign_ms_per_article']:.2f}** / {fig['assign_cpu_ms_per_article']:.2f}"),
        ("assign, ms an article, first tenth → last tenth",
         ends(stage["ms_by_tenth"])),
        ("index alone, µs an article: signature / query / insert",
         f"{fig['index_signature_us']:.0f} / {fig['index_query_us']:.0f} / "
         f"{fig['index_insert_us']:.0f}"),
        ("index alone, query / insert µs, first tenth → last tenth",
         f"{ends(stage['index_query_us_by_tenth'])} / {ends(stage['index_insert_us_by_tenth'])}"),
        ("in the garbage collector: during assign / the index alone (longest pause)",
         f"{fig['assign_gc_seconds']:.1f} s / {fig['index_gc_seconds']:.1f} s "
         f"({fig['gc_longest_pause_ms']:,.0f} ms)"),
        ("memory a signature costs: index alone / clustering stage",
         f"**{fig['index_rss_growth_kib_per_signature']:.1f} KiB** / "
         f"{fig['assign_rss_growth_kib_per_signature']:.1f} KiB"),
        ("resident memory before / after assign / peak (with the index alone too)",
         f"{fig['rss_before_kib'] / 1024:.0f} / {stage['rss_after_kib'] / 1024:.0f} / "
         f"{fig['peak_rss_kib'] / 1024:.0f} MiB"),
        ("signatures in memory", f"{fig['signatures_in_memory']:,}"),
        ("stories / of 2 or more articles",
         f"{fig['stories']:,} / {fig['stories_of_2_or_more']:,} (events reported more than "
         f"once: {stage['events_reported_more_than_once']:,})"),
        ("copies in their first report's story", f"{pct(fig['copies_joined_share'])} of "
         f"{stage['copies']:,} (of summaries {kinds['summary']}, of full texts "
         f"{kinds['full']}); events split: {stage['events_split']:,}; stories mixing events: "
         f"{stage['stories_mixing_events']:,}"),
        ("state database on disk (file + WAL)", f"{fig['state_db_mib']:.0f} MiB"),
    ]  # fmt: skip
    lines += ["| clustering stage | value |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)]
    lines += ["", "| figure | value |", "|---|---|"]
    lines += [f"| {key} | {pb.shown(key, value)} |" for key, value in fig.items()]
    verdict = {True: "PASS", False: "FAIL"}
    lines += ["", f"{verdict[ok['speedup_vs_exact']]}: LSH path {fig['lsh_speedup_vs_exact']:.1f}× "
              f"faster than the exact definition (target >= {TARGET_SPEEDUP:.0f}×)",
              f"{verdict[ok['speedup_vs_intersection']]}: "
              f"{fig['lsh_speedup_vs_intersection']:.1f}× faster than the intersection-only "
              f"exact variant (target >= {TARGET_SPEEDUP:.0f}×)",
              f"{verdict[ok['recall']]}: recall {pct(fig['lsh_recall'])} of the exact pairs "
              f"(target >= {TARGET_RECALL:.0%})"]  # fmt: skip
    lines += ["", result["notes"], *(f"WARNING: {w}" for w in result["checks"]["warnings"])]
    return "\n".join([*lines, f"Took {result['total_s']:.1f} s."])


def parse_args(argv: list[str] | None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, help="articles clustered (100000; quick 3000)")
    parser.add_argument("--sample", type=int, help="articles compared exactly (2000; quick 300)")
    parser.add_argument("--batch", type=int, default=50, help="articles per transaction (50)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the articles (0)")
    parser.add_argument("--quick", action="store_true", help="a small run for a smoke test")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/out/stories.json")
    args = parser.parse_args(argv)
    args.articles = args.articles or (3000 if args.quick else 100_000)
    args.sample = args.sample or (300 if args.quick else 2000)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    timeout = 120.0 if args.quick else 3600.0
    faulthandler.dump_traceback_later(2 * timeout, exit=True)  # bounded even if it hangs
    started, load = time.perf_counter(), os.getloadavg()[0]
    docs = sd.Generator(args.seed).articles(max(args.articles, args.sample))
    about = sd.describe(docs[: args.articles]) | {"generate_s": time.perf_counter() - started}
    with tempfile.TemporaryDirectory(prefix="monitor-stories-bench-") as name:
        threshold = sb.settings_for({}, Path(name) / "data").story_similarity
        docs_file = Path(name) / "articles.jsonl"
        with docs_file.open("w", encoding="utf-8") as f:
            f.writelines(json.dumps(d, ensure_ascii=False) + "\n" for d in docs[: args.articles])
        sample_docs = docs[: args.sample]
        del docs
        sample = sample_phase(sample_docs, threshold)
        spec = {"docs_file": str(docs_file), "batch": args.batch, "tmp": name}
        stage = run_child(spec, timeout)
    faulthandler.cancel_dump_traceback_later()
    figures = figures_of(sample, stage)
    result = {
        "command": shlex.join(sys.orig_argv),
        "machine": pb.machine(LIBS),
        "load_average_1min": {"start": load, "end": os.getloadavg()[0]},
        "params": {k: getattr(args, k) for k in ("articles", "sample", "batch", "seed")},
        "threshold": threshold,
        "articles": about,
        "figures": figures,
        "sample": sample,
        "stage": stage,
        "checks": checks_of(args, sample, stage, threshold),
        "targets": {"speedup": TARGET_SPEEDUP, "recall": TARGET_RECALL},
        "pass": {
            "speedup_vs_exact": figures["lsh_speedup_vs_exact"] >= TARGET_SPEEDUP,
            "speedup_vs_intersection": figures["lsh_speedup_vs_intersection"] >= TARGET_SPEEDUP,
            "recall": figures["lsh_recall"] >= TARGET_RECALL,
        },
        "notes": "Shingling is outside every timing. The LSH rows after the first set "
        "lsh.CANDIDATE_FACTOR and the number of permutations for the row only; every row "
        "is compared with the same exact pairs (>= story_similarity). The clustering stage "
        "ran in its own process, one language, nothing forgotten (the index only grows).",
        "total_s": time.perf_counter() - started,
    }
    pb.write_result(result, args.out, report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
