"""Sentences to English through CTranslate2, on the files of installed Argos packages.

One translator per language pair is loaded on first use and kept (a cold start costs
over a second). Sentences are translated in batches sorted by length, with the output
bounded against the input (``translation_max_length_ratio``) so that a model looping on
a phrase (argos #444) stops, and such outputs are flagged. A cache in the state
database, keyed by pair, package version and sentence, means a repeated sentence (a
boilerplate line, a re-published story) is translated once. No network is used here.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from monitor.translate.models import InstalledModel, find_model, models_dir, use_models_dir

log = logging.getLogger("monitor.translate")
REPEAT_MIN_RUN = 4  # a 1-3 token group repeated this many times in a row is a loop


@dataclass
class Sentence:
    """One translated sentence and what happened to it."""

    text: str
    cached: bool = False
    flags: set[str] = field(default_factory=set)  # "repetition", "cut_at_max_length"


@dataclass
class _Loaded:
    model: InstalledModel
    translator: object
    source: object
    target: object
    lock: threading.Lock = field(default_factory=threading.Lock)


class Engine:
    """The translators of the installed packages, loaded lazily and kept."""

    def __init__(self, settings, state):
        self.settings = settings
        self.state = state
        self.dir = models_dir(settings)
        use_models_dir(self.dir)
        self._loaded: dict[str, _Loaded] = {}
        self._lock = threading.Lock()
        self._stamp = self._dir_stamp()
        # Hears (source language, seconds) of each model batch: the daemon's metrics.
        self.on_batch: Callable[[str, float], None] | None = None

    def model_for(self, language: str) -> InstalledModel | None:
        """The installed package for ``language``→en, or None."""
        return find_model(self.dir, language, "en")

    def changed(self) -> bool:
        """True when packages were installed or removed since the last call."""
        stamp = self._dir_stamp()
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        with self._lock:  # a newer version replaces the loaded one on next use
            self._loaded.clear()
        return True

    def translate(self, model: InstalledModel, sentences: list[str]) -> list[Sentence]:
        """English for each sentence, in order (cache first, then batched CTranslate2)."""
        keys = [self._key(model, s) for s in sentences]
        cached = self.state.cached_translations(keys)
        todo = sorted(
            {k: s for k, s in zip(keys, sentences, strict=True) if k not in cached}.items(),
            key=lambda item: len(item[1]),
        )
        fresh: dict[str, Sentence] = {}
        if todo:
            loaded = self._load(model)
            done = self._run(loaded, [s for _, s in todo])
            fresh = {k: out for (k, _), out in zip(todo, done, strict=True)}
            self.state.cache_translations({k: out.text for k, out in fresh.items()})
        return [fresh[k] if k in fresh else Sentence(cached[k], cached=True) for k in keys]

    def _run(self, loaded: _Loaded, sentences: list[str]) -> list[Sentence]:
        settings = self.settings
        tokens = loaded.source.encode(sentences, out_type=str)
        out: list[Sentence] = []
        size = settings.translation_batch_size
        for start in range(0, len(tokens), size):
            chunk = tokens[start : start + size]
            # Sorted by length, so one bound fits the chunk without freeing long inputs.
            bound = int(max(len(t) for t in chunk) * settings.translation_max_length_ratio) + 10
            started = time.monotonic()
            with loaded.lock:
                results = loaded.translator.translate_batch(
                    chunk,
                    max_batch_size=size,
                    beam_size=settings.translation_beam_size,
                    max_decoding_length=bound,
                    return_scores=False,
                )
            if self.on_batch is not None:
                self.on_batch(loaded.model.from_code, time.monotonic() - started)
            for result in results:
                hyp = result.hypotheses[0]
                flags = set()
                if len(hyp) >= bound:
                    flags.add("cut_at_max_length")
                if _loops(hyp):
                    flags.add("repetition")
                out.append(Sentence(loaded.target.decode(hyp), flags=flags))
        return out

    def _load(self, model: InstalledModel) -> _Loaded:
        with self._lock:
            loaded = self._loaded.get(model.pair)
            if loaded and loaded.model == model:
                return loaded
            import ctranslate2
            import sentencepiece

            started = time.monotonic()
            threads = self.settings.translation_threads or (os.cpu_count() or 1)
            translator = ctranslate2.Translator(
                str(model.model_dir),
                device="cpu",
                compute_type=self.settings.translation_compute_type,
                inter_threads=1,
                intra_threads=threads,
            )
            loaded = _Loaded(
                model,
                translator,
                sentencepiece.SentencePieceProcessor(model_file=str(model.spm("source"))),
                sentencepiece.SentencePieceProcessor(model_file=str(model.spm("target"))),
            )
            self._loaded[model.pair] = loaded
            log.info(
                "translator_loaded",
                extra={
                    "pair": model.pair,
                    "package": model.name,
                    "package_version": model.version,
                    "load_seconds": round(time.monotonic() - started, 3),
                },
            )
            return loaded

    def _key(self, model: InstalledModel, sentence: str) -> str:
        raw = f"{model.pair}\x1f{model.name}\x1f{model.version}\x1f{sentence}"
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]

    def _dir_stamp(self) -> tuple:
        if not self.dir.is_dir():
            return ()
        return tuple(
            sorted((p.name, p.stat().st_mtime_ns) for p in self.dir.glob("*/metadata.json"))
        )


def _loops(tokens: list[str]) -> bool:
    """A group of 1-3 tokens repeated REPEAT_MIN_RUN times in a row."""
    for n in (1, 2, 3):
        for offset in range(n):
            run = 1
            for i in range(offset + n, len(tokens) - n + 1, n):
                run = run + 1 if tokens[i : i + n] == tokens[i - n : i] else 1
                if run >= REPEAT_MIN_RUN:
                    return True
    return False
