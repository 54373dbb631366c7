"""``monitor search``: query the store from the command line."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from monitor.commands import emit_json, open_context, settings_from
from monitor.errors import QueryError
from monitor.store import SearchQuery

_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
JSON_FIELDS = ("id", "url", "title", "title_en", "language", "source", "published", "kind")


def parse_when(value: str | None, now: datetime) -> datetime | None:
    """``24h``/``7d``/``90m``/``2w`` ago, or an ISO date or date-time (UTC if no zone)."""
    if not value:
        return None
    match = _RELATIVE.match(value)
    if match:
        return now - timedelta(**{_UNITS[match[2]]: float(match[1])})
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise QueryError(
            f"cannot read the time {value!r}; use 24h, 7d, 90m, 2w or an ISO date "
            "such as 2026-11-01"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def search(args) -> int:
    """Print hits, one block each, or one JSON object a line with ``--json``."""
    if args.limit < 1 or args.page < 1:
        raise QueryError("--limit and --page must be 1 or more")
    now = datetime.now(UTC)
    query = SearchQuery(
        text=args.query,
        languages=tuple(args.lang or ()),
        sources=tuple(args.source or ()),
        kinds=tuple(args.kind or ()),
        since=parse_when(args.since, now),
        until=parse_when(args.until, now),
        limit=args.limit,
        offset=(args.page - 1) * args.limit,
        sort=args.sort,
    )
    with open_context(settings_from(args)) as ctx:
        result = ctx.store.search(query)
    if args.json:
        for hit in result.hits:
            emit_json(
                {
                    **{k: hit.get(k) for k in JSON_FIELDS},
                    **{k: v for k, v in hit.items() if k not in JSON_FIELDS and k != "text"},
                }
            )
        return 0
    first = query.offset + 1
    last = query.offset + len(result.hits)
    print(f"{result.total} hits" + (f", showing {first}-{last}" if result.hits else ""))
    for hit in result.hits:
        print(f"\n[{hit['language']}] {hit['title']}")
        print(f"    {hit['source']} · {hit['published']} · {hit['kind']} · {hit['id']}")
        if hit.get("url"):
            print(f"    {hit['url']}")
        if hit.get("snippet"):
            print(f"    {' '.join(hit['snippet'].split())}")
    return 0
