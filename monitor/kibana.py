"""Kibana's saved objects for the articles, and their import.

``config/kibana/monitor.ndjson`` holds a data view, saved searches, two visualizations
and a dashboard, with fixed ids (``monitor-...``). ``setup`` points the data view at the
alias of setting ``elasticsearch_index`` (the file's title is the default alias, the only
place it is written), then imports the file through Kibana's saved objects API with
``overwrite=true``: a second import replaces the objects instead of copying them, so the
daemon can run it at every start. The flip side: edits made in Kibana to these objects are
replaced too; a customised dashboard is saved under a new name.

Errors are one line. Wrong URL, credentials or privileges raise ``StartupError`` (status
2); a Kibana that cannot be reached or is not ready raises ``KibanaUnavailable`` (status 1).
"""

from __future__ import annotations

import json
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from monitor.errors import KibanaUnavailable, StartupError

OBJECTS_NAME = Path("config") / "kibana" / "monitor.ndjson"
# Beside the package in a checkout (an editable install); else under the working folder,
# where config/ also is for the settings file: the image installs the package into
# site-packages and copies config/ to its working folder, /app.
OBJECTS_PLACES = (Path(__file__).resolve().parent.parent / OBJECTS_NAME, OBJECTS_NAME)
DATA_VIEW_TYPE = "index-pattern"
DASHBOARD_ID = "monitor-dashboard"
IMPORT_PATH = "/api/saved_objects/_import"
# One import of a dozen objects takes Kibana well under a second; 30 s is the same bound
# as one Elasticsearch request (elasticsearch_timeout_seconds' default).
REQUEST_TIMEOUT_SECONDS = 30.0
# While Kibana starts it refuses connections, then answers 503 ("Kibana server is not ready
# yet") for 20-60 s; a proxy in front of it answers 502/504 meanwhile. With wait_seconds
# the import retries those after 1, 2, 4, 8, then every 10 s: quick when Kibana is nearly
# up, at most 10 s late once it is, and about a dozen requests in two minutes.
RETRY_STATUS = frozenset({502, 503, 504})
FIRST_RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 10.0
CREDENTIALS = "elasticsearch_username and elasticsearch_password, or elasticsearch_api_key"


@dataclass(frozen=True)
class ObjectError:
    """One object Kibana did not import, with its reason in one line."""

    type: str
    id: str
    title: str
    reason: str

    def __str__(self) -> str:
        return f"{self.type} {self.id} ({self.title}): {self.reason}"


@dataclass
class ImportReport:
    """What Kibana said about one import."""

    url: str
    alias: str
    objects: int
    success: bool
    success_count: int
    errors: list[ObjectError] = field(default_factory=list)
    attempts: int = 1

    def summary(self) -> str:
        """One line: how many objects were imported where, and where the dashboard is."""
        line = (
            f"kibana: {self.success_count} of {self.objects} saved objects imported into "
            f"{self.url} (data view {self.alias})"
        )
        if self.errors:
            return f"{line}; {len(self.errors)} failed"
        return f"{line}; dashboard: {self.url}/app/dashboards#/view/{DASHBOARD_ID}"


def objects_file() -> Path:
    """Where ``config/kibana/monitor.ndjson`` is: beside the package, else in the working
    folder."""
    for path in OBJECTS_PLACES:
        if path.is_file():
            return path
    raise StartupError(
        f"{OBJECTS_NAME} is neither at {OBJECTS_PLACES[0]} nor under the working folder "
        f"{Path.cwd()}; run monitor from the folder that holds config/"
    )


def load_objects(path: Path | None = None) -> list[dict[str, Any]]:
    """The saved objects of an ndjson file (default: ``objects_file()``), one JSON object
    a line; blank lines are skipped."""
    path = path or objects_file()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise StartupError(f"Kibana objects file {path} cannot be read ({exc.strerror})") from None
    objects = []
    for number, line in enumerate(lines, 1):
        if line.strip():
            try:
                objects.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise StartupError(f"{path}:{number}: not JSON ({exc.msg})") from None
    return objects


def for_settings(objects: list[dict[str, Any]], settings) -> list[dict[str, Any]]:
    """The objects with the data view's title set to the alias of ``elasticsearch_index``.

    The data view's title is the index pattern Kibana queries; everything else refers to
    the data view by id, so the title is the only thing that follows the alias.
    """
    adapted = []
    for obj in objects:
        if obj.get("type") == DATA_VIEW_TYPE:
            attributes = {**obj["attributes"], "title": settings.elasticsearch_index}
            obj = {**obj, "attributes": attributes}
        adapted.append(obj)
    return adapted


def to_ndjson(objects: list[dict[str, Any]]) -> bytes:
    """The objects as the ndjson body Kibana's import reads."""
    return "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objects).encode("utf-8")


def build_client(settings) -> httpx.Client:
    """An HTTP client for Kibana with the Elasticsearch credentials and TLS settings.

    Kibana authenticates API calls against Elasticsearch, so the same user or API key
    works when it has Kibana privileges.
    """
    # Kibana refuses a POST without this header: its guard against cross-site requests.
    headers = {"kbn-xsrf": "true"}
    auth = None
    api_key = settings.elasticsearch_api_key.get_secret_value()
    if api_key:
        headers["Authorization"] = f"ApiKey {api_key}"
    elif settings.elasticsearch_username:
        password = settings.elasticsearch_password.get_secret_value()
        auth = httpx.BasicAuth(settings.elasticsearch_username, password)
    return httpx.Client(
        headers=headers, auth=auth, verify=_verify(settings), timeout=REQUEST_TIMEOUT_SECONDS
    )


def setup(
    settings, url: str | None = None, *, wait_seconds: float = 0, path: Path | None = None
) -> ImportReport:
    """Import the saved objects into Kibana at ``url`` (default: setting ``kibana_url``).

    ``wait_seconds`` > 0 keeps retrying while Kibana is unreachable or answers 502/503/504
    (it is starting), with growing pauses, for at most that long. Objects Kibana rejects
    one by one are in the report's ``errors``; the call raises only when the import as a
    whole failed.
    """
    base = (url or settings.kibana_url).rstrip("/")
    if not base:
        raise StartupError(
            "no Kibana URL: pass --url http://HOST:5601 or set kibana_url (MONITOR_KIBANA_URL)"
        )
    objects = for_settings(load_objects(path), settings)
    with build_client(settings) as client:
        response, attempts = _post(client, base, to_ndjson(objects), wait_seconds)
    report = _report(_shown(base), response, settings.elasticsearch_index, len(objects))
    report.attempts = attempts
    return report


def _verify(settings) -> bool | ssl.SSLContext:
    if not settings.elasticsearch_verify_certs:
        return False
    ca = settings.elasticsearch_ca_certs
    if not ca:
        return True
    if not ca.is_file():
        raise StartupError(
            f"elasticsearch_ca_certs {ca} is not a file; give the PEM file of the CA that "
            "signed the certificates of Elasticsearch and Kibana"
        )
    return ssl.create_default_context(cafile=str(ca))


def _post(client: httpx.Client, base: str, body: bytes, wait_seconds: float):
    """POST the import, retrying a Kibana that is not up yet until ``wait_seconds`` pass."""
    shown = _shown(base)
    deadline = time.monotonic() + wait_seconds
    pause = FIRST_RETRY_SECONDS
    attempt = 0
    while True:
        attempt += 1
        try:
            response = client.post(
                base + IMPORT_PATH,
                params={"overwrite": "true"},
                files={"file": ("monitor.ndjson", body, "application/ndjson")},
            )
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise StartupError(
                f"Kibana URL {shown!r} is not usable ({exc}); give http(s)://HOST:PORT in "
                "--url or kibana_url"
            ) from None
        except httpx.TransportError as exc:
            tls = _tls_error(exc)
            if tls:  # a wrong CA or scheme does not fix itself: no retry
                raise StartupError(f"TLS with Kibana at {shown} failed ({tls})") from None
            failure = f"cannot reach it ({type(exc).__name__}: {exc or 'no detail'})"
        else:
            if response.status_code not in RETRY_STATUS:
                return response, attempt
            failure = f"it answered {response.status_code}: {_message(response)}"
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            waited = f" after {attempt} attempts in {wait_seconds:g} s" if attempt > 1 else ""
            raise KibanaUnavailable(
                f"Kibana at {shown} is not available, {failure}{waited}; start it or wait "
                "until it is ready, or fix kibana_url (MONITOR_KIBANA_URL) / --url"
            )
        time.sleep(min(pause, remaining))
        pause = min(pause * 2, MAX_RETRY_SECONDS)


def _report(base: str, response: httpx.Response, alias: str, count: int) -> ImportReport:
    status = response.status_code
    where = f"Kibana at {base}"
    if status == 401:
        raise StartupError(f"{where} refused the credentials (401); check {CREDENTIALS}")
    if status == 403:
        raise StartupError(
            f"{where} denied the import (403: {_message(response)}); give the user the "
            "Kibana privileges listed in the README (Kibana)"
        )
    if status == 404:
        raise StartupError(
            f"{where} has no {IMPORT_PATH} (404); kibana_url or --url must be Kibana's "
            "address (port 5601, plus /s/SPACE for a space that exists), not Elasticsearch's"
        )
    if 400 <= status < 500:
        raise StartupError(f"{where} rejected the import ({status}: {_message(response)})")
    if status >= 300:
        raise KibanaUnavailable(f"{where} answered {status}: {_message(response)}")
    try:
        result = response.json()
    except ValueError:
        result = None
    if not isinstance(result, dict) or "success" not in result:
        raise StartupError(
            f"the answer of {base}{IMPORT_PATH} is not Kibana's ({_message(response)}); "
            "check that kibana_url or --url points at Kibana"
        )
    return ImportReport(
        url=base,
        alias=alias,
        objects=count,
        success=bool(result["success"]),
        success_count=int(result.get("successCount", 0)),
        errors=[_object_error(e) for e in result.get("errors") or []],
    )


def _object_error(error: dict[str, Any]) -> ObjectError:
    detail = error.get("error") or {}
    kind = detail.get("type", "unknown")
    if kind == "missing_references":
        missing = ", ".join(f"{r.get('type')} {r.get('id')}" for r in detail.get("references", []))
        reason = f"missing references: {missing}"
    elif detail.get("message"):
        reason = f"{kind}: {detail['message']}"
    else:
        reason = kind
    title = error.get("title") or (error.get("meta") or {}).get("title") or ""
    return ObjectError(str(error.get("type")), str(error.get("id")), title, reason)


def _message(response: httpx.Response) -> str:
    """Kibana's own error message (``{"statusCode", "error", "message"}``), else the text."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and (body.get("message") or body.get("error")):
        text = str(body.get("message") or body.get("error"))
    else:
        text = response.text.strip() or response.reason_phrase
    return " ".join(text.split())[:300]


def _shown(url: str) -> str:
    """The URL without a user and password in it, for messages."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def _tls_error(exc: BaseException) -> str:
    """What went wrong in TLS behind a connection error, with the fix; "" if not TLS."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return (
                f"{seen.verify_message or seen.reason}; set elasticsearch_ca_certs to the CA "
                "that signed Kibana's certificate"
            )
        if isinstance(seen, ssl.SSLError):
            return (
                f"{seen.reason or seen}; check that the URL's scheme (http or https) is the "
                "one Kibana serves"
            )
        seen = seen.__cause__ or seen.__context__
    return ""
