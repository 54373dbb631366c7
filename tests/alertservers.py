"""Receivers of alerts on 127.0.0.1 for the channel tests.

``webhook_receiver``: an HTTP server that records every request (headers and the exact
body bytes) and answers with scripted statuses; it can go down (its port closed, so a
connection is refused) and come back on the same port, as a restarted service does.

``smtp_server``: an aiosmtpd server that records every message it accepts and answers
DATA with a scripted reply. ``start_smtp_server`` starts others that require STARTTLS,
implicit TLS and AUTH, with the self-signed certificate of ``tests.localservers`` (made
by ``openssl`` at test time; the tests that need it are skipped, with the reason, where
there is no ``openssl``).
Neither imitates a product: they only show what a channel sent.
"""

from __future__ import annotations

import email
import email.policy
import ssl
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.localservers import Request, closed_port_url


class WebhookReceiver:
    """Records requests to any path; answers each with the next scripted
    ``(status, headers)``, then with the last one (200 until told otherwise)."""

    def __init__(self):
        self.requests: list[Request] = []
        self.answers: list[tuple[int, dict[str, str]]] = [(200, {})]
        self.delay_seconds = 0.0  # wait before answering, to make a client time out
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self.up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/monitor"

    def answer(self, *statuses: int, headers: dict[str, str] | None = None) -> None:
        """Answer the next requests with these statuses, the last one from then on."""
        self.answers = [(status, headers or {}) for status in statuses]

    def up(self) -> None:
        """Listen (again, on the same port once it had one)."""
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self.port = self._server.server_address[1]
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def down(self) -> None:
        """Stop and close the port: a client's connection is refused."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                url = urlsplit(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.requests.append(
                    Request(self.command, url.path, parse_qs(url.query), headers, body)
                )
                status, extra = receiver.answers[0]
                if len(receiver.answers) > 1:
                    receiver.answers.pop(0)
                time.sleep(receiver.delay_seconds)
                try:
                    self.send_response(status)
                    for name, value in extra.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:  # the client gave up waiting: nothing to answer
                    pass

            do_GET = do_PUT = do_POST

            def log_message(self, *args):
                pass

        return Handler


@pytest.fixture
def webhook_receiver():
    """A running receiver, stopped after the test."""
    receiver = WebhookReceiver()
    yield receiver
    receiver.down()


@dataclass
class Received:
    """One message the SMTP server accepted."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage
    login: str | None  # the user that authenticated, if any
    starttls: bool

    @property
    def text(self) -> str:
        """The plain-text body with the line breaks of the wire (CRLF) as ``\\n``."""
        return self.message.get_content().replace("\r\n", "\n")


class SmtpRecorder:
    """aiosmtpd handler: keeps each accepted message and answers DATA with ``reply``."""

    def __init__(self):
        self.messages: list[Received] = []
        self.reply = "250 2.0.0 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.reply.startswith("2"):
            raw = envelope.original_content or envelope.content
            login = session.auth_data.login.decode() if session.authenticated else None
            self.messages.append(
                Received(
                    envelope.mail_from,
                    list(envelope.rcpt_tos),
                    raw,
                    email.message_from_bytes(raw, policy=email.policy.default),
                    login,
                    session.ssl is not None,
                )
            )
        return self.reply


class SmtpServer:
    """An SMTP server on 127.0.0.1 in its own thread (aiosmtpd's Controller)."""

    def __init__(
        self,
        certificate: tuple[Path, Path] | None = None,
        starttls: bool = False,
        implicit_tls: bool = False,
        login: tuple[str, str] | None = None,
    ):
        self.handler = SmtpRecorder()
        # The Controller checks it is up by connecting to its port, so it needs the port
        # before it listens: a free one, bound and released.
        self.port = int(closed_port_url().rsplit(":", 1)[1])
        tls = None
        if certificate:
            tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            tls.load_cert_chain(*certificate)
        options: dict = {}
        if starttls:
            options.update(tls_context=tls, require_starttls=True)
        if login:
            options["authenticator"] = _authenticator(*login)
            # aiosmtpd counts only STARTTLS as TLS and warns when AUTH is required without
            # it: over implicit TLS, AUTH is offered and checked but not required.
            options["auth_require_tls"] = options["auth_required"] = not implicit_tls
        self.controller = Controller(
            self.handler,
            hostname="127.0.0.1",
            port=self.port,
            ssl_context=tls if implicit_tls else None,
            server_hostname="mail.test",
            ready_timeout=5,
            **options,
        )
        self.controller.start()

    @property
    def messages(self) -> list[Received]:
        return self.handler.messages

    def reply(self, text: str) -> None:
        """Answer DATA with this reply from now on (``451 ...``, ``550 ...``)."""
        self.handler.reply = text

    def stop(self) -> None:
        self.controller.stop()


def _authenticator(user: str, password: str):
    def check(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data == (
            user.encode(),
            password.encode(),
        )
        # handled=False: aiosmtpd answers a refusal itself (535), instead of nothing
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    return check


@pytest.fixture
def smtp_server():
    """A plain SMTP server (no TLS, no AUTH) accepting every message."""
    server = SmtpServer()
    yield server
    server.stop()


@pytest.fixture
def start_smtp_server(request):
    """Start SMTP servers with TLS and AUTH options; all stopped after the test."""
    started: list[SmtpServer] = []

    def start(starttls=False, implicit_tls=False, login=None) -> SmtpServer:
        tls = starttls or implicit_tls
        certificate = request.getfixturevalue("self_signed_certificate") if tls else None
        server = SmtpServer(certificate, starttls, implicit_tls, login)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
