"""One validated settings model: file, then environment, then command line.

``load_settings`` reads ``config/monitor.toml`` (or ``--config`` / ``MONITOR_CONFIG``),
overlays every ``MONITOR_<KEY>`` environment variable, then ``--set KEY=VALUE`` and the
dedicated command-line options. An unknown key or a bad value raises ``StartupError``
naming the key, where it came from, and the fix; nothing falls back silently.

Relative paths in the config file resolve against the file's folder; relative paths
from the environment or the command line resolve against the working directory.
The reasons for the default numbers are in docs/choices.md.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
)

from monitor.errors import StartupError

ENV_PREFIX = "MONITOR_"
# Environment variables with the prefix that are not settings: the config path itself
# (an exact name, so that a typo such as MONITOR_CONFIG_FILE is reported, not ignored),
# and the prefixes of the variables that switch on optional test and benchmark targets.
ENV_CONFIG = "MONITOR_CONFIG"
ENV_NOT_SETTINGS = ("MONITOR_TEST_", "MONITOR_BENCH_")
DEFAULT_CONFIG = Path("config/monitor.toml")
PATH_KEYS = (
    "data_dir", "feeds_file", "seed_dir", "models_dir", "elasticsearch_ca_certs", "alerts_file",
)  # fmt: skip
# Secrets may also come from a file named by ``<key>_file`` (MONITOR_<KEY>_FILE), the way
# Docker and systemd hand out credentials; the file's content, stripped, is the value.
SECRET_KEYS = ("elasticsearch_password", "elasticsearch_api_key")
SECRET_FILE_SUFFIX = "_file"


class Settings(BaseModel):
    """Every setting of the daemon. Field descriptions are the documentation."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    data_dir: Path = Field(
        Path("data"), description="Folder for the state database and the embedded store."
    )
    feeds_file: Path = Field(
        Path("config/feeds.toml"), description="TOML file listing the feeds to poll."
    )
    seed_dir: Path | None = Field(
        None, description="Folder of seed-corpus .txt files; empty means the packaged copy."
    )
    models_dir: Path | None = Field(
        None, description="Folder of installed Argos packages; empty means <data_dir>/models."
    )
    translation: bool = Field(
        True, description="Translate non-English articles to English when a model is installed."
    )
    translation_threads: int = Field(
        0, ge=0, le=64, description="CPU threads of each translator (0: one per core)."
    )
    translation_batch_size: int = Field(
        32, ge=1, le=1024, description="Sentences translated together in one batch."
    )
    translation_beam_size: int = Field(2, ge=1, le=8, description="Beam width of the decoder.")
    translation_compute_type: Literal["int8", "int8_float32", "int16", "float32", "default"] = (
        Field("int8", description="CTranslate2 compute type on CPU.")
    )
    translation_max_length_ratio: float = Field(
        3.0,
        ge=1,
        le=10,
        description="An output sentence is cut at this many times its input tokens (+10).",
    )
    translation_sweep_seconds: float = Field(
        60,
        ge=5,
        le=3600,
        description="How often the daemon looks for new models and pending translations.",
    )
    load_seed_on_start: bool = Field(
        True, description="Index the seed corpus the first time the daemon starts."
    )
    poll_interval_minutes: float = Field(
        30, ge=5, le=1440, description="Default interval between polls of one feed."
    )
    min_poll_interval_minutes: float = Field(
        5, ge=1, le=1440, description="No feed is polled more often than this."
    )
    max_backoff_minutes: float = Field(
        1440, ge=5, le=10080, description="Cap of the delay after failures, Retry-After, ttl."
    )
    retry_after_cap_minutes: float = Field(
        360, ge=1, le=10080, description="Longest Retry-After honoured."
    )
    max_ttl_minutes: float = Field(720, ge=5, le=10080, description="Cap of RSS <ttl> and max-age.")
    jitter_fraction: float = Field(
        0.1, ge=0, le=0.5, description="Random +/- share of each delay, to spread load."
    )
    adaptive_polling: bool = Field(
        True, description="Poll feeds with many new items more often, idle feeds less."
    )
    scheduler_tick_seconds: float = Field(
        15, ge=1, le=600, description="How often the scheduler looks for due feeds."
    )
    workers: int = Field(8, ge=1, le=64, description="Feeds polled at the same time.")
    parse_processes: int = Field(
        -1,
        ge=-1,
        le=64,
        description="Processes that parse feeds and prepare articles (-1: one per core; "
        "0: inside the polling threads).",
    )
    parse_timeout_seconds: float = Field(
        60,
        ge=1,
        le=3600,
        description="Longest time parsing one feed or page may take in a parser process "
        "(then the processes are restarted and the poll is `malformed`).",
    )
    per_host_concurrency: int = Field(
        2, ge=1, le=16, description="Requests to one host at the same time."
    )
    per_host_min_interval_seconds: float = Field(
        1.0,
        ge=0,
        le=60,
        description="Least time between two requests to one host (feeds and pages).",
    )
    full_text: bool = Field(
        False,
        description="Fetch each new article's page and extract its text (a feed's "
        "`full_text` overrides).",
    )
    full_text_max_chars: int = Field(
        20000, ge=500, le=1_000_000, description="Cap of the text extracted from a page."
    )
    robots_cache_minutes: float = Field(
        1440, ge=1, le=10080, description="How long a host's robots.txt is trusted."
    )
    connect_timeout_seconds: float = Field(10, gt=0, le=120, description="TCP/TLS connect timeout.")
    read_timeout_seconds: float = Field(
        30, gt=0, le=300, description="Longest wait for the next bytes of a response."
    )
    fetch_deadline_seconds: float = Field(
        120, gt=0, le=900, description="Longest time one fetch may take in all."
    )
    max_feed_bytes: int = Field(
        10 * 1024 * 1024, ge=1024, le=512 * 1024 * 1024, description="Byte cap of one feed body."
    )
    max_redirects: int = Field(5, ge=0, le=20, description="Redirects followed per fetch.")
    user_agent: str = Field(
        "monitor/0.1 (multilingual news monitoring daemon; python-httpx)",
        min_length=8,
        description="User-Agent header of every request; put a contact in it.",
    )
    revalidate_every_polls: int = Field(
        12,
        ge=0,
        le=1000,
        description="Every Nth poll is sent without ETag/Last-Modified (0: never).",
    )
    max_entries_per_feed: int = Field(
        1000, ge=1, le=100000, description="Entries read from one feed body."
    )
    future_date_tolerance_minutes: float = Field(
        120, ge=0, le=2880, description="A date further ahead than this is replaced by fetch time."
    )
    language_min_confidence: float = Field(
        0.5, ge=0, le=1, description="Below this the feed's declared language is kept."
    )
    shutdown_grace_seconds: float = Field(
        6, ge=0, le=9, description="Time in-flight polls get to finish on SIGTERM/SIGINT."
    )
    elasticsearch_url: str = Field(
        "",
        pattern=r"^(https?://\S+)?$",
        description="Elasticsearch to index into (http(s)://host:port); empty means the "
        "embedded store.",
    )
    elasticsearch_username: str = Field("", description="Elasticsearch user (basic auth).")
    elasticsearch_password: SecretStr = Field(
        SecretStr(""), description="Password of `elasticsearch_username` (or `_file`)."
    )
    elasticsearch_api_key: SecretStr = Field(
        SecretStr(""), description="Elasticsearch API key, base64 `id:key` (or `_file`)."
    )
    elasticsearch_ca_certs: Path | None = Field(
        None, description="CA certificate (PEM) that signed the cluster's certificate."
    )
    elasticsearch_verify_certs: bool = Field(
        True, description="Check the cluster's TLS certificate (turn off only for tests)."
    )
    elasticsearch_index: str = Field(
        "monitor-articles",
        pattern=r"^[a-z0-9][a-z0-9_.-]{0,200}$",
        description="Alias the daemon writes and Kibana reads; indices are <alias>-000001...",
    )
    elasticsearch_replicas: int = Field(
        1, ge=0, le=10, description="Replicas of each index (0 on a single node)."
    )
    elasticsearch_rollover_max_age_days: int = Field(
        30, ge=1, le=3650, description="ILM rolls the write index over after this many days."
    )
    elasticsearch_rollover_max_primary_gb: int = Field(
        30, ge=1, le=200, description="... or when its primary shard reaches this size."
    )
    elasticsearch_timeout_seconds: float = Field(
        30, gt=0, le=300, description="Longest wait for one Elasticsearch request."
    )
    elasticsearch_bulk_size: int = Field(
        500, ge=1, le=10000, description="Documents per bulk request."
    )
    alerts_file: Path = Field(
        Path("config/alerts.toml"),
        description="Alert rules and channels (TOML); by default alerts.toml beside the config "
        "file, and no alerts when that file does not exist.",
    )
    alerts_throttle_hours: float = Field(
        24,
        ge=0,
        le=720,
        description="A rule alerts once per story within this many hours (a rule's "
        "`throttle_hours` overrides it).",
    )
    alerts_match_seconds: float = Field(
        5, gt=0, le=3600, description="How often the daemon matches new articles and sends alerts."
    )
    kibana_public_url: str = Field(
        "",
        pattern=r"^(https?://\S+)?$",
        description="Kibana's address as analysts' browsers reach it, for links in alerts "
        "(default: kibana_url).",
    )
    story_similarity: float = Field(
        0.5,
        gt=0,
        le=1,
        description="Articles in one language whose texts share this fraction of word "
        "3-shingles (estimated Jaccard) are one story.",
    )
    story_similarity_across_languages: float = Field(
        0.5,
        gt=0,
        le=1,
        description="Articles in different languages whose English translations share this "
        "fraction of content words are one story.",
    )
    story_window_days: int = Field(
        3,
        ge=1,
        le=90,
        description="Articles join stories seen within this many days; older signatures are "
        "forgotten, which bounds memory.",
    )
    story_related_seeds: int = Field(
        3, ge=0, le=20, description="Seed analyses linked to each story (0: none)."
    )
    kibana_url: str = Field(
        "",
        pattern=r"^(https?://\S+)?$",
        description="Kibana to load the saved objects into at start (and to link alerts to).",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Log level."
    )
    log_format: Literal["text", "json"] = Field("text", description="Log line format.")
    http_host: str = Field(
        "127.0.0.1",
        min_length=1,
        description="Address of the daemon's /healthz and /metrics endpoint (0.0.0.0: every "
        "interface, for a Prometheus on another machine).",
    )
    http_port: int = Field(
        8470, ge=0, le=65535, description="Port of /healthz and /metrics (0: no endpoint)."
    )
    shard: str = Field(
        "",
        pattern=r"^([1-9][0-9]*/[1-9][0-9]*)?$",
        description="This daemon's share of the feeds, `i/N` (1 to N), when N daemons share "
        "one Elasticsearch cluster; empty: every feed.",
    )

    _alerts_file_named: bool = PrivateAttr(default=False)

    @field_validator("shard")
    @classmethod
    def _shard_within(cls, value: str) -> str:
        if value:
            index, count = (int(part) for part in value.split("/"))
            if index > count:
                raise ValueError(f"shard {value}: i must be 1 to N, e.g. 1/{count}")
        return value

    @property
    def alerts_file_is_default(self) -> bool:
        """True when no one named ``alerts_file`` (then a missing file means no alerts)."""
        return not self._alerts_file_named

    @property
    def alert_link_base(self) -> str:
        """Kibana's address for links in alerts, or empty for no links."""
        return (self.kibana_public_url or self.kibana_url).rstrip("/")

    def redacted(self) -> dict[str, Any]:
        """The effective settings as plain values, secrets replaced by ``********``."""
        out: dict[str, Any] = {}
        for key, value in self.model_dump().items():
            if isinstance(value, SecretStr):
                out[key] = "********" if value.get_secret_value() else ""
            elif isinstance(value, Path):
                out[key] = str(value)
            else:
                out[key] = value
        return out

    @property
    def uses_elasticsearch(self) -> bool:
        """True when documents go to Elasticsearch instead of the embedded store."""
        return bool(self.elasticsearch_url)

    @property
    def state_db_path(self) -> Path:
        """The SQLite state database (per-feed state, seen ids, counters, quarantine)."""
        return self.data_dir / "state.sqlite3"

    @property
    def store_db_path(self) -> Path:
        """The embedded store (documents and their full-text index)."""
        return self.data_dir / "store.sqlite3"

    @property
    def imported_feeds_path(self) -> Path:
        """Feeds added by ``monitor feeds import-opml`` (config/ may be read-only)."""
        return self.data_dir / "imported-feeds.toml"


def setting_names() -> list[str]:
    """Every setting key, in declaration order."""
    return list(Settings.model_fields)


def env_name(key: str) -> str:
    """The environment variable that sets ``key``."""
    return ENV_PREFIX + key.upper()


def load_settings(
    config_path: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    """Build the settings from file, environment and command-line overrides.

    ``config_path`` None means ``MONITOR_CONFIG`` or ``config/monitor.toml`` if present.
    Raises ``StartupError`` with the key, its origin and the fix.
    """
    env = os.environ if environ is None else environ
    explicit = config_path or env.get(ENV_CONFIG)
    path = Path(explicit) if explicit else DEFAULT_CONFIG
    values: dict[str, Any] = {}
    origin: dict[str, str] = {}
    if path.exists():
        for key, value in _read_toml(path).items():
            _check_known(key, f"{path}")
            values[key] = _resolve(key, value, path.parent)
            origin[key] = str(path)
    elif explicit:
        where = "--config" if config_path else ENV_CONFIG
        raise StartupError(f"config file {path} (from {where}) does not exist; fix {where}")
    if "feeds_file" not in values:
        values["feeds_file"] = path.parent / "feeds.toml"
    if "alerts_file" not in values:
        values["alerts_file"] = path.parent / "alerts.toml"
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or _not_a_setting(name):
            continue
        key = name[len(ENV_PREFIX) :].lower()
        _check_known(key, f"environment variable {name}")
        values[key] = _default_if_empty(key, value)
        origin[key] = f"environment variable {name}"
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        _check_known(key, "the command line")
        values[key] = _default_if_empty(key, value)
        origin[key] = "the command line"
    _read_secret_files(values, origin)
    try:
        settings = Settings(**values)
    except ValidationError as exc:
        raise StartupError(_explain(exc, values, origin)) from None
    # A rules file named on purpose must exist; the default one may be absent (no alerts).
    settings._alerts_file_named = "alerts_file" in origin
    return settings


def parse_set_option(items: list[str]) -> dict[str, str]:
    """Turn ``--set KEY=VALUE`` options into a dict, failing on a malformed one."""
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise StartupError(f"--set {item!r}: expected KEY=VALUE, e.g. --set workers=4")
        out[key.strip()] = value
    return out


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise StartupError(f"{path}: not valid TOML ({exc}); fix the syntax there") from None
    except OSError as exc:
        raise StartupError(f"{path}: cannot be read ({exc.strerror})") from None


def _resolve(key: str, value: Any, base: Path) -> Any:
    value = _default_if_empty(key, value)
    relative = isinstance(value, str) and value and not Path(value).is_absolute()
    if key in (*PATH_KEYS, *SECRET_FILE_KEYS) and relative:
        return base / value
    return value


def _not_a_setting(env_var: str) -> bool:
    return env_var == ENV_CONFIG or env_var.startswith(ENV_NOT_SETTINGS)


# Folder settings where empty means "the default place", not Path("") (the working
# directory: the seed loader would index whatever .txt files it holds).
OPTIONAL_DIRS = ("seed_dir", "models_dir", "elasticsearch_ca_certs")


SECRET_FILE_KEYS = tuple(key + SECRET_FILE_SUFFIX for key in SECRET_KEYS)


def _default_if_empty(key: str, value: Any) -> Any:
    return None if key in OPTIONAL_DIRS and value == "" else value


def _read_secret_files(values: dict[str, Any], origin: dict[str, str]) -> None:
    """Replace ``<secret>_file`` entries by the secret read from that file."""
    for key in SECRET_KEYS:
        file_key = key + SECRET_FILE_SUFFIX
        path = values.pop(file_key, None)
        if not path:
            continue
        if key in values and values[key]:
            raise StartupError(
                f"`{key}` is set by {origin[key]} and `{file_key}` by {origin[file_key]}; "
                "keep one of them"
            )
        try:
            values[key] = Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise StartupError(
                f"`{file_key}` from {origin[file_key]} names {path}, which cannot be read "
                f"({exc.strerror}); fix the path or the file's permissions"
            ) from None
        origin[key] = f"{origin[file_key]} (file {path})"


def _check_known(key: str, where: str) -> None:
    if key in Settings.model_fields or key in SECRET_FILE_KEYS:
        return
    close = difflib.get_close_matches(key, setting_names(), n=1)
    hint = f"did you mean `{close[0]}`?" if close else "see `monitor config show` for all keys"
    raise StartupError(f"unknown setting `{key}` in {where}; {hint}")


def _explain(exc: ValidationError, values: dict[str, Any], origin: dict[str, str]) -> str:
    lines = []
    for err in exc.errors():
        key = str(err["loc"][0]) if err["loc"] else "?"
        field = Settings.model_fields.get(key)
        where = origin.get(key, "the defaults")
        got = values.get(key, "(default)")
        doc = field.description if field else ""
        lines.append(
            f"setting `{key}` from {where} is {got!r}: {err['msg']}. "
            f"Fix: give `{key}` a valid value ({doc})"
        )
    return "\n".join(lines)
