"""Canonical URLs: one spelling per article, whatever link the feed used."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Query parameters that identify a campaign or a click, never the article.
TRACKING_PARAMS = {
    "fbclid",
    "gclid",
    "dclid",
    "gbraid",
    "wbraid",
    "yclid",
    "ysclid",
    "msclkid",
    "mc_cid",
    "mc_eid",
    "_openstat",
    "igshid",
    "ocid",
    "cmpid",
    "rss",
    "_ga",
}
TRACKING_PREFIXES = ("utm_", "at_", "pk_")
# "from"/"ref" are real parameters on some sites; drop them only when they name a feed.
FEED_MARKERS = ("rss", "feed", "yandex", "yxnews", "telegram")
DEFAULT_PORTS = {"http": 80, "https": 443}


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, no default port, no fragment, no tracking params."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if _kept(k, v)]
    netloc = _netloc(parts, scheme)
    return urlunsplit((scheme, netloc, parts.path or "/", urlencode(query, safe=":/,"), ""))


def _netloc(parts, scheme: str) -> str:
    try:
        port = parts.port
    except ValueError:
        # "host:abc" is no port at all; keep what the feed wrote rather than lose the
        # article to an exception in normalize.
        return parts.netloc.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal keeps its brackets, or the port is ambiguous
    netloc = f"{host}:{port}" if port and port != DEFAULT_PORTS.get(scheme) else host
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    return netloc


def _kept(key: str, value: str) -> bool:
    name = key.lower()
    if name in TRACKING_PARAMS or name.startswith(TRACKING_PREFIXES):
        return False
    return not (name in ("from", "ref", "source") and any(m in value.lower() for m in FEED_MARKERS))
