"""``monitor feeds list|check|import-opml``."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

from monitor.article import Article, FeedRef
from monitor.commands import emit_json, open_context, settings_from
from monitor.errors import DropArticle, StartupError
from monitor.feeds import LANGUAGES, Feed, import_opml, load_feeds
from monitor.stages import detect_language, normalize, parse
from monitor.stages.fetch import Fetcher, FetchError


def dispatch(args) -> int:
    """Run a ``feeds`` subcommand."""
    handler = {"list": list_feeds, "check": check, "import-opml": import_file}
    return handler[args.feeds_command](args)


def list_feeds(args) -> int:
    """Every feed with its language, interval and last poll."""
    settings = settings_from(args)
    feeds = load_feeds(settings.feeds_file, settings.imported_feeds_path)
    with open_context(settings) as ctx:
        states = ctx.state.feed_states()
    for feed in feeds:
        state = states.get(feed.feed_id, {})
        row = {
            "name": feed.name,
            "url": feed.url,
            "language": feed.language,
            "country": feed.country,
            "category": feed.category,
            "poll_interval_minutes": feed.poll_interval_minutes or settings.poll_interval_minutes,
            "enabled": feed.enabled,
            "feed_id": feed.feed_id,
            "last_success_at": state.get("last_success_at"),
            "next_poll_at": state.get("next_poll_at"),
            "consecutive_failures": state.get("consecutive_failures", 0),
            "items_new": state.get("items_new", 0),
        }
        if args.json:
            emit_json(row)
        else:
            status = (
                "never polled"
                if not state
                else (
                    f"last ok {row['last_success_at'] or 'never'}, "
                    f"{row['consecutive_failures']} failures, {row['items_new']} articles"
                )
            )
            off = "" if feed.enabled else " [disabled in feeds file]"
            print(
                f"{feed.name} [{feed.language}/{feed.country or '-'}] every "
                f"{row['poll_interval_minutes']:g} min{off}\n    {feed.url}\n    {status}"
            )
    if not args.json:
        print(
            f"\n{len(feeds)} feeds from {settings.feeds_file}"
            + (
                f" and {settings.imported_feeds_path}"
                if settings.imported_feeds_path.exists()
                else ""
            )
        )
    return 0


def check(args) -> int:
    """Fetch and parse one feed and show what would be stored; writes nothing."""
    settings = settings_from(args)
    fetcher = Fetcher(settings, threading.Event())
    try:
        result = fetcher.fetch(args.url)
    except FetchError as exc:
        raise StartupError(f"{args.url}: {exc.kind}: {exc}") from None
    finally:
        fetcher.close()
    try:
        parsed = parse.parse(result.body, result.headers, result.url, settings.max_entries_per_feed)
    except parse.MalformedFeed as exc:
        raise StartupError(f"{args.url}: not a feed: {exc}") from None
    own = (parsed.language or "").lower()[:2]
    language = args.language or (own if own in LANGUAGES else "en")
    ref = FeedRef("check", "check", args.url, language)
    ctx = SimpleNamespace(settings=settings)
    now = datetime.now(UTC)
    if not args.json:
        print(
            f"{args.url}: HTTP {result.status}, {len(result.body)} bytes, {parsed.version or '?'}"
            f", {len(parsed.entries)} entries, declared language {language}"
        )
        if parsed.bozo:
            print(f"  warning: feed is not well-formed: {parsed.bozo}")
    for entry in parsed.entries[: args.limit]:
        article = Article(ref, entry, now)
        try:
            normalize.run(article, ctx)
        except DropArticle as drop:
            print(f"  (dropped: {drop.reason})")
            continue
        detect_language.run(article, ctx)
        doc = article.document()
        if args.json:
            emit_json({k: v for k, v in doc.items() if k not in ("feed_id", "source")})
        else:
            lang = doc["language"] + (f" (declared {language})" if doc["language_mismatch"] else "")
            print(
                f"\n  [{lang}] {doc['title']}\n    {doc['url']}\n    published "
                f"{doc['published']} ({doc['published_source']}), id {doc['id']}\n"
                f"    {doc['text'][:200]}"
            )
    return 0


def import_file(args) -> int:
    """Add an OPML file's feeds to the data folder's imported feeds."""
    settings = settings_from(args)
    existing = load_feeds(settings.feeds_file)
    added, skipped = import_opml(
        Path(args.file), settings.imported_feeds_path, existing, args.language
    )
    for feed in added:
        print(f"added: {feed.name} [{feed.language}] {feed.url}")
    for line in skipped:
        print(f"skipped: {line}")
    print(f"{len(added)} feeds added to {settings.imported_feeds_path}, {len(skipped)} skipped")
    return 0


__all__ = ["Feed"]
