"""The parser processes: jobs run there, a dead worker is replaced, and no worker outlives
the daemon, even one killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from monitor.cpu import CpuPool, WorkerDied, resolve_processes
from tests.conftest import ROOT


def _pid() -> int:
    return os.getpid()


def _die() -> None:
    os._exit(3)


def test_jobs_run_in_worker_processes_and_inline_when_zero():
    pool = CpuPool(1)
    try:
        assert pool.run(_pid) != os.getpid()
    finally:
        pool.close()
    assert CpuPool(0).run(_pid) == os.getpid()


def test_a_worker_that_dies_fails_its_job_and_is_replaced():
    pool = CpuPool(1)
    try:
        with pytest.raises(WorkerDied):
            pool.run(_die)
        assert pool.run(_pid) != os.getpid()  # a new worker
    finally:
        pool.close()


def _crawl() -> None:
    time.sleep(60)  # a parse that never ends, as a feed built for it would make one


def test_a_job_past_the_timeout_kills_its_worker_and_the_pool_goes_on():
    pool = CpuPool(1, timeout=1)
    try:
        pool.warm()
        busy = pool.pids()
        started = time.monotonic()
        with pytest.raises(WorkerDied, match="parse_timeout_seconds"):
            pool.run(_crawl)
        assert time.monotonic() - started < 10  # the bound, not a speed: 1 s plus a start
        deadline = time.monotonic() + 5
        while any(_alive(pid) for pid in busy) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(pid) for pid in busy)  # killed, not left crawling
        pool.warm()  # a new worker's start (spawn, imports) is not the job's to pay here
        assert pool.run(_pid) not in busy  # a new worker does the next job
    finally:
        pool.close()


def test_auto_means_one_per_core_and_none_on_one_core(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    assert resolve_processes(-1) == 4 and resolve_processes(0) == 0
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert resolve_processes(-1) == 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_workers_exit_when_the_daemon_is_killed():
    script = textwrap.dedent(
        """
        import os, sys
        from monitor.cpu import CpuPool
        pool = CpuPool(2)
        pool.warm()
        print(" ".join(map(str, pool.pids())), flush=True)
        sys.stdin.read()  # wait to be killed
        """
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        workers = [int(p) for p in parent.stdout.readline().split()]
        assert len(workers) == 2 and all(_alive(p) for p in workers)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(p) for p in workers):
            time.sleep(0.1)
        assert not any(_alive(p) for p in workers), "parser processes outlived the daemon"
    finally:
        parent.kill()
