"""The one place that knows the order of the stages.

``poll_feed`` fetches and parses one feed, runs every entry through ``STAGES``, and
records the poll and the next poll time in one transaction. Each article ends in
exactly one counted outcome: ``stored``, ``dropped_<reason>``, ``retry`` or
``quarantined``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import random
import re
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace

from monitor import schedule
from monitor.article import Article, FeedRef
from monitor.context import Context
from monitor.cpu import WorkerDied
from monitor.errors import DropArticle, Quarantine, RetryLater
from monitor.feeds import Feed
from monitor.logs import feed_logger
from monitor.stages import (
    alert,
    cluster,
    dedupe,
    detect_language,
    fulltext,
    index,
    normalize,
    parse,
    translate,
)
from monitor.stages.fetch import Fetcher, FetchError, FetchResult
from monitor.state import iso

# Work on the article alone (CPU only, in a parser process), then fetch its page where
# the feed asks (network: outside any transaction), then work against the state and
# the store, for all of a feed's articles in one transaction per database.
PREPARE = (normalize, detect_language)
ENRICH = (fulltext,)
KEEP = (dedupe, cluster, index, alert)
STAGES = PREPARE + ENRICH + KEEP
log = logging.getLogger("monitor.pipeline")
_MAX_AGE = re.compile(r"max-age\s*=\s*(\d+)", re.I)


@dataclass
class PollReport:
    """What one poll of one feed did."""

    feed: Feed
    outcome: str  # a scheduling outcome kind, or "unchanged" for a body seen before
    status: int | None = None
    error: str = ""
    warning: str = ""  # the poll worked, but something was off (broken XML, truncated)
    entries: int = 0
    articles: Counter = field(default_factory=Counter)
    translations: Counter = field(default_factory=Counter)
    next_poll_at: datetime | None = None
    seconds: float = 0.0

    @property
    def stored(self) -> int:
        """Articles newly stored by this poll."""
        return self.articles["stored"]


@dataclass
class Ended:
    """How an article left the stages early."""

    outcome: str
    stage: str = ""
    error: str = ""


@dataclass
class Prepared:
    """A parsed feed and its articles after the article-only stages (picklable)."""

    parsed: parse.ParsedFeed
    articles: list[Article]
    ended: list[Ended | None]


def prepare_feed(
    body: bytes, headers: dict, url: str, ref: FeedRef, now: datetime, settings
) -> Prepared:
    """Parse a feed body and run PREPARE on each entry. Pure CPU: it touches neither
    the state nor the store, so it can run in a worker process (``monitor.cpu``)."""
    parsed = parse.parse(body, headers, url, settings.max_entries_per_feed)
    articles = [Article(ref, entry, now) for entry in parsed.entries]
    parsed.entries = []  # already carried by the articles; do not send them twice
    ctx = SimpleNamespace(settings=settings)
    return Prepared(parsed, articles, [_run(a, ctx, PREPARE) for a in articles])


def process_articles(
    articles: list[Article], ctx: Context, ended: list[Ended | None] | None = None
) -> list[str]:
    """Run articles through the stages (PREPARE unless ``ended`` says it ran already);
    returns each one's single outcome, in order."""
    if ended is None:
        ended = [_run(article, ctx, PREPARE) for article in articles]
    ended = list(ended)
    for i, end in enumerate(ended):
        if end is None:
            ended[i] = _run(articles[i], ctx, ENRICH)
    ready = [i for i, end in enumerate(ended) if end is None]
    if ready:
        try:
            with ctx.state.batch(), ctx.store.batch(), ctx.stories.batch():
                for i in ready:
                    ended[i] = _run(articles[i], ctx, KEEP) or Ended("stored")
        except RetryLater as retry:
            # The transaction was refused or rolled back: none of these were kept.
            log.warning("batch_retry", extra={"articles": len(ready), "reason": str(retry)})
            for i in ready:
                ended[i] = Ended("retry", "keep", str(retry))
        # After the commit: a remote store gets what was queued (never inside the
        # transaction, which would hold the state database while waiting on the network),
        # and the alert rules see the new articles.
        ctx.store.flush()
        if ctx.alerts is not None:
            ctx.alerts.match()
    for article, end in zip(articles, ended, strict=True):
        if end.outcome == "quarantined":
            _quarantine(article, ctx, end.stage, end.error)
        _count(article, end, ctx)
    return [end.outcome for end in ended]


def _count(article: Article, end: Ended, ctx) -> None:
    """The article's outcome in the metrics, and one log line for it at debug."""
    stage = end.stage or ("index" if end.outcome == "stored" else "keep")
    ctx.metrics.articles.labels(stage, end.outcome).inc()
    if log.isEnabledFor(logging.DEBUG):
        normalized = article.normalized
        log.debug(
            "article_done",
            extra={
                "feed_id": article.feed.feed_id,
                "feed_name": article.feed.name,
                "article_id": normalized.article_id if normalized else None,
                "article_url": normalized.url if normalized else None,
                "stage": stage,
                "outcome": end.outcome,
                "error": end.error,
            },
        )


def _run(article: Article, ctx, stages) -> Ended | None:
    """Run some stages; how the article ended if it ended early, else None."""
    for stage in stages:
        name = stage.__name__.rsplit(".", 1)[-1]
        try:
            stage.run(article, ctx)
        except DropArticle as drop:
            return Ended(f"dropped_{drop.reason}", name)
        except RetryLater as retry:
            log.warning("article_retry", extra={"stage": name, "reason": str(retry)})
            return Ended("retry", name)
        except Quarantine as poison:
            return Ended("quarantined", name, str(poison))
        except Exception as exc:  # noqa: BLE001 - one poison article must not stop a feed
            error = "".join(traceback.format_exception_only(exc)).strip()
            return Ended("quarantined", name, error)
    return None


def _quarantine(article: Article, ctx: Context, stage: str, error: str) -> None:
    article_id = article.normalized.article_id if article.normalized else None
    qid = ctx.state.quarantine(stage, error, article.to_payload(), article.feed.feed_id, article_id)
    log.warning(
        "article_quarantined",
        extra={
            "stage": stage,
            "error": error,
            "quarantine_id": qid,
            "feed_id": article.feed.feed_id,
        },
    )


def poll_feed(
    ctx: Context, fetcher: Fetcher, feed: Feed, unconditional: bool = False
) -> PollReport:
    """Poll one feed end to end and record its state; never raises for a feed's fault."""
    flog = feed_logger(feed)
    started = time.monotonic()
    now = ctx.clock()
    state = ctx.state.feed_state(feed.feed_id) or {}
    revalidate = unconditional or _due_for_revalidation(state, ctx.settings.revalidate_every_polls)
    report = PollReport(feed=feed, outcome="ok")
    fields: dict = {"last_polled_at": iso(now), "polls": state.get("polls", 0) + 1}
    try:
        result = fetcher.fetch(
            feed.url,
            etag=None if revalidate else state.get("etag"),
            last_modified=None if revalidate else state.get("last_modified"),
        )
        ctx.metrics.fetch_seconds.labels("ok").observe(result.seconds)
        outcome = _handle_body(ctx, feed, state, result, report, fields, now)
    except FetchError as exc:
        ctx.metrics.fetch_seconds.labels(exc.kind).observe(time.monotonic() - started)
        report.outcome, report.status, report.error = exc.kind, exc.status, str(exc)
        outcome = schedule.PollOutcome(
            kind=exc.kind,
            status=exc.status,
            retry_after_seconds=schedule.parse_retry_after(exc.headers.get("retry-after"), now),
        )
    decision = schedule.next_poll_at(
        _feed_state(state), outcome, now, _policy(ctx.settings, feed), random.random()
    )
    try:
        _record(ctx, feed, state, report, fields, decision, revalidate, now)
    except RetryLater as exc:
        # The state database stayed locked by another process (``database_locked`` says
        # which file and what to do): nothing of this poll is recorded, so the feed is due
        # again at the next tick with its old validators, and what was not kept comes back.
        report.outcome, report.error = "not_recorded", str(exc)
        decision = dataclasses.replace(decision, next_poll_at=now, reason="not_recorded")
    report.next_poll_at = decision.next_poll_at
    report.seconds = round(time.monotonic() - started, 3)
    ctx.metrics.polls.labels(report.outcome).inc()
    ctx.metrics.translations(report.translations)
    failed = decision.failure_class is not None or report.outcome == "not_recorded"
    level = logging.WARNING if failed else logging.INFO
    flog.log(
        level,
        "poll_done",
        extra={
            "outcome": report.outcome,
            "status": report.status,
            "error": report.error,
            "entries": report.entries,
            "items_new": report.stored,
            "articles": dict(report.articles),
            "translations": dict(report.translations),
            "next_poll_at": iso(decision.next_poll_at),
            "schedule_reason": decision.reason,
            "consecutive_failures": decision.consecutive_failures,
            "poll_seconds": report.seconds,
        },
    )
    return report


def _handle_body(ctx, feed, state, result: FetchResult, report, fields, now):
    report.status = result.status
    max_age = _max_age(result.headers)
    if result.not_modified:
        report.outcome = "not_modified"
        return schedule.PollOutcome(kind="not_modified", status=304, max_age_seconds=max_age)
    body_hash = hashlib.sha256(result.body).hexdigest()
    fields.update(
        etag=result.headers.get("etag"), last_modified=result.headers.get("last-modified")
    )
    if body_hash == state.get("body_hash"):
        # The server ignored our validators (or we skipped them): same bytes, nothing new.
        report.outcome = "unchanged"
        return schedule.PollOutcome(
            kind="not_modified", status=result.status, max_age_seconds=max_age
        )
    fields["body_hash"] = body_hash
    full_text = ctx.settings.full_text if feed.full_text is None else feed.full_text
    ref = FeedRef(feed.feed_id, feed.name, feed.url, feed.language, feed.country, full_text)
    try:
        prepared = ctx.cpu.run(
            prepare_feed, result.body, result.headers, result.url, ref, now, ctx.settings
        )
    except (parse.MalformedFeed, WorkerDied) as exc:
        report.outcome, report.error = "malformed", str(exc)
        return schedule.PollOutcome(kind="malformed", status=result.status)
    parsed = prepared.parsed
    if parsed.bozo:
        report.warning = f"feed is not well-formed, kept what parsed: {parsed.bozo}"[:300]
    if parsed.truncated:
        report.warning += f" {parsed.truncated} entries beyond max_entries_per_feed not read"
    report.entries = len(prepared.articles)
    if ctx.stop.is_set():
        report.outcome = "aborted"
        return schedule.PollOutcome(kind="aborted")
    if ctx.translator is not None:
        # Stored with the right reason at once ("no model for hy→en"), not rewritten later.
        codes = {a.language.code for a in prepared.articles if a.language}
        reasons = {code: translate.pending_reason(ctx, code) for code in codes if code != "en"}
        for article in prepared.articles:
            if article.language and article.language.code in reasons:
                article.notes["translation_reason"] = reasons[article.language.code]
    outcomes = process_articles(prepared.articles, ctx, prepared.ended)
    report.articles.update(outcomes)
    stored = [
        a.document() for a, o in zip(prepared.articles, outcomes, strict=True) if o == "stored"
    ]
    if stored and ctx.translator is not None:
        # After the store: the originals are searchable now; their English follows.
        report.translations.update(translate.translate_documents(ctx, stored))
        ctx.store.flush()
        if ctx.alerts is not None:
            ctx.alerts.match()
    return schedule.PollOutcome(
        kind="ok",
        status=result.status,
        ttl_minutes=parsed.ttl_minutes,
        max_age_seconds=max_age,
        items_total=report.entries,
        items_new=report.stored,
    )


def _record(ctx, feed, state, report, fields, decision, revalidate, now) -> None:
    failed = decision.failure_class is not None
    incomplete = report.outcome == "aborted" or report.articles["retry"] > 0
    if failed or incomplete:
        # Keep the old validators and body hash: the next poll must bring every article back.
        for key in ("etag", "last_modified", "body_hash"):
            fields.pop(key, None)
    if not failed:
        fields["last_success_at"] = iso(now)
        if report.stored:
            fields["last_new_at"] = iso(now)
    fields.update(
        last_status=report.status,
        last_outcome=report.outcome,
        last_error=report.error or None,
        failure_class=decision.failure_class,
        consecutive_failures=decision.consecutive_failures,
        next_poll_at=iso(decision.next_poll_at),
        disabled_reason=decision.disabled_reason,
        interval_factor=decision.interval_factor,
        polls_since_revalidate=0 if revalidate else state.get("polls_since_revalidate", 0) + 1,
        items_seen=state.get("items_seen", 0) + report.entries,
        items_new=state.get("items_new", 0) + report.stored,
        polls_nothing_new=state.get("polls_nothing_new", 0) + (0 if report.stored or failed else 1),
    )
    counters = Counter({f"articles.{k}": v for k, v in report.articles.items()})
    counters[f"polls.{report.outcome}"] += 1
    ctx.state.save_poll(feed.feed_id, feed.name, feed.url, fields, counters)


def _due_for_revalidation(state: dict, every: int) -> bool:
    # LESSONS: some servers send 304 forever after the feed changed; every Nth poll goes
    # out without validators, and the body hash tells whether anything really changed.
    return bool(every) and state.get("polls_since_revalidate", 0) + 1 >= every


def _feed_state(state: dict) -> schedule.FeedState:
    return schedule.FeedState(
        consecutive_failures=state.get("consecutive_failures", 0),
        failure_class=state.get("failure_class"),
        interval_factor=state.get("interval_factor", 1.0),
        disabled_reason=state.get("disabled_reason"),
    )


def _policy(settings, feed: Feed) -> schedule.Policy:
    return schedule.Policy(
        interval_minutes=feed.poll_interval_minutes or settings.poll_interval_minutes,
        min_interval_minutes=settings.min_poll_interval_minutes,
        max_backoff_minutes=settings.max_backoff_minutes,
        retry_after_cap_minutes=settings.retry_after_cap_minutes,
        max_ttl_minutes=settings.max_ttl_minutes,
        jitter_fraction=settings.jitter_fraction,
        adaptive=settings.adaptive_polling,
    )


def _max_age(headers: dict[str, str]) -> float | None:
    match = _MAX_AGE.search(headers.get("cache-control", ""))
    return float(match.group(1)) if match else None


def replay_quarantined(ctx: Context) -> Counter:
    """Run every quarantined article through the stages again (a stored document whose
    translation failed: its translation); returns outcomes."""
    outcomes: Counter = Counter()
    for item in ctx.state.quarantined():
        if item["stage"] == "translate":
            outcome = translate.replay(ctx, item)
        else:
            outcome = process_articles([Article.from_payload(item["payload"])], ctx)[0]
        outcomes[outcome] += 1
        # A second failure is quarantined again as a new row with the new error.
        ctx.state.mark_replayed(item["id"])
    ctx.state.bump({f"articles.replayed.{k}": v for k, v in outcomes.items()})
    return outcomes


def retry_fulltext(ctx: Context, limit: int = 1000, progress=None) -> Counter:
    """Fetch the pages of stored articles whose page failed before (retryable reasons)
    and update the documents that now get the page's text; returns outcomes.
    ``progress`` (a ``monitor.progress.Progress``) hears (pages retried, pages to retry)."""
    outcomes: Counter = Counter()
    docs = []
    for prefix in fulltext.RETRYABLE:
        docs += ctx.store.find({"text_source": "feed", "fulltext_status": prefix + "%"}, limit)
    docs = docs[:limit]
    if progress and docs:
        progress(0, len(docs))
    for done, doc in enumerate(docs, 1):
        if ctx.stop.is_set():
            break
        article = Article.from_document(doc)
        fulltext.use_page(article, ctx, *ctx.pages.text_of(article.normalized.url))
        outcomes[article.fulltext.status.split(" ")[0]] += 1
        ctx.store.update(doc["id"], article.document())
        if progress:
            progress(done, len(docs))
    ctx.store.flush(force=True)
    ctx.state.bump({f"fulltext.retried.{k}": v for k, v in outcomes.items()})
    return outcomes
