"""Benchmark of the store write paths, run by hand (not a test):

    .venv/bin/python bench/store_bench.py [--docs 20000 --batch 50 --repeat 3 --seed 0
                                           --quick]

1. Documents: N articles in ru, hy, az, fa and en, made by ``Article.document()`` itself
   (so they have exactly the fields and values a stored article has), feed by feed: each
   feed of ``--batch`` items is one language, source and country. Titles and sentences
   come from the tests/fixtures/feedgen.py templates; a text is paragraphs of 3-5
   sentences, cut at the first sentence end past a length drawn around 1,500 characters.
   A fifth of the words of 4+ letters come from a made-up long tail of each language's
   words (``Lexicon``), so the index sees a real vocabulary (~45,000 distinct words per
   language in 20,000 documents, not the templates' ~300). Ids, URLs and content hashes
   are made by the project's own functions (canonical URL, ``article_id_for``,
   ``content_hash``); ``full_text`` is off, so ``summary`` repeats the text, as it does
   in a store. Deterministic for a given ``--seed``; written once to a JSON-lines file.
2. Each path runs in a process of its own, on a fresh data folder (its memory is its own,
   and no run reads another's cache). It reads the file a batch of ``--batch`` documents
   (a feed's worth) at a time and writes each batch in ``with state.batch(),
   store.batch():`` as ``monitor.pipeline.process_articles`` does. Only the writes are
   timed: not reading the file, not the ``mark_seen`` of the index stage, nor the final
   WAL checkpoint when the store closes.
   (a) embedded: ``SQLiteStore.add``: docs/s, then the store file's size once closed.
   (b) outbox: ``ElasticStore.add`` queues into the state database's outbox. Without a
       cluster (``MONITOR_BENCH_ES_URL`` unset) the store points at http://127.0.0.1:9 and
       neither ``connect`` nor ``flush`` is called: only the queueing is measured.
   (c) Elasticsearch, only with ``MONITOR_BENCH_ES_URL`` (and ``MONITOR_BENCH_ES_USERNAME``
       / ``_PASSWORD`` / ``_API_KEY`` / ``_CA_CERTS`` if needed): a new alias per run
       (``monitor-bench-<random>``, ``elasticsearch_replicas=0``), ``connect()``, the
       batches queued as in (b) and timed as (b), then ``flush(force=True)`` timed as the
       sending (bulk requests of ``elasticsearch_bulk_size``, until acknowledged, not
       until refreshed); end to end = documents / (queueing + sending). Afterwards the
       run's indices, index template, component templates and ILM policy are deleted.
3. Memory, per path: ``*_rss_before_kib`` is VmRSS just before the first write (modules
   imported, databases open); ``*_peak_rss_kib`` is VmHWM after the path (``peak_kib``).
4. ``--repeat`` runs of each path (embedded and outbox alternate), the median run by
   docs/s is reported; every run's rate is in the JSON.

Prints Markdown tables and writes JSON (``--out``, default bench/out/store.json).
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import multiprocessing as mp
import os
import re
import secrets
import shlex
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing
from itertools import islice
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pipeline_bench as pb  # noqa: E402 - machine info, result writing, feedgen, shown()
from store_docs import describe, make_documents  # noqa: E402

ROOT = pb.ROOT
ENV = "MONITOR_BENCH_ES_URL"
ES_OPTIONS = {  # environment variable suffix -> setting
    "USERNAME": "elasticsearch_username",
    "PASSWORD": "elasticsearch_password",
    "API_KEY": "elasticsearch_api_key",
    "CA_CERTS": "elasticsearch_ca_certs",
}
UNREACHABLE = "http://127.0.0.1:9"  # discard port: nothing answers, nothing is sent
ES_LIBS = ("elasticsearch", "elastic-transport")


def rss_kib(field: str = "VmRSS") -> int:
    """Resident memory of this process now (VmRSS) or at its highest (VmHWM), from /proc."""
    match = re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M)
    return int(match.group(1)) if match else 0


def peak_kib() -> int:
    """Peak resident memory of this process. VmHWM, not ``ru_maxrss``: Linux carries the
    ``ru_maxrss`` of the forked parent over exec, so a spawned child would report the
    parent's size (the benchmark's, with every document) when it is larger."""
    return rss_kib("VmHWM")


def read_batches(spec: dict) -> Iterator[list[dict]]:
    """The documents, ``batch`` at a time, read from the file as they are needed: the
    process never holds them all, as a daemon holds one feed's articles at a time."""
    with open(spec["docs_file"], encoding="utf-8") as f:
        while batch := [json.loads(line) for line in islice(f, spec["batch"])]:
            yield batch


def settings_for(spec: dict, data_dir: Path, **values):
    from monitor.settings import load_settings

    (data_dir.parent / "empty.toml").write_text("")  # not config/monitor.toml of the checkout
    overrides = {"data_dir": data_dir, "feeds_file": data_dir.parent / "feeds.toml", **values}
    return load_settings(data_dir.parent / "empty.toml", overrides, environ={})


def add_batches(state, store, batches: Iterator[list[dict]]) -> tuple[float, float]:
    """Add every document, a batch per transaction as the pipeline does: (wall, CPU) s
    of the writes alone (reading a batch from the file is not timed)."""
    wall = cpu = 0.0
    for batch in batches:
        started, used = time.perf_counter(), time.process_time()
        with state.batch(), store.batch():
            for doc in batch:
                store.add(doc)
        wall += time.perf_counter() - started
        cpu += time.process_time() - used
    return wall, cpu


def files_bytes(path: Path) -> int:
    """The database file and any -wal/-shm beside it."""
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def run_embedded(spec: dict) -> dict:
    """(a) the embedded store."""
    from monitor.state import StateDB
    from monitor.store.sqlite import SQLiteStore

    settings = settings_for(spec, Path(spec["tmp"]) / "data")
    state, store = StateDB(settings.state_db_path), SQLiteStore(settings.store_db_path)
    before = rss_kib()
    wall, cpu = add_batches(state, store, read_batches(spec))
    out = {"wall_s": wall, "cpu_s": cpu, "rss_before_kib": before, "peak_rss_kib": peak_kib()}
    out["stored"] = store.counts()["total"]["documents"]
    store.close()  # checkpoints the WAL into the file
    state.close()
    out["store_bytes"] = files_bytes(settings.store_db_path)
    out["tables_mib"] = tables_mib(settings.store_db_path)
    return out


def tables_mib(path: Path) -> dict[str, float]:
    """MiB per table and index of a SQLite file (the documents, the FTS5 index, ...), from
    the dbstat table; empty where SQLite was built without it."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        try:
            rows = conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall()
        except sqlite3.OperationalError:
            return {}
    return {name: size / 2**20 for name, size in sorted(rows, key=lambda r: -r[1])}


def run_elastic(spec: dict) -> dict:
    """(b) queueing into the outbox, and (c) sending it when a cluster is given."""
    from monitor.context import utc_now
    from monitor.state import StateDB
    from monitor.store.elastic.client import explain, remove_installed
    from monitor.store.elastic.store import ElasticStore

    es = spec.get("es") or {}
    values = {"elasticsearch_url": es.get("url", UNREACHABLE), "elasticsearch_replicas": 0}
    values |= {"elasticsearch_index": spec["alias"], **es.get("options", {})}
    settings = settings_for(spec, Path(spec["tmp"]) / "data", **values)
    state = StateDB(settings.state_db_path)
    store, out, reached = ElasticStore(settings, state, utc_now), {}, False
    try:
        if es:
            try:  # before connect(): what fails here has made nothing to delete
                store.client.info()
            except Exception as exc:  # noqa: BLE001 - one line, as the daemon says it
                raise explain(exc, settings.elasticsearch_url) from None
            reached, started = True, time.perf_counter()
            out["cluster"] = store.connect()
            out["connect_s"] = time.perf_counter() - started
        queue_and_send(store, state, read_batches(spec), bool(es), out)
    finally:
        if reached:
            out["cleanup"] = remove_installed(store.client, spec["alias"])
            for failure in out["cleanup"]:  # said here too, in case the run failed
                print(f"store_bench: not deleted, delete by hand: {failure}", file=sys.stderr)
        store.close()
        state.close()
    return out


def queue_and_send(store, state, batches: Iterator[list[dict]], send: bool, out: dict) -> None:
    """Queue every batch into the outbox (timed), then send it all if ``send`` (timed)."""
    before = rss_kib()
    wall, cpu = add_batches(state, store, batches)
    out |= {"wall_s": wall, "cpu_s": cpu, "rss_before_kib": before, "peak_rss_kib": peak_kib()}
    out["waiting"] = store.waiting()["waiting"]
    out["state_bytes"] = files_bytes(state.db.path)  # open: its WAL file included
    if send:
        started, cpu = time.perf_counter(), time.process_time()
        out["dispositions"] = store.flush(force=True)
        out["send_s"] = time.perf_counter() - started
        out["send_cpu_s"] = time.process_time() - cpu
        out["send_peak_rss_kib"], out["left_waiting"] = peak_kib(), store.waiting()["waiting"]


PATHS = {"embedded": run_embedded, "elastic": run_elastic}
SUMMED_UP = ("cluster", "cleanup", "tables_mib")  # in the result once, not per run


def child_main(func, args: tuple, conn) -> None:
    """Child process: run ``func(*args)``, send back its result or its error."""
    try:
        conn.send(("ok", func(*args)))
    except BaseException as exc:  # noqa: BLE001 - reported by the parent
        conn.send(("error", f"{type(exc).__name__}: {exc}"))


def run_in_child(func, args: tuple, timeout: float, what: str, join: float = 10) -> dict:
    """``func(*args)`` in a fresh spawned process (its memory is its own); its result.
    ``RuntimeError`` naming ``what`` when it takes longer than ``timeout`` or fails."""
    spawn = mp.get_context("spawn")
    conn, child_conn = spawn.Pipe()
    child = spawn.Process(target=child_main, args=(func, args, child_conn), daemon=True)
    child.start()
    child_conn.close()
    try:
        if not conn.poll(timeout):
            raise RuntimeError(f"{what} took more than {timeout:.0f} s")
        status, value = conn.recv()
    finally:
        child.join(join)
        if child.is_alive():
            child.terminate()
    if status != "ok":
        raise RuntimeError(f"{what} failed: {value}")
    return value


def run_child(path: str, spec: dict, timeout: float) -> dict:
    """Run ``path`` in a fresh spawned process; its result."""
    return run_in_child(PATHS[path], (spec,), timeout, f"the {path} run")


# --- runs and figures ---------------------------------------------------------------------


def es_from_env(environ) -> tuple[dict | None, str]:
    """The cluster to send to, from MONITOR_BENCH_ES_*; (None, why) when there is none."""
    url = environ.get(ENV, "").strip()
    if not url:
        return None, f"{ENV} is not set: no cluster to send to (outbox queueing only)"
    options = {key: environ[f"{ENV[:-3]}{suffix}"] for suffix, key in ES_OPTIONS.items()
               if environ.get(f"{ENV[:-3]}{suffix}")}  # fmt: skip
    return {"url": url, "options": options}, ""


def shown_url(url: str) -> str:
    """The URL without credentials."""
    parts = urlsplit(url)
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def median(runs: list[dict]) -> dict:
    """The middle run by docs/s (every run writes the same documents)."""
    return sorted(runs, key=lambda run: run["wall_s"])[len(runs) // 2]


def run_all(args, docs_file: Path, tmp: Path, es: dict | None, timeout: float) -> dict:
    """Every run of every path: {"embedded": [...], "elastic": [...]}."""
    runs: dict[str, list[dict]] = {"embedded": [], "elastic": []}
    for r in range(args.repeat):
        for path in runs:
            alias = f"monitor-bench-{secrets.token_hex(4)}"  # a new one each run
            spec = {"docs_file": str(docs_file), "batch": args.batch, "es": es, "alias": alias}
            spec["tmp"] = str(tmp / f"{path}-{r}")
            Path(spec["tmp"]).mkdir()
            try:
                runs[path].append(run_child(path, spec, timeout) | {"alias": alias})
            except RuntimeError as exc:
                raise SystemExit(f"store_bench: {exc}") from None
            docs_per_s = args.docs / runs[path][-1]["wall_s"]
            print(f"run {r + 1}/{args.repeat} {path}: {docs_per_s:,.0f} docs/s", flush=True)
    return runs


def figures_of(n: int, docs: dict, embedded: dict, elastic: dict) -> dict:
    fig = {"documents": n, "text_chars_mean": docs["text_chars_mean"]}
    fig["document_json_bytes_mean"] = docs["json_bytes_mean"]
    fig["embedded_seconds"] = embedded["wall_s"]
    fig["embedded_docs_per_s"] = n / embedded["wall_s"]
    fig["embedded_cpu_ms_per_doc"] = 1000 * embedded["cpu_s"] / n
    fig["embedded_store_mib"] = embedded["store_bytes"] / 2**20
    fig["embedded_store_bytes_per_doc"] = embedded["store_bytes"] / n
    fig["embedded_rss_before_kib"] = embedded["rss_before_kib"]
    fig["embedded_peak_rss_kib"] = embedded["peak_rss_kib"]
    fig["outbox_seconds"] = elastic["wall_s"]
    fig["outbox_docs_per_s"] = n / elastic["wall_s"]
    fig["outbox_cpu_ms_per_doc"] = 1000 * elastic["cpu_s"] / n
    fig["outbox_state_mib"] = elastic["state_bytes"] / 2**20
    fig["outbox_rss_before_kib"] = elastic["rss_before_kib"]
    fig["outbox_peak_rss_kib"] = elastic["peak_rss_kib"]
    if "send_s" in elastic:
        fig["es_connect_s"] = elastic["connect_s"]
        fig["es_send_seconds"] = elastic["send_s"]
        fig["es_send_docs_per_s"] = n / elastic["send_s"]
        fig["es_end_to_end_docs_per_s"] = n / (elastic["wall_s"] + elastic["send_s"])
        fig["es_peak_rss_kib"] = elastic["send_peak_rss_kib"]
    return fig


def checks_of(n: int, embedded: list[dict], elastic: list[dict], es: dict | None) -> dict:
    """What every run did, to be sure the figures measure what they say."""
    checks = {"embedded_stored": [r["stored"] for r in embedded]}
    checks["outbox_queued"] = [r["waiting"] for r in elastic]
    if es:
        checks["es_dispositions"] = [r["dispositions"] for r in elastic]
        checks["es_left_waiting"] = [r["left_waiting"] for r in elastic]
        checks["es_cleanup_failures"] = [f for r in elastic for f in r["cleanup"]]
    wrong = [k for k in ("embedded_stored", "outbox_queued") if set(checks[k]) != {n}]
    if es and any(d != {"ack": n} for d in checks["es_dispositions"]):
        wrong.append("es_dispositions")
    checks["warnings"] = [f"{k}: {checks[k]} (expected {n} each)" for k in wrong]
    if es and checks["es_cleanup_failures"]:
        checks["warnings"].append("delete by hand: " + "; ".join(checks["es_cleanup_failures"]))
    return checks


def report(result: dict) -> str:
    fig, m, es = result["figures"], result["machine"], result["elasticsearch"]
    lines = [f"`{result['command']}`", ""]
    lines += [f"{m['cpu_model']}, {m['cores']} cores ({m['usable_cores']} usable), {m['python']}, "
              f"SQLite {m['sqlite']}, load average (1 min) "
              f"{result['load_average_1min']['start']:.2f} at start", ""]  # fmt: skip
    lines += ["| path | docs/s | seconds | CPU ms/doc | on disk MiB | RSS before / peak MiB |"]
    lines += ["|---|---|---|---|---|---|"]
    rows = [("embedded (SQLite/FTS5)", "embedded", "store", ""),
            ("Elasticsearch outbox (queueing)", "outbox", "state", " (state db, WAL)")]  # fmt: skip
    for name, key, disk, what in rows:
        lines.append(
            f"| {name} | {fig[f'{key}_docs_per_s']:,.0f} | {fig[f'{key}_seconds']:.2f} | "
            f"{fig[f'{key}_cpu_ms_per_doc']:.2f} | {fig[f'{key}_{disk}_mib']:,.1f}{what} | "
            f"{fig[f'{key}_rss_before_kib'] / 1024:.0f} / {fig[f'{key}_peak_rss_kib'] / 1024:.0f} |"
        )
    if es["status"] == "ran":
        lines.append(
            f"| Elasticsearch sending (bulk) | {fig['es_send_docs_per_s']:,.0f} | "
            f"{fig['es_send_seconds']:.2f} | | | - / {fig['es_peak_rss_kib'] / 1024:.0f} |"
        )
        end_to_end = fig["es_end_to_end_docs_per_s"]
        lines.append(f"| Elasticsearch end to end | {end_to_end:,.0f} | | | | |")
        lines += ["", f"Elasticsearch {es['version']} at {es['url']}, ILM {es['ilm']}."]
    else:
        lines += ["", f"Elasticsearch sending: SKIPPED ({es['reason']})."]
    if tables := result["embedded_tables_mib"]:
        fts = sum(v for k, v in tables.items() if k.startswith("documents_fts"))
        rows_mib, total = tables.get("documents", 0.0), sum(tables.values())
        lines += ["", f"Embedded store file: documents table {rows_mib:.1f} MiB, FTS5 index "
                  f"{fts:.1f} MiB, other indexes {total - rows_mib - fts:.1f} MiB."]  # fmt: skip
    lines += ["", "| figure | value |", "|---|---|"]
    lines += [f"| {key} | {pb.shown(key, value)} |" for key, value in fig.items()]
    lines += ["", result["notes"], *(f"WARNING: {w}" for w in result["checks"]["warnings"])]
    return "\n".join([*lines, f"Took {result['total_s']:.1f} s."])


def write_documents(args, path: Path) -> dict:
    """Make the documents, write them as JSON lines; what they are like."""
    started = time.perf_counter()
    docs = make_documents(args.docs, args.batch, args.seed)
    with path.open("w", encoding="utf-8") as f:
        f.writelines(json.dumps(d, ensure_ascii=False) + "\n" for d in docs)
    return describe(docs) | {"generate_s": time.perf_counter() - started}


def parse_args(argv: list[str] | None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, help="documents (20000; quick 300)")
    parser.add_argument("--batch", type=int, default=50, help="documents per transaction (50)")
    parser.add_argument("--repeat", type=int, help="runs of each path, median kept (3; quick 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated text (0)")
    parser.add_argument("--quick", action="store_true", help="a small run for a smoke test")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/out/store.json")
    args = parser.parse_args(argv)
    args.docs = args.docs or (300 if args.quick else 20_000)
    args.repeat = args.repeat or (1 if args.quick else 3)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    timeout = 120.0 if args.quick else 1800.0
    faulthandler.dump_traceback_later(timeout, exit=True)  # bounded even if something hangs
    started, load = time.perf_counter(), os.getloadavg()[0]
    es, skipped = es_from_env(os.environ)
    if es is None:
        print(f"Elasticsearch sending SKIPPED: {skipped}")
    with tempfile.TemporaryDirectory(prefix="monitor-store-bench-") as name:
        about = write_documents(args, Path(name) / "documents.jsonl")
        runs = run_all(args, Path(name) / "documents.jsonl", Path(name), es, timeout)
    faulthandler.cancel_dump_traceback_later()
    embedded, elastic = median(runs["embedded"]), median(runs["elastic"])
    es_info = {"status": "skipped", "reason": skipped}
    if es:
        es_info = {"status": "ran", "url": shown_url(es["url"]), **elastic["cluster"]}
        es_info["aliases"] = [r["alias"] for r in runs["elastic"]]
    result = {
        "command": shlex.join(sys.orig_argv),
        "machine": pb.machine(ES_LIBS),
        "load_average_1min": {"start": load, "end": os.getloadavg()[0]},
        "params": {k: getattr(args, k) for k in ("docs", "batch", "repeat", "seed")},
        "documents": about,
        "elasticsearch": es_info,
        "figures": figures_of(args.docs, about, embedded, elastic),
        "embedded_tables_mib": embedded["tables_mib"],
        "runs": {
            path: [{k: v for k, v in r.items() if k not in SUMMED_UP} for r in rs]
            for path, rs in runs.items()
        },
        "checks": checks_of(args.docs, runs["embedded"], runs["elastic"], es),
        "notes": f"Median of {args.repeat} run(s) per path, each in its own process on a fresh "
        f"data folder; batches of {args.batch} documents, one transaction each; only "
        "store.add is timed (SQLite WAL, synchronous=NORMAL: commits do not fsync).",
        "total_s": time.perf_counter() - started,
    }
    pb.write_result(result, args.out, report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
