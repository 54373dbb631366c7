"""Shared fixtures: a real feed server on 127.0.0.1, settings and a context on a
temporary data folder, and a helper to write feeds files."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

from monitor.context import Context, utc_now
from monitor.settings import load_settings
from monitor.state import StateDB
from monitor.store import open_store
from tests.feedserver import FeedServer, feed_server, feed_server_session  # noqa: F401
from tests.localservers import request_recorder, self_signed_certificate  # noqa: F401

# Imported by the fault tests before pytest loads it as their plugin (its lock_holders
# fixture): marked here, early, so its asserts are rewritten like the tests' own.
pytest.register_assert_rewrite("tests.faultkit")

ROOT = Path(__file__).resolve().parent.parent

# argostranslate creates its data, cache and config folders under the user's home when it
# is imported; tests keep them in a throw-away folder (set before any test imports it).
_ARGOS_HOME = Path(tempfile.mkdtemp(prefix="monitor-tests-argos-"))
for _var in ("XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME"):
    os.environ[_var] = str(_ARGOS_HOME / _var.lower())
os.environ["ARGOS_PACKAGE_INDEX"] = "http://127.0.0.1:9/"  # never the real index
FIXTURE_FEEDS = ROOT / "tests" / "fixtures" / "feeds"


def monitor_env(config: Path | None = None) -> dict[str, str]:
    """The environment of a ``monitor`` child process: this one's, without any
    ``MONITOR_*`` variable of the machine (a developer's settings must not leak into a
    test), and with ``MONITOR_CONFIG`` naming ``config`` when given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    if config is not None:
        env["MONITOR_CONFIG"] = str(config)
    return env


def write_feeds(path: Path, feeds: list[dict]) -> Path:
    """Write a feeds TOML file from dicts (name, url, language, ...)."""
    lines = []
    for feed in feeds:
        lines.append("[[feeds]]")
        lines += [f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in feed.items()]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@pytest.fixture
def make_settings(tmp_path):
    """Build settings on a temporary data folder, with no config file and no environment."""

    def make(feeds: list[dict] | None = None, **overrides):
        feeds_file = write_feeds(tmp_path / "feeds.toml", feeds or [])
        # every test server is 127.0.0.1: no pause between requests unless a test asks
        values = {
            "data_dir": tmp_path / "data",
            "feeds_file": feeds_file,
            "per_host_min_interval_seconds": 0,
            # no /healthz endpoint unless a test asks: a fixed port would clash with a
            # daemon running on this machine, and between tests
            "http_port": 0,
            **overrides,
        }
        return load_settings(_empty_config(tmp_path), values, environ={})

    return make


def _empty_config(tmp_path: Path) -> Path:
    path = tmp_path / "monitor.toml"
    if not path.exists():
        path.write_text("# empty: defaults\n")
    return path


@pytest.fixture
def make_context():
    """Build a Context on given settings; closed at the end of the test."""
    made: list[Context] = []

    def make(settings) -> Context:
        state = StateDB(settings.state_db_path)
        ctx = Context(settings, state, open_store(settings, state, utc_now))
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.close()
