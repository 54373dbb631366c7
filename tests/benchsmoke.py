"""Shared by the benchmark smoke tests: run a benchmark's quick mode, check its figures.

They check that a benchmark runs and measures what it says, never how fast anything is.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_quick(script: str, out: Path, figures: tuple[str, ...], timeout: float) -> tuple[dict, str]:
    """Run ``bench/<script> --quick``; returns (its JSON, its stdout) after checking that
    it exited 0 and that every expected figure is there and a positive number (a share:
    between -1 and 1)."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(out.read_text())
    missing = [key for key in figures if key not in result["figures"]]
    assert not missing, f"figures missing from the JSON: {missing}"
    for key, value in result["figures"].items():
        assert isinstance(value, int | float) and not isinstance(value, bool), (key, value)
        if key.endswith("_share_ratio"):
            # a share measured as the difference of two wall clocks: in quick mode, on a
            # busy machine, the noise can exceed the effect and make it slightly negative
            assert -1 < value < 1, (key, value)
        else:
            assert value > 0, (key, value)
    return result, proc.stdout
