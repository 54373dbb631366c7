"""robots.txt, fetched once per host and trusted for ``robots_cache_minutes``.

Only article pages are checked: a feed is published to be polled. The rules follow the
common reading of RFC 9309: a robots.txt that is missing (4xx) allows everything; one
that cannot be fetched (5xx, timeout) forbids everything for a short while, since the
site may be in trouble; a ``Crawl-delay`` slows the host's gate (capped).
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.robotparser
from dataclasses import dataclass
from urllib.parse import urlsplit

from monitor.stages.fetch import Fetcher, FetchError

log = logging.getLogger("monitor.robots")
ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309 asks crawlers to read at least 500 KiB
UNREACHABLE_RETRY_SECONDS = 600  # a host whose robots.txt failed is asked again in 10 min
MAX_CRAWL_DELAY_SECONDS = 30.0  # a site asking for more would never get its news read
AGENT = "monitor"  # the product token matched against User-agent lines


@dataclass
class _Entry:
    parser: urllib.robotparser.RobotFileParser | None  # None: everything forbidden
    expires: float
    reason: str = ""


class Robots:
    """Answers "may this page be fetched?" per URL, caching each host's rules."""

    def __init__(self, fetcher: Fetcher, cache_minutes: float, agent: str = AGENT):
        self.fetcher = fetcher
        self.ttl = cache_minutes * 60
        self.agent = agent
        self._cache: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self._host_locks: dict[str, threading.Lock] = {}

    def allowed(self, url: str) -> tuple[bool, str]:
        """(allowed, reason): reason is "" when allowed."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}".lower()
        entry = self._entry(origin)
        if entry.parser is None:
            return False, entry.reason
        if not entry.parser.can_fetch(self.agent, url):
            return False, "robots_disallowed"
        return True, ""

    def _entry(self, origin: str) -> _Entry:
        with self._lock:
            host_lock = self._host_locks.setdefault(origin, threading.Lock())
        with host_lock:  # one fetch of robots.txt per host, however many threads ask
            entry = self._cache.get(origin)
            if entry is None or entry.expires < time.monotonic():
                entry = self._load(origin)
                self._cache[origin] = entry
            return entry

    def _load(self, origin: str) -> _Entry:
        now = time.monotonic()
        try:
            result = self.fetcher.fetch(
                origin + "/robots.txt", max_bytes=ROBOTS_MAX_BYTES, accept="text/plain"
            )
        except FetchError as exc:
            if exc.kind == "http_error" and exc.status and 400 <= exc.status < 500:
                return _Entry(_allow_all(), now + self.ttl)
            log.info("robots_unreachable", extra={"origin": origin, "error": str(exc)})
            return _Entry(None, now + UNREACHABLE_RETRY_SECONDS, f"robots_unreachable ({exc})")
        parser = urllib.robotparser.RobotFileParser()
        parser.parse(result.body.decode("utf-8", errors="replace").splitlines())
        delay = parser.crawl_delay(self.agent)
        if delay:
            gate = self.fetcher.gate(origin)
            gate.min_interval = max(gate.min_interval, min(float(delay), MAX_CRAWL_DELAY_SECONDS))
        return _Entry(parser, now + self.ttl)


def _allow_all() -> urllib.robotparser.RobotFileParser:
    parser = urllib.robotparser.RobotFileParser()
    parser.parse([])
    return parser
