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
    host = (parts.hostname or "").lower().rstrip(".")
    port = parts.port if parts.port and parts.port != DEFAULT_PORTS.get(scheme) else None
    netloc = f"{host}:{port}" if port else host
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if _kept(k, v)]
    return urlunsplit((scheme, netloc, parts.path or "/", urlencode(query, safe=":/,"), ""))


def _kept(key: str, value: str) -> bool:
    name = key.lower()
    if name in TRACKING_PARAMS or name.startswith(TRACKING_PREFIXES):
        return False
    return not (name in ("from", "ref", "source") and any(m in value.lower() for m in FEED_MARKERS))
