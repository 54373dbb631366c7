"""The log channel: every alert as one JSON line in a file. Always on, so an alert is
never only in the state database even when no other channel is configured."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from monitor.alerts.channels import Channel, DeliveryError

DEFAULT_FILE = "alerts.jsonl"


class LogChannel(Channel):
    """Appends each alert to a JSON-lines file (default ``<data_dir>/alerts.jsonl``)."""

    optional_options = ("path",)

    def __init__(self, name: str, options: dict[str, Any], settings):
        super().__init__(name, options, settings)
        path = options.get("path", DEFAULT_FILE)
        if not isinstance(path, str) or not path:
            raise self.config_error("path", f"must be a file name or path, not {path!r}")
        # A relative path is under the data folder: the daemon's working directory is
        # not something an operator chooses on purpose (a container's is /).
        self.path = Path(settings.data_dir) / path
        if self.path.is_dir():
            raise self.config_error("path", f"names a folder ({self.path}); name a file")
        self._lock = threading.Lock()

    def send(self, alert: dict[str, Any]) -> None:
        """Append one line and fsync it: a line that is in the file survives a power loss,
        so a delivery marked sent is on disk. A crash before the mark may leave the same
        line twice; ``key`` tells the two apart."""
        line = json.dumps(alert, ensure_ascii=False, sort_keys=True, default=str) + "\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # One unbuffered write to a file opened for appending: O_APPEND places the
            # whole line at the end even when another process appends at the same time.
            with self._lock, open(self.path, "ab", buffering=0) as fh:
                fh.write(line.encode("utf-8"))
                os.fsync(fh.fileno())
        except OSError as exc:  # a full disk or a permission fixed later: try again
            raise DeliveryError(f"cannot append to {self.path}: {exc.strerror or exc}") from exc

    def describe(self) -> str:
        """Where the lines go."""
        return f"log: JSON lines appended to {self.path}"
