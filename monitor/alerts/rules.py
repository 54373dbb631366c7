"""The rules file (``config/alerts.toml``, setting ``alerts_file``): rules and channels.

Read once at start; every mistake stops start-up with one line that names the rule (or
channel), the key, and for a query the position of the error in it.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.alerts.lucene import Node, RuleSyntaxError, parse
from monitor.errors import StartupError
from monitor.feeds import LANGUAGES

LOG_CHANNEL = "log"  # always on: every alert is also a line in <data_dir>/alerts.jsonl
RULE_KEYS = {"name", "query", "languages", "sources", "channels", "throttle_hours"}


@dataclass(frozen=True)
class Rule:
    """One alert rule."""

    name: str
    query: str
    node: Node = field(compare=False)
    languages: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    throttle_hours: float = 24.0

    def accepts(self, doc: dict[str, Any]) -> bool:
        """The language and source filters (the query decides the rest)."""
        if self.languages and doc.get("language") not in self.languages:
            return False
        return not self.sources or doc.get("source") in self.sources


@dataclass
class RuleSet:
    """The rules and the channel tables of a rules file."""

    path: Path | None
    rules: list[Rule]
    channels: dict[str, dict[str, Any]]


def load_rules(settings) -> RuleSet:
    """The rules file named by ``alerts_file``. The default file may be absent (no
    alerts); a file named on purpose must exist."""
    path = settings.alerts_file
    if not path.exists():
        if settings.alerts_file_is_default:
            return RuleSet(None, [], {LOG_CHANNEL: {"type": "log"}})
        raise StartupError(f"alerts file {path} does not exist; fix `alerts_file` or create it")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise StartupError(f"cannot read alerts file {path}: {exc}") from None
    unknown = set(data) - {"rules", "channels"}
    if unknown:
        raise StartupError(
            f"alerts file {path}: unknown top-level key(s) {sorted(unknown)}; "
            "use [[rules]] and [channels.NAME]"
        )
    channels = _channels(path, data.get("channels", {}))
    rules = [
        _rule(path, i, raw, set(channels), settings.alerts_throttle_hours)
        for i, raw in enumerate(data.get("rules", []))
    ]
    names = [r.name for r in rules]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise StartupError(f"alerts file {path}: rule name(s) used twice: {twice}")
    return RuleSet(path, rules, channels)


def _channels(path: Path, tables: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(tables, dict):
        raise StartupError(f"alerts file {path}: `channels` must be tables ([channels.NAME])")
    out = {LOG_CHANNEL: {"type": "log"}}
    for name, table in tables.items():
        if not isinstance(table, dict) or "type" not in table:
            raise StartupError(
                f"alerts file {path}: channel `{name}` needs a `type` (log, webhook, email, "
                "or a plugin's)"
            )
        out[name] = dict(table)
    return out


def _rule(path: Path, i: int, raw: Any, channels: set[str], throttle: float) -> Rule:
    where = f"alerts file {path}, rule #{i + 1}"
    if not isinstance(raw, dict):
        raise StartupError(f"{where}: a rule is a table ([[rules]])")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise StartupError(f"{where}: `name` is missing; give each rule a name")
    where = f"alerts file {path}, rule `{name}`"
    unknown = set(raw) - RULE_KEYS
    if unknown:
        raise StartupError(f"{where}: unknown key(s) {sorted(unknown)}; use {sorted(RULE_KEYS)}")
    query = raw.get("query")
    if not isinstance(query, str) or not query.strip():
        raise StartupError(f"{where}: `query` is missing or empty")
    try:
        node = parse(query)
    except RuleSyntaxError as exc:
        pointer = f"\n    {query}\n    {' ' * exc.position}^"
        raise StartupError(f"{where}: bad query: {exc}{pointer}") from None
    languages = _strings(where, raw, "languages")
    bad = [code for code in languages if code not in LANGUAGES]
    if bad:
        raise StartupError(f"{where}: unknown language(s) {bad}; use {list(LANGUAGES)}")
    wanted = _strings(where, raw, "channels")
    missing = [c for c in wanted if c not in channels]
    if missing:
        raise StartupError(
            f"{where}: unknown channel(s) {missing}; declare them as [channels.NAME] "
            f"(declared: {sorted(channels)})"
        )
    hours = raw.get("throttle_hours", throttle)
    if isinstance(hours, bool) or not isinstance(hours, int | float) or hours < 0:
        raise StartupError(f"{where}: `throttle_hours` must be a number of hours, 0 or more")
    return Rule(
        name=name,
        query=query,
        node=node,
        languages=tuple(languages),
        sources=tuple(_strings(where, raw, "sources")),
        channels=tuple(dict.fromkeys([LOG_CHANNEL, *wanted])),
        throttle_hours=float(hours),
    )


def _strings(where: str, raw: dict, key: str) -> list[str]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise StartupError(f'{where}: `{key}` must be a list of strings, e.g. ["ru", "hy"]')
    return value
