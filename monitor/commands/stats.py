"""``monitor stats``: what is stored, what was dropped, which feeds fail."""

from __future__ import annotations

import json

from monitor.commands import open_context, settings_from
from monitor.errors import StoreUnavailable


def collect(ctx) -> dict:
    """Counts from the store and the state database, as one dict."""
    counters = ctx.state.counters()
    states = ctx.state.feed_states()
    failing = [
        {
            "feed": s["name"],
            "url": s["url"],
            "failure_class": s["failure_class"],
            "consecutive_failures": s["consecutive_failures"],
            "last_error": s["last_error"],
            "next_poll_at": s["next_poll_at"],
            "disabled_reason": s["disabled_reason"],
        }
        for s in sorted(states.values(), key=lambda s: -s["consecutive_failures"])
        if s["consecutive_failures"] or s["disabled_reason"]
    ]
    idle = [
        {"feed": s["name"], "polls": s["polls"], "polls_nothing_new": s["polls_nothing_new"]}
        for s in states.values()
        if s["polls"]
    ]
    try:
        documents, unavailable = ctx.store.counts(), None
    except StoreUnavailable as exc:  # the outbox and the feeds are still worth showing
        documents, unavailable = None, str(exc)
    return {
        "store": ctx.store.name,
        "store_unavailable": unavailable,
        "documents": documents,
        "outbox": ctx.store.waiting(),
        "articles": {
            k.split(".", 1)[1]: v for k, v in counters.items() if k.startswith("articles.")
        },
        "duplicates": sum(v for k, v in counters.items() if k.startswith("articles.dropped_dup")),
        "polls": {k.split(".", 1)[1]: v for k, v in counters.items() if k.startswith("polls.")},
        "feeds_polled": len(states),
        "feeds_failing": failing,
        "feeds_nothing_new": sorted(idle, key=lambda r: -r["polls_nothing_new"]),
        "stories": _one(ctx, "SELECT count(*) FROM stories WHERE merged_into IS NULL"),
        "stories_reported_more_than_once": _one(
            ctx, "SELECT count(*) FROM stories WHERE merged_into IS NULL AND size > 1"
        ),
        "alerts": {
            "recorded": _one(ctx, "SELECT count(*) FROM alerts"),
            "queued_for_matching": _one(ctx, "SELECT count(*) FROM alert_queue"),
            "deliveries": {
                f"{r['channel']} {r['status']}": r["n"]
                for r in ctx.state.db.read(
                    "SELECT channel, status, count(*) AS n FROM alert_deliveries "
                    "GROUP BY channel, status ORDER BY channel, status"
                )
            },
        },
    }


def _one(ctx, sql: str) -> int:
    return ctx.state.db.read(sql)[0][0]


def stats(args) -> int:
    """Print the statistics as text or JSON."""
    with open_context(settings_from(args)) as ctx:
        data = collect(ctx)
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    docs = data["documents"]
    if docs is None:
        print(f"store: {data['store']}, unavailable: {data['store_unavailable']}")
    else:
        print(f"store: {data['store']}, {docs['total']['documents']} documents")
        for group in ("kind", "language", "source", "translation"):
            counts = docs[group].items()
            print(f"  by {group}: " + (", ".join(f"{k} {v}" for k, v in counts) or "-"))
    outbox = data["outbox"]
    if outbox is not None:
        oldest = outbox["oldest_queued_at"] or "-"
        print(
            f"outbox: {outbox['waiting']} writes waiting (oldest {oldest}), "
            f"{outbox['rejected']} rejected (`monitor outbox show`)"
        )
    print(
        "articles: "
        + (", ".join(f"{k} {v}" for k, v in sorted(data["articles"].items())) or "none yet")
    )
    print(f"duplicates seen: {data['duplicates']}")
    print(
        f"stories: {data['stories']}, {data['stories_reported_more_than_once']} reported more "
        "than once (`monitor stories`)"
    )
    alerts = data["alerts"]
    deliveries = ", ".join(f"{k} {v}" for k, v in alerts["deliveries"].items()) or "none"
    print(
        f"alerts: {alerts['recorded']} recorded, {alerts['queued_for_matching']} articles "
        f"waiting to be matched; deliveries: {deliveries}"
    )
    print("polls: " + (", ".join(f"{k} {v}" for k, v in sorted(data["polls"].items())) or "none"))
    print(f"feeds failing: {len(data['feeds_failing'])}")
    for f in data["feeds_failing"]:
        state = (
            f"disabled ({f['disabled_reason']})"
            if f["disabled_reason"]
            else f"{f['consecutive_failures']} failures ({f['failure_class']})"
        )
        print(f"  {f['feed']}: {state}, next poll {f['next_poll_at']}: {f['last_error']}")
    wasted = [r for r in data["feeds_nothing_new"] if r["polls_nothing_new"]]
    if wasted:
        print("polls that found nothing new, by feed:")
        for r in wasted[:10]:
            print(f"  {r['feed']}: {r['polls_nothing_new']} of {r['polls']}")
    return 0
