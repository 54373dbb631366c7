"""The daemon's HTTP endpoint on 127.0.0.1: ``/healthz`` and ``/metrics``.

``/healthz`` answers 200 when the daemon is ready and 503 with the reasons when not. Ready
means: started (the story index is loaded), the scheduler picked due feeds lately, every
polling thread is alive, and the state database answers. A remote store that is down is
*not* a reason: its writes wait in the outbox and nothing is lost, so a health check
that restarts the container would only make it worse; it is reported as a warning.

The server is the standard library's, answering one request at a time on one thread: a
scrape every 15 s and a health check every 30 s are all it serves, each in milliseconds
(the store's slow counts are refreshed by a daemon job, never during a request). One
thread matters: SQLite connections are per thread, and a thread per request would open
new connections for every scrape, for months.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST

from monitor.errors import StartupError
from monitor.state import parse_iso

log = logging.getLogger("monitor.health")
# The scheduler picks due feeds every tick; missing three ticks (and at least a minute,
# so a long garbage collection or a slow disk does not flap) means it is stuck.
STALL_TICKS = 3
STALL_MIN_SECONDS = 60
# Writes older than this in the outbox mean Elasticsearch has been away for a while.
OUTBOX_WARN_SECONDS = 900


class Health:
    """What ``/healthz`` reports, kept up to date by the daemon."""

    def __init__(self, ctx, tick_seconds: float, workers_alive=lambda: True):
        self.ctx = ctx
        self.phase = "starting"  # starting → running → stopping
        self.tick_seconds = tick_seconds
        self.workers_alive = workers_alive
        self.started = time.monotonic()
        self._last_tick = time.monotonic()

    def ticked(self) -> None:
        """The scheduler picked due feeds just now."""
        self._last_tick = time.monotonic()

    def report(self) -> dict[str, Any]:
        """``ready``, the ``reasons`` when not, ``warnings``, and each check's detail."""
        reasons, warnings, checks = [], [], {}
        if self.phase != "running":
            reasons.append(
                "starting: loading the story index and connecting the store"
                if self.phase == "starting"
                else "stopping: a signal was received"
            )
        quiet = time.monotonic() - self._last_tick
        limit = max(STALL_TICKS * self.tick_seconds, STALL_MIN_SECONDS)
        checks["scheduler_seconds_since_tick"] = round(quiet, 1)
        if self.phase == "running" and quiet > limit:
            reasons.append(f"scheduler stalled: no pick of due feeds for {quiet:.0f} s")
        if not self.workers_alive():
            reasons.append("a polling thread died: restart the daemon (see its log)")
        try:
            self.ctx.state.db.read("SELECT 1 FROM meta LIMIT 1")
            checks["state_database"] = "ok"
        except Exception as exc:  # noqa: BLE001 - the reason is the answer
            checks["state_database"] = str(exc)
            reasons.append(f"state database {self.ctx.settings.state_db_path}: {exc}")
        outbox = self.ctx.store.waiting()
        if outbox is not None:
            checks["outbox"] = outbox
            oldest = parse_iso(outbox["oldest_queued_at"])
            if oldest is not None:
                age = (self.ctx.clock() - oldest).total_seconds()
                if age > OUTBOX_WARN_SECONDS:
                    warnings.append(
                        f"outbox: {outbox['waiting']} writes waiting for {age / 60:.0f} min "
                        f"(Elasticsearch unreachable? {outbox['last_error'] or ''})".strip()
                    )
        return {
            "ready": not reasons,
            "status": "ready"
            if not reasons
            else self.phase
            if self.phase != "running"
            else "unready",
            "reasons": reasons,
            "warnings": warnings,
            "uptime_seconds": round(time.monotonic() - self.started, 1),
            "checks": checks,
            "at": datetime.now().astimezone().isoformat(timespec="seconds"),
        }


class Endpoint:
    """The HTTP server in a daemon thread."""

    def __init__(self, host: str, port: int, health: Health, metrics):
        handler = type("Handler", (_Handler,), {"health": health, "metrics": metrics})
        try:
            self.server = HTTPServer((host, port), handler)
        except OSError as exc:
            raise StartupError(
                f"cannot listen on {host}:{port} for /healthz and /metrics: {exc.strerror}; "
                "is another monitor running? Set `http_port` to a free port, or 0 for none"
            ) from None
        self.address = f"http://{host}:{self.server.server_address[1]}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="http-endpoint", daemon=True
        )

    def start(self) -> None:
        """Serve until ``close``."""
        self._thread.start()

    def close(self) -> None:
        """Stop serving and free the port."""
        self.server.shutdown()
        self.server.server_close()


class _Handler(BaseHTTPRequestHandler):
    health: Health
    metrics: Any
    server_version = "monitor"

    def do_GET(self) -> None:  # noqa: N802 - the standard library's name
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            report = self.health.report()
            body = json.dumps(report, ensure_ascii=False, default=str).encode() + b"\n"
            self._send(200 if report["ready"] else 503, "application/json", body)
        elif path == "/metrics":
            self._send(200, CONTENT_TYPE_LATEST, self.metrics.exposition())
        else:
            self._send(404, "text/plain; charset=utf-8", b"only /healthz and /metrics here\n")

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        """Requests are not logged: a scrape every 15 s would drown the log."""
