"""``monitor outbox show|flush|retry``: the writes that wait for Elasticsearch."""

from __future__ import annotations

import json

from monitor.commands import open_context, settings_from
from monitor.errors import StartupError


def dispatch(args) -> int:
    """Show, send or re-queue the outbox."""
    settings = settings_from(args)
    if not settings.uses_elasticsearch:
        raise StartupError(
            "the embedded store writes at once and has no outbox; the outbox is used with "
            "elasticsearch_url (MONITOR_ELASTICSEARCH_URL)"
        )
    with open_context(settings) as ctx:
        store = ctx.store
        if args.outbox_command == "retry":
            print(f"{store.outbox.retry_rejected()} rejected writes queued again")
            return 0
        if args.outbox_command == "flush":
            sent = store.flush(force=True)
            depth = store.waiting()
            print(
                "sent: "
                + (", ".join(f"{k} {v}" for k, v in sent.items()) or "nothing")
                + f"; still waiting: {depth['waiting']}"
                + (f" (last error: {depth['last_error']})" if depth["waiting"] else "")
            )
            return 0
        data = {**store.waiting(), "rejected_writes": store.outbox.rejected()}
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    print(
        f"waiting: {data['waiting']} (oldest {data['oldest_queued_at'] or '-'}), "
        f"rejected: {data['rejected']}"
    )
    if data["last_error"]:
        print(f"last error: {data['last_error']}")
    for row in data["rejected_writes"]:
        print(
            f"  #{row['seq']} {row['op']} {row['doc_id']} at {row['rejected_at']}: "
            f"{row['last_error']}"
        )
    return 0
