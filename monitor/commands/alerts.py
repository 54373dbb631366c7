"""``monitor alerts list|test|history|retry``: the rules, a dry run of a query over the
stored articles, what was sent, and sending again what was given up."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from monitor.alerts import deliver
from monitor.alerts.channels import build_channels
from monitor.alerts.evaluate import matches
from monitor.alerts.lucene import RuleSyntaxError, parse
from monitor.alerts.rules import load_rules
from monitor.commands import emit_json, open_context, open_state, settings_from
from monitor.errors import QueryError
from monitor.store import SearchQuery


def dispatch(args) -> int:
    """Run one ``alerts`` subcommand."""
    settings = settings_from(args)
    handlers = {"list": _list, "test": _test, "history": _history, "retry": _retry}
    return handlers[args.alerts_command](args, settings)


def _list(args, settings) -> int:
    ruleset = load_rules(settings)
    channels = build_channels(ruleset.channels, settings)  # checks every option
    rules = [
        {
            "name": r.name,
            "query": r.query,
            "languages": list(r.languages),
            "sources": list(r.sources),
            "channels": list(r.channels),
            "throttle_hours": r.throttle_hours,
        }
        for r in ruleset.rules
    ]
    described = {name: channel.describe() for name, channel in channels.items()}
    if args.json:
        print(json.dumps({"file": str(ruleset.path or ""), "rules": rules,
                          "channels": described}, ensure_ascii=False, indent=2))  # fmt: skip
        return 0
    if ruleset.path is None:
        print(f"no alerts file at {settings.alerts_file}: no rules (README, Alerts)")
    else:
        print(f"{len(rules)} rules in {ruleset.path}")
    for rule in rules:
        filters = [f"lang {','.join(rule['languages'])}"] if rule["languages"] else []
        filters += [f"source {','.join(rule['sources'])}"] if rule["sources"] else []
        print(f"\n{rule['name']}: {rule['query']}")
        print(
            f"    → {', '.join(rule['channels'])}; once per story per "
            f"{rule['throttle_hours']:g} h" + (f"; {'; '.join(filters)}" if filters else "")
        )
    print("\nchannels:")
    for name, text in described.items():
        print(f"    {name}: {text}")
    return 0


def _test(args, settings) -> int:
    if args.limit < 1 or args.scan < 1:
        raise QueryError("--limit and --scan must be 1 or more")
    try:
        node = parse(args.query)
    except RuleSyntaxError as exc:
        raise QueryError(f"{exc}\n    {args.query}\n    {' ' * exc.position}^") from None
    with open_context(settings) as ctx:
        docs = ctx.store.search(SearchQuery(limit=args.scan, sort="date", kinds=("article",)))
    found = []
    for doc in docs.hits:
        terms = matches(node, doc)
        if terms is not None:
            found.append((doc, terms))
    if args.json:
        for doc, terms in found[: args.limit]:
            emit_json({k: doc.get(k) for k in ("id", "title", "title_en", "language", "source",
                                               "published", "url", "story_id")}
                      | {"matched_terms": terms})  # fmt: skip
        return 0
    print(f"{len(found)} of the newest {len(docs.hits)} articles match" + (
        f", showing {min(len(found), args.limit)}" if found else ""))  # fmt: skip
    for doc, terms in found[: args.limit]:
        print(f"\n[{doc['language']}] {doc['title']}")
        if doc.get("title_en") and doc["language"] != "en":
            print(f"    {doc['title_en']}")
        print(f"    {doc['source']} · {doc['published']} · matched: {', '.join(terms)}")
    return 0


def _history(args, settings) -> int:
    with open_state(settings) as state:
        items = deliver.history(state, args.limit)
    if args.json:
        for item in items:
            emit_json(item)
        return 0
    print(f"{len(items)} alerts, newest first")
    for item in items:
        alert = item["alert"]
        print(f"\n{item['created_at']} {item['rule']}: {alert.get('title_en') or alert['title']}")
        print(f"    {alert['source']} [{alert['language']}] · story {item['story_id']}")
        for d in item["deliveries"]:
            error = f" ({d['last_error']})" if d["last_error"] and d["status"] != "sent" else ""
            print(f"    {d['channel']}: {d['status']}, {d['attempts']} attempts{error}")
    return 0


def _retry(args, settings) -> int:
    with open_state(settings) as state:
        count = deliver.retry_failed(state, datetime.now(UTC), args.channel)
    print(f"{count} failed deliveries queued again; the daemon sends them within seconds")
    return 0
