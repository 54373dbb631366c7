"""``monitor translate --pending|--retry-failed``."""

from __future__ import annotations

from collections import Counter

from monitor.commands import open_context, settings_from
from monitor.errors import StartupError
from monitor.feeds import LANGUAGES
from monitor.stages.translate import translate_documents

CHUNK = 200  # documents per batch: enough to fill translation batches, bounded memory


def dispatch(args) -> int:
    """Translate pending (or failed) documents with the installed packages."""
    status = "failed" if args.retry_failed else "pending"
    with open_context(settings_from(args)) as ctx:
        if ctx.translator is None:
            raise StartupError("translation is off (setting `translation`); turn it on first")
        outcomes = translate_all(ctx, status, args.limit)
    print(
        f"{status}: "
        + (", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())) or "nothing to translate")
    )
    return 0


def translate_all(ctx, status: str, limit: int) -> Counter:
    """Translate up to ``limit`` documents with this translation status, in chunks, one
    language at a time and only languages with a model (the others stay as they are)."""
    outcomes: Counter = Counter()
    for language in LANGUAGES:
        if language == "en" or ctx.translator.model_for(language) is None:
            continue
        docs = ctx.store.find({"translation_status": status, "language": language}, limit)
        for start in range(0, len(docs), CHUNK):
            if ctx.stop.is_set():
                return outcomes
            outcomes.update(translate_documents(ctx, docs[start : start + CHUNK]))
    return outcomes
