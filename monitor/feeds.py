"""The feed list: the feeds file, feeds imported from OPML, and validation.

Feeds come from ``feeds_file`` (default ``config/feeds.toml``) and from
``imported-feeds.toml`` in the data folder, which ``monitor feeds import-opml``
writes (``config/`` may be read-only in a container). A feed's id is a hash of its
URL, so the same URL in both lists is one feed and per-feed state survives renames.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from monitor.errors import StartupError

LANGUAGES = ("ru", "hy", "az", "fa", "en")


class Feed(BaseModel):
    """One feed to poll."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=200)
    url: str
    language: Literal["ru", "hy", "az", "fa", "en"]
    country: str = Field("", max_length=2)
    poll_interval_minutes: float | None = Field(None, ge=5, le=1440)
    category: str = ""
    enabled: bool = True
    full_text: bool | None = None  # None: the `full_text` setting decides

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        # Strip first: a URL pasted with a leading space is still a good URL.
        value = value.strip()
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @property
    def feed_id(self) -> str:
        """Stable id from the URL: state follows the URL, not the name."""
        return hashlib.sha256(self.url.encode()).hexdigest()[:16]


def condition(feed: Feed, state: dict | None) -> str:
    """``disabled`` (in the feeds file, or by the scheduler after a 410), ``failing``,
    ``never_polled`` or ``ok``: one answer for `monitor status` and /metrics."""
    if not feed.enabled or (state and state["disabled_reason"]):
        return "disabled"
    if state is None:
        return "never_polled"
    return "failing" if state["consecutive_failures"] else "ok"


def load_feeds(feeds_file: Path, imported_file: Path | None = None) -> list[Feed]:
    """All feeds to poll: the feeds file, then imported ones whose URL is new."""
    feeds = _load_file(feeds_file, required=True)
    if imported_file is not None and imported_file.exists():
        known = {f.url for f in feeds}
        feeds += [f for f in _load_file(imported_file, required=False) if f.url not in known]
    names: dict[str, str] = {}
    urls: dict[str, str] = {}
    for feed in feeds:
        if feed.name in names:
            raise StartupError(
                f"feed name {feed.name!r} is used twice ({names[feed.name]} and {feed.url}); "
                "give each feed a unique name"
            )
        # The feed id is a hash of the URL: two entries with one URL would share one
        # scheduling state and be polled twice.
        if feed.url in urls:
            raise StartupError(
                f"feed URL {feed.url} is listed twice ({urls[feed.url]!r} and {feed.name!r}); "
                "remove one of the entries"
            )
        names[feed.name] = feed.url
        urls[feed.url] = feed.name
    return feeds


def find_feed(feeds: list[Feed], name_or_url: str) -> Feed:
    """The feed with this name or URL, or a StartupError listing close names."""
    for feed in feeds:
        if name_or_url in (feed.name, feed.url):
            return feed
    lowered = [f for f in feeds if f.name.lower() == name_or_url.lower()]
    if lowered:
        return lowered[0]
    raise StartupError(f"no feed named {name_or_url!r}; `monitor feeds list` shows the names")


def _load_file(path: Path, required: bool) -> list[Feed]:
    if not path.exists():
        if required:
            raise StartupError(
                f"feeds file {path} does not exist; create it or point `feeds_file` "
                "(MONITOR_FEEDS_FILE) at one"
            )
        return []
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise StartupError(f"{path}: not valid TOML ({exc}); fix the syntax there") from None
    unknown = set(data) - {"feeds"}
    if unknown:
        raise StartupError(f"{path}: unknown top-level key(s) {sorted(unknown)}; only [[feeds]]")
    entries = data.get("feeds", [])
    if not isinstance(entries, list) or not all(isinstance(raw, dict) for raw in entries):
        raise StartupError(
            f"{path}: `feeds` must be an array of tables; write each feed as a [[feeds]] "
            "section with name, url and language"
        )
    feeds = []
    for index, raw in enumerate(entries, start=1):
        label = raw.get("name") or f"#{index}"
        try:
            feeds.append(Feed(**raw))
        except ValidationError as exc:
            problems = "; ".join(
                f"`{'.'.join(map(str, e['loc']))}` {e['msg']}" for e in exc.errors()
            )
            raise StartupError(
                f"{path}: feed {label!r}: {problems}. Fix that entry (keys: name, url, "
                f"language ({'/'.join(LANGUAGES)}), country, poll_interval_minutes, "
                "category, enabled, full_text)"
            ) from None
    return feeds


def parse_opml(data: bytes, default_language: str | None = None) -> tuple[list[Feed], list[str]]:
    """Feeds from an OPML document, and a list of skipped outlines with the reason.

    Reads every ``outline`` with an ``xmlUrl``; the name is ``text`` or ``title``; the
    language is the outline's ``language`` attribute, else ``default_language``.
    """
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise StartupError(f"not a valid OPML/XML file ({exc})") from None
    feeds, skipped = [], []
    for outline in root.iter("outline"):
        url = (outline.get("xmlUrl") or "").strip()
        if not url:
            continue
        name = _first_nonblank(outline.get("text"), outline.get("title"), url)
        language = (outline.get("language") or default_language or "").strip().lower()
        language = language.split("-")[0].split("_")[0]
        try:
            feeds.append(Feed(name=name, url=url, language=language))
        except ValidationError as exc:
            reason = "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors())
            if language not in LANGUAGES:
                reason = (
                    f"language {language!r} is not one of {'/'.join(LANGUAGES)}"
                    if language
                    else "no language"
                ) + "; add a language attribute or pass --language"
            skipped.append(f"{name} ({url}): {reason}")
    return feeds, skipped


def _first_nonblank(*values: str | None) -> str:
    return next((v.strip() for v in values if v and v.strip()), "")


def write_imported(path: Path, feeds: list[Feed]) -> None:
    """Write imported feeds as TOML (atomically: a crash leaves the old file)."""
    lines = ["# Written by `monitor feeds import-opml`; safe to edit.", ""]
    for feed in feeds:
        lines.append("[[feeds]]")
        for key, value in feed.model_dump(exclude_defaults=True).items():
            # A JSON string is a valid TOML basic string, except that JSON leaves DEL
            # raw and TOML forbids it; numbers and booleans match too.
            text = json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
            lines.append(f"{key} = {text}")
        lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines), encoding="utf-8")
    tmp.replace(path)


def import_opml(
    opml_path: Path, imported_file: Path, existing: list[Feed], default_language: str | None
) -> tuple[list[Feed], list[str]]:
    """Add the OPML's feeds whose URL is not known yet; returns (added, skipped)."""
    try:
        data = opml_path.read_bytes()
    except OSError as exc:
        raise StartupError(f"cannot read {opml_path}: {exc.strerror}") from None
    parsed, skipped = parse_opml(data, default_language)
    previous = _load_file(imported_file, required=False)
    known_urls = {f.url for f in existing} | {f.url for f in previous}
    known_names = {f.name for f in existing} | {f.name for f in previous}
    added = []
    for feed in parsed:
        if feed.url in known_urls:
            skipped.append(f"{feed.name} ({feed.url}): already in the feed list")
            continue
        if feed.name in known_names:
            feed = feed.model_copy(update={"name": f"{feed.name} ({feed.feed_id[:6]})"})
        added.append(feed)
        known_urls.add(feed.url)
        known_names.add(feed.name)
    if added:
        write_imported(imported_file, previous + added)
    return added, skipped
