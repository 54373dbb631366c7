"""Command handlers, one module per command group; ``dispatch`` picks one.

Handlers receive the parsed arguments and build what they need through ``open_context``
so that a command that needs no store (``config show``) opens none.
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager

from monitor.context import Context, utc_now
from monitor.cpu import CpuPool, resolve_processes
from monitor.logs import setup_logging
from monitor.settings import Settings, load_settings, parse_set_option
from monitor.state import StateDB
from monitor.store import open_store


def settings_from(args) -> Settings:
    """Settings from file, environment and this command line."""
    overrides = parse_set_option(getattr(args, "set", []))
    for key in ("data_dir", "log_level", "log_format", "shard"):
        if key in args:
            overrides[key] = getattr(args, key)
    settings = load_settings(getattr(args, "config", None), overrides)
    setup_logging(settings.log_level, settings.log_format)
    return settings


@contextmanager
def open_state(settings: Settings):
    """The state database alone (stories, alerts), closed on exit: for commands that read
    nothing from the store, so they work whichever store is configured, and with it down."""
    state = StateDB(settings.state_db_path)
    try:
        yield state
    finally:
        state.close()


@contextmanager
def open_context(settings: Settings, alerts: bool = False):
    """The state database and the store, closed on exit. ``alerts``: a command that keeps
    or translates articles also loads the alert rules (a bad rule stops it), so what it
    keeps is matched too."""
    state = StateDB(settings.state_db_path)
    try:
        store = open_store(settings, state, utc_now)
    except BaseException:
        state.close()
        raise
    ctx = Context(
        settings=settings,
        state=state,
        store=store,
        cpu=CpuPool(resolve_processes(settings.parse_processes), settings.parse_timeout_seconds),
    )
    if settings.translation:
        from monitor.translate.engine import Engine

        ctx.translator = Engine(settings, state)
        ctx.translator.on_batch = ctx.metrics.translated
    try:
        if alerts:
            from monitor.alerts.matching import open_alerter

            ctx.alerts = open_alerter(ctx)
        yield ctx
    finally:
        ctx.close()


def emit_json(obj) -> None:
    """One JSON object on its own line."""
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")


def dispatch(args) -> int:
    """Run the handler of ``args.command``."""
    from monitor.commands import (
        alerts,
        config,
        feeds,
        fulltext,
        kibana,
        models,
        outbox,
        polling,
        quarantine,
        search,
        seed,
        stats,
        status,
        stories,
        translate,
    )

    handlers = {
        "run": polling.run,
        "poll": polling.poll,
        "search": search.search,
        "stats": stats.stats,
        "status": status.status,
        "health": status.health,
        "stories": stories.stories,
        "feeds": feeds.dispatch,
        "seed": seed.dispatch,
        "config": config.dispatch,
        "quarantine": quarantine.dispatch,
        "fulltext": fulltext.dispatch,
        "models": models.dispatch,
        "translate": translate.dispatch,
        "outbox": outbox.dispatch,
        "kibana": kibana.dispatch,
        "alerts": alerts.dispatch,
    }
    return handlers[args.command](args)
