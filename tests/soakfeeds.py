"""The soak test's feeds: N feeds that publish over simulated time, served from a child
process by the tests' own ``FeedServer``.

The server runs in a process of its own so that its threads, sockets and memory (it
records every request) never count as the daemon's: the soak measures one process. The
simulated time is one shared double (``now``, epoch seconds) that the test moves before
each tick; every response is a pure function of the feed and that time.

Feed ``k`` (language ``LANGS[k % 4]``) publishes an item every ``period`` minutes (1.5
to 8 hours, a small outlet's pace: about 70 items an hour over 200 feeds) and shows its
newest ``window`` items, so items age out. Its first poll finds ``window`` items there.
Some feeds behave otherwise, so that every scheduling path runs over the hours:

- every 8th feed rewrites another feed of its language 20 minutes later (same title,
  one more sentence, its own link): a near-copy, which joins the other's story;
- validators: most send ETag and Last-Modified (a 304 when nothing changed), every
  10th (k % 10 == 5) sends none (the body hash says "unchanged"), every 10th
  (k % 10 == 6) Last-Modified only; every 10th (k % 10 == 2) has ``<ttl>`` 60;
- faults: k % 25 == 3 answers 500 for 3 hours a day, k % 25 == 8 answers 429 with
  ``Retry-After: 5400`` for 2 hours a day; the last feed is 404 for good (hard backoff),
  the one before it 410 (disabled).
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
import random
import threading
from collections import Counter
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime, parsedate_to_datetime
from xml.sax.saxutils import escape

LANGS = ("ru", "hy", "az", "fa")
WINDOW = 5  # items a feed shows by default: 7.5 to 40 hours of news at these periods
PERIODS = (90, 120, 180, 240, 360, 480)  # minutes between two items of one feed
REWRITE_DELAY = timedelta(minutes=20)
RETRY_AFTER_SECONDS = 5400


@dataclass(frozen=True)
class FeedPlan:
    """How feed ``k`` behaves."""

    k: int
    language: str
    period: timedelta
    offset: timedelta
    source: int | None = None  # the feed this one rewrites
    validators: str = "etag"  # "etag" (and Last-Modified), "last_modified", "none"
    ttl: int | None = None
    fault: str = ""  # "500", "429", "404", "410"
    fault_shift_hours: int = 0

    @property
    def path(self) -> str:
        """Where the server serves it."""
        return f"/soak/{self.k}.xml"


def plan(n_feeds: int, seed: int = 0) -> list[FeedPlan]:
    """The feeds, deterministic for a given seed."""
    plans = []
    for k in range(n_feeds):
        rng = random.Random(f"soak:{seed}:{k}")
        period = timedelta(minutes=rng.choice(PERIODS))
        offset = period * rng.random()
        source = k - 4 if k % 8 == 7 else None
        if source is not None:  # the rewriter keeps its source's rhythm
            period, offset = plans[source].period, plans[source].offset + REWRITE_DELAY
        validators = {5: "none", 6: "last_modified"}.get(k % 10, "etag")
        fault = {3: "500", 8: "429"}.get(k % 25, "")
        if n_feeds >= 10 and k == n_feeds - 1:
            fault = "404"
        elif n_feeds >= 10 and k == n_feeds - 2:
            fault = "410"
        plans.append(
            FeedPlan(
                k=k,
                language=LANGS[k % len(LANGS)],
                period=period,
                offset=offset,
                source=source,
                validators=validators,
                ttl=60 if k % 10 == 2 else None,
                fault=fault,
                fault_shift_hours=rng.randrange(24),
            )
        )
    return plans


def feeds_toml(plans: list[FeedPlan], base_url: str) -> str:
    """The feeds file for these feeds on a server at ``base_url``."""
    lines = []
    for p in plans:
        lines += ["[[feeds]]", f'name = "soak-{p.k:03d}"', f'url = "{base_url}{p.path}"']
        lines += [f'language = "{p.language}"', ""]
    return "\n".join(lines)


class FeedModel:
    """What each feed holds at a simulated time (``start``: the first tick)."""

    def __init__(self, plans: list[FeedPlan], start: datetime, base_url: str, window: int):
        from tests.fixtures.feedgen import LANGUAGES, _Writer  # the news templates

        self.plans, self.start, self.base_url, self.window = plans, start, base_url, window
        self._languages, self._writer = LANGUAGES, _Writer
        self._texts: dict[tuple[int, int], tuple[str, str, str]] = {}

    def published(self, p: FeedPlan, n: int) -> datetime:
        """When item ``n`` of feed ``p`` appears (items before ``window`` predate start)."""
        return self.start + p.offset + (n - self.window) * p.period

    def newest(self, p: FeedPlan, now: datetime) -> int:
        """The index of the newest item published by ``now``."""
        return (now - self.start - p.offset) // p.period + self.window

    def items(self, p: FeedPlan, now: datetime) -> list[tuple[int, str, str, str, datetime]]:
        """(n, guid, title, description, published), newest first."""
        last = self.newest(p, now)
        return [
            (n, *self.text(p.k, n), self.published(p, n))
            for n in range(last, last - self.window, -1)
        ]

    def text(self, k: int, n: int) -> tuple[str, str, str]:
        """(guid, title, description) of item ``n`` of feed ``k``; a rewrite copies its
        source's title and text and adds one sentence."""
        if (k, n) not in self._texts:
            p = self.plans[k]
            writer = self._writer(self._languages[p.language], random.Random(f"soak:{k}:{n}"))
            if p.source is not None:
                _, title, description = self.text(p.source, n)
                description = f"{description} {writer.title()}."
            else:
                title, description = writer.title(), writer.description()
            guid = hashlib.sha1(f"soak:{k}:{n}".encode()).hexdigest()[:16]
            self._texts[k, n] = (f"soak-{k}-{guid}", title, description)
        return self._texts[k, n]

    def render(self, p: FeedPlan, now: datetime) -> tuple[bytes, list[str], datetime]:
        """The RSS body, its items' GUIDs, and its newest item's time."""
        lang = self._languages[p.language]
        tz = timezone(timedelta(minutes=lang.utc_offset_minutes))
        items = self.items(p, now)
        head = [
            '<?xml version="1.0" encoding="utf-8"?>',
            '<rss version="2.0"><channel>',
            f"<title>{escape(lang.channel_title)} {p.k}</title>",
            f"<link>{self.base_url}/soak/{p.k}/</link>",
            f"<description>{escape(lang.channel_description)}</description>",
            f"<language>{p.language}</language>",
        ]
        if p.ttl:
            head.append(f"<ttl>{p.ttl}</ttl>")
        body = []
        for n, guid, title, description, when in items:
            body += [
                "<item>",
                f"<title>{escape(title)}</title>",
                f"<link>{self.base_url}/soak/{p.k}/{n}.html</link>",
                f'<guid isPermaLink="false">{guid}</guid>',
                f"<pubDate>{format_datetime(when.astimezone(tz))}</pubDate>",
                f"<description>{escape(description)}</description>",
                "</item>",
            ]
        xml = "\n".join([*head, *body, "</channel></rss>", ""]).encode("utf-8")
        return xml, [item[1] for item in items], items[0][4]

    def fault(self, p: FeedPlan, now: datetime) -> tuple[int, dict[str, str]] | None:
        """The error status (and headers) the feed answers with now, if any."""
        hour = ((now - self.start) // timedelta(hours=1) - p.fault_shift_hours) % 24
        if p.fault in ("404", "410"):
            return int(p.fault), {}
        if p.fault == "500" and 8 <= hour < 11:
            return 500, {}
        if p.fault == "429" and 14 <= hour < 16:
            return 429, {"Retry-After": str(RETRY_AFTER_SECONDS)}
        return None


def serve(n_feeds: int, seed: int, window: int, start: float, now, conn, lifetime: float) -> None:
    """Child process: serve the feeds at the time in ``now`` until told to stop (or the
    parent is gone, or ``lifetime`` passed); answers "stats" with what it served."""
    from tests import feedserver

    # 8 polling threads connect at once on the first tick: a backlog of 5 would make
    # some wait for a SYN retry (a second of real time, not of the daemon's).
    feedserver._Server.request_queue_size = 64
    # Headers and body are two writes: with Nagle each response would wait for the
    # client's delayed ACK (40 ms), and 200 feeds a tick would take seconds of waiting.
    feedserver.FeedRequestHandler.disable_nagle_algorithm = True
    server = feedserver.FeedServer().start()
    at = datetime.fromtimestamp(start, UTC)
    model = FeedModel(plan(n_feeds, seed), at, server.base_url, window)
    lock, served, statuses = threading.Lock(), set(), Counter()

    def handler_for(p: FeedPlan):
        def handle(req) -> None:
            at = datetime.fromtimestamp(now.value, UTC)
            fault = model.fault(p, at)
            if fault is not None:
                with lock:
                    statuses[fault[0]] += 1
                req.send_bytes(fault[0], b"error\n", {"Content-Type": "text/plain", **fault[1]})
                return
            body, guids, newest = model.render(p, at)
            headers = {"Content-Type": "application/rss+xml; charset=utf-8"}
            etag = f'"{p.k}-{model.newest(p, at)}"'
            if p.validators == "etag":
                headers["ETag"] = etag
            if p.validators in ("etag", "last_modified"):
                headers["Last-Modified"] = format_datetime(newest.astimezone(UTC), usegmt=True)
            status = 304 if _not_modified(req.headers, headers, newest) else 200
            with lock:
                statuses[status] += 1
                if status == 200:
                    served.update(guids)
            req.send_bytes(status, body if status == 200 else b"", headers)

        return handle

    for p in model.plans:
        server.set_handler(p.path, handler_for(p))
    # A parent that hangs (one that dies closes the pipe: EOF below) still ends this one.
    timer = threading.Timer(lifetime, os._exit, args=(0,))
    timer.daemon = True
    timer.start()
    conn.send(server.base_url)
    try:
        while True:
            message = conn.recv()
            if message == "stats":
                with lock:
                    conn.send({"served_items": len(served), "statuses": dict(statuses)})
            else:
                break
    except (EOFError, OSError):
        pass  # the parent is gone, or the lifetime is over
    finally:
        server.stop()


def _not_modified(request_headers, headers: dict[str, str], newest: datetime) -> bool:
    if "ETag" in headers:
        return request_headers.get("If-None-Match") == headers["ETag"]
    since = request_headers.get("If-Modified-Since")
    if "Last-Modified" not in headers or not since:
        return False
    with suppress(TypeError, ValueError):
        return parsedate_to_datetime(since) >= newest.replace(microsecond=0)
    return False


class SoakServer:
    """The child process serving the feeds; ``set_time`` moves its clock."""

    def __init__(self, base_url: str, now, conn):
        self.base_url, self._now, self._conn = base_url, now, conn

    def set_time(self, moment: datetime) -> None:
        """The simulated time the next responses are made at."""
        self._now.value = moment.timestamp()

    def stats(self) -> dict:
        """Distinct items served in 200 responses, and the count of each status."""
        self._conn.send("stats")
        return self._conn.recv()


@contextmanager
def served(
    n_feeds: int, start: datetime, seed: int = 0, window: int = WINDOW, lifetime: float = 3600.0
):
    """Run ``serve`` in a spawned child; yields a ``SoakServer``."""
    spawn = mp.get_context("spawn")
    now = spawn.RawValue("d", start.timestamp())
    conn, child = spawn.Pipe()
    args = (n_feeds, seed, window, start.timestamp(), now, child, lifetime)
    process = spawn.Process(target=serve, args=args, daemon=True, name="soak-feeds")
    process.start()
    child.close()
    try:
        if not conn.poll(60):
            raise RuntimeError("the soak feed server did not start within 60 s")
        yield SoakServer(conn.recv(), now, conn)
    finally:
        with suppress(OSError):
            conn.send("stop")
        conn.close()
        process.join(5)
        if process.is_alive():
            process.terminate()
            process.join(5)
