"""translate: stored non-English documents to English, batched across documents.

Runs after index (the original is searchable within seconds; its English follows) on
the articles a poll just stored, and from the daemon's sweep on every document still
``pending``. A language with no installed package stays ``pending`` with the reason,
never dropped; once the package is installed the sweep translates it. Titles and text
are split into sentences by the project (no download at run time); the English lands
as a partial update of the same document, with its provenance. A document whose
translation fails is marked ``failed`` with the error, quarantined (stage
``translate``, one open row per document) and the batch goes on; ``monitor quarantine
replay`` (or ``monitor translate --retry-failed``) tries it again. A database locked by
another process is no failure: the documents stay ``pending`` for the next sweep.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from typing import Any

from monitor.errors import RetryLater
from monitor.feeds import LANGUAGES
from monitor.translate.models import InstalledModel
from monitor.translate.sentences import split_for_translation

log = logging.getLogger("monitor.translate")
ENGINE = "ctranslate2"


WAITING = "waiting for translation"


def initial_fields(language: str, title: str, text: str, reason: str = WAITING) -> dict[str, Any]:
    """Translation fields of a new document: English is its own translation."""
    if language == "en":
        return {"title_en": title, "text_en": text, "translation_status": "original"}
    return {
        "title_en": "",
        "text_en": "",
        "translation_status": "pending",
        "translation_reason": reason,
    }


def pending_reason(ctx, language: str) -> str:
    """Why an article in ``language`` waits: no model installed, or just its turn."""
    engine = ctx.translator
    if engine is None or engine.model_for(language) is None:
        return _missing(language, engine)
    return WAITING


def translate_documents(ctx, docs: list[dict[str, Any]]) -> Counter:
    """Translate these stored documents and update them; returns outcomes per status."""
    outcomes: Counter = Counter()
    engine = ctx.translator
    by_language: dict[str, list[dict]] = defaultdict(list)
    for doc in docs:
        if doc.get("language") != "en":
            by_language[doc["language"]].append(doc)
    for language, group in by_language.items():
        model = engine.model_for(language) if engine else None
        if model is None:
            reason = _missing(language, engine)
            stale = [doc for doc in group if doc.get("translation_reason") != reason]
            if stale:
                with ctx.store.batch():  # one transaction, not one per document
                    for doc in stale:
                        fields = {"translation_status": "pending", "translation_reason": reason}
                        ctx.store.update(doc["id"], fields)
            outcomes["pending"] += len(group)
            continue
        try:
            outcomes.update(_translate_group(ctx, model, group))
        except RetryLater as exc:  # a database locked: not the documents' fault
            outcomes["retry"] += _retry_later(group, exc)
        except Exception:  # noqa: BLE001 - find the one document that breaks the batch
            for doc in group:
                outcomes.update(_translate_one(ctx, model, doc))
    return outcomes


def _translate_one(ctx, model: InstalledModel, doc: dict) -> Counter:
    try:
        return _translate_group(ctx, model, [doc])
    except RetryLater as exc:
        return Counter(retry=_retry_later([doc], exc))
    except Exception as exc:  # noqa: BLE001 - quarantine this document, keep going
        error = f"{type(exc).__name__}: {exc}"[:500]
        try:
            _failed(ctx, model, doc, error)
        except RetryLater as locked:  # it stays pending: the next sweep tries again
            return Counter(retry=_retry_later([doc], locked))
        return Counter(failed=1)


def _failed(ctx, model: InstalledModel, doc: dict, error: str) -> None:
    """Mark the document failed (its original stays stored and searchable) and keep it
    in quarantine, stage ``translate``, for ``monitor quarantine list|replay``."""
    ctx.store.update(
        doc["id"],
        {
            "translation_status": "failed",
            "translation_error": error,
            "translation_package": model.name,
        },
    )
    qid = ctx.state.quarantine(
        "translate", error, quarantine_payload(doc), doc.get("feed_id") or "", doc["id"], once=True
    )
    log.warning(
        "translation_failed",
        extra={"article_id": doc["id"], "error": error, "quarantine_id": qid},
    )


def quarantine_payload(doc: dict) -> dict[str, Any]:
    """What a translation's quarantine row keeps: which stored document (the store
    holds the rest, and a replay reads it from there)."""
    fields = ("id", "title", "source", "language", "url", "feed_id")
    return {"translation": {key: doc.get(key) or "" for key in fields}}


def replay(ctx, item: dict[str, Any]) -> str:
    """Translate again the stored document of a quarantine row of stage ``translate``;
    its outcome: ``translation_done``, ``translation_failed`` (quarantined again, as a
    new row), ``translation_pending`` (no model for its language now),
    ``translation_retry`` or ``translation_missing`` (the document is no longer stored).
    The row is marked replayed before translating, so that a new failure opens a new row."""
    doc = ctx.store.get(item["payload"]["translation"]["id"])
    ctx.state.mark_replayed(item["id"])
    if doc is None:
        return "translation_missing"
    if doc.get("translation_status") in ("done", "original"):
        return "translation_done"  # meanwhile, by ``monitor translate --retry-failed``
    outcomes = translate_documents(ctx, [doc])
    ctx.store.flush()
    return "translation_" + next(iter(outcomes), "pending")


def _retry_later(group: list[dict], exc: RetryLater) -> int:
    log.warning(
        "translation_retry",
        extra={"documents": len(group), "article_id": group[0]["id"], "reason": str(exc)},
    )
    return len(group)


def _translate_group(ctx, model: InstalledModel, group: list[dict]) -> Counter:
    """One batch for every sentence of every title and text in the group."""
    layouts, flat = [], []
    for doc in group:
        parts = []
        for field in ("title", "text"):
            paragraphs = split_for_translation(doc.get(field) or "", model.from_code)
            parts.append([len(p) for p in paragraphs])
            for paragraph in paragraphs:
                flat.extend(paragraph)
        layouts.append(parts)
    started = time.monotonic()
    english = ctx.translator.translate(model, flat) if flat else []
    seconds = time.monotonic() - started
    total_chars = sum(len(s) for s in flat) or 1
    written = _english_fields(model, group, layouts, flat, english, seconds / total_chars)
    # The stories first, in the state database's own transaction: never while holding
    # the store's (the pipeline takes the state's first; the other order could deadlock).
    stories = [ctx.stories.translated({**doc, **fields}, ctx.clock()) for doc, fields in written]
    if getattr(ctx, "alerts", None) is not None:
        # Rules in English see the translation: queued with the story it now belongs to.
        english = []
        for (doc, fields), story_updates in zip(written, stories, strict=True):
            story = next((c for d, c in story_updates if d == doc["id"]), {})
            english.append({**doc, **fields, **story})
        ctx.alerts.enqueue(english, ctx.clock())
    with ctx.store.batch():  # every document of the batch in one transaction
        for (doc, fields), story_updates in zip(written, stories, strict=True):
            ctx.store.update(doc["id"], fields)
            for doc_id, changes in story_updates:
                ctx.store.update(doc_id, changes)
    return Counter(done=len(group))


def _english_fields(model, group, layouts, flat, english, seconds_per_char: float) -> list:
    """Each document with the fields its translation sets."""
    written = []
    position = 0
    for doc, parts in zip(group, layouts, strict=True):
        fields: dict[str, Any] = {}
        flags: set[str] = set()
        chars = 0
        for field, paragraph_sizes in zip(("title_en", "text_en"), parts, strict=True):
            paragraphs = []
            for size in paragraph_sizes:
                sentences = english[position : position + size]
                chars += sum(len(s) for s in flat[position : position + size])
                position += size
                paragraphs.append(" ".join(s.text for s in sentences))
                flags.update(*(s.flags for s in sentences))
            fields[field] = ("\n\n" if field == "text_en" else " ").join(paragraphs)
        fields.update(
            translation_status="done",
            translation_reason="",
            translation_error="",
            translation_engine=ENGINE,
            translation_package=model.name,
            translation_version=model.version,
            # the batch's time shared by length: per-document cost within one batched call
            translation_seconds=round(seconds_per_char * chars, 4),
            translation_flags=sorted(flags),
        )
        written.append((doc, fields))
    return written


def _missing(language: str, engine) -> str:
    if engine is None:
        return "translation is switched off (setting `translation`)"
    return (
        f"no model installed for {language}→en: `monitor models install {language}` "
        "(or a .argosmodel file; see README, Translation)"
    )


CHUNK = 200  # documents per batch: enough to fill translation batches, bounded memory


PROGRESS_CHUNK = 25  # with a progress bar: it moves every ~25 articles, not every 200


def translate_waiting(ctx, status: str, limit: int, progress=None) -> Counter:
    """Translate up to ``limit`` documents with this translation status, in chunks, one
    language at a time and only languages with a model (the others stay as they are).
    ``progress`` (a ``monitor.progress.Progress``) hears (articles done, articles
    waiting), the total counted first from the store's counts per language and status."""
    outcomes: Counter = Counter()
    languages = [
        code for code in LANGUAGES if code != "en" and ctx.translator.model_for(code) is not None
    ]
    chunk, total, done = CHUNK, 0, 0
    if progress:
        counts = ctx.store.counts().get("translation", {})
        total = sum(min(counts.get(f"{code} {status}", 0), limit) for code in languages)
        chunk = PROGRESS_CHUNK
        if total:
            progress(0, total)
    for language in languages:
        docs = ctx.store.find({"translation_status": status, "language": language}, limit)
        for start in range(0, len(docs), chunk):
            if ctx.stop.is_set():
                return outcomes
            outcomes.update(translate_documents(ctx, docs[start : start + chunk]))
            ctx.store.flush()
            done += len(docs[start : start + chunk])
            if progress:
                progress(done, max(total, done))  # articles stored since the count
    if progress and done and done != total:
        progress(done, done)  # fewer than counted (translated meanwhile by the daemon)
    return outcomes
