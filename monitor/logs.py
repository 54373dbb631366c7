"""Structured logging with stable snake_case keys.

A log call names an event (``poll_done``) and passes its fields as ``extra``; the
formatter prints them as ``key=value`` pairs or as one JSON object a line. A logger is
bound once per feed (``feed_logger``) so every line of a poll carries the same keys.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

# Attributes every LogRecord has; anything else on a record is one of our fields.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


def fields_of(record: logging.LogRecord) -> dict[str, Any]:
    """The structured fields attached to a record."""
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD}


class TextFormatter(logging.Formatter):
    """``2026-11-23T10:00:00Z INFO poll_done feed_name=TASS items_new=3``."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        pairs = " ".join(f"{k}={_text(v)}" for k, v in fields_of(record).items())
        line = f"{stamp} {record.levelname} {record.getMessage()}"
        line = f"{line} {pairs}" if pairs else line
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ``ts``, ``level``, ``event``, ``logger`` and the fields."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "event": record.getMessage(),
            "logger": record.name,
            **fields_of(record),
        }
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def _text(value: Any) -> str:
    text = str(value)
    return json.dumps(text, ensure_ascii=False) if (" " in text or not text) else text


def setup_logging(level: str = "INFO", fmt: str = "text", stream=None) -> None:
    """Send the ``monitor`` loggers to stderr in the chosen format."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger("monitor")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    # APScheduler logs every job run at INFO; only its warnings matter to an operator.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # The Elasticsearch transport logs a traceback per failed attempt; the store says
    # the same in one `store_unavailable` line with the outbox depth.
    logging.getLogger("elastic_transport").setLevel(logging.ERROR)


class BoundLogger(logging.LoggerAdapter):
    """A logger with fixed fields merged into every call's ``extra``."""

    def process(self, msg, kwargs):
        kwargs["extra"] = {**self.extra, **kwargs.get("extra", {})}
        return msg, kwargs


def feed_logger(feed) -> BoundLogger:
    """The logger for one feed's poll, carrying ``feed_id``, ``feed_name``, ``feed_url``."""
    return BoundLogger(
        logging.getLogger("monitor.poll"),
        {"feed_id": feed.feed_id, "feed_name": feed.name, "feed_url": feed.url},
    )
