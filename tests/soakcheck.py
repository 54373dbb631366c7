"""What a soak run must show: nothing grows after the warm-up but what is bounded.

The samples compared are the ones from ``warmup_hours`` on (the story window, a day, and
the hourly forgetting: from then on the story index holds a steady day of signatures).
Descriptors, threads and SQLite connections must not move at all; memory is compared
in four ways, from the most to the least precise (reasons: docs/choices.md):

- the Python heap outside the story index, line by line (tracemalloc statistics at the
  first sample after warm-up and at the end): at most ``HEAP_OUTSIDE_INDEX_KIB``;
- the story index (datasketch and monitor/stories lines): its signature count within
  ``SIGNATURES_SWING`` of the first sample, and its heap within ``INDEX_GROWTH`` of its
  own size then. Its heap keeps growing for days after the count is flat, and levels
  off: CPython dicts and sets never shrink on deletion, and resize on insertion by
  their current count, so the 37 band tables of each language settle at twice their
  first table size, and a band bucket that stays occupied keeps the table of its
  busiest hour (measured: 8 to 15 % in the test's second half). A leak (signatures not
  forgotten) would double it in a window;
- the whole Python heap (tracemalloc, after a full collection), the mean of the last
  quarter's samples against the first sample after warm-up: at most the two above;
- resident memory, last against first: at most the heap's bound and ``RSS_SLACK_MIB``
  (the allocator's arenas and SQLite's page caches move it too: the loosest).
"""

from __future__ import annotations

from statistics import mean

HEAP_OUTSIDE_INDEX_KIB = 512
INDEX_GROWTH = 0.40
SIGNATURES_SWING = 0.15
RSS_SLACK_MIB = 16.0
# The story index's size when tracemalloc is off: KiB a signature (bench/stories_bench.py).
KIB_PER_SIGNATURE = 11.3
# Where the story index allocates (its size is checked by the signature count), and the
# measurement's own allocations (the first statistics, kept until the second).
STORY_INDEX = ("datasketch/", "monitor/stories/")
MEASUREMENT = ("tests/soak", "tracemalloc.py")


def heap_outside_index_kib(result) -> float:
    """Net growth of the Python heap outside the story index, KiB."""
    rows = [r for r in result.heap_growth if not _under(r[2], STORY_INDEX + MEASUREMENT)]
    return sum(size for size, _, _ in rows) / 1024


def heap_index_kib(result) -> tuple[float, float]:
    """The story index's heap at the first sample after warm-up, and its growth, KiB."""
    size = sum(v[0] for k, v in result.heap_at_baseline.items() if _under(k, STORY_INDEX))
    growth = sum(r[0] for r in result.heap_growth if _under(r[2], STORY_INDEX))
    return size / 1024, growth / 1024


def heap_lines(result, top: int = 8) -> list[str]:
    """The source lines outside the story index whose allocations grew most."""
    rows = [r for r in result.heap_growth if not _under(r[2], STORY_INDEX + MEASUREMENT)]
    return [f"{s / 1024:+.0f} KiB ({c:+d} blocks) {w}" for s, c, w in rows[:top] if s > 0]


def _under(where: str, prefixes: tuple[str, ...]) -> bool:
    return any(p in where for p in prefixes)


def problems(result) -> list[str]:
    """Everything wrong with a soak run, each said with what grew and by how much."""
    out = _correctness(result)
    after = result.after_warmup()
    if len(after) < 3:
        return [*out, f"only {len(after)} samples after the warm-up: run longer"]
    first, last = after[0], after[-1]
    quarter = [s for s in after if s.hour >= 0.75 * result.params.hours] or [last]
    for sample in after[1:]:
        out += _handles(first, sample, result.params.workers)
    size, growth = heap_index_kib(result)
    if not result.params.trace:
        size = first.signatures * KIB_PER_SIGNATURE
    heap_limit = (HEAP_OUTSIDE_INDEX_KIB + INDEX_GROWTH * size) / 1024  # MiB
    if result.params.trace:
        total = mean(s.traced_mib for s in quarter) - first.traced_mib
        if total > heap_limit:
            out.append(
                f"Python heap grew {total:.2f} MiB from hour {first.hour:g} to the last "
                f"quarter (limit {heap_limit:.1f} MiB)"
            )
        if growth > INDEX_GROWTH * size:
            out.append(
                f"the story index's heap grew {growth:.0f} KiB from hour {first.hour:g} to "
                f"the end, over {INDEX_GROWTH:.0%} of its {size:.0f} KiB"
            )
        outside = heap_outside_index_kib(result)
        if outside > HEAP_OUTSIDE_INDEX_KIB:
            lines = "; ".join(heap_lines(result))
            out.append(
                f"Python heap outside the story index grew {outside:.0f} KiB from hour "
                f"{first.hour:g} to the end (limit {HEAP_OUTSIDE_INDEX_KIB} KiB): {lines}"
            )
    swing = max(abs(s.signatures - first.signatures) for s in after) / max(first.signatures, 1)
    if swing > SIGNATURES_SWING:
        out.append(
            f"story signatures in memory moved {swing:.0%} after the warm-up "
            f"({[s.signatures for s in after]}; limit {SIGNATURES_SWING:.0%})"
        )
    rss_limit = heap_limit + RSS_SLACK_MIB
    if last.rss_mib - first.rss_mib > rss_limit:
        out.append(
            f"resident memory grew {last.rss_mib - first.rss_mib:.1f} MiB from hour "
            f"{first.hour:g} to {last.hour:g} (limit {rss_limit:.1f} MiB)"
        )
    if last.reports_kept:
        out.append(f"the worker pool kept {last.reports_kept} poll reports")
    return out


def _handles(first, sample, workers: int) -> list[str]:
    out = []
    for kind in sorted(first.fd_kinds.keys() | sample.fd_kinds.keys()):
        if kind == "feed_connection":
            continue  # keep-alive connections come and go with httpx's pool: bounded below
        was, now = first.fd_kinds.get(kind, 0), sample.fd_kinds.get(kind, 0)
        if now != was:
            out.append(f"open {kind} descriptors {was} -> {now} at hour {sample.hour:g}")
    connections = sample.fd_kinds.get("feed_connection", 0)
    if connections > workers:
        out.append(f"{connections} connections to the feed server at hour {sample.hour:g}")
    for name in ("threads", "native_threads", "sqlite_connections"):
        was, now = getattr(first, name), getattr(sample, name)
        if now != was:
            out.append(f"{name} {was} -> {now} at hour {sample.hour:g}")
    return out


def _correctness(result) -> list[str]:
    """Nothing lost, nothing twice, and every path of the soak ran."""
    out = []
    served = result.served.get("served_items", 0)
    if result.stored != served:
        out.append(f"{result.stored} documents stored, {served} distinct items served")
    if not result.pool_alive:
        out.append("a polling thread died")
    counters, statuses = result.counters, result.served.get("statuses", {})
    for name in ("polls.ok", "polls.not_modified", "polls.unchanged", "polls.http_error"):
        if not counters.get(name):
            out.append(f"no {name} in the whole run: that path did not run")
    for status in (304, 404, 410, 429, 500):
        if not statuses.get(status, statuses.get(str(status))):
            out.append(f"the feed server never answered {status}")
    if not result.stories_of_2_or_more:
        out.append("no story has two articles: the rewritten feeds joined none")
    if result.params.alerts and not result.alerts_sent:
        out.append("no alert was sent to the log channel")
    return out


COLUMNS = (
    ("simulated hour", "hour", "{:g}"),
    ("polls", "polls", "{:,}"),
    ("articles", "articles", "{:,}"),
    ("RSS MiB", "rss_mib", "{:.1f}"),
    ("tracemalloc MiB", "traced_mib", "{:.2f}"),
    ("SQLite MiB", "sqlite_mib", "{:.2f}"),
    ("parsers RSS MiB", "parsers_rss_mib", "{:.1f}"),
    ("fds", "fds", "{}"),
    ("threads", "threads", "{}"),
    ("SQLite conns", "sqlite_connections", "{}"),
    ("signatures", "signatures", "{:,}"),
    ("wall s", "wall_s", "{:.1f}"),
    ("CPU s", "cpu_s", "{:.1f}"),
)


def table(result) -> str:
    """The samples as a Markdown table (fds: all of them, keep-alive connections too)."""
    lines = ["| " + " | ".join(title for title, _, _ in COLUMNS) + " |"]
    lines.append("|" + "---|" * len(COLUMNS))
    for sample in result.samples:
        cells = [fmt.format(getattr(sample, name)) for _, name, fmt in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
