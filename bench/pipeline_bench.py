"""Benchmark of the polling pipeline, run by hand (not a test):

    .venv/bin/python bench/pipeline_bench.py [--feeds 200 --items 50 --cycle-feeds 1000
                                              --workers 8 --quick --tracemalloc]

N feeds x M distinct items (ru/hy/az/fa, from tests/fixtures/feedgen.py) are served by a
threaded HTTP server on 127.0.0.1 (ETag, If-None-Match -> 304) in a child process, so its
CPU never counts as ours; it stops when the benchmark ends, dies or runs past its lifetime.

1. feedparser alone: ``feedparser.parse(bytes)`` over the same bodies, one thread: items/s.
   ``parse_stage_items_per_s`` is monitor's own parse step (feedparser + Entry building).
2. Whole pipeline: fresh data folder, ``Daemon(ctx).poll_once(names=all)``: fetch over HTTP,
   parse, normalize, detect_language, dedupe, index (SQLite/FTS5), state write. Items/s by
   wall clock, and ``pipeline_ratio`` = that / (1); PASS when >= 60 %. lingua is warmed up
   before the clock starts (a daemon builds it once). ``per_host_concurrency`` = workers,
   because every feed here is on one host. The stage table comes from timers wrapped around
   the stage functions (in this process only): "CPU s" is the calling thread's CPU time and
   adds up to the pipeline's CPU; "wall s" is summed over the worker threads, so it includes
   waiting for the GIL and the SQLite write lock and adds up to more than the wall clock.
3. 304 cycle: K feeds are polled once (ETags stored), then a second cycle, where every feed
   answers 304, is timed: ``time.process_time()``, ``getrusage(RUSAGE_SELF)`` user+sys, wall.
   ``revalidate_every_polls`` is 0 here, else every Nth poll would skip its validators.
4. ``peak_rss_kib``: ``ru_maxrss`` after the pipeline (KiB on Linux; includes generation and
   step 1, see ``rss_before_pipeline_kib``); ``parser_processes_peak_rss_kib``: the sum of
   the parser processes' peaks (VmHWM), the rest of the daemon's memory. ``--tracemalloc``
   adds one more pipeline run under tracemalloc and reports its traced peak (Python
   allocations only).

Prints Markdown tables and writes them as JSON (``--out``, default bench/out/pipeline.json).
The exit status is 0 unless something crashed: a FAIL against the target is only reported.
"""

from __future__ import annotations

import argparse
import faulthandler
import hashlib
import importlib.util
import json
import multiprocessing as mp
import os
import platform
import re
import resource
import shlex
import sqlite3
import sys
import tempfile
import threading
import time
import tracemalloc
from collections import Counter, defaultdict
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
LANGS = ("ru", "hy", "az", "fa")
TARGET = 0.60


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like real feed servers
    disable_nagle_algorithm = True  # else header and body writes wait for a delayed ACK
    routes: dict[str, tuple[bytes, str]] = {}

    def do_GET(self) -> None:  # noqa: N802 - the http.server name
        body, etag = self.routes.get(self.path, (b"", ""))
        sent = [t.strip() for t in (self.headers.get("If-None-Match") or "").split(",")]
        status = 404 if not etag else 304 if etag in sent else 200
        self.send_response(status)
        if etag:
            self.send_header("ETag", etag)
        if status != 304:
            html = self.path.endswith(".html")  # article pages, for bench/fulltext_bench.py
            ctype = "text/html" if html else "application/rss+xml"
            self.send_header("Content-Type", f"{ctype}; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status == 200:
            self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def serve(folder: str, conn, lifetime: float) -> None:
    """Child process: serve each file of ``folder`` as /<name> until told, orphaned or late."""
    for path in Path(folder).iterdir():
        body = path.read_bytes()
        _Handler.routes["/" + path.name] = (body, f'"{hashlib.sha1(body).hexdigest()}"')
    httpd = _Server(("127.0.0.1", 0), _Handler)

    def wait_for_parent() -> None:
        with suppress(EOFError, OSError):
            conn.recv()  # "stop", or EOFError once the parent is gone
        httpd.shutdown()

    threading.Thread(target=wait_for_parent, daemon=True).start()
    threading.Timer(lifetime, httpd.shutdown).start()
    conn.send(httpd.server_address[1])
    httpd.serve_forever(poll_interval=0.1)
    os._exit(0)


@contextmanager
def served(folder: Path, lifetime: float):
    """Run ``serve`` in a child process; yields the base URL."""
    spawn = mp.get_context("spawn")
    conn, child = spawn.Pipe()
    server = spawn.Process(target=serve, args=(str(folder), child, lifetime), daemon=True)
    server.start()
    child.close()
    try:
        if not conn.poll(30):
            raise RuntimeError("the feed server did not start within 30 s")
        yield f"http://127.0.0.1:{conn.recv()}"
    finally:
        with suppress(OSError):
            conn.send("stop")
        server.join(5)
        if server.is_alive():
            server.terminate()


def load_feedgen():
    spec = importlib.util.spec_from_file_location("feedgen", ROOT / "tests/fixtures/feedgen.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def write_feeds_toml(path: Path, feeds, prefix: str, base_url: str) -> list[str]:
    lines, names = [], [prefix + feed.name for feed in feeds]
    for name, feed in zip(names, feeds, strict=True):
        lines += ["[[feeds]]", f'name = "{name}"', f'url = "{base_url}/{name}"']
        lines += [f'language = "{feed.language}"', ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return names


@contextmanager
def daemon_for(tmp: Path, tag: str, feeds_file: Path, workers: int, **extra):
    """A Daemon on a fresh data folder, built as `monitor run` builds it, closed on exit."""
    from monitor.commands import open_context
    from monitor.daemon import Daemon
    from monitor.settings import load_settings

    (tmp / "empty.toml").write_text("")  # not config/monitor.toml of the checkout
    overrides = {"data_dir": tmp / f"data-{tag}", "feeds_file": feeds_file, "workers": workers}
    # Every generated feed is on 127.0.0.1: one host. Politeness limits meant for real
    # outlets would measure the limits, not the pipeline.
    overrides |= {"per_host_concurrency": min(16, workers), "per_host_min_interval_seconds": 0}
    overrides |= {"load_seed_on_start": False, **extra}
    settings = load_settings(config_path=tmp / "empty.toml", overrides=overrides, environ={})
    with open_context(settings) as ctx:
        ctx.cpu.warm()  # a daemon starts its parser processes once; not part of a poll
        daemon = Daemon(ctx)
        try:
            yield daemon
        finally:
            daemon.close()


def time_stages(daemon, stats: dict) -> list:
    """Wrap the stage functions with timers; returns what to put back."""
    from monitor.pipeline import STAGES
    from monitor.stages import parse

    lock, undo = threading.Lock(), []
    targets = [(daemon.fetcher, "fetch", "fetch"), (parse, "parse", "parse")]
    targets += [(stage, "run", stage.__name__.rsplit(".", 1)[-1]) for stage in STAGES]
    if daemon.ctx.cpu.processes:
        # parse and the article-only stages run in worker processes: time the wait for them
        targets = [t for t in targets if t[2] in ("fetch", "dedupe", "index")]
        targets.append((daemon.ctx.cpu, "run", "parse+prepare (worker processes, wall)"))
    for owner, attr, name in [*targets, (daemon.ctx.state, "save_poll", "save_poll")]:
        fn = getattr(owner, attr)

        def timed(*args, _fn=fn, _name=name, **kwargs):
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                return _fn(*args, **kwargs)
            finally:
                cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
                with lock:
                    row = stats[_name]
                    row["cpu_s"], row["wall_s"] = row["cpu_s"] + cpu, row["wall_s"] + wall
                    row["calls"] += 1

        undo.append((owner, attr, fn))
        setattr(owner, attr, timed)
    return undo


def run_pipeline(
    tmp: Path,
    tag: str,
    feeds_file: Path,
    names: list[str],
    workers: int,
    stats,
    processes: int = -1,
):
    with daemon_for(tmp, tag, feeds_file, workers, parse_processes=processes) as daemon:
        undo = time_stages(daemon, stats) if stats is not None else []
        try:
            pids = daemon.ctx.cpu.pids()
            wall, cpu = time.perf_counter(), time.process_time() + children_cpu(pids)
            reports = daemon.poll_once(names=names)
            cpu = time.process_time() + children_cpu(pids) - cpu
            wall = time.perf_counter() - wall
            WORKER_PEAK_KIB[tag] = sum(children_peak_kib(pid) for pid in pids)
        finally:
            for owner, attr, fn in undo:
                setattr(owner, attr, fn)
    return reports, wall, cpu


WORKER_PEAK_KIB: dict[str, int] = {}


def children_peak_kib(pid: int) -> int:
    """Peak resident memory (VmHWM) of one parser process, from /proc."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
    return int(match.group(1)) if match else 0


def children_cpu(pids: list[int]) -> float:
    """CPU seconds (user + system) used so far by the parser processes, from /proc."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def rusage_cpu() -> float:
    return sum(resource.getrusage(resource.RUSAGE_SELF)[:2])  # ru_utime + ru_stime


PIPELINE_LIBS = ("feedparser", "lingua-language-detector", "httpx")


def machine(libs: tuple[str, ...] = PIPELINE_LIBS) -> dict:
    """The machine and the versions of ``libs``, for every benchmark's JSON."""
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    return {
        "cpu_model": model.group(1).strip() if model else platform.processor(),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
        **{lib: version(lib) for lib in libs},
    }


def write_result(result: dict, out: Path, table: str) -> None:
    """Print the Markdown table and write the JSON, as every benchmark does."""
    print(table)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {out}")


def parse_alone(feeds, base_url: str, out: dict) -> None:
    import feedparser

    from monitor.stages import detect_language, parse

    bodies, items = [f.body for f in feeds], sum(len(f.items) for f in feeds)
    feedparser.parse(bodies[0])  # warm-up: lazy imports
    started = time.perf_counter()
    parsed = sum(len(feedparser.parse(body).entries) for body in bodies)
    out["feedparser_items_per_s"] = items / (time.perf_counter() - started)
    assert parsed == items, f"feedparser read {parsed} of {items} items"
    headers = {"content-type": "application/rss+xml; charset=utf-8"}
    started = time.perf_counter()
    for feed in feeds:
        parse.parse(feed.body, headers, f"{base_url}/p-{feed.name}", 100_000)
    out["parse_stage_items_per_s"] = items / (time.perf_counter() - started)
    started = time.perf_counter()
    for feed in feeds[: len(LANGS)]:  # one feed per language: builds lingua, loads models
        item = feed.items[0]
        detect_language.detect(f"{item.title}\n{item.description}", feed.language, 0.5)
    out["lingua_warmup_s"] = time.perf_counter() - started


def pipeline_phase(args, tmp: Path, base_url: str, feeds, out: dict, extra: dict) -> None:
    feeds_file = tmp / "pipeline-feeds.toml"
    names = write_feeds_toml(feeds_file, feeds, "p-", base_url)
    out["rss_before_pipeline_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    stats = defaultdict(lambda: {"cpu_s": 0.0, "wall_s": 0.0, "calls": 0})
    reports, wall, cpu = run_pipeline(
        tmp, "pipeline", feeds_file, names, args.workers, stats, args.parse_processes
    )
    out["peak_rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # the daemon's parser processes (parse_processes), each with its own lingua models
    out["parser_processes_peak_rss_kib"] = WORKER_PEAK_KIB.get("pipeline", 0)
    items, entries = sum(len(f.items) for f in feeds), sum(r.entries for r in reports)
    articles = sum((r.articles for r in reports), Counter())
    if entries != items or articles["stored"] != items:
        print(f"WARNING: {entries} entries read, {articles['stored']} stored of {items} items")
    out.update(pipeline_items=entries, pipeline_wall_s=wall, pipeline_cpu_s=cpu)
    out["pipeline_items_per_s"] = entries / wall
    out["pipeline_ratio"] = out["pipeline_items_per_s"] / out["feedparser_items_per_s"]
    stats["other"] = {"cpu_s": max(0.0, cpu - sum(s["cpu_s"] for s in stats.values()))}
    extra["stages"] = dict(stats)
    extra["outcomes"] = {"polls": Counter(r.outcome for r in reports), "articles": articles}
    if args.tracemalloc:  # a run of its own: tracemalloc slows everything down
        tracemalloc.start()
        run_pipeline(tmp, "tracemalloc", feeds_file, names, args.workers, None)
        out["tracemalloc_peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()


def cycle_phase(args, tmp: Path, base_url: str, feeds, out: dict, extra: dict) -> None:
    feeds_file = tmp / "cycle-feeds.toml"
    names = write_feeds_toml(feeds_file, feeds, "c-", base_url)
    with daemon_for(tmp, "cycle", feeds_file, args.workers, revalidate_every_polls=0) as daemon:
        primed = len(daemon.poll_once(names=names))  # stores every feed's ETag
        wall, cpu, ru = time.perf_counter(), time.process_time(), rusage_cpu()
        reports = daemon.poll_once(names=names)[primed:]  # poll_once returns all reports
        cpu, ru = time.process_time() - cpu, rusage_cpu() - ru
        wall = time.perf_counter() - wall
    polls = extra["outcomes"]["cycle_polls"] = Counter(r.outcome for r in reports)
    if polls != {"not_modified": len(feeds)}:
        print(f"WARNING: the 304 cycle was not all 304: {dict(polls)}")
    out.update(cycle_feeds=len(reports), cycle_cpu_s=cpu, cycle_rusage_cpu_s=ru, cycle_wall_s=wall)
    out["cycle_cpu_ms_per_feed"] = 1000 * cpu / max(1, len(reports))


def shown(key: str, value) -> str:
    if key.endswith("ratio"):
        return f"{value:.1%}"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def report(result: dict) -> str:
    fig, m = result["figures"], result["machine"]
    lines = [f"`{result['command']}`", ""]
    lines += [f"{m['cpu_model']}, {m['cores']} cores ({m['usable_cores']} usable), {m['python']}"]
    lines += ["", "| figure | value |", "|---|---|"]
    lines += [f"| {key} | {shown(key, value)} |" for key, value in fig.items()]
    lines += ["", "| stage | CPU s | share of CPU | wall s (summed over threads) | calls |"]
    lines += ["|---|---|---|---|---|"]
    for name, s in sorted(result["stages"].items(), key=lambda kv: -kv[1]["cpu_s"]):
        share, wall = s["cpu_s"] / fig["pipeline_cpu_s"], s.get("wall_s")
        wall = "-" if wall is None else f"{wall:.2f}"
        lines.append(
            f"| {name} | {s['cpu_s']:.2f} | {share:.0%} | {wall} | {s.get('calls', '-')} |"
        )
    verdict = "PASS" if result["pass"] else "FAIL"
    lines += ["", f"{verdict}: pipeline at {fig['pipeline_ratio']:.1%} of feedparser alone"]
    lines[-1] += f" (target >= {TARGET:.0%}); {result['notes']}; took {result['total_s']:.1f} s"
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feeds", type=int, help="feeds in the pipeline run (200; quick 20)")
    parser.add_argument("--items", type=int, help="items per feed (50; quick 20)")
    parser.add_argument("--cycle-feeds", type=int, help="feeds in the 304 cycle (1000; quick 100)")
    parser.add_argument("--workers", type=int, default=8, help="worker threads (8)")
    parser.add_argument(
        "--parse-processes",
        type=int,
        default=-1,
        help="parser processes, as the setting (-1: one per core; 0: inline)",
    )
    parser.add_argument("--quick", action="store_true", help="a small run for a smoke test")
    parser.add_argument("--tracemalloc", action="store_true", help="add a tracemalloc run")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/out/pipeline.json")
    args = parser.parse_args(argv)
    args.feeds = args.feeds or (20 if args.quick else 200)
    args.items = args.items or (20 if args.quick else 50)
    args.cycle_feeds = args.cycle_feeds or (100 if args.quick else 1000)
    timeout = 100.0 if args.quick else 900.0
    faulthandler.dump_traceback_later(timeout, exit=True)  # bounded even if something hangs
    started = time.perf_counter()
    feedgen = load_feedgen()
    pipeline_feeds = feedgen.many_feeds(args.feeds, args.items, languages=LANGS)
    cycle_feeds = feedgen.many_feeds(args.cycle_feeds, 2, languages=LANGS, seed=1)
    figures, extra = {}, {}
    with tempfile.TemporaryDirectory(prefix="monitor-bench-") as name:
        tmp = Path(name)
        (tmp / "www").mkdir()
        for prefix, feeds in (("p-", pipeline_feeds), ("c-", cycle_feeds)):
            for feed in feeds:
                (tmp / "www" / f"{prefix}{feed.name}").write_bytes(feed.body)
        with served(tmp / "www", lifetime=timeout + 30) as base_url:
            parse_alone(pipeline_feeds, base_url, figures)
            pipeline_phase(args, tmp, base_url, pipeline_feeds, figures, extra)
            cycle_phase(args, tmp, base_url, cycle_feeds, figures, extra)
    faulthandler.cancel_dump_traceback_later()
    result = {
        "command": shlex.join(sys.orig_argv),
        "machine": machine(),
        "params": {k: getattr(args, k) for k in ("feeds", "items", "cycle_feeds", "workers")},
        "notes": "revalidate_every_polls=0 for the 304 cycle, per_host_concurrency=workers, "
        "per_host_min_interval_seconds=0 (one host)",
        "figures": figures,
        **extra,
        "target_ratio": TARGET,
        "pass": figures["pipeline_ratio"] >= TARGET,
        "total_s": time.perf_counter() - started,
    }
    write_result(result, args.out, report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
