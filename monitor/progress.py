"""Progress bars for the long commands, on stderr, and only when stderr is a terminal.

The long functions (``load_seed``, ``retry_fulltext``, ``translate_waiting``, the model
download and unpacking) take an optional ``progress(done, total)`` callback and never
import tqdm, so the daemon draws nothing. A command opens ``bars()`` and passes what
``bar(desc, unit)`` gives it: a callback drawing a tqdm bar when stderr is a terminal,
else None, so that pipes, log files, cron, CI and systemd see exactly the lines they saw
before (the same rule as tqdm's ``disable=None``). While a bar is open the ``monitor``
log lines are written through ``tqdm.write``, above the bar, never across it.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import TextIO

# progress(done, total): ``done`` items of ``total`` so far, both counted from the start
# (0 for a total not known, e.g. a download without Content-Length).
Progress = Callable[[int, int], None]


def on_terminal(stream: TextIO | None = None) -> bool:
    """True when ``stream`` (default stderr) is a terminal: bars are drawn only then."""
    stream = stream or sys.stderr
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or closed
        return False


class Bar:
    """One tqdm bar fed by ``progress(done, total)`` calls; drawn at the first call (a
    step that never reports draws nothing)."""

    def __init__(self, desc: str, unit: str, stream: TextIO, on_start: Callable[[Bar], None]):
        self.desc, self.unit, self.stream = desc, unit, stream
        self._on_start = on_start
        self._tqdm = None

    def __call__(self, done: int, total: int) -> None:
        if self._tqdm is None:
            self._on_start(self)
            self._tqdm = self._open(total)
        elif (total or None) != self._tqdm.total:
            self._tqdm.total = total or None
            self._tqdm.refresh()
        self._tqdm.update(done - self._tqdm.n)

    def _open(self, total: int):
        from tqdm import tqdm

        if self.unit == "MB":  # bytes, shown as kB/MB/GB 1024 apart
            options = {"unit": "B", "unit_scale": True, "unit_divisor": 1024}
        else:
            options = {"unit": f" {self.unit}"}  # "12/40 [..., 3.1 articles/s]"
        return tqdm(
            total=total or None,
            desc=self.desc,
            file=self.stream,
            dynamic_ncols=True,
            leave=True,  # the last state stays on screen above the command's summary
            **options,
        )

    def close(self) -> None:
        """Draw the final state and stop; a bar never started stays silent."""
        if self._tqdm is not None:
            self._tqdm.close()
            self._tqdm = None


@contextmanager
def bars(stream: TextIO | None = None) -> Iterator[Callable[[str, str], Progress | None]]:
    """Yield ``bar(desc, unit)``, which makes one progress callback per step (None when
    ``stream``, default stderr, is not a terminal). A step's bar closes when the next
    step's starts, and all at the end; meanwhile log lines go above the bar."""
    stream = stream or sys.stderr
    if not on_terminal(stream):
        yield lambda desc, unit: None
        return
    from tqdm.contrib.logging import logging_redirect_tqdm

    made: list[Bar] = []

    def close_others(starting: Bar) -> None:
        for other in made:
            if other is not starting:
                other.close()

    def bar(desc: str, unit: str) -> Progress:
        made.append(Bar(desc, unit, stream, close_others))
        return made[-1]

    with ExitStack() as stack:
        stack.enter_context(logging_redirect_tqdm(loggers=[logging.getLogger("monitor")]))
        stack.callback(lambda: [b.close() for b in made])
        yield bar
