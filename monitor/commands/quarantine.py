"""``monitor quarantine list|replay``: articles that broke a stage, kept aside, and
stored documents whose translation failed (stage ``translate``)."""

from __future__ import annotations

from typing import Any

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
            row = describe(item)
            if args.json:
                emit_json(row)
            else:
                stored = row["stage"] == "translate"  # the original is stored
                what = f"{row['link']} (document {row['article_id']})" if stored else row["link"]
                print(
                    f"#{row['id']} {row['at']} [{row['feed']}] stage={row['stage']}: "
                    f"{row['error']}\n    {row['title'][:100]} {what}"
                )
        if not items and not args.json:
            print("quarantine is empty")
    return 0


def describe(item: dict[str, Any]) -> dict[str, Any]:
    """One quarantine row as the list shows it. An article that broke a stage before it
    was kept carries its feed and raw entry; a stored document whose translation failed
    carries the document's id, title and source (the store holds the rest)."""
    payload = item["payload"]
    row = {
        "id": item["id"],
        "at": item["at"],
        "stage": item["stage"],
        "error": item["error"],
        "article_id": item["article_id"],
    }
    if "translation" in payload:
        doc = payload["translation"]
        return {**row, "feed": doc["source"], "title": doc["title"], "link": doc["url"]}
    entry = payload["entry"]
    return {
        **row,
        "feed": payload["feed"]["name"],
        "title": entry.get("title", ""),
        "link": entry.get("link", ""),
    }
