"""``monitor translate --pending|--retry-failed``."""

from __future__ import annotations

from monitor.commands import open_context, settings_from
from monitor.errors import StartupError
from monitor.progress import bars
from monitor.stages.translate import translate_waiting


def dispatch(args) -> int:
    """Translate pending (or failed) documents with the installed packages."""
    status = "failed" if args.retry_failed else "pending"
    with open_context(settings_from(args), alerts=True) as ctx:
        if ctx.translator is None:
            raise StartupError("translation is off (setting `translation`); turn it on first")
        with bars() as bar:
            outcomes = translate_waiting(
                ctx, status, args.limit, bar(f"translate {status}", "articles")
            )
    print(
        f"{status}: "
        + (", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())) or "nothing to translate")
    )
    return 0
