"""Where the CPU-bound part of a poll runs: feedparser and the article-only stages.

Parsing a feed and preparing its articles holds the GIL for milliseconds per entry, so
threads cannot spread it over cores. ``CpuPool`` runs it in worker processes (started
on first use with "spawn", which is safe beside the daemon's threads), or inline when
``parse_processes`` is 0. A worker that dies (a hostile feed exhausting memory, a
crash in a C extension) costs that one feed a failed poll; the pool is rebuilt.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

log = logging.getLogger("monitor.cpu")
T = TypeVar("T")


class WorkerDied(Exception):
    """The worker process running the job died."""


def resolve_processes(setting: int) -> int:
    """``-1`` (auto) means one process per core, and none on a single core."""
    if setting >= 0:
        return setting
    cores = os.cpu_count() or 1
    return cores if cores > 1 else 0


WARM_UP_TEXT = "The president said he was ready for talks. Prezident danışıqlara hazırdır."
# How often a worker checks that the daemon is still there.
PARENT_CHECK_SECONDS = 1.0


def _init_worker() -> None:
    # Ctrl-C reaches the whole process group; only the daemon decides when to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # A spawned worker holds both ends of its job queue's pipe, so it never sees EOF when
    # the daemon dies without closing the pool (SIGKILL, OOM killer): without this watch
    # it would wait for jobs forever, and every restart would leave more of them behind.
    parent = os.getppid()
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    from monitor.stages import detect_language

    # lingua loads a language's models on first use: 0.3 s and ~90 MB, paid here at start
    # rather than in the middle of the first poll (Cyrillic never reaches lingua's models
    # for long, so English and Azerbaijani text is what warms it).
    detect_language.detect(WARM_UP_TEXT, "en", 0.0)


def _exit_with_parent(parent: int) -> None:
    while True:
        time.sleep(PARENT_CHECK_SECONDS)
        if os.getppid() != parent:
            os._exit(0)


class CpuPool:
    """Runs a function inline or in a worker process; thread-safe."""

    def __init__(self, processes: int, timeout: float | None = None):
        """``timeout``: seconds a job may take before its worker processes are killed
        (a feed built to make the parser crawl must not hold a core forever)."""
        self.processes = processes
        self.timeout = timeout
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)``, in a worker process when the pool has any."""
        if not self.processes:
            return fn(*args)
        executor = self._get()
        try:
            return executor.submit(fn, *args).result(timeout=self.timeout)
        except BrokenProcessPool as exc:
            self._reset(executor)
            raise WorkerDied(f"parser process died: {exc}") from None
        except FuturesTimeout:
            # One job cannot be stopped alone: the pool's processes are killed and
            # rebuilt, and a job of another feed running beside it fails once too.
            self._reset(executor, "timeout")
            raise WorkerDied(
                f"parsing took longer than {self.timeout:.0f} s (setting "
                "`parse_timeout_seconds`); the parser processes were restarted"
            ) from None

    def warm(self) -> None:
        """Start every worker process now (they start on first use otherwise)."""
        if self.processes:
            executor = self._get()
            for future in [executor.submit(os.getpid) for _ in range(self.processes * 2)]:
                future.result()

    def pids(self) -> list[int]:
        """Process ids of the running workers (for measurements)."""
        with self._lock:
            executor = self._executor
        return list(getattr(executor, "_processes", {}) or {}) if executor else []

    def close(self) -> None:
        """Stop the worker processes without waiting for running jobs."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            _terminate(executor)

    def _get(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ProcessPoolExecutor(
                    max_workers=self.processes,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_init_worker,
                )
            return self._executor

    def _reset(self, broken: ProcessPoolExecutor, reason: str = "died") -> None:
        with self._lock:
            if self._executor is broken:
                self._executor = None
        log.error("parser_process_died", extra={"processes": self.processes, "reason": reason})
        _terminate(broken)


def _terminate(executor: ProcessPoolExecutor) -> None:
    # shutdown(wait=False) leaves a busy worker running; the daemon must exit within its
    # grace period, so busy workers are killed (they write nothing). SIGKILL, because the
    # workers ignore SIGTERM (``_init_worker``: a signal to the process group is the
    # daemon's to handle), so ``terminate()`` left a busy worker running.
    processes = list(getattr(executor, "_processes", {}).values())
    executor.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.kill()
