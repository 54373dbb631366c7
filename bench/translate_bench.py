"""Benchmark of translation, run by hand (not a test):

    .venv/bin/python bench/translate_bench.py [--sentences 2000 --threads 2 --beam 4
                                               --length-ratio 1.0 --quick]

argostranslate's own call against the project's batched path, on the same sentences, model,
beam, compute type and CTranslate2 thread count, with the same output lengths.

1. Model: the shape of ``build_base_package`` of tests/fixtures/argos_model.py (Transformer
   base 6+6, d_model 512, 8 heads, FFN 2048, 32k SentencePiece, random weights, int8;
   ``--quick``: 2+2 layers, d_model 128, 4 heads, FFN 512, 4k vocabulary), built with that
   module's functions but with the SentencePiece model also trained on sentences like the
   benchmark's (``model_file``: else they come out at ~4 tokens a word instead of a real
   model's 1.2-1.5). Cached under bench/out/translate-model/ (rebuilt when a fixture file or
   the recipe changes), installed by ``monitor.translate.models.install_file`` into a
   temporary packages folder, in a process of its own.
2. Text: N distinct Russian news sentences of 8-40 words (tests/fixtures/translate/
   corpus.txt and the tests/fixtures/feedgen.py templates, chained into longer sentences),
   in articles of 8-12 sentences and paragraphs of 2-4. Both splitters (the project's, and
   the model's MiniSBD splitter that argostranslate runs) find exactly these sentences.
3. Output lengths. Random weights never emit ``</s>``, so a sentence decodes until
   ``max_decoding_length``. The project's engine bounds each batch of 32 (sorted by length)
   at ``int(its longest input tokens x translation_max_length_ratio) + 10``
   (monitor/translate/engine.py; ``--length-ratio``, 1.0: the lowest the setting allows).
   argostranslate 1.11 has no setting for it (its ``translate_batch`` call in
   ``apply_packaged_translation`` passes none: CTranslate2's default, 256 tokens), so in its
   process ``ctranslate2.Translator`` is replaced by a subclass whose ``translate_batch``
   cuts each call into the batches CTranslate2 itself makes of it (argostranslate asks for
   ``batch_type="tokens"``, ``max_batch_size=32``: sorted by length, examples added while
   their tokens fit in 32) and gives each batch the bound the project's engine gave its
   sentences (``--lengths same``, default: the project runs first and its subclass records
   them), so both paths decode the same number of tokens; ``--lengths own``: the formula on
   each argostranslate batch alone. A benchmark-only patch: nothing else of the call changes
   (beam, length penalty, ``replace_unknowns``, scores). In the project's process the
   subclass only counts tokens, records bounds and times the calls.
4. Same settings: beam ``--beam`` (argostranslate's default 4, ``ARGOS_BEAM_SIZE``; the
   project's ``translation_beam_size`` is set to match), int8 (``ARGOS_COMPUTE_TYPE``),
   ``--threads`` CTranslate2 intra threads, one inter thread, on both. Run ``--threads 1``
   as a control too: on some VMs (this project's 2-vCPU one) two OpenMP threads make
   one-sentence batches (argostranslate's) 2.5x slower, batches of 32 barely faster, which
   inflates the speed-up at ``--threads 2``.
5. Measures, each path in its own process (so ``ru_maxrss`` is its own):
   (a) ``argostranslate.translate.translate(article, "ru", "en")`` article by article;
   (b) ``Engine.translate(model, sentences)`` once over every sentence of every article,
   split by ``monitor.translate.sentences.split_sentences``, on a fresh state database
   (nothing cached); (b, cached) the same call again, everything now in the cache.
   A warm-up text (not in the set) loads each translator before the clock starts; its
   time is ``*_load_s``. Sockets are refused in every child process and the attempts
   counted; ``ARGOS_PACKAGE_INDEX`` is http://127.0.0.1:9/, HOME and XDG_* are private.

On 2 vCPUs the base model takes about 10 minutes for 1,000 sentences at ``--threads 2``
(argostranslate ~570 s), 5 minutes at ``--threads 1``; 2,000 take twice that.

Prints a Markdown table, writes JSON (``--out``, default bench/out/translate.json). Exit 0
unless something crashed: a speed-up under the target (3x) is only reported.
"""

from __future__ import annotations

import argparse
import faulthandler
import hashlib
import json
import os
import random
import re
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pipeline_bench as pb  # noqa: E402 - machine info and result writing

ROOT = pb.ROOT
TRANSLATE_LIBS = ("ctranslate2", "argostranslate", "sentencepiece")
OUT = ROOT / "bench" / "out"
TARGET = 3.0
LANGUAGE = "ru"
WARMUP_TEXT = "Делегация прибыла в столицу для консультаций по энергетике и транспорту."
# Both shaped as build_base_package / build_package make them, but with the SentencePiece model
# trained on text like the benchmark's (see model_file).
MODELS = {
    "base": {"layers": 6, "d_model": 512, "heads": 8, "ffn": 2048, "vocab_size": 32_000,
             "corpus_sentences": 60_000, "news_sentences": 6_000},
    "quick": {"layers": 2, "d_model": 128, "heads": 4, "ffn": 512, "vocab_size": 4_000,
              "corpus_sentences": 8_000, "news_sentences": 2_000},
}  # fmt: skip
MODEL_RECIPE = 1  # bump when model_file or make_sentences changes what is built
# Sentence chaining: (punctuation closing the previous clause, words opening the next one).
CONNECTORS = (
    (",", "при этом"),
    (",", "а также"),
    (";", "кроме того,"),
    (",", "тогда как"),
    (";", "как отмечается,"),
    (",", "и"),
    (";", "по словам экспертов,"),
    (",", "однако"),
    (",", "поскольку"),
)
# A sentence cut to its length does not end on these.
_DANGLING = (
    "в во на с со по и а о об до от к за из у не что для через при как около после между "
    "над под — тогда поскольку однако кроме того словам также этом отмечается"
)
DANGLING = set(_DANGLING.split())
ENDS = re.compile(r"[.!?…]")


# --- text ---------------------------------------------------------------------------------


def _fixtures():
    sys.path.insert(0, str(ROOT))
    from tests.fixtures import argos_model, feedgen

    return argos_model, feedgen


def make_sentences(n_sentences: int, seed: object = 0) -> list[str]:
    """``n_sentences`` distinct Russian news sentences of 8-40 words, each one sentence to
    both splitters (no inner ``. ! ? …``)."""
    from monitor.translate.sentences import split_sentences

    argos_model, feedgen = _fixtures()
    rng = random.Random(f"translate-bench:{seed}")
    openers = [s for s in argos_model.load_corpus() if re.search("[а-яё]", s)]
    lang = feedgen.LANGUAGES[LANGUAGE]
    writer = feedgen._Writer(lang, rng)  # fills the feed templates' slots

    def clause(first: bool) -> list[str]:
        text = rng.choice(openers) if first and rng.random() < 0.5 else None
        text = text or rng.choice(lang.sentences).format(**writer.values())
        text = text.rstrip(".!?… ")
        return (text if first else text[:1].lower() + text[1:]).split()

    seen: set[str] = set()
    sentences: list[str] = []
    while len(sentences) < n_sentences:
        target = rng.randint(8, 40)
        words = clause(first=True)
        while len(words) < target:
            mark, opener = rng.choice(CONNECTORS)
            words[-1] += mark
            words += opener.split() + clause(first=False)
        words = words[:target]
        while words and (words[-1].strip(",;:") in DANGLING or words[-1] in "—-"):
            words.pop()
        text = " ".join(words).rstrip(",;: —") + "."
        if len(words) < 8 or text in seen or ENDS.search(text[:-1]):
            continue
        if split_sentences(text, LANGUAGE) != [text]:
            continue
        seen.add(text)
        sentences.append(text)
    return sentences


def make_articles(sentences: list[str], seed: int = 0) -> list[list[list[str]]]:
    """Articles of 8-12 sentences (about 10), each paragraphs of 2-4: all ``sentences``."""
    rng = random.Random(f"translate-bench-articles:{seed}")
    n = len(sentences)
    n_articles = max(1, round(n / 10))
    sizes = [n // n_articles + (i < n % n_articles) for i in range(n_articles)]
    for _ in range(n_articles * 2):  # 8-12 sentences each, same total
        i, j = rng.randrange(n_articles), rng.randrange(n_articles)
        if i != j and sizes[i] > 8 and sizes[j] < 12:
            sizes[i] -= 1
            sizes[j] += 1
    articles, at = [], 0
    for size in sizes:
        chunk, at = sentences[at : at + size], at + size
        paragraphs = []
        while chunk:
            take = rng.randint(2, 4)
            paragraphs.append(chunk[:take])
            chunk = chunk[take:]
        articles.append(paragraphs)
    return articles


def article_text(paragraphs: list[list[str]]) -> str:
    return "\n".join(" ".join(p) for p in paragraphs)


# --- model --------------------------------------------------------------------------------


def model_file(kind: str) -> tuple[Path, float, bool]:
    """The cached .argosmodel of ``kind`` (built if missing or stale), seconds, reused.

    ``build_base_package`` trains its SentencePiece model on the fixture corpus padded with
    invented words, so the feedgen words of the benchmark's sentences would fall apart into
    letters (about 4 tokens a word, where a real Argos Russian model has 1.2-1.5). This does
    what it does (``generate_corpus``, ``train_sentencepiece``, ``build_package``, same
    shapes) with the base corpus widened by sentences made like the benchmark's (another
    seed), so the input lengths are realistic."""
    argos_model, feedgen = _fixtures()
    params = dict(MODELS[kind], recipe=MODEL_RECIPE)
    for module in (argos_model, feedgen):
        params[Path(module.__file__).name] = hashlib.sha256(
            Path(module.__file__).read_bytes()
        ).hexdigest()
    folder = OUT / "translate-model" / kind
    stamp = folder / "build.json"
    path = folder / (argos_model.package_name(LANGUAGE) + ".argosmodel")
    if path.is_file() and stamp.is_file() and json.loads(stamp.read_text()) == params:
        return path, 0.0, True
    started = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    p = MODELS[kind]
    base = argos_model.load_corpus() + make_sentences(p["news_sentences"], seed="sentencepiece")
    corpus = argos_model.generate_corpus(p["corpus_sentences"], base=base)
    sentencepiece_model = argos_model.train_sentencepiece(corpus, p["vocab_size"], num_threads=4)
    built = argos_model.build_package(
        folder,
        LANGUAGE,
        layers=p["layers"],
        d_model=p["d_model"],
        heads=p["heads"],
        ffn=p["ffn"],
        sentencepiece_model=sentencepiece_model,
    )
    assert built == path, (built, path)
    stamp.write_text(json.dumps(params, indent=2) + "\n")
    return path, time.perf_counter() - started, False


# --- child processes ----------------------------------------------------------------------


def child_env(tmp: Path, spec: dict) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARGOS_", "SNAP", "MONITOR_"))}
    home = tmp / "home"
    env.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / "data"),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_CACHE_HOME=str(home / "cache"),
        ARGOS_PACKAGES_DIR=spec["packages_dir"],
        ARGOS_PACKAGE_INDEX="http://127.0.0.1:9/",
        ARGOS_DEVICE_TYPE="cpu",
        ARGOS_COMPUTE_TYPE="int8",
        ARGOS_INTER_THREADS="1",
        ARGOS_INTRA_THREADS=str(spec["threads"]),
        ARGOS_BEAM_SIZE=str(spec["beam"]),
        PYTHONPATH=str(ROOT),
    )
    return env


def run_child(mode: str, spec_path: Path, env: dict, timeout: float) -> dict:
    result_path = spec_path.with_name(f"{mode}.result.json")
    cmd = [sys.executable, __file__, "--child", mode, "--spec", str(spec_path)]
    cmd += ["--result", str(result_path)]
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} child failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(result_path.read_text())


def _refuse_network() -> list[str]:
    """Make every socket connection fail, and remember the attempts."""
    import socket

    attempts: list[str] = []

    def refuse(*args, **kwargs):
        attempts.append(repr(args)[:200])
        raise OSError("network refused by bench/translate_bench.py")

    socket.socket.connect = refuse
    socket.socket.connect_ex = refuse
    socket.create_connection = refuse
    socket.getaddrinfo = refuse
    return attempts


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _patch_ctranslate2(ratio: float, bounds: dict[str, int] | None = None) -> dict:
    """Replace ``ctranslate2.Translator`` with a subclass that counts and times
    ``translate_batch``. With ``bounds`` (argostranslate's process), it also bounds the output
    (module docstring, 3.): each batch CTranslate2 would make of the call gets the longest
    bound of its sentences, the bound the project's engine gave each one (``bounds``, by
    tokens), else ``int(tokens x ratio) + 10``. Without (the project's process), it records
    the bound the engine passed for each sentence in ``stats["bounds"]``. Call before
    anything imports ``Translator`` from ctranslate2."""
    import ctranslate2

    stats: dict = {"calls": 0, "batches": 0, "sentences": 0, "input_tokens": 0}
    stats |= {"output_tokens": 0, "own_bound_tokens": 0, "bound_misses": 0, "seconds": 0.0}
    stats["bounds"] = {}

    def own(tokens) -> int:
        return int(len(tokens) * ratio) + 10

    def bound_of(tokens) -> int:
        key = " ".join(tokens)
        if key not in bounds:
            stats["bound_misses"] += 1
        return bounds.get(key, own(tokens))

    class BenchTranslator(ctranslate2.Translator):
        def translate_batch(self, source, target_prefix=None, **kwargs):
            started = time.perf_counter()
            stats["calls"] += 1
            if bounds is None:
                groups = [list(range(len(source)))]
                for tokens in source:
                    stats["bounds"][" ".join(tokens)] = kwargs.get("max_decoding_length")
            else:
                groups = _ct2_batches(
                    [len(s) for s in source],
                    kwargs.get("max_batch_size", 0),
                    kwargs.get("batch_type", "examples"),
                )
            stats["batches"] += len(groups)
            results: list = [None] * len(source)
            for group in groups:
                args = dict(kwargs)
                if bounds is not None:
                    args["max_decoding_length"] = max(bound_of(source[i]) for i in group)
                prefix = None if target_prefix is None else [target_prefix[i] for i in group]
                out = super().translate_batch([source[i] for i in group], prefix, **args)
                for i, result in zip(group, out, strict=True):
                    results[i] = result
            stats["sentences"] += len(source)
            stats["input_tokens"] += sum(len(s) for s in source)
            stats["own_bound_tokens"] += sum(own(s) for s in source)
            stats["output_tokens"] += sum(len(r.hypotheses[0]) for r in results)
            stats["seconds"] += time.perf_counter() - started
            return results

    ctranslate2.Translator = BenchTranslator
    return stats


def _ct2_batches(lengths: list[int], max_batch_size: int, batch_type: str) -> list[list[int]]:
    """The batches CTranslate2 makes of one call (``rebatch_input``): examples sorted by
    length, longest first, added to a batch while its size (examples, or tokens) fits."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    if max_batch_size <= 0:
        return [order] if order else []
    batches: list[list[int]] = []
    batch: list[int] = []
    size = 0
    for i in order:
        step = lengths[i] if batch_type == "tokens" else 1
        if batch and size + step > max_batch_size:
            batches.append(batch)
            batch, size = [], 0
        batch.append(i)
        size += step
    if batch:
        batches.append(batch)
    return batches


def _reset(stats: dict) -> dict:
    """Zero the counters (the bounds map is kept); returns a copy of them before."""
    before = {k: v for k, v in stats.items() if k != "bounds"}
    for key in before:
        stats[key] = type(stats[key])()
    return before


def child_install(spec: dict) -> dict:
    attempts = _refuse_network()
    from monitor.translate.models import install_file

    started = time.perf_counter()
    model = install_file(Path(spec["package_file"]), Path(spec["packages_dir"]))
    return {
        "install_s": time.perf_counter() - started,
        "package": model.name,
        "network_attempts": attempts,
    }


def child_argos(spec: dict) -> dict:
    attempts = _refuse_network()
    rss_start = _rss_mib()
    bounds = json.loads(Path(spec["bounds_file"]).read_text()) if spec["same_lengths"] else {}
    stats = _patch_ctranslate2(spec["ratio"], bounds)
    started = time.perf_counter()
    import argostranslate.settings as settings
    import argostranslate.translate as translate

    import_s = time.perf_counter() - started
    got = {
        "beam_size": settings.beam_size,
        "intra_threads": settings.intra_threads,
        "inter_threads": settings.inter_threads,
        "compute_type": settings.compute_type,
        "batch_size": settings.batch_size,
        "package_dirs": [str(p) for p in settings.package_dirs],
    }
    started = time.perf_counter()
    translate.translate(WARMUP_TEXT, LANGUAGE, "en")  # loads the translator and MiniSBD
    load_s = time.perf_counter() - started
    _reset(stats)
    rss_loaded = _rss_mib()
    texts = [article_text(a) for a in spec["articles"]]
    outputs = []
    started = time.perf_counter()
    for text in texts:
        outputs.append(translate.translate(text, LANGUAGE, "en"))
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "import_s": import_s,
        "load_s": load_s,
        "ct2": {k: v for k, v in stats.items() if k != "bounds"},
        "rss_start_mib": rss_start,
        "rss_loaded_mib": rss_loaded,
        "peak_rss_mib": _peak_rss_mib(),
        "settings": got,
        "output_lines": sum(o.count("\n") + 1 for o in outputs),
        "sample": outputs[0][:200],
        "network_attempts": attempts,
    }


def child_project(spec: dict) -> dict:
    attempts = _refuse_network()
    rss_start = _rss_mib()
    stats = _patch_ctranslate2(spec["ratio"])
    started = time.perf_counter()
    from monitor.settings import load_settings
    from monitor.state import StateDB
    from monitor.translate.engine import Engine
    from monitor.translate.sentences import split_sentences

    import_s = time.perf_counter() - started
    data = Path(spec["tmp"]) / "project-data"
    data.mkdir()
    (data / "empty.toml").write_text("")  # not config/monitor.toml of the checkout
    overrides = {
        "data_dir": data,
        "models_dir": Path(spec["packages_dir"]),
        "translation_threads": spec["threads"],
        "translation_beam_size": spec["beam"],
        "translation_compute_type": "int8",
        "translation_max_length_ratio": spec["ratio"],
    }
    settings = load_settings(config_path=data / "empty.toml", overrides=overrides, environ={})
    state = StateDB(settings.state_db_path)  # fresh: nothing cached
    engine = Engine(settings, state)
    model = engine.model_for(LANGUAGE)
    started = time.perf_counter()
    engine.translate(model, [WARMUP_TEXT])  # loads the translator
    load_s = time.perf_counter() - started
    _reset(stats)
    rss_loaded = _rss_mib()
    texts = [article_text(a) for a in spec["articles"]]
    started = time.perf_counter()
    sentences = [s for text in texts for s in split_sentences(text, LANGUAGE)]
    out = engine.translate(model, sentences)
    seconds = time.perf_counter() - started
    fresh = _reset(stats)
    Path(spec["bounds_file"]).write_text(json.dumps(stats["bounds"], ensure_ascii=False))
    started = time.perf_counter()
    sentences_again = [s for text in texts for s in split_sentences(text, LANGUAGE)]
    again = engine.translate(model, sentences_again)
    cached_s = time.perf_counter() - started
    flags: dict[str, int] = {}
    for sentence in out:
        for flag in sentence.flags:
            flags[flag] = flags.get(flag, 0) + 1
    state.close()
    return {
        "seconds": seconds,
        "cached_seconds": cached_s,
        "cached_sentences": sum(s.cached for s in again),
        "cached_ct2_calls": stats["calls"],
        "import_s": import_s,
        "load_s": load_s,
        "ct2": fresh,
        "rss_start_mib": rss_start,
        "rss_loaded_mib": rss_loaded,
        "peak_rss_mib": _peak_rss_mib(),
        "split_sentences": len(sentences),
        "split_matches": sentences == [s for a in spec["articles"] for p in a for s in p],
        "flags": flags,
        "settings": {
            k: v for k, v in settings.model_dump(mode="json").items() if k.startswith("translation")
        },
        "sample": out[0].text[:200],
        "network_attempts": attempts,
    }


CHILDREN = {"install": child_install, "argos": child_argos, "project": child_project}


# --- report -------------------------------------------------------------------------------


def report(result: dict) -> str:
    fig, m, p = result["figures"], result["machine"], result["params"]
    n = fig["sentences"]
    lines = [f"`{result['command']}`", ""]
    lines += [f"{m['cpu_model']}, {m['cores']} cores ({m['usable_cores']} usable), {m['python']}, "
              f"ctranslate2 {m['ctranslate2']}, argostranslate {m['argostranslate']}"]  # fmt: skip
    lines += [f"Model: {p['model']} ({p['model_note']}); {n} sentences in {fig['articles']} "
              f"articles; beam {p['beam']}, int8, {p['threads']} CTranslate2 threads; output "
              f"bound int(input tokens x {p['length_ratio']:g}) + 10.", ""]  # fmt: skip
    lines += ["| path | sentences/s | seconds | peak RSS MiB | speed-up |", "|---|---|---|---|---|"]
    rows = [
        ("(a) argostranslate `translate()`, per article", "argos", 1.0),
        ("(b) `Engine.translate`, batched, empty cache", "batched", fig["speedup"]),
        ("(b) `Engine.translate`, all cached", "cached", fig["cached_speedup"]),
    ]
    for label, key, speedup in rows:
        rss = fig[f"{key if key != 'cached' else 'batched'}_peak_rss_mib"]
        lines.append(f"| {label} | {fig[f'{key}_sentences_per_s']:,.1f} | "
                     f"{fig[f'{key}_seconds']:,.2f} | {rss:,.0f} | {speedup:.2f}x |")  # fmt: skip
    verdict = "PASS" if fig["speedup"] >= TARGET else "FAIL"
    lines += ["", f"Speed-up of (b) over (a): {fig['speedup']:.2f}x, target >= {TARGET:g}x: "
              f"{verdict}.", ""]  # fmt: skip
    lines += ["| detail | (a) argostranslate | (b) batched |", "|---|---|---|"]
    for label, key, fmt in (
        ("input tokens / sentence", "input_tokens_per_sentence", ".1f"),
        ("output tokens / sentence", "output_tokens_per_sentence", ".1f"),
        ("int(input x ratio) + 10 / sentence", "own_bound_tokens_per_sentence", ".1f"),
        ("sentences translated", "ct2_sentences", "d"),
        ("CTranslate2 calls", "ct2_calls", "d"),
        ("CTranslate2 batches", "ct2_batches", "d"),
        ("seconds inside translate_batch", "ct2_seconds", ".2f"),
        ("share of the time in translate_batch", "ct2_share_ratio", ".1%"),
        ("import s", "import_s", ".2f"),
        ("warm-up (translator load) s", "load_s", ".2f"),
        ("RSS after warm-up MiB", "rss_loaded_mib", ",.0f"),
    ):
        a, b = fig[f"argos_{key}"], fig[f"batched_{key}"]
        lines.append(f"| {label} | {a:{fmt}} | {b:{fmt}} |")
    lines += ["", *result["notes"], f"Took {result['total_s']:.1f} s."]
    return "\n".join(lines)


def figures_of(n: int, articles: int, argos: dict, project: dict) -> dict:
    fig: dict = {"sentences": n, "articles": articles}
    for key, r in (("argos", argos), ("batched", project)):
        ct2 = r["ct2"]
        fig[f"{key}_seconds"] = r["seconds"]
        fig[f"{key}_sentences_per_s"] = n / r["seconds"]
        fig[f"{key}_peak_rss_mib"] = r["peak_rss_mib"]
        fig[f"{key}_rss_loaded_mib"] = r["rss_loaded_mib"]
        fig[f"{key}_import_s"] = r["import_s"]
        fig[f"{key}_load_s"] = r["load_s"]
        fig[f"{key}_ct2_sentences"] = ct2["sentences"]
        fig[f"{key}_ct2_calls"] = ct2["calls"]
        fig[f"{key}_ct2_batches"] = ct2["batches"]
        fig[f"{key}_ct2_seconds"] = ct2["seconds"]
        fig[f"{key}_ct2_share_ratio"] = ct2["seconds"] / r["seconds"]
        fig[f"{key}_input_tokens_per_sentence"] = ct2["input_tokens"] / max(1, ct2["sentences"])
        fig[f"{key}_output_tokens_per_sentence"] = ct2["output_tokens"] / max(1, ct2["sentences"])
        fig[f"{key}_own_bound_tokens_per_sentence"] = ct2["own_bound_tokens"] / max(
            1, ct2["sentences"]
        )
    fig["cached_seconds"] = project["cached_seconds"]
    fig["cached_sentences_per_s"] = n / project["cached_seconds"]
    fig["speedup"] = fig["batched_sentences_per_s"] / fig["argos_sentences_per_s"]
    fig["cached_speedup"] = fig["cached_sentences_per_s"] / fig["argos_sentences_per_s"]
    return fig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sentences", type=int, help="sentences (2000; quick 100)")
    parser.add_argument("--threads", type=int, default=2, help="CTranslate2 intra threads (2)")
    parser.add_argument("--beam", type=int, default=4, help="beam size of both paths (4)")
    parser.add_argument("--length-ratio", type=float, default=1.0, help="output bound (1.0)")
    parser.add_argument(
        "--lengths",
        choices=("same", "own"),
        default="same",
        help="argostranslate's output bounds: the ones the project's engine used for each "
        "sentence (same output lengths, default), or the formula on each batch alone (own)",
    )
    parser.add_argument("--quick", action="store_true", help="small model and text, for a test")
    parser.add_argument("--out", type=Path, default=OUT / "translate.json")
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--spec", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        sys.path.insert(0, str(ROOT))
        spec = json.loads(args.spec.read_text(encoding="utf-8"))
        result = CHILDREN[args.child](spec)
        args.result.write_text(json.dumps(result, ensure_ascii=False, indent=2))
        return 0

    n = args.sentences or (100 if args.quick else 2000)
    kind = "quick" if args.quick else "base"
    timeout = 240.0 if args.quick else 3600.0
    faulthandler.dump_traceback_later(timeout, exit=True)  # bounded even if something hangs
    started, load = time.perf_counter(), os.getloadavg()[0]
    sys.path.insert(0, str(ROOT))
    package, build_s, reused = model_file(kind)
    articles = make_articles(make_sentences(n))
    with tempfile.TemporaryDirectory(prefix="monitor-translate-bench-") as name:
        tmp = Path(name)
        spec = {
            "tmp": str(tmp),
            "package_file": str(package),
            "packages_dir": str(tmp / "packages"),
            "threads": args.threads,
            "beam": args.beam,
            "ratio": args.length_ratio,
            "same_lengths": args.lengths == "same",
            "bounds_file": str(tmp / "bounds.json"),
            "articles": articles,
        }
        spec_path = tmp / "spec.json"
        spec_path.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
        env = child_env(tmp, spec)
        install = run_child("install", spec_path, env, timeout)
        project = run_child("project", spec_path, env, timeout)  # first: it records the bounds
        argos = run_child("argos", spec_path, env, timeout)
    faulthandler.cancel_dump_traceback_later()

    fig = figures_of(n, len(articles), argos, project)
    checks = {
        "network_attempts": sum(len(r["network_attempts"]) for r in (install, argos, project)),
        "argos_settings": argos["settings"],
        "project_settings": project["settings"],
        "project_split_matches_generated": project["split_matches"],
        "argos_sentences_match": argos["ct2"]["sentences"] == n,
        "argos_bound_misses": argos["ct2"]["bound_misses"],
        "cached_sentences": project["cached_sentences"],
        "cached_ct2_calls": project["cached_ct2_calls"],
        "project_flags": project["flags"],
        "samples": {"argos": argos["sample"], "project": project["sample"]},
    }
    lengths = (
        "each sentence's bound is the one the project's engine gave it: int(longest input "
        f"tokens of its batch of {project['settings']['translation_batch_size']} x "
        f"{args.length_ratio:g}) + 10 (monitor/translate/engine.py)"
        if args.lengths == "same"
        else f"each batch's bound is int(its longest input tokens x {args.length_ratio:g}) + 10"
    )
    notes = [
        f"Output lengths forced: random weights never emit </s>, so {lengths}. argostranslate "
        "1.11 has no setting for it: in its process a benchmark-only subclass of "
        "ctranslate2.Translator passes max_decoding_length to each batch CTranslate2 makes "
        "of argostranslate's own call (batch_type=tokens, max_batch_size="
        f"{argos['settings']['batch_size']}: {fig['argos_ct2_batches']} batches for "
        f"{fig['argos_ct2_sentences']} sentences).",
        f"Peak RSS: ru_maxrss of each path's own process (argostranslate imports stanza and "
        f"torch: {argos['rss_start_mib']:.0f} MiB before import, "
        f"{fig['argos_rss_loaded_mib']:.0f} MiB after warm-up).",
        f"Network attempts in the child processes: {checks['network_attempts']}.",
    ]
    if not checks["argos_sentences_match"] or not checks["project_split_matches_generated"]:
        notes.append(
            f"WARNING: the splitters did not find the {n} generated sentences: argostranslate "
            f"{argos['ct2']['sentences']}, project {project['split_sentences']}."
        )
    result = {
        "command": shlex.join(sys.orig_argv),
        "machine": pb.machine(TRANSLATE_LIBS),
        "load_average_1min": {"start": load, "end": os.getloadavg()[0]},
        "params": {
            "sentences": n,
            "threads": args.threads,
            "beam": args.beam,
            "length_ratio": args.length_ratio,
            "lengths": args.lengths,
            "model": kind,
            "model_note": "6+6 layers, d_model 512, 8 heads, FFN 2048, 32k vocabulary"
            if kind == "base"
            else "2+2 layers, d_model 128, 4 heads, FFN 512, 4k vocabulary",
            "model_file": str(package),
            "model_build_s": build_s,
            "model_reused": reused,
            "install_s": install["install_s"],
        },
        "figures": fig,
        "checks": checks,
        "notes": notes,
        "total_s": time.perf_counter() - started,
    }
    pb.write_result(result, args.out, report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
