"""The seed corpus: background analyses indexed beside the feeds as kind ``seed``.

The project carries its own copy in ``monitor/data/seed-corpus``. Each file is a title
line, then the body; a ``Source:`` line (with the URL on it or on the next non-empty
line, possibly in angle brackets) gives the document's URL. Loading is idempotent:
the id is made from the file name.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from monitor.errors import StartupError, StoreUnavailable
from monitor.progress import Progress
from monitor.stages.translate import initial_fields
from monitor.text import clean_whitespace, content_hash, one_line
from monitor.urls import canonical_url

PACKAGED = Path(__file__).parent / "data" / "seed-corpus"
log = logging.getLogger("monitor.seed")


@dataclass
class SeedReport:
    """What a seed load did."""

    files: int = 0
    created: int = 0
    existing: int = 0
    skipped: list[str] | None = None


def parse_seed(text: str) -> tuple[str, str, str]:
    """(title, body, url) of one seed file's text."""
    lines = text.replace("\r\n", "\n").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    title = one_line(lines[0]) if lines else ""
    body_lines, url, i = [], "", 1
    while i < len(lines):
        line = lines[i].strip()
        if line.lower().startswith("source:"):
            rest = line[len("source:") :].strip()
            j = i + 1
            while not rest and j < len(lines):
                rest, j = lines[j].strip(), j + 1
            url = rest.strip("<>").strip()
            i = j if rest else i + 1
            continue
        if line != "[Disclaimer]":
            body_lines.append(lines[i])
        i += 1
    return title, clean_whitespace("\n".join(body_lines)), url


def seed_documents(folder: Path, now: datetime) -> list[dict]:
    """The documents of every ``*.txt`` file in ``folder``, sorted by file name."""
    if not folder.is_dir():
        raise StartupError(f"seed folder {folder} does not exist; fix `seed_dir` or the path")
    docs = []
    for path in sorted(folder.glob("*.txt")):
        title, body, url = parse_seed(path.read_text(encoding="utf-8", errors="replace"))
        if not title:
            continue
        url = canonical_url(url) if url.startswith(("http://", "https://")) else ""
        docs.append(
            {
                "id": "seed-" + hashlib.sha256(path.stem.encode()).hexdigest()[:24],
                "kind": "seed",
                "url": url,
                "title": title,
                "text": body,
                "language": "en",
                "source": (urlsplit(url).hostname or "seed corpus") if url else "seed corpus",
                "feed_id": "",
                "country": "",
                "published": now.isoformat(timespec="seconds"),
                "published_source": "loaded",
                "fetched_at": now.isoformat(timespec="seconds"),
                "content_hash": content_hash(title, body),
                "seed_file": path.name,
                **initial_fields("en", title, body),
            }
        )
    return docs


def seed_corpus(ctx) -> list[dict]:
    """The seed documents last loaded (their folder is remembered), for linking stories
    to them; an empty list, with a warning, when the folder is gone."""
    folder = ctx.state.get_meta("seed_folder") or ctx.settings.seed_dir or PACKAGED
    try:
        return seed_documents(Path(folder), ctx.clock())
    except StartupError as exc:
        log.warning("seed_corpus_missing", extra={"error": str(exc)})
        return []


def _stored(ctx, doc_id: str) -> bool:
    # Elasticsearch queues every add, so ask first to report honest counts. When it is
    # down the document is queued anyway; a copy already there is a counted duplicate.
    try:
        return ctx.store.get(doc_id) is not None
    except StoreUnavailable:
        return False


def load_seed(ctx, folder: Path | None = None, progress: Progress | None = None) -> SeedReport:
    """Index the seed corpus (idempotent) and remember that it was loaded. ``progress``
    hears (files stored so far, files) after each one."""
    folder = folder or ctx.settings.seed_dir or PACKAGED
    now = ctx.clock()
    docs = seed_documents(Path(folder), now)
    report = SeedReport(files=len(docs))
    if progress and docs:
        progress(0, len(docs))
    for done, doc in enumerate(docs, 1):
        if _stored(ctx, doc["id"]) or not ctx.store.add(doc):
            report.existing += 1
        else:
            report.created += 1
        if progress:
            progress(done, len(docs))
    ctx.store.flush(force=True)
    ctx.state.set_meta("seed_loaded_at", now.isoformat(timespec="seconds"))
    ctx.state.set_meta("seed_folder", str(Path(folder).resolve()))
    return report
