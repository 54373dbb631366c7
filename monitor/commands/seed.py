"""``monitor seed load [DIR]``: index the seed corpus, idempotently."""

from __future__ import annotations

from pathlib import Path

from monitor.commands import open_context, settings_from
from monitor.progress import bars
from monitor.seed import load_seed


def dispatch(args) -> int:
    """Load the seed corpus and say how many documents were new."""
    with open_context(settings_from(args)) as ctx, bars() as bar:
        report = load_seed(ctx, Path(args.dir) if args.dir else None, bar("seed", "files"))
    print(
        f"seed corpus: {report.files} files, {report.created} new, {report.existing} already stored"
    )
    return 0
