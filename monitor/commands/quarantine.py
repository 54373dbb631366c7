"""``monitor quarantine list|replay``: articles that broke a stage, kept aside."""

from __future__ import annotations

from monitor.commands import emit_json, open_context, settings_from
from monitor.pipeline import replay_quarantined


def dispatch(args) -> int:
    """List or replay quarantined articles."""
    with open_context(settings_from(args), alerts=True) as ctx:
        if args.quarantine_command == "replay":
            outcomes = replay_quarantined(ctx)
            print("replayed: " + (", ".join(f"{k} {v}" for k, v in outcomes.items()) or "nothing"))
            return 0
        items = ctx.state.quarantined()
        for item in items:
            entry = item["payload"]["entry"]
            row = {
                "id": item["id"],
                "at": item["at"],
                "stage": item["stage"],
                "error": item["error"],
                "feed": item["payload"]["feed"]["name"],
                "title": entry.get("title", ""),
                "link": entry.get("link", ""),
            }
            if args.json:
                emit_json(row)
            else:
                print(
                    f"#{row['id']} {row['at']} [{row['feed']}] stage={row['stage']}: "
                    f"{row['error']}\n    {row['title'][:100]} {row['link']}"
                )
        if not items and not args.json:
            print("quarantine is empty")
    return 0
