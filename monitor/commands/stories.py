"""``monitor stories [STORY_ID]``: the stories of the last day (or any span), biggest
first, or one story with everyone who reported it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from monitor.commands import emit_json, open_state, settings_from
from monitor.commands.search import parse_when
from monitor.errors import QueryError
from monitor.state import StateDB
from monitor.stories.listing import list_stories, story_detail


def stories(args) -> int:
    """List stories, or show one."""
    if args.limit < 1 or args.min_size < 1:
        raise QueryError("--limit and --min-size must be 1 or more")
    settings = settings_from(args)
    with open_state(settings) as state:  # stories live in the state database only
        if args.story:
            return _show(state, args)
        since = parse_when(args.since, datetime.now(UTC))
        found = list_stories(state, since, args.min_size, args.limit)
    if args.json:
        for story in found:
            emit_json(story)
        return 0
    print(f"{len(found)} stories since {args.since}" + (" (biggest first)" if found else ""))
    for story in found:
        title = story["title_en"] or story["title"]
        print(f"\n{story['size']:>4} × {title}")
        print(
            f"       {', '.join(story['languages'])} · {_sources(story['sources'])} · "
            f"{story['first_at']} → {story['last_at']} · {story['story_id']}"
        )
    return 0


def _show(state: StateDB, args) -> int:
    story = story_detail(state, args.story)
    if story is None:
        raise QueryError(f"no story {args.story!r}; `monitor stories` lists them")
    if args.json:
        print(json.dumps(story, ensure_ascii=False, indent=2))
        return 0
    print(f"story {story['story_id']}: {story['size']} reports")
    print(f"first {story['first_at']}, last {story['last_at']}")
    if story["related_seed_ids"]:
        print(f"background: {', '.join(story['related_seed_ids'])}")
    for member in story["members"]:
        print(f"\n[{member['language']}] {member['title']}")
        if member["title_en"] and member["language"] != "en":
            print(f"     {member['title_en']}")
        print(f"     {member['source']} · {member['added_at']} · {member['article_id']}")
        if member["url"]:
            print(f"     {member['url']}")
    return 0


def _sources(sources: list[str], shown: int = 3) -> str:
    more = len(sources) - shown
    return ", ".join(sources[:shown]) + (f" +{more} more" if more > 0 else "")
