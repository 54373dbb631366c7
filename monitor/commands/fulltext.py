"""``monitor fulltext --retry-failed``: fetch again the pages that failed."""

from __future__ import annotations

import threading

from monitor.commands import open_context, settings_from
from monitor.pipeline import retry_fulltext
from monitor.progress import bars
from monitor.stages.fetch import Fetcher
from monitor.stages.fulltext import Pages


def dispatch(args) -> int:
    """Retry the pages of stored articles whose page fetch or extraction failed."""
    with open_context(settings_from(args)) as ctx:
        fetcher = Fetcher(ctx.settings, threading.Event())
        ctx.pages = Pages(fetcher, ctx.settings, ctx.cpu)
        try:
            with bars() as bar:
                outcomes = retry_fulltext(ctx, args.limit, bar("retry pages", "pages"))
        finally:
            fetcher.close()
    total = sum(outcomes.values())
    print(
        f"retried {total} pages: "
        + (", ".join(f"{k} {v}" for k, v in outcomes.items()) or "none had failed")
    )
    return 0
