"""``monitor run`` and ``monitor poll --once``."""

from __future__ import annotations

import logging

from monitor.commands import emit_json, open_context, settings_from
from monitor.daemon import Daemon
from monitor.errors import StartupError
from monitor.feeds import find_feed

log = logging.getLogger("monitor.daemon")


def run(args) -> int:
    """Run the daemon until a signal stops it."""
    settings = settings_from(args)
    with open_context(settings, alerts=True) as ctx:
        daemon = Daemon(ctx)
        if not daemon.feed_list.feeds:
            log.warning("no_feeds", extra={"feeds_file": str(settings.feeds_file)})
        daemon.run()
    return 0


def poll(args) -> int:
    """Poll due feeds (or the named ones) once, print a line per feed, exit."""
    settings = settings_from(args)
    with open_context(settings, alerts=True) as ctx:
        daemon = Daemon(ctx)
        names = [find_feed(daemon.feed_list.feeds, n).name for n in args.feed or []]
        try:
            reports = daemon.poll_once(names or None)
        finally:
            daemon.close()
        if ctx.alerts is not None:  # deliver what this pass matched before exiting
            ctx.alerts.run(force=True)
    if not reports and not args.json:
        print("no feed was due; use --feed NAME to poll one anyway")
    for r in sorted(reports, key=lambda r: r.feed.name):
        row = {
            "feed": r.feed.name,
            "outcome": r.outcome,
            "status": r.status,
            "entries": r.entries,
            "stored": r.stored,
            "articles": dict(r.articles),
            "error": r.error,
            "next_poll_at": r.next_poll_at,
            "seconds": r.seconds,
        }
        if args.json:
            emit_json(row)
        else:
            extra = f" error: {r.error}" if r.error else ""
            extra += f" warning: {r.warning.strip()}" if r.warning else ""
            print(
                f"{r.feed.name}: {r.outcome} ({r.status or '-'}), {r.entries} entries, "
                f"{r.stored} new, next poll {r.next_poll_at:%Y-%m-%d %H:%M}Z{extra}"
            )
    if args.feed and not reports:
        raise StartupError("the named feeds were not polled")
    return 0
