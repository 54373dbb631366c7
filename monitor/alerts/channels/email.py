"""The email channel: each alert as a plain-text UTF-8 message over SMTP.

The ``Message-ID`` is derived from the alert's key, so a message sent twice (a crash
between sending and recording it) carries the same id and mail clients and filters can
recognise the repeat.
"""

from __future__ import annotations

import hashlib
import logging
import smtplib
import ssl
from contextlib import suppress
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from pathlib import Path
from typing import Any

from monitor.alerts.channels import Channel, DeliveryError, read_secret, timeout_option

log = logging.getLogger("monitor.alerts.channels.email")

# The registered ports of each kind of connection (RFC 8314: 465 implicit TLS, 587
# submission with STARTTLS; 25 relay).
PORT_SSL, PORT_STARTTLS, PORT_PLAIN = 465, 587, 25
# The lines of the body after the titles: (label, alert key), left out when empty.
FACTS = (("Source", "source"), ("Language", "language"), ("Published", "published"),
         ("Link", "url"), ("Kibana", "kibana_url"))  # fmt: skip


class EmailChannel(Channel):
    """Sends each alert to ``to`` through the SMTP server ``host``."""

    required_options = ("host", "from", "to")
    optional_options = ("port", "starttls", "ssl", "username", "password", "password_file",
                        "password_env", "timeout_seconds", "ca_certs")  # fmt: skip

    def __init__(self, name: str, options: dict[str, Any], settings):
        super().__init__(name, options, settings)
        self.host = _text(self, "host")
        self.starttls, self.ssl = _flag(self, "starttls"), _flag(self, "ssl")
        if self.starttls and self.ssl:
            raise self.config_error("ssl", "and `starttls` are both true; choose one")
        default_port = PORT_SSL if self.ssl else PORT_STARTTLS if self.starttls else PORT_PLAIN
        self.port = options.get("port", default_port)
        if type(self.port) is not int or not 0 < self.port < 65536:  # bool is not a port
            raise self.config_error("port", f"must be a port number, not {self.port!r}")
        self.sender = _address(self, "from", options["from"])
        recipients = options["to"] if isinstance(options["to"], list) else [options["to"]]
        self.to = [_address(self, "to", item) for item in recipients]
        if not self.to:
            raise self.config_error("to", "is empty; list at least one address")
        self.username = options.get("username") or None
        self._password = read_secret(self, "password")
        if bool(self.username) != bool(self._password):
            missing = "password" if self.username else "username"
            raise self.config_error(missing, "is missing; login needs username and password")
        self._timeout = timeout_option(self, 30)
        self._tls = _tls_context(self, options.get("ca_certs"))

    def send(self, alert: dict[str, Any]) -> None:
        """Send one message; SMTP 5xx raises a permanent ``DeliveryError``, 4xx and
        connection failures a transient one."""
        message = build_message(alert, self.sender, self.to)
        try:
            refused = self._submit(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise DeliveryError(
                f"every recipient refused: {_refusals(exc.recipients)}",
                permanent=all(code >= 500 for code in codes),
            ) from exc
        except smtplib.SMTPResponseException as exc:
            detail = f"SMTP {exc.smtp_code}: {_decoded(exc.smtp_error)}"
            raise DeliveryError(detail, permanent=exc.smtp_code >= 500) from exc
        except smtplib.SMTPNotSupportedError as exc:  # no STARTTLS or AUTH: fix the options
            raise DeliveryError(f"{exc}; check starttls/ssl/username", permanent=True) from exc
        except (smtplib.SMTPException, OSError) as exc:  # refused, reset, timeout, TLS
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
        if refused:  # the others have it: sending again would repeat it to them
            log.warning("alert_email_partly_refused",
                        extra={"channel": self.name, "refused": _refusals(refused)})  # fmt: skip

    def describe(self) -> str:
        """Server, security and recipients; never the password."""
        security = "implicit TLS" if self.ssl else "STARTTLS" if self.starttls else "no TLS"
        login = f", login {self.username}" if self.username else ""
        return f"email: to {', '.join(self.to)} via {self.host}:{self.port} ({security}{login})"

    def _submit(self, message: EmailMessage) -> dict:
        if self.ssl:
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self._timeout, context=self._tls)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self._timeout)
        try:
            if self.starttls:
                smtp.starttls(context=self._tls)
            if self.username:
                smtp.login(self.username, self._password)
            return smtp.send_message(message, self.sender, self.to)
        finally:
            # The message is accepted once DATA ends; a failed QUIT must not turn that
            # into an error, or the alert would be sent again.
            with suppress(smtplib.SMTPException, OSError):
                smtp.quit()
            smtp.close()


def build_message(alert: dict[str, Any], sender: str, recipients: list[str]) -> EmailMessage:
    """The message for one alert: subject with the rule and the English title."""
    title = _one_line(alert.get("title"))
    title_en = _one_line(alert.get("title_en"))
    message = EmailMessage()
    message["Subject"] = f"[monitor] {alert['rule']}: {title_en or title or alert['key']}"
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id(alert["key"], sender)
    message["X-Monitor-Alert-Key"] = _one_line(alert["key"])
    message.set_content(body_text(alert), charset="utf-8")
    return message


def body_text(alert: dict[str, Any]) -> str:
    """The plain-text body: titles first (original script, then English), then facts."""
    terms = alert.get("matched_terms") or []
    terms = ", ".join(terms) if isinstance(terms, list | tuple) else str(terms)
    title, title_en = _one_line(alert.get("title")), _one_line(alert.get("title_en"))
    head = [f"Rule: {alert['rule']}", f"Matched terms: {terms}" if terms else ""]
    titles = [title, f"English: {title_en}" if title_en and title_en != title else ""]
    facts = [f"{label}: {alert[key]}" for label, key in FACTS if alert.get(key)]
    foot = [f"Alert {alert['key']}, raised {alert.get('created_at', '?')}"]
    sections = [[line for line in part if line] for part in (head, titles, facts, foot)]
    return "\n\n".join("\n".join(part) for part in sections if part) + "\n"


def message_id(key: str, sender: str) -> str:
    """``<hash of the key@sender's domain>``: the same for every send of one alert."""
    digest = hashlib.sha256(str(key).encode()).hexdigest()[:32]
    domain = sender.rpartition("@")[2].strip(">").lower()
    if not domain.isascii() or not domain:
        domain = "monitor.invalid"
    return f"<alert.{digest}@{domain}>"


def _one_line(value: Any) -> str:
    """Header-safe text: a title with a line break would otherwise be refused."""
    return " ".join(str(value or "").split())


def _refusals(recipients: dict) -> str:
    return "; ".join(f"{who} {code} {_decoded(text)}" for who, (code, text) in recipients.items())


def _decoded(text: bytes | str) -> str:
    return text.decode(errors="replace") if isinstance(text, bytes) else text


def _text(channel: Channel, option: str) -> str:
    value = channel.options[option]
    if not isinstance(value, str) or not value.strip():
        raise channel.config_error(option, f"must be non-empty text, not {value!r}")
    return value.strip()


def _flag(channel: Channel, option: str) -> bool:
    value = channel.options.get(option, False)
    if not isinstance(value, bool):
        raise channel.config_error(option, f"must be true or false, not {value!r}")
    return value


def _address(channel: Channel, option: str, value: Any) -> str:
    address = parseaddr(value)[1] if isinstance(value, str) else ""
    if "@" not in address:
        raise channel.config_error(option, f"must be an email address, not {value!r}")
    return value.strip()


def _tls_context(channel: Channel, ca_certs: Any) -> ssl.SSLContext:
    """The system's CAs, or only those in ``ca_certs`` (a relay with a private CA)."""
    if ca_certs is None:
        return ssl.create_default_context()
    if not isinstance(ca_certs, str) or not Path(ca_certs).is_file():
        raise channel.config_error("ca_certs", f"must name a PEM file of CAs, not {ca_certs!r}")
    try:
        return ssl.create_default_context(cafile=ca_certs)
    except ssl.SSLError as exc:
        raise channel.config_error("ca_certs", f"is not a PEM file of CAs ({exc})") from None
