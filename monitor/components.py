"""The daemon's start-up lines: which parts are on, and why the others are off.

Off is not broken (STYLE.md, 7): a missing model, no alert rules or no Kibana each get
one ``component`` line that says which setting or command turns the part on.
"""

from __future__ import annotations

from monitor.stages.translate import pending_reason as translate_reason


def component_lines(daemon) -> list[tuple[str, bool, str]]:
    """``(component, on, why)`` for each part that can be off."""
    settings = daemon.ctx.settings
    full_text = sum(
        1
        for f in daemon.feed_list.feeds
        if (settings.full_text if f.full_text is None else f.full_text)
    )
    store = daemon.ctx.store
    outbox = store.waiting()
    if outbox is None:
        where = (True, f"embedded, {settings.store_db_path}")
    else:
        ilm = getattr(store, "ilm", None)
        where = (
            True,
            f"{settings.elasticsearch_url} alias {settings.elasticsearch_index}"
            + ("" if ilm is None else f", rollover {'on' if ilm else 'off (no ILM)'}")
            + f", outbox {outbox['waiting']} waiting",
        )
    lines = [
        (f"store {store.name}", *where),
        (
            "full_text",
            full_text > 0,
            f"{full_text} feeds fetch article pages"
            if full_text
            else "no feed has full_text on (setting `full_text`)",
        ),
    ]
    lines.append(
        (
            "stories",
            True,
            f"similarity {settings.story_similarity} within a language, "
            f"{settings.story_similarity_across_languages} across (English), "
            f"window {settings.story_window_days} days, "
            f"{daemon.ctx.stories.signatures_in_memory()} signatures in memory",
        )
    )
    lines.append(("alerts", *_alerts(daemon)))
    lines.append(
        (
            "endpoint",
            daemon.endpoint is not None,
            f"/healthz and /metrics at {daemon.endpoint.address}"
            if daemon.endpoint
            else "`http_port` is 0",
        )
    )
    lines.append(
        (
            "shard",
            bool(settings.shard),
            f"{settings.shard}: {len(daemon.feed_list.feeds)} of the feeds"
            if settings.shard
            else "every feed (setting `shard`)",
        )
    )
    for code in ("ru", "hy", "az", "fa"):
        model = daemon.ctx.translator.model_for(code) if daemon.ctx.translator else None
        why = f"{model.name} {model.version}" if model else translate_reason(daemon.ctx, code)
        lines.append((f"translation {code}→en", model is not None, why))
    return lines


def _alerts(daemon) -> tuple[bool, str]:
    settings, alerts = daemon.ctx.settings, daemon.ctx.alerts
    if alerts is None:
        if not settings.alerts_file.exists():
            return False, f"no rules file at {settings.alerts_file} (setting `alerts_file`)"
        return False, f"{settings.alerts_file} has no [[rules]]"
    channels = ", ".join(f"{n} ({c.describe()})" for n, c in alerts.channels.items())
    link = settings.alert_link_base or "no Kibana links (setting `kibana_public_url`)"
    return True, f"{len(alerts.rules)} rules from {settings.alerts_file}; {channels}; {link}"
