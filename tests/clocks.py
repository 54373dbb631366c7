"""A clock the test moves, for contexts (``ctx.clock``) and anything taking ``clock()``."""

from __future__ import annotations

from datetime import UTC, datetime

START = datetime(2024, 11, 12, 10, 0, tzinfo=UTC)


class Clock:
    """Returns ``now``; the test sets or advances it."""

    def __init__(self, now: datetime = START):
        self.now = now

    def __call__(self) -> datetime:
        return self.now
