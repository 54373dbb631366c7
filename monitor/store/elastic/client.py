"""The Elasticsearch client built from the settings, and errors told in one line.

Retries: the transport retries a request that timed out or got 429/502/503/504 up to
``MAX_RETRIES`` times; the bulk helper retries documents rejected with 429 with
exponential backoff; whatever still fails stays in the outbox, which backs off between
attempts (``monitor.store.elastic.store``).
"""

from __future__ import annotations

from typing import Any

from elastic_transport import TlsError
from elasticsearch import (
    ApiError,
    AuthenticationException,
    AuthorizationException,
    Elasticsearch,
    TransportError,
)

from monitor.errors import StartupError, StoreUnavailable
from monitor.store.elastic import template

MAX_RETRIES = 3
RETRY_ON_STATUS = (429, 502, 503, 504)


def build_client(settings) -> Elasticsearch:
    """A client for ``elasticsearch_url`` with the configured credentials and TLS."""
    options: dict[str, Any] = {
        "request_timeout": settings.elasticsearch_timeout_seconds,
        "max_retries": MAX_RETRIES,
        "retry_on_status": RETRY_ON_STATUS,
        "retry_on_timeout": True,
        "verify_certs": settings.elasticsearch_verify_certs,
    }
    api_key = settings.elasticsearch_api_key.get_secret_value()
    password = settings.elasticsearch_password.get_secret_value()
    if api_key:
        options["api_key"] = api_key
    elif settings.elasticsearch_username:
        options["basic_auth"] = (settings.elasticsearch_username, password)
    if settings.elasticsearch_ca_certs:
        if not settings.elasticsearch_ca_certs.is_file():
            raise StartupError(
                f"elasticsearch_ca_certs {settings.elasticsearch_ca_certs} is not a file; "
                "give the PEM file of the CA that signed the cluster's certificate"
            )
        options["ca_certs"] = str(settings.elasticsearch_ca_certs)
    if not settings.elasticsearch_verify_certs:
        options["ssl_show_warn"] = False
    return Elasticsearch(settings.elasticsearch_url, **options)


def explain(exc: Exception, url: str) -> Exception:
    """The one-line error for a failed request: ``StartupError`` when the settings are
    wrong (credentials, privileges, TLS), ``StoreUnavailable`` when the cluster is not
    answering (a transient state)."""
    if isinstance(exc, AuthenticationException):
        return StartupError(
            f"Elasticsearch at {url} refused the credentials (401); check "
            "elasticsearch_username and elasticsearch_password, or elasticsearch_api_key"
        )
    if isinstance(exc, AuthorizationException):
        return StartupError(
            f"Elasticsearch at {url} denied a request (403): {_reason(exc)}; give the user "
            "the privileges listed in the README (Elasticsearch, Privileges)"
        )
    if isinstance(exc, TlsError):
        return StartupError(
            f"TLS with Elasticsearch at {url} failed ({_first_line(exc)}); set "
            "elasticsearch_ca_certs to the cluster's CA certificate"
        )
    if isinstance(exc, ApiError):
        status = exc.meta.status
        return StoreUnavailable(f"Elasticsearch at {url} answered {status}: {_reason(exc)}")
    if isinstance(exc, TransportError):
        return StoreUnavailable(
            f"cannot reach Elasticsearch at {url} ({_first_line(exc)}); start it, or fix "
            "elasticsearch_url (MONITOR_ELASTICSEARCH_URL)"
        )
    return exc


def is_transient(exc: Exception) -> bool:
    """True for errors a later attempt may not meet (unreachable, overloaded, 5xx)."""
    if isinstance(exc, ApiError):
        return exc.meta.status == 429 or exc.meta.status >= 500
    return isinstance(exc, TransportError) and not isinstance(exc, TlsError)


def _reason(exc: ApiError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error")
    if isinstance(error, dict):
        return str(error.get("reason") or error.get("type") or exc.message)[:300]
    return str(error or exc.message)[:300]


def _first_line(exc: Exception) -> str:
    text = str(getattr(exc, "message", "") or exc) or type(exc).__name__
    return text.splitlines()[0][:300]


def remove_installed(client, alias: str) -> list[str]:
    """Delete what ``ElasticStore.setup`` installs for ``alias`` (benchmarks and tests
    use a throw-away alias): indices, index template, component
    templates, ILM policy (in that order: each is in use by the one before). Returns
    what could not be deleted."""
    names = template.names(alias)
    quiet = client.options(ignore_status=404)

    def delete_indices() -> None:
        # By their names, not the pattern: action.destructive_requires_name (true by
        # default since 8.0) refuses to delete by wildcard.
        found = quiet.indices.get(index=names["pattern"], expand_wildcards="all")
        if found.meta.status == 200 and found.body:
            quiet.indices.delete(index=list(found.body))

    steps = [
        (f"indices {names['pattern']}", delete_indices),
        (names["template"], lambda: quiet.indices.delete_index_template(name=names["template"])),
        *(
            (name, lambda n=name: quiet.cluster.delete_component_template(name=n))
            for name in (names["settings"], names["mappings"])
        ),
        (names["policy"], lambda: quiet.ilm.delete_lifecycle(name=names["policy"])),
    ]
    failed = []
    for what, step in steps:
        try:
            step()
        except Exception as exc:  # noqa: BLE001 - go on with the rest, then say what is left
            failed.append(f"{what}: {str(exc)[:200]}")
    return failed
