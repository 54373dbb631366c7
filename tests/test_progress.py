"""Progress bars: the real commands draw one on a pseudo-terminal and nothing on a pipe;
log lines stay whole above a bar; the long functions' callbacks count the right totals
(seed files, pages to retry, pending articles with the tiny real Argos model, the bytes
of a package unpacked and downloaded from 127.0.0.1)."""

from __future__ import annotations

import fcntl
import io
import logging
import os
import select
import struct
import subprocess
import sys
import termios
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor import pipeline
from monitor.feeds import Feed
from monitor.logs import setup_logging
from monitor.progress import bars, on_terminal
from monitor.seed import PACKAGED, load_seed, seed_documents
from monitor.stages.fetch import Fetcher
from monitor.stages.fulltext import Pages
from monitor.stages.translate import translate_waiting
from monitor.translate.engine import Engine
from monitor.translate.models import download, install_file, install_from_index
from tests.conftest import write_feeds
from tests.fixtures.argos_model import build_package, serve_index
from tests.test_cli import Cli
from tests.test_fulltext import rss

SEED_FILES = len(seed_documents(PACKAGED, datetime.now(UTC)))
HY_ARTICLES = 5  # items of tests/fixtures/feeds/hy_armenian.xml


class Recorder:
    """A progress callback that keeps every (done, total) it hears."""

    def __init__(self):
        self.calls: list[tuple[int, int]] = []

    def __call__(self, done: int, total: int) -> None:
        self.calls.append((done, total))

    def check(self, total: int) -> None:
        """Starts at 0, never goes back, ends at the total, which never changed."""
        assert self.calls, "the callback was never called"
        assert self.calls[0] == (0, total) and self.calls[-1] == (total, total), self.calls
        dones = [done for done, _ in self.calls]
        assert dones == sorted(dones) and {t for _, t in self.calls} == {total}


@pytest.fixture(scope="session")
def hy_package(tmp_path_factory) -> Path:
    return build_package(tmp_path_factory.mktemp("argos-hy"), "hy")


@pytest.fixture
def cli(tmp_path, feed_server):
    c = Cli(tmp_path, feed_server)
    for var in ("HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME"):
        c.env[var] = str(tmp_path / "home" / var.lower())
    c.env["ARGOS_PACKAGE_INDEX"] = "http://127.0.0.1:9/"  # never the real index
    return c


def on_a_terminal(cli: Cli, *args: str, timeout: float = 120) -> tuple[str, str]:
    """Run ``monitor ARGS`` with stderr on a pseudo-terminal of 100 columns and stdout on
    a pipe; returns (what the terminal showed, stdout). Fails on a non-zero exit."""
    master, slave = os.openpty()
    # a new pty is 0 columns wide, where tqdm draws nothing; a terminal window is not
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
        cwd=cli.tmp,
        env=cli.env,
    )
    os.close(slave)
    shown = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not select.select([master], [], [], 1.0)[0]:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the process closed its end of the terminal
                break
            if not chunk:
                break
            shown += chunk
        else:
            raise AssertionError(f"monitor {' '.join(args)} still runs after {timeout} s")
        stdout = proc.communicate(timeout=30)[0].decode()
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = shown.decode(errors="replace")
    assert proc.returncode == 0, f"monitor {' '.join(args)} exited {proc.returncode}:\n{text}"
    return text, stdout


# -- the real commands ----------------------------------------------------------------


def test_seed_load_draws_a_bar_on_a_terminal(cli):
    shown, stdout = on_a_terminal(cli, "seed", "load")
    assert f"{SEED_FILES}/{SEED_FILES}" in shown and "files/s" in shown and "seed:" in shown
    assert "100%" in shown
    assert f"{SEED_FILES} new" in stdout and "\r" not in stdout  # the summary stays clean


def test_no_bar_when_stderr_is_a_pipe(cli):
    proc = cli.run("seed", "load")
    assert f"{SEED_FILES} new" in proc.stdout
    for trace in (f"{SEED_FILES}/{SEED_FILES}", "files/s", "\r", "%|"):
        assert trace not in proc.stderr and trace not in proc.stdout


def test_models_install_of_a_file_draws_a_byte_bar(cli, hy_package):
    shown, stdout = on_a_terminal(cli, "models", "install", str(hy_package))
    assert f"install {hy_package.name}:" in shown and "100%" in shown and "B/s" in shown
    assert "installed hy-en" in stdout


def test_translate_pending_counts_articles_on_a_terminal(cli, feed_server, hy_package):
    cli.feeds = [{"name": "hy", "url": feed_server.url("/feeds/hy_armenian.xml"), "language": "hy"}]
    write_feeds(cli.tmp / "feeds.toml", cli.feeds)
    cli.run("poll", "--once")
    cli.run("models", "install", str(hy_package))
    shown, stdout = on_a_terminal(cli, "translate", "--pending")
    assert f"{HY_ARTICLES}/{HY_ARTICLES}" in shown and "articles/s" in shown
    assert f"done {HY_ARTICLES}" in stdout


# -- the bar itself ---------------------------------------------------------------------


class FakeTerminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_bars_are_off_unless_the_stream_is_a_terminal(tmp_path):
    assert not on_terminal(io.StringIO())
    with open(tmp_path / "log", "w") as file:
        assert not on_terminal(file)
    assert not on_terminal(file)  # closed
    with bars(io.StringIO()) as bar:
        assert bar("seed", "files") is None
    terminal = FakeTerminal()
    with bars(terminal) as bar:
        assert bar("silent", "files") is not None  # a step that never reports ...
    assert terminal.getvalue() == ""  # ... draws nothing


def test_log_lines_stay_whole_above_the_bar(monkeypatch):
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    root = logging.getLogger("monitor")
    saved = (root.handlers[:], root.level, root.propagate)
    try:
        setup_logging("INFO", "text")  # a handler on sys.stderr, as the commands have
        with bars() as bar:
            progress = bar("work", "items")
            progress(0, 4)
            progress(2, 4)
            logging.getLogger("monitor.test").info("halfway_there", extra={"items": 2})
            progress(4, 4)
        logging.getLogger("monitor.test").info("after_the_bar")
    finally:
        root.handlers[:], root.level, root.propagate = saved
    lines = terminal.getvalue().split("\n")
    logged = [line.rsplit("\r", 1)[-1] for line in lines if "halfway_there" in line]
    assert len(logged) == 1 and logged[0].endswith("INFO halfway_there items=2"), lines
    assert "%|" not in logged[0]  # not drawn over a bar, nor a bar over it
    assert any("4/4" in line for line in lines)
    assert lines[-2].endswith("INFO after_the_bar")  # the handler is back after the bar


def test_a_new_step_closes_the_previous_bar():
    terminal = FakeTerminal()
    with bars(terminal) as bar:
        first, second = bar("download", "MB"), bar("install", "MB")
        first(0, 2 * 1024 * 1024)
        first(2 * 1024 * 1024, 2 * 1024 * 1024)
        second(0, 3 * 1024 * 1024)
        second(3 * 1024 * 1024, 3 * 1024 * 1024)
    lines = [line.rsplit("\r", 1)[-1] for line in terminal.getvalue().split("\n") if line]
    assert len(lines) == 2, lines  # one finished line per step, in order
    assert lines[0].startswith("download: 100%") and "2.00M/2.00M" in lines[0]
    assert lines[1].startswith("install: 100%") and "3.00M/3.00M" in lines[1]


# -- the callbacks ----------------------------------------------------------------------


def test_load_seed_reports_each_file(make_settings, make_context):
    ctx = make_context(make_settings())
    progress = Recorder()
    assert load_seed(ctx, progress=progress).files == SEED_FILES
    progress.check(SEED_FILES)
    assert len(progress.calls) == SEED_FILES + 1


def test_retry_fulltext_reports_each_page(make_settings, make_context, feed_server):
    settings = make_settings(full_text=True)
    ctx = make_context(settings)
    fetcher = Fetcher(settings, ctx.stop)
    ctx.pages = Pages(fetcher, settings, ctx.cpu)
    try:
        links = [feed_server.url(f"/status/503?page={i}") for i in range(3)]
        items = [(f"Статья {i}", link, "Кратко.") for i, link in enumerate(links)]
        feed_server.set_route("/feed.xml", body=rss(items))
        feed = Feed(name="f", url=feed_server.url("/feed.xml"), language="ru")
        pipeline.poll_feed(ctx, fetcher, feed)
        progress = Recorder()
        assert sum(pipeline.retry_fulltext(ctx, progress=progress).values()) == 3
        progress.check(3)
        progress = Recorder()
        assert sum(pipeline.retry_fulltext(ctx, limit=2, progress=progress).values()) == 2
        progress.check(2)
    finally:
        fetcher.close()


def test_translate_waiting_counts_the_pending_articles_first(
    make_settings, make_context, feed_server, hy_package, tmp_path
):
    settings = make_settings(models_dir=tmp_path / "models")
    ctx = make_context(settings)
    ctx.translator = Engine(settings, ctx.state)
    fetcher = Fetcher(settings, ctx.stop)
    try:
        feed = Feed(name="hy", url=feed_server.url("/feeds/hy_armenian.xml"), language="hy")
        pipeline.poll_feed(ctx, fetcher, feed)
    finally:
        fetcher.close()
    progress = Recorder()
    assert translate_waiting(ctx, "pending", 100, progress) == {}  # no model: nothing
    assert progress.calls == []
    install_file(hy_package, settings.models_dir)
    progress = Recorder()
    assert translate_waiting(ctx, "pending", 3, progress) == {"done": 3}  # the limit
    progress.check(3)
    progress = Recorder()
    assert translate_waiting(ctx, "pending", 100, progress) == {"done": HY_ARTICLES - 3}
    progress.check(HY_ARTICLES - 3)


def unpacked_bytes(package: Path) -> int:
    with zipfile.ZipFile(package) as archive:
        return sum(info.file_size for info in archive.infolist() if not info.is_dir())


def test_install_file_reports_the_bytes_unpacked(hy_package, tmp_path):
    progress = Recorder()
    model = install_file(hy_package, tmp_path / "models", progress)
    progress.check(unpacked_bytes(hy_package))
    assert model.pair == "hy-en"
    assert [p.name for p in (tmp_path / "models").iterdir()] == [model.name]  # no leftovers
    again = Recorder()
    assert install_file(hy_package, tmp_path / "models", again).path == model.path  # replaced
    again.check(unpacked_bytes(hy_package))
    assert [p.name for p in (tmp_path / "models").iterdir()] == [model.name]


def test_download_reports_bytes_against_content_length(feed_server, hy_package, tmp_path):
    body = hy_package.read_bytes()
    feed_server.set_route("/pkg/hy.argosmodel", body=body)
    progress = Recorder()
    links = ["http://127.0.0.1:9/closed.argosmodel", feed_server.url("/pkg/hy.argosmodel")]
    dest = download(links, tmp_path / "hy.argosmodel", progress)
    assert dest.read_bytes() == body
    assert progress.calls[-1] == (len(body), len(body))
    assert {total for _, total in progress.calls} == {len(body)}
    # a download cut short (Content-Length 1 MiB, a few hundred bytes, then close) fails,
    # and leaves neither the file nor its partial copy
    with pytest.raises(OSError):
        download([feed_server.url("/oversize-declared/1")], tmp_path / "cut.argosmodel")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hy.argosmodel"]


def test_install_from_index_reports_the_download_then_the_unpacking(
    feed_server, hy_package, tmp_path, monkeypatch
):
    import argostranslate.settings

    index = serve_index(feed_server, hy_package, "hy")
    monkeypatch.setattr(argostranslate.settings, "remote_package_index", index)
    monkeypatch.setattr(argostranslate.settings, "downloads_dir", tmp_path / "downloads")
    # install_from_index points argostranslate at the target folder: undone afterwards
    monkeypatch.setenv("ARGOS_PACKAGES_DIR", os.environ.get("ARGOS_PACKAGES_DIR", ""))
    for name in ("package_data_dir", "package_dirs"):
        monkeypatch.setattr(argostranslate.settings, name, getattr(argostranslate.settings, name))
    steps: dict[str, Recorder] = {}

    def step(desc: str, unit: str) -> Recorder:
        assert unit == "MB"
        return steps.setdefault(desc, Recorder())

    models = install_from_index(["hy"], tmp_path / "models", steps=step)
    assert [m.pair for m in models] == ["hy-en"]
    assert list(steps) == ["download hy→en", "install hy→en"]
    size = hy_package.stat().st_size
    assert steps["download hy→en"].calls[-1] == (size, size)
    steps["install hy→en"].check(unpacked_bytes(hy_package))
    assert list((tmp_path / "downloads").iterdir()) == []  # the download is not kept
