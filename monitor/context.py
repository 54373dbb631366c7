"""What the stages may use: settings, the state database, the store, the clock.

One object built by the caller (daemon or command) and passed down, instead of a
process-wide singleton, so tests build their own with a temporary data folder.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from monitor.cpu import CpuPool
from monitor.metrics import Metrics
from monitor.settings import Settings
from monitor.state import StateDB
from monitor.store import Store


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


@dataclass
class Context:
    """Shared handles for one process."""

    settings: Settings
    state: StateDB
    store: Store
    clock: Callable[[], datetime] = utc_now
    stop: threading.Event = field(default_factory=threading.Event)
    cpu: CpuPool = field(default_factory=lambda: CpuPool(0))
    pages: Any = None  # stages.fulltext.Pages when article pages may be fetched
    translator: Any = None  # translate.engine.Engine when translation is on
    stories: Any = None  # stories.clusterer.Stories; built here unless given
    alerts: Any = None  # alerts.matching.Alerter when there are alert rules
    metrics: Metrics = field(default_factory=Metrics)  # this process's counters

    def __post_init__(self):
        if self.stories is None:
            from monitor.seed import seed_corpus
            from monitor.stories.clusterer import Stories

            self.stories = Stories(self.state, self.settings, lambda: seed_corpus(self))

    def close(self) -> None:
        """Stop the worker processes; close the store and the state database."""
        if self.alerts is not None:
            self.alerts.close()
        self.cpu.close()
        self.store.close()
        self.state.close()
