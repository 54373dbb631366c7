"""The webhook channel: each alert as a signed JSON POST.

Signature (when a secret is set): ``X-Monitor-Timestamp: <unix seconds>`` and
``X-Monitor-Signature: sha256=<hex>``, the HMAC-SHA256 under the secret of the bytes
``<timestamp>.<body>``. Signing the timestamp with the body lets a receiver refuse an old
request replayed as it was (it checks the timestamp is recent); ``Idempotency-Key`` (also
``key`` in the body) lets it drop the repeat of a delivery that was sent twice.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from monitor.alerts.channels import Channel, DeliveryError, read_secret, timeout_option
from monitor.schedule import parse_retry_after

SIGNATURE_HEADER = "X-Monitor-Signature"
TIMESTAMP_HEADER = "X-Monitor-Timestamp"
KEY_HEADER = "Idempotency-Key"
# Headers the channel sets itself; an extra header of the same name would break the
# signature or the idempotency contract.
RESERVED = {"content-type", "content-length", "host", SIGNATURE_HEADER.lower(),
            TIMESTAMP_HEADER.lower(), KEY_HEADER.lower()}  # fmt: skip
# 408 (the receiver timed out reading) and 429 (rate limit) say "later", not "never".
TRANSIENT_4XX = {408, 429}
ERROR_BODY_CHARS = 200


class WebhookChannel(Channel):
    """POSTs the alert as JSON to ``url``, signed when a secret is configured."""

    required_options = ("url",)
    optional_options = ("secret", "secret_file", "secret_env", "timeout_seconds", "headers")

    def __init__(self, name: str, options: dict[str, Any], settings):
        super().__init__(name, options, settings)
        self.url = _check_url(self, options["url"])
        self._secret = read_secret(self, "secret")
        self._timeout = timeout_option(self, 10)
        headers = _check_headers(self, options.get("headers", {}))
        headers.setdefault("User-Agent", getattr(settings, "user_agent", "monitor"))
        # No redirects: a POST that is redirected is a configuration to fix, and
        # following it would send the signed body to wherever the redirect points.
        self._client = httpx.Client(headers=headers, timeout=self._timeout)

    def send(self, alert: dict[str, Any]) -> None:
        """POST the alert; 2xx is delivered, anything else raises ``DeliveryError``."""
        body = json.dumps(alert, ensure_ascii=False, sort_keys=True, default=str).encode()
        headers = {"Content-Type": "application/json; charset=utf-8", KEY_HEADER: str(alert["key"])}
        if self._secret is not None:
            timestamp = str(int(time.time()))
            headers[TIMESTAMP_HEADER] = timestamp
            headers[SIGNATURE_HEADER] = sign(self._secret, timestamp, body)
        try:
            response = self._client.post(self.url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise DeliveryError(f"no answer within {self._timeout:g} s ({exc})") from exc
        except httpx.HTTPError as exc:  # refused, reset, DNS, TLS: the receiver may return
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
        _check_status(response)

    def describe(self) -> str:
        """The receiver's origin only: a webhook's path often is its secret (Slack)."""
        parts = urlsplit(self.url)
        port = f":{parts.port}" if parts.port else ""
        signed = "signed" if self._secret is not None else "unsigned"
        return f"webhook: POST to {parts.scheme}://{parts.hostname}{port}/… ({signed})"

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Monitor-Signature`` value for a body sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def _check_status(response: httpx.Response) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    detail = f"HTTP {status}: {response.text[:ERROR_BODY_CHARS].strip()}".rstrip(": ")
    if status in TRANSIENT_4XX or status >= 500:
        retry_after = parse_retry_after(response.headers.get("Retry-After"), datetime.now(UTC))
        raise DeliveryError(detail, retry_after_seconds=retry_after)
    if 300 <= status < 400:
        detail += f" (redirected to {response.headers.get('Location', '?')}; set url to it)"
    raise DeliveryError(detail, permanent=True)


def _check_url(channel: Channel, url: Any) -> str:
    try:
        parts = urlsplit(url) if isinstance(url, str) else None
        _ = parts and parts.port  # a port that is not a number raises here, not at send
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise channel.config_error("url", f"must be an http:// or https:// URL, not {url!r}")
    return url


def _check_headers(channel: Channel, headers: Any) -> dict[str, str]:
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise channel.config_error("headers", "must be a table of text values")
    clash = sorted(k for k in headers if k.lower() in RESERVED)
    if clash:
        raise channel.config_error("headers", f"may not set {', '.join(clash)}; monitor sets it")
    return dict(headers)
