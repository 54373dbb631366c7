"""Soak benchmark: the daemon over simulated days, memory and handles sampled, run by hand:

    .venv/bin/python bench/soak_bench.py [--feeds 200 --hours 168 --step-minutes 15
                                          --poll-interval-minutes 30 --story-window-days 3
                                          --window 10 --sample-hours 6 --quick]

The driver is tests/soak.py's, the one tests/test_soak.py runs for 48 hours in a
compressed form; here the defaults are the daemon's own (poll every 30 minutes, a story
window of 3 days, 8 workers, parser processes one per core), over 7 days at a 15-minute
step, with the warm-up the story window plus its hourly forgetting. Only the politeness
limits are set for one host (``per_host_concurrency`` = workers,
``per_host_min_interval_seconds`` = 0), since the 200 feeds are all on 127.0.0.1.

Each sample (after a full collection, right after the hourly story forgetting) gives the
simulated hour, polls and articles so far, resident memory (VmRSS), the Python heap
(tracemalloc), SQLite's heap (``sqlite3_memory_used``), the parser processes' resident
memory, open descriptors, threads, SQLite connections, the story index's signatures,
and the wall and CPU seconds so far. The verdict is tests/soakcheck.py's, with the
heap's largest changes by source line between the first sample after warm-up and the
end. Prints Markdown tables and writes JSON (``--out``, default bench/out/soak.json).
The exit status is 0 unless something crashed: growth is reported, not an error.
"""

from __future__ import annotations

import argparse
import faulthandler
import shlex
import sys
import tempfile
import time
from pathlib import Path
from statistics import mean

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pipeline_bench as pb  # noqa: E402 - machine info, result writing; puts ROOT on sys.path

from tests import soakcheck as check  # noqa: E402
from tests.soak import SoakParams, run_soak  # noqa: E402

LIBS = ("feedparser", "lingua-language-detector", "httpx", "datasketch")


def params_from(args) -> SoakParams:
    """The run's parameters: the daemon's defaults, or a small quick run."""
    if args.quick:
        return SoakParams(
            feeds=20, hours=6, step_minutes=30, warmup_hours=3, sample_hours=1, window=4,
            max_wall_seconds=100,
        )  # fmt: skip
    warmup = args.warmup_hours or args.story_window_days * 24 + 1
    return SoakParams(
        feeds=args.feeds,
        hours=args.hours,
        step_minutes=args.step_minutes,
        poll_interval_minutes=args.poll_interval_minutes,
        story_window_days=args.story_window_days,
        warmup_hours=warmup,
        sample_hours=args.sample_hours,
        window=args.window,
        trace=not args.no_tracemalloc,
        max_wall_seconds=args.max_wall_seconds,
        extra={"parse_processes": args.parse_processes},
    )


def figures(result) -> tuple[dict, dict]:
    """Positive figures of the run, and the growth after warm-up (any sign)."""
    after, last = result.after_warmup() or result.samples[-1:], result.samples[-1]
    first = after[0]
    quarter = [s for s in after if s.hour >= 0.75 * result.params.hours] or [last]
    size, index_growth = check.heap_index_kib(result)
    fig = {
        "simulated_hours": result.params.hours,
        "feeds": result.params.feeds,
        "samples_after_warmup": len(after),
        "polls": last.polls,
        "articles_stored": result.stored,
        "distinct_items_served": result.served.get("served_items", 0),
        "stories_of_2_or_more": result.stories_of_2_or_more,
        "alerts_sent": result.alerts_sent,
        "scrapes": result.scrapes,
        "wall_s": result.wall_s,
        "cpu_s": last.cpu_s,
        "cpu_s_per_simulated_hour": last.cpu_s / result.params.hours,
        "rss_mib_after_warmup": first.rss_mib,
        "rss_mib_end": last.rss_mib,
        "sqlite_mib_end": last.sqlite_mib,
        "fds_end": last.fds,
        "threads_end": last.threads,
        "sqlite_connections_end": last.sqlite_connections,
        "signatures_end": last.signatures,
    }
    if result.params.trace:
        fig["traced_mib_after_warmup"] = first.traced_mib
        fig["traced_mib_end"] = last.traced_mib
        fig["story_index_kib_after_warmup"] = size
    growth = {
        "rss_mib": last.rss_mib - first.rss_mib,
        "traced_mib_last_quarter_mean": mean(s.traced_mib for s in quarter) - first.traced_mib,
        "heap_outside_story_index_kib": check.heap_outside_index_kib(result),
        "heap_story_index_kib": index_growth,
        "signatures": last.signatures - first.signatures,
        # keep-alive connections to the feed server come and go with httpx's pool
        "fds_but_feed_connections": _fds(last) - _fds(first),
        "threads": last.threads - first.threads,
    }
    return fig, growth


def _fds(sample) -> int:
    return sample.fds - sample.fd_kinds.get("feed_connection", 0)


def report(result: dict, soak) -> str:
    """The tables and the verdict."""
    m, p = result["machine"], soak.params
    lines = [f"`{result['command']}`", ""]
    lines += [f"{m['cpu_model']}, {m['cores']} cores ({m['usable_cores']} usable), {m['python']}"]
    lines += [
        f"{p.feeds} feeds, {p.hours:g} simulated hours at a {p.step_minutes:g}-minute step, "
        f"poll interval {p.poll_interval_minutes:g} min, story window "
        f"{p.story_window_days * 24} h, warm-up {p.warmup_hours:g} h, {p.window} items a feed, "
        "tracemalloc "
        f"{'on' if p.trace else 'off'}",
        "",
        check.table(soak),
        "",
        "| growth after warm-up | value |",
        "|---|---|",
    ]
    lines += [f"| {k} | {v:+.2f} |" for k, v in result["growth"].items()]
    if soak.heap_growth:
        lines += ["", "Python heap outside the story index, largest growth by line:", ""]
        lines += [f"- {line}" for line in check.heap_lines(soak, 10)] or ["- none"]
    verdict = result["problems"] or ["nothing grew beyond tests/soakcheck.py's bounds"]
    lines += ["", "Verdict: " + "; ".join(verdict) + f"; took {result['total_s']:.0f} s"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--hours", type=float, default=168.0, help="simulated hours (7 days)")
    parser.add_argument("--step-minutes", type=float, default=15.0)
    parser.add_argument("--poll-interval-minutes", type=float, default=30.0)
    parser.add_argument("--story-window-days", type=int, default=3)
    parser.add_argument("--warmup-hours", type=float, help="default: the story window + 1 h")
    parser.add_argument("--sample-hours", type=float, default=6.0)
    parser.add_argument("--window", type=int, default=10, help="items each feed shows")
    parser.add_argument("--parse-processes", type=int, default=-1, help="as the setting")
    parser.add_argument("--no-tracemalloc", action="store_true", help="faster, no heap figures")
    parser.add_argument("--max-wall-seconds", type=float, default=3600.0)
    parser.add_argument("--quick", action="store_true", help="a small run for a smoke test")
    parser.add_argument("--out", type=Path, default=pb.ROOT / "bench/out/soak.json")
    args = parser.parse_args(argv)
    params = params_from(args)
    faulthandler.dump_traceback_later(params.max_wall_seconds + 120, exit=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="monitor-soak-") as name:
        soak = run_soak(params, Path(name), lambda s: print(f"hour {s.hour:g}", flush=True))
    faulthandler.cancel_dump_traceback_later()
    fig, growth = figures(soak)
    data = soak.as_dict()
    result = {
        "command": shlex.join(sys.orig_argv),
        "machine": pb.machine(LIBS),
        "params": data.pop("params"),
        "figures": fig,
        "growth": growth,
        "problems": check.problems(soak),
        **data,
        "total_s": time.perf_counter() - started,
    }
    pb.write_result(result, args.out, report(result, soak))
    return 0


if __name__ == "__main__":
    sys.exit(main())
