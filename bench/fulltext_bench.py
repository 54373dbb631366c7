"""Benchmark of full-text extraction, run by hand (not a test):

    .venv/bin/python bench/fulltext_bench.py [--pages 300 --threads 8 --workers 8
                                              --repeat 3 --quick]

N article pages (ru/hy/az/fa, 5-8 paragraphs of tests/fixtures/feedgen.py text inside news
clutter: inline scripts, cookie banner, menus, teasers, comments, footer) and summary-only
feeds of 10 items (a headline and one sentence) linking to them are served on 127.0.0.1
by bench/pipeline_bench.py's server child process; no robots.txt (404: all allowed).
Every page is on that one host, so all runs set ``per_host_min_interval_seconds = 0``
and raise ``per_host_concurrency``: they measure our CPU, not the politeness gate.
Each measure runs ``--repeat`` times and the median run is kept (all are in the JSON);
a high load average at start means other processes shared the cores.

1. ``fetch_extract_pages_per_s``: ``Pages.text_of`` (robots, ``Fetcher``, trafilatura in
   the parser processes) over every page from T threads; ``*_cpu_ms_per_page`` counts
   this process and the parser processes. ``extract_alone_*``: ``extract_page`` inline
   in one thread, the CPU cost of extraction itself (x cores = the ceiling of 1.).
2. ``Daemon.poll_once`` over the feeds on fresh data folders, ``full_text`` off and on
   (parser processes warmed: lingua models loaded, trafilatura imported, as in a daemon).
   ``fulltext_share_ratio`` = (with - without) / with, by wall clock: the share of a poll
   spent on full text when pages arrive at once; ``fulltext_cpu_share_ratio``: the same
   by CPU time (this process + parser processes), less disturbed by other load. At the
   defaults a real deployment is far slower, bounded by politeness: a feed's pages are
   fetched one after another through its host's gate, so ``per_host_min_interval_seconds``
   caps each outlet and, as each worker thread waits at one gate, ``workers / interval``
   caps the daemon (``politeness_*`` figures: computed from the defaults, not measured).
3. ``peak_rss_kib``: ``ru_maxrss`` of this process; ``*_parser_peak_rss_kib``: the sum of
   the parser processes' VmHWM (highest run).

Prints a Markdown table and writes JSON (``--out``, default bench/out/fulltext.json).
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import os
import random
import re
import resource
import shlex
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from email.utils import format_datetime
from html import escape
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pipeline_bench as pb  # noqa: E402 - the server, machine info and /proc readers

ROOT = pb.ROOT
LANGS = ("ru", "hy", "az", "fa")
PER_FEED = 10
TAGS = ("without", "with")
DEFAULTS = ("per_host_min_interval_seconds", "workers")
# menu, cookie notice, "read also", "comments", footer line
UI = {
    "ru": ("Главная Политика Экономика Общество Мир Спорт Культура Видео Мнения Архив",
           "Мы используем файлы cookie, чтобы сайт работал удобнее. Продолжая просмотр, вы "
           "соглашаетесь с политикой обработки персональных данных.", "Читайте также",
           "Комментарии", "Все права защищены. Перепечатка только с разрешения редакции."),
    "hy": ("Գլխավոր Քաղաքականություն Տնտեսություն Հասարակություն Աշխարհ Սպորտ Մշակույթ "
           "Տեսանյութ Կարծիք Արխիվ", "Մենք օգտագործում ենք cookie ֆայլեր՝ կայքը հարմար "
           "դարձնելու համար։", "Կարդացեք նաև", "Մեկնաբանություններ",
           "Բոլոր իրավունքները պաշտպանված են։"),
    "az": ("Əsas Siyasət İqtisadiyyat Cəmiyyət Dünya İdman Mədəniyyət Video Rəy Arxiv",
           "Saytın rahat işləməsi üçün kukilərdən istifadə edirik. Davam etməklə məxfilik "
           "siyasəti ilə razılaşırsınız.", "Həmçinin oxuyun", "Şərhlər",
           "Bütün hüquqlar qorunur. Materiallardan istifadə yalnız icazə ilə."),
    "fa": ("صفحه‌اصلی سیاست اقتصاد جامعه جهان ورزش فرهنگ ویدیو دیدگاه آرشیو",
           "ما برای بهتر کار کردن سایت از کوکی استفاده می‌کنیم. با ادامه مرور، سیاست "
           "حریم خصوصی را می‌پذیرید.", "بیشتر بخوانید", "نظرات", "تمامی حقوق محفوظ است."),
}  # fmt: skip
SCRIPT = """window.dataLayer = window.dataLayer || [];
function gtag(){dataLayer.push(arguments);} gtag('js', new Date());
gtag('config', 'G-BENCH%d', {'anonymize_ip': true, 'page_type': 'article'});
window.__STATE__ = %s;"""


def first_sentence(text: str) -> str:
    return re.split(r"(?<=[.։?!])\s+", text, maxsplit=1)[0]


def page_html(lang: str, item, paragraphs, related, comments, k: int) -> bytes:
    """An article page; most of its bytes are scripts, menus, teasers and comments."""
    menu, cookie, also, talk, rights = UI[lang]
    links = "".join(f'<li><a href="/{w}/{i}">{w}</a></li>' for i, w in enumerate(menu.split()))
    teasers = [{"url": f"/a{k + i + 1}.html", "title": r.title, "lead": r.description}
               for i, r in enumerate(related)]  # fmt: skip
    state = json.dumps({"article": k, "related": teasers, "ads": [f"slot-{i}" for i in range(30)]})
    parts = [
        f'<!DOCTYPE html><html lang="{lang}"{" dir=rtl" if lang == "fa" else ""}><head>',
        f'<meta charset="utf-8"><title>{escape(item.title)}</title>',
        f'<meta name="author" content="Bench Author {k % 7}">',
        f'<meta property="article:published_time" content="{item.published.isoformat()}">',
        f"<script>{SCRIPT % (k, state)}</script><style>.cookie{{position:fixed}}</style>",
        f'</head><body><div class="cookie-banner"><p>{cookie}</p><button>OK</button></div>',
        f'<header><nav class="main-menu"><ul>{links}</ul></nav><nav class="mobile"><ul>{links}',
        "</ul></nav></header><main><article>",
        f"<h1>{escape(item.title)}</h1><time>{item.published:%d.%m.%Y %H:%M}</time>",
        '<div class="article__body">',
        *(f"<p>{escape(p)}</p>" for p in paragraphs),
        f'</div><div class="share">{links}</div></article><aside class="related">',
        f"<h2>{also}</h2><ul>",
        *(
            f'<li><a href="{t["url"]}">{escape(t["title"])}</a> '
            f"<span>{escape(first_sentence(t['lead']))}</span></li>"
            for t in teasers
        ),  # fmt: skip
        f'</ul></aside><section class="comments" id="comments"><h2>{talk}</h2>',
        *(f'<div class="comment"><b>user{i}</b><p>{escape(c)}</p></div>' for i, c in comments),
        f"</section></main><footer><ul>{links}</ul><p>© 2026 {rights}</p></footer>",
        f"<script>{SCRIPT % (k + 1, json.dumps(comments))}</script></body></html>",
    ]
    return "\n".join(parts).encode("utf-8")


def make_site(n_pages: int, www: Path):
    """Pages a<k>.html and summary-only feeds f<j>-<lang>.xml; returns (feeds, pages)."""
    n_feeds = -(-n_pages // PER_FEED)
    generated = pb.load_feedgen().many_feeds(n_feeds, PER_FEED * 11, languages=LANGS)
    feeds, pages = [], []
    for j, gen in enumerate(generated):
        rng, spare, lang = random.Random(f"fulltext:{j}"), gen.items[PER_FEED:], gen.language
        items = gen.items[: min(PER_FEED, n_pages - j * PER_FEED)]
        rss = ['<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>']
        rss.append(f"<title>Feed {j}</title><link>/</link><description>bench</description>")
        for i, item in enumerate(items):
            k = j * PER_FEED + i
            paragraphs = [item.description] + [
                s.description for s in spare[i * 9 : i * 9 + rng.randint(4, 7)]
            ]
            related = rng.sample(spare[:-8], 10)
            comments = list(enumerate(s.title for s in spare[-rng.randint(3, 8) :]))
            body = page_html(lang, item, paragraphs, related, comments, k)
            (www / f"a{k}.html").write_bytes(body)
            # must not reach the extracted text (unless a feedgen title repeats a sentence)
            clutter = [s.title for s in related] + [c for _, c in comments] + [UI[lang][1]]
            clutter = [c for c in clutter if not any(c in p for p in paragraphs)]
            pages.append(SimpleNamespace(name=f"a{k}.html", body=body, clutter=clutter,
                                         paragraphs=paragraphs))  # fmt: skip
            rss.append(  # relative link (the port is not known yet): normalize resolves it
                f"<item><title>{escape(item.title)}</title><link>/a{k}.html</link>"
                f"<guid>bench-{k}</guid><pubDate>{format_datetime(item.published)}</pubDate>"
                f"<description>{escape(first_sentence(item.description))}</description></item>"
            )
        rss.append("</channel></rss>")
        (www / f"f{j}-{lang}.xml").write_text("\n".join(rss), encoding="utf-8")
        feeds.append(SimpleNamespace(name=f"f{j}-{lang}.xml", language=lang, items=len(items)))
    return feeds, pages


def pages_phase(args, tmp: Path, base: str, pages, out: dict, extra: dict) -> None:
    """(1) Pages.text_of over every page from T threads, then extract_page alone."""
    from monitor.cpu import CpuPool, resolve_processes
    from monitor.extract import extract_page
    from monitor.settings import load_settings
    from monitor.stages.fetch import Fetcher
    from monitor.stages.fulltext import Pages

    overrides = {"data_dir": tmp / "data-pages", "per_host_min_interval_seconds": 0}
    overrides["per_host_concurrency"] = min(16, args.threads)
    settings = load_settings(config_path=tmp / "empty.toml", overrides=overrides, environ={})
    cpu = CpuPool(resolve_processes(settings.parse_processes))
    fetcher = Fetcher(settings)
    urls = [f"{base}/{p.name}" for p in pages]
    try:
        cpu.warm()
        with ThreadPoolExecutor(args.threads) as pool:
            # warm-up: robots.txt, connections, trafilatura imported in every parser process
            list(pool.map(Pages(fetcher, settings, cpu).text_of, urls[: 4 * args.threads]))
            pids, runs = cpu.pids(), []
            for _ in range(args.repeat):
                texts = Pages(fetcher, settings, cpu)  # a fresh one: robots.txt is fetched again
                wall, used = time.perf_counter(), time.process_time() + pb.children_cpu(pids)
                results = list(pool.map(texts.text_of, urls))
                used = time.process_time() + pb.children_cpu(pids) - used
                runs.append((time.perf_counter() - wall, used))
        peak = sum(pb.children_peak_kib(p) for p in pids)  # 0: no parser processes (1 core)
    finally:
        cpu.close()
        fetcher.close()
    statuses = extra["fetch_extract_statuses"] = Counter(status for _, status in results)
    if statuses != {"ok": len(pages)}:
        print(f"WARNING: not every page gave text: {dict(statuses)}")
    out.update(pages=len(pages), page_kib_mean=sum(len(p.body) for p in pages) / len(pages) / 1024)
    wall, used = median(runs)
    extra["parser_processes"], extra["runs"]["fetch_extract_wall_s"] = len(pids), runs
    out["fetch_extract_pages_per_s"] = len(pages) / wall
    out["fetch_extract_cpu_ms_per_page"] = 1000 * used / len(pages)
    quality = extra["extraction"] = Counter(total=len(pages))
    for page, (text, _) in zip(pages, results, strict=True):
        got = text.text if text else ""
        quality["all_paragraphs"] += all(p[:60] in got for p in page.paragraphs)
        quality["with_clutter"] += any(c in got for c in page.clutter)
    extract_page(pages[0].body, urls[0], settings.full_text_max_chars)  # imports trafilatura
    runs = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        for page, url in zip(pages, urls, strict=True):
            extract_page(page.body, url, settings.full_text_max_chars)
        runs.append(time.perf_counter() - started)
    seconds = median(runs)
    out["extract_alone_pages_per_s"] = len(pages) / seconds
    out["extract_alone_ms_per_page"] = 1000 * seconds / len(pages)
    if peak:
        out["pages_parser_peak_rss_kib"] = peak


def pipeline_phase(args, tmp: Path, base: str, feeds, out: dict, extra: dict) -> None:
    """(2) poll_once over the summary-only feeds, full_text off and on, ``repeat`` times."""
    from monitor.cpu import CpuPool
    from monitor.stages import detect_language, fulltext

    def warm(pool, _warm=CpuPool.warm):
        _warm(pool)
        with ThreadPoolExecutor(2 * pool.processes or 1) as threads:  # reaches every process
            list(threads.map(lambda _: pool.run(warm_job), range(4 * pool.processes)))

    def timed(article, ctx, _fn=fulltext.run):  # counts each page's outcome
        _fn(article, ctx)
        if article.feed.full_text and article.fulltext:
            with lock:
                statuses[f"{article.fulltext.source}:{article.fulltext.status}"] += 1

    detect_language.detect("Президент заявил о готовности к переговорам", "ru", 0.5)  # lingua
    out["rss_before_pipeline_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    names, items, lock = [f.name for f in feeds], sum(f.items for f in feeds), threading.Lock()
    runs, statuses = defaultdict(list), Counter()
    for tag in TAGS:
        lines = []
        for feed in feeds:
            lines += ["[[feeds]]", f'name = "{feed.name}"', f'url = "{base}/{feed.name}"']
            lines += [f'language = "{feed.language}"', f"full_text = {str(tag == 'with').lower()}"]
        (tmp / f"feeds-{tag}.toml").write_text("\n".join(lines), encoding="utf-8")
    fulltext.run, CpuPool.warm = timed, warm
    try:
        for rep in range(args.repeat):
            for tag in TAGS if rep % 2 == 0 else TAGS[::-1]:  # alternate: drift hits both
                reports, wall, used = pb.run_pipeline(
                    tmp, f"{tag}{rep}", tmp / f"feeds-{tag}.toml", names, args.workers, None,
                    args.parse_processes,
                )  # fmt: skip
                runs[tag].append((wall, used, pb.WORKER_PEAK_KIB.get(f"{tag}{rep}", 0)))
                if sum(r.stored for r in reports) != items:
                    print(f"WARNING: {tag} full text: {sum(r.stored for r in reports)} stored")
    finally:
        fulltext.run, CpuPool.warm = timed.__defaults__[0], warm.__defaults__[0]
    for tag in TAGS:
        wall, used, _ = median(runs[tag])
        out[f"pipeline_{tag}_wall_s"], out[f"pipeline_{tag}_cpu_s"] = wall, used
        out[f"pipeline_{tag}_items_per_s"] = items / wall
        if max(peak for *_, peak in runs[tag]):
            out[f"pipeline_{tag}_parser_peak_rss_kib"] = max(peak for *_, peak in runs[tag])
        extra["runs"][f"pipeline_{tag}"] = runs[tag]
    extra["fulltext_statuses"] = statuses
    out["pipeline_items"] = items
    out["fulltext_share_ratio"] = 1 - out["pipeline_without_wall_s"] / out["pipeline_with_wall_s"]
    out["fulltext_cpu_share_ratio"] = 1 - out["pipeline_without_cpu_s"] / out["pipeline_with_cpu_s"]


def warm_job() -> None:
    """What a running daemon's parser process has done already: imported trafilatura and
    loaded lingua's models (lazily, on the first Latin-script text without Azerbaijani
    letters: ~0.3 s; monitor.cpu._init_worker only builds the detector)."""
    from monitor.extract import extract_page
    from monitor.stages import detect_language

    extract_page(b"<html><body><p>warm</p></body></html>", "http://127.0.0.1/", 500)
    detect_language.detect("The president said he was ready for talks", "en", 0.5)
    time.sleep(0.05)  # let the other processes take the other jobs


def median(runs: list):
    """The middle run, by its first figure (wall seconds)."""
    return sorted(runs)[len(runs) // 2]


def report(result: dict) -> str:
    fig, m = result["figures"], result["machine"]
    lines = [f"`{result['command']}`", ""]
    lines += [f"{m['cpu_model']}, {m['cores']} cores ({m['usable_cores']} usable), {m['python']}"]
    lines += [f"trafilatura {m['trafilatura']}, lxml {m['lxml']}, "
              f"{result['parser_processes']} parser processes, load average (1 min) "
              f"{result['load_average_1min']['start']:.2f} at start", ""]  # fmt: skip
    lines += ["| figure | value |", "|---|---|"]
    lines += [f"| {key} | {pb.shown(key, value)} |" for key, value in fig.items()]
    lines += ["", f"Page outcomes (with, all runs): {dict(result['fulltext_statuses'])}"]
    lines += [f"Extraction quality: {dict(result['extraction'])}", "", result["notes"]]
    lines += [f"Took {result['total_s']:.1f} s."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, help="article pages (300; quick 40)")
    parser.add_argument("--threads", type=int, default=8, help="threads calling text_of (8)")
    parser.add_argument("--workers", type=int, default=8, help="pipeline worker threads (8)")
    parser.add_argument("--parse-processes", type=int, default=-1, help="as the setting (-1)")
    parser.add_argument("--repeat", type=int, help="runs of each measure, median kept (3; quick 1)")
    parser.add_argument("--quick", action="store_true", help="a small run for a smoke test")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/out/fulltext.json")
    args = parser.parse_args(argv)
    args.pages = args.pages or (40 if args.quick else 300)
    args.repeat = args.repeat or (1 if args.quick else 3)
    timeout = 100.0 if args.quick else 900.0
    faulthandler.dump_traceback_later(timeout, exit=True)  # bounded even if something hangs
    started, load = time.perf_counter(), os.getloadavg()[0]
    from monitor.settings import Settings

    interval, workers = (Settings.model_fields[k].default for k in DEFAULTS)
    figures, extra = {}, {"runs": {}}
    with tempfile.TemporaryDirectory(prefix="monitor-fulltext-bench-") as name:
        tmp, www = Path(name), Path(name) / "www"
        www.mkdir()
        (tmp / "empty.toml").write_text("")  # not config/monitor.toml of the checkout
        feeds, pages = make_site(args.pages, www)
        with pb.served(www, lifetime=timeout + 30) as base:
            pages_phase(args, tmp, base, pages, figures, extra)
            pipeline_phase(args, tmp, base, feeds, figures, extra)
    figures["peak_rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    figures["default_per_host_min_interval_s"] = interval
    figures["politeness_pages_per_host_per_min"] = 60 / interval
    figures["politeness_pages_per_s_all_workers"] = workers / interval
    faulthandler.cancel_dump_traceback_later()
    result = {
        "command": shlex.join(sys.orig_argv),
        "machine": pb.machine((*pb.PIPELINE_LIBS, "trafilatura", "lxml")),
        "load_average_1min": {"start": load, "end": os.getloadavg()[0]},  # others' CPU use
        "params": {k: getattr(args, k) for k in ("pages", "threads", "workers", "repeat")},
        "notes": f"All pages are on one host: measured with per_host_min_interval_seconds=0 "
        f"and per_host_concurrency raised, not the defaults. At the defaults (interval "
        f"{interval:g} s, {workers} workers) one outlet gets at most {60 / interval:.0f} "
        f"requests a minute and, a feed's pages being on its host, the daemon at most "
        f"{workers / interval:g} pages/s: "
        "politeness, not this CPU, bounds a real deployment.",
        "figures": figures,
        **extra,
        "total_s": time.perf_counter() - started,
    }
    pb.write_result(result, args.out, report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
