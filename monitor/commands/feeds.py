"""``monitor feeds list|check|import-opml``."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

from monitor.article import Article, FeedRef
from monitor.commands import emit_json, open_context, settings_from
from monitor.cpu import CpuPool
from monitor.errors import DropArticle, StartupError
from monitor.feeds import LANGUAGES, Feed, import_opml, load_feeds
from monitor.stages import detect_language, normalize, parse
from monitor.stages.fetch import Fetcher, FetchError
from monitor.stages.fulltext import Pages, use_page


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


FULL_TEXT_CHECKS = 3  # pages fetched by `feeds check --full-text`: a look, not a crawl


def check(args) -> int:
    """Fetch and parse one feed and show what would be stored; writes nothing."""
    settings = settings_from(args)
    fetcher = Fetcher(settings, threading.Event())
    try:
        return _check(args, settings, fetcher)
    finally:
        fetcher.close()


def _check(args, settings, fetcher: Fetcher) -> int:
    try:
        result = fetcher.fetch(args.url)
    except FetchError as exc:
        raise StartupError(f"{args.url}: {exc.kind}: {exc}") from None
    try:
        parsed = parse.parse(result.body, result.headers, result.url, settings.max_entries_per_feed)
    except parse.MalformedFeed as exc:
        raise StartupError(f"{args.url}: not a feed: {exc}") from None
    own = (parsed.language or "").lower()[:2]
    language = args.language or (own if own in LANGUAGES else "en")
    ref = FeedRef("check", "check", args.url, language, full_text=args.full_text)
    ctx = SimpleNamespace(settings=settings)
    pages = Pages(fetcher, settings, CpuPool(0)) if args.full_text else None
    now = datetime.now(UTC)
    if not args.json:
        print(
            f"{args.url}: HTTP {result.status}, {len(result.body)} bytes, {parsed.version or '?'}"
            f", {len(parsed.entries)} entries, declared language {language}"
        )
        if parsed.bozo:
            print(f"  warning: feed is not well-formed: {parsed.bozo}")
    for index, entry in enumerate(parsed.entries[: args.limit]):
        article = Article(ref, entry, now)
        try:
            normalize.run(article, ctx)
        except DropArticle as drop:
            print(f"  (dropped: {drop.reason})")
            continue
        detect_language.run(article, ctx)
        if pages and index < FULL_TEXT_CHECKS:
            use_page(article, ctx, *pages.text_of(article.normalized.url))
        _show(article.document(), language, args.json)
    return 0


def _show(doc: dict, language: str, as_json: bool) -> None:
    if as_json:
        emit_json({k: v for k, v in doc.items() if k not in ("feed_id", "source")})
        return
    lang = doc["language"] + (f" (declared {language})" if doc["language_mismatch"] else "")
    print(
        f"\n  [{lang}] {doc['title']}\n    {doc['url']}\n    published "
        f"{doc['published']} ({doc['published_source']}), id {doc['id']}"
    )
    if doc["fulltext_status"] != "off":
        print(
            f"    text from the {doc['text_source']}: {doc['fulltext_status']}, "
            f"{len(doc['text'])} characters (feed: {len(doc['summary'])})"
        )
    print(f"    {doc['text'][:300]}")


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
