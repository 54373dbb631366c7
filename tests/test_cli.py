"""The `monitor` command as a user runs it: a real process, real feeds on 127.0.0.1."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, monitor_env, write_feeds

# (file, declared language, entries in it)
FIXTURES = [
    ("ru_windows1251.xml", "ru", 5),
    ("fa_persian.xml", "fa", 5),
    ("hy_armenian.xml", "hy", 5),
    ("az_latin.xml", "az", 5),
    ("ru_rdf.xml", "ru", 4),
    ("en_atom.xml", "en", 4),
]
ARTICLES = sum(n for _, _, n in FIXTURES)


class Cli:
    """Runs `python -m monitor` with a private config, data folder and environment."""

    def __init__(self, tmp_path: Path, server):
        self.tmp = tmp_path
        self.config = tmp_path / "monitor.toml"
        self.config.write_text(
            'data_dir = "data"\nfeeds_file = "feeds.toml"\nper_host_min_interval_seconds = 0\n'
            "http_port = 0\n"
        )
        self.feeds = [
            {
                "name": f"fixture {name}",
                "url": server.url(f"/etag/{name}"),
                "language": lang,
                "country": "AM",
            }
            for name, lang, _ in FIXTURES
        ]
        write_feeds(tmp_path / "feeds.toml", self.feeds)
        self.env = monitor_env(self.config)

    def run(self, *args: str, check: bool = True, timeout: float = 60, env=None):
        proc = subprocess.run(
            [sys.executable, "-m", "monitor", *args],
            capture_output=True,
            text=True,
            cwd=self.tmp,
            env={**self.env, **(env or {})},
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"monitor {' '.join(args)} failed:\n{proc.stderr}")
        return proc

    def json_lines(self, *args: str) -> list[dict]:
        return [json.loads(line) for line in self.run(*args).stdout.splitlines() if line]


@pytest.fixture
def cli(tmp_path, feed_server):
    return Cli(tmp_path, feed_server)


def test_poll_then_search_finds_each_article_once_and_a_second_poll_adds_nothing(cli):
    first = cli.json_lines("poll", "--once", "--json")
    assert {r["feed"] for r in first} == {f["name"] for f in cli.feeds}
    assert all(r["outcome"] == "ok" for r in first)
    stored = sum(r["stored"] for r in first)
    assert stored == ARTICLES

    hits = cli.json_lines("search", "--json", "--kind", "article", "--limit", "500")
    assert len(hits) == stored
    assert len({h["id"] for h in hits}) == stored
    assert len({h["url"] for h in hits}) == stored
    for hit in hits:
        assert {"id", "url", "title", "language", "source", "published", "kind"} <= set(hit)

    # every article is found by a word of its own title, once
    for hit in hits[:: max(1, len(hits) // 8)]:
        word = max(hit["title"].split(), key=len).strip("«»\"'.,:;!?()՝։")
        found = cli.json_lines("search", word, "--json", "--limit", "500")
        assert [h["id"] for h in found].count(hit["id"]) == 1, word

    again = cli.json_lines(
        "poll", "--once", "--json", *sum([["--feed", f["name"]] for f in cli.feeds], [])
    )
    assert sum(r["stored"] for r in again) == 0
    assert {r["outcome"] for r in again} == {"not_modified"}
    assert len(cli.json_lines("search", "--json", "--kind", "article", "--limit", "500")) == stored


def test_search_filters_by_language_and_time(cli):
    cli.run("poll", "--once")
    ru = cli.json_lines("search", "--json", "--lang", "ru", "--limit", "100")
    assert ru and {h["language"] for h in ru} == {"ru"}
    assert len(ru) == 9
    hy = cli.json_lines("search", "Հայաստան*", "--json", "--lang", "hy")
    assert hy and {h["language"] for h in hy} == {"hy"}
    old = cli.json_lines("search", "--json", "--until", "2000-01-01")
    assert old == []
    text = cli.run("search", "Azərbaycan").stdout
    assert "hits" in text and "[az]" in text


def test_stats_counts_languages_duplicates_and_failing_feeds(cli, feed_server):
    cli.feeds.append({"name": "broken", "url": feed_server.url("/status/404"), "language": "ru"})
    cli.feeds.append(
        {"name": "dup copy", "url": feed_server.url("/feeds/ru_windows1251.xml"), "language": "ru"}
    )
    write_feeds(cli.tmp / "feeds.toml", cli.feeds)
    cli.run("poll", "--once")
    stats = json.loads(cli.run("stats", "--json").stdout)
    assert stats["documents"]["language"]["hy"] == 5
    assert stats["duplicates"] == 5
    assert [f["feed"] for f in stats["feeds_failing"]] == ["broken"]
    assert "feeds failing: 1" in cli.run("stats").stdout


def test_feeds_check_prints_what_would_be_stored_and_writes_nothing(cli, feed_server):
    rows = cli.json_lines("feeds", "check", feed_server.url("/feeds/fa_persian.xml"), "--json")
    assert len(rows) == 5 and {r["language"] for r in rows} == {"fa"}
    assert not (cli.tmp / "data").exists()
    bad = cli.run("feeds", "check", feed_server.url("/status/404"), check=False)
    assert bad.returncode == 2 and "HTTP 404" in bad.stderr


def test_feeds_list_and_opml_import(cli):
    opml = cli.tmp / "list.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="2.0"><head><title>t</title></head><body>'
        '<outline text="Caucasus"><outline text="Новая лента" type="rss" '
        'xmlUrl="https://feeds.example-new.test/rss" language="ru"/>'
        '<outline title="No language" xmlUrl="https://feeds.example-nolang.test/rss"/>'
        "</outline></body></opml>",
        encoding="utf-8",
    )
    out = cli.run("feeds", "import-opml", str(opml)).stdout
    assert "added: Новая лента [ru]" in out and "skipped: No language" in out
    assert (cli.tmp / "data" / "imported-feeds.toml").exists()
    names = [r["name"] for r in cli.json_lines("feeds", "list", "--json")]
    assert "Новая лента" in names and len(names) == len(cli.feeds) + 1
    again = cli.run("feeds", "import-opml", str(opml)).stdout
    assert "0 feeds added" in again


def test_seed_load_is_idempotent_and_searchable(cli):
    assert "5 new" in cli.run("seed", "load").stdout
    assert "0 new, 5 already stored" in cli.run("seed", "load").stdout
    hits = cli.json_lines("search", "Leonkov", "--json", "--kind", "seed")
    assert len(hits) == 1 and hits[0]["kind"] == "seed" and hits[0]["language"] == "en"
    with_url = cli.json_lines("search", '"military intervention"', "--json")
    assert with_url[0]["url"].startswith("https://www.washingtonexaminer.com/")


def test_config_show_reflects_file_environment_and_command_line(cli):
    out = cli.run(
        "config", "show", "--set", "workers=3", env={"MONITOR_POLL_INTERVAL_MINUTES": "45"}
    ).stdout
    assert "workers = 3" in out and "poll_interval_minutes = 45.0" in out
    assert f'data_dir = "{cli.tmp / "data"}"' in out


@pytest.mark.parametrize(
    "args, env, message",
    [
        (["--set", "workers=0"], {}, "setting `workers` from the command line is '0'"),
        ([], {"MONITOR_POLL_INTERVALL_MINUTES": "5"}, "did you mean `poll_interval_minutes`"),
        ([], {"MONITOR_LOG_LEVEL": "LOUD"}, "setting `log_level` from environment variable"),
        (["--config", "/nonexistent/monitor.toml"], {}, "does not exist"),
    ],
)
def test_a_config_error_stops_start_up_with_the_key_and_the_fix(cli, args, env, message):
    proc = cli.run("poll", "--once", *args, check=False, env=env)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert not (cli.tmp / "data").exists()


def test_a_bad_feeds_file_names_the_feed_and_the_key(cli):
    (cli.tmp / "feeds.toml").write_text('[[feeds]]\nname = "x"\nurl = "ftp://a"\nlanguage = "de"\n')
    proc = cli.run("poll", "--once", check=False)
    assert proc.returncode == 2
    assert "feed 'x'" in proc.stderr and "`url`" in proc.stderr and "`language`" in proc.stderr


def test_a_bad_query_is_explained(cli):
    proc = cli.run("search", '"unclosed', check=False)
    assert proc.returncode == 2 and "unclosed quote" in proc.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_the_daemon_stops_within_ten_seconds_on_a_signal(cli, feed_server, sig):
    cli.feeds.append({"name": "slow", "url": feed_server.url("/slow/25"), "language": "ru"})
    cli.feeds.append({"name": "drip", "url": feed_server.url("/drip/100000/0.5"), "language": "ru"})
    write_feeds(cli.tmp / "feeds.toml", cli.feeds)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "monitor",
            "run",
            "--set",
            "scheduler_tick_seconds=1",
            # every test feed is on 127.0.0.1: lift the per-host limit so that slow and
            # drip do not hold the host's only two slots while the fast feeds wait
            "--set",
            "per_host_concurrency=16",
            "--log-format",
            "json",
        ],
        cwd=cli.tmp,
        env=cli.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (
            feed_server.count("/slow/25") == 0 or _articles(cli) < ARTICLES
        ):
            assert proc.poll() is None, proc.communicate()[1]  # the daemon died
            time.sleep(0.2)
        # the fast feeds are stored; slow and drip are in flight
        assert feed_server.count("/slow/25") == 1 and _articles(cli) == ARTICLES
        started = time.monotonic()
        proc.send_signal(sig)
        proc.wait(timeout=15)
        took = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
    _, err = proc.communicate()
    assert proc.returncode == 0, err
    assert took < 10, took
    events = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert events[-1]["event"] == "daemon_stopped"
    # at boot the daemon says which parts are off, and why
    components = {e["component"]: e for e in events if e["event"] == "component"}
    assert components["translation hy→en"]["on"] is False
    assert "monitor models install hy" in components["translation hy→en"]["why"]
    assert components["full_text"]["on"] is False
    assert "window 3 days, 0 signatures in memory" in components["stories"]["why"]
    loaded = [e for e in events if e["event"] == "stories_loaded"]
    assert [(e["signatures"], e["forgotten"]) for e in loaded] == [(0, 0)]
    # the seed corpus was loaded on first start and the fast feeds were stored once
    stats = json.loads(cli.run("stats", "--json").stdout)
    assert stats["documents"]["kind"]["seed"] == 5
    assert stats["documents"]["kind"]["article"] == ARTICLES
    state = {f["feed"]: f for f in stats["feeds_nothing_new"]}
    assert "slow" not in state  # the cut-short poll recorded nothing


def _articles(cli) -> int:
    proc = cli.run("stats", "--json", check=False)
    if proc.returncode:
        return 0
    return json.loads(proc.stdout)["documents"]["kind"].get("article", 0)


def test_readme_commands_run_from_a_fresh_checkout_layout():
    assert (ROOT / "scripts" / "setup").exists() and (ROOT / "scripts" / "test").exists()
    assert "bash scripts/test" in (ROOT / ".ci" / "run").read_text()
