"""Small HTTP helpers on 127.0.0.1 shared by the tests: a closed port, a recorder of
requests that answers with scripted statuses and JSON bodies, and a self-signed
certificate for 127.0.0.1. Neither imitates a
service: the recorder only shows what was sent and returns what a test scripts."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import ssl
import subprocess
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


class RequestRecorder:
    """An HTTP server on 127.0.0.1 that records every request and answers each with the
    next scripted (status, JSON body), then with the last one."""

    def __init__(self, tls: ssl.SSLContext | None = None, answer: tuple[int, object] = (200, {})):
        self.requests: list[Request] = []
        self.answers: list[tuple[int, object]] = [answer]
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self):
                length = int(self.headers.get("Content-Length") or 0)
                url = urlsplit(self.path)
                recorder.requests.append(
                    Request(
                        self.command,
                        url.path,
                        parse_qs(url.query),
                        {k.lower(): v for k, v in self.headers.items()},
                        self.rfile.read(length),
                    )
                )
                status, body = recorder.answers[0]
                if len(recorder.answers) > 1:
                    recorder.answers.pop(0)
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                ctype = "text/html" if isinstance(body, str) else "application/json"
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_HEAD = _record

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def answer(self, *answers: tuple[int, object]) -> None:
        self.answers = list(answers)


@contextlib.contextmanager
def running(rec: RequestRecorder):
    """Serve ``rec`` for the block, then shut it down."""
    rec.thread.start()
    try:
        yield rec
    finally:
        rec.server.shutdown()
        rec.server.server_close()


@pytest.fixture
def request_recorder():
    """A running recorder answering 200 with ``{}`` until a test scripts other answers."""
    with running(RequestRecorder()) as rec:
        yield rec


@pytest.fixture(scope="session")
def self_signed_certificate(tmp_path_factory) -> tuple[Path, Path]:
    """(certificate, key) for 127.0.0.1, made with openssl; skips without openssl."""
    if not shutil.which("openssl"):
        pytest.skip("needs openssl to make a certificate (cryptography/trustme not installed)")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key
