"""``monitor status`` (what runs, what waits, what fails) and ``monitor health``.

``status`` reads the state database and the store, and asks the running daemon's
``/healthz``; it works with the daemon stopped (it says so) and with Elasticsearch down
(the outbox and the feeds are still shown). ``health`` asks ``/healthz`` only, so a
container or systemd health check costs one HTTP request and opens no database.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx

from monitor import shard
from monitor.commands import open_context, settings_from
from monitor.errors import StartupError, StoreUnavailable
from monitor.feeds import LANGUAGES, condition, load_feeds
from monitor.state import parse_iso

# A health check must answer fast: a daemon that needs longer is as good as stuck.
HEALTH_TIMEOUT_SECONDS = 5


def health_url(settings) -> str | None:
    """Where the daemon answers ``/healthz``, or None when the endpoint is off."""
    if not settings.http_port:
        return None
    host = "127.0.0.1" if settings.http_host in ("0.0.0.0", "::", "") else settings.http_host
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{settings.http_port}/healthz"


def ask_daemon(settings) -> dict:
    """The daemon's ``/healthz`` report, or ``{"ready": False, "reasons": [why not]}``."""
    url = health_url(settings)
    if url is None:
        return {"ready": False, "status": "unknown", "reasons": ["`http_port` is 0: no endpoint"]}
    try:
        response = httpx.get(url, timeout=HEALTH_TIMEOUT_SECONDS)
        report = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        reason = f"no answer at {url} ({type(exc).__name__}): is `monitor run` running?"
        return {"ready": False, "status": "not running", "reasons": [reason], "url": url}
    return {**report, "url": url}


def health(args) -> int:
    """Exit 0 when the daemon is ready, 1 with the reasons when not."""
    report = ask_daemon(settings_from(args))
    if report["ready"]:
        print(f"ready ({report['url']})")
        for warning in report.get("warnings", []):
            print(f"warning: {warning}")
        return 0
    print(f"{report.get('status', 'unready')}: " + "; ".join(report["reasons"]))
    return 1


def collect(ctx, feeds: list, now: datetime) -> dict:
    """Everything ``status`` shows, as one dict (the ``--json`` output)."""
    states = ctx.state.feed_states()
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    today = {
        r["feed_id"]: r["n"]
        for r in ctx.state.db.read(
            "SELECT feed_id, count(*) AS n FROM seen WHERE first_seen_at >= ? GROUP BY feed_id",
            (midnight.isoformat(timespec="seconds"),),
        )
    }
    rows = [_feed_row(feed, states.get(feed.feed_id), today.get(feed.feed_id, 0)) for feed in feeds]
    try:
        counts, unavailable = ctx.store.counts(), None
    except StoreUnavailable as exc:
        counts, unavailable = None, str(exc)
    return {
        "at": now.isoformat(timespec="seconds"),
        "daemon": ask_daemon(ctx.settings),
        "shard": ctx.settings.shard or None,
        "store": {
            "name": ctx.store.name,
            "where": _store_where(ctx.settings),
            "documents": None if counts is None else counts["total"]["documents"],
            "unavailable": unavailable,
            "outbox": ctx.store.waiting(),
        },
        "translation_backlog": _backlog(ctx, counts),
        "alerts": _alerts(ctx),
        "feeds": sorted(rows, key=lambda r: (_rank(r), r["name"].lower())),
    }


def _feed_row(feed, state: dict | None, today: int) -> dict:
    where = condition(feed, state)
    state = state or {}
    return {
        "name": feed.name,
        "language": feed.language,
        "enabled": feed.enabled,
        "condition": where,
        "last_success_at": state.get("last_success_at"),
        "last_outcome": state.get("last_outcome"),
        "consecutive_failures": state.get("consecutive_failures", 0),
        "failure_class": state.get("failure_class"),
        "last_error": state.get("last_error"),
        "disabled_reason": state.get("disabled_reason"),
        "next_poll_at": state.get("next_poll_at"),
        "items_today": today,
        "polled": bool(state),
    }


def _rank(row: dict) -> int:
    """Disabled first, then failing, then the rest: what needs a look comes first."""
    return {"disabled": 0, "failing": 1}.get(row["condition"], 2)


def _store_where(settings) -> str:
    if settings.uses_elasticsearch:
        return f"{settings.elasticsearch_url} alias {settings.elasticsearch_index}"
    return str(settings.store_db_path)


def _backlog(ctx, counts: dict | None) -> dict:
    from monitor.stages.translate import pending_reason

    out = {}
    for code in LANGUAGES:
        if code == "en":
            continue
        by_status = {}
        for key, value in (counts or {}).get("translation", {}).items():
            language, _, status = key.partition(" ")
            if language == code:
                by_status[status] = value
        model = ctx.translator.model_for(code) if ctx.translator else None
        out[code] = {
            "pending": by_status.get("pending", 0),
            "failed": by_status.get("failed", 0),
            "done": by_status.get("done", 0),
            "model": f"{model.name} {model.version}" if model else None,
            "reason": None if model else pending_reason(ctx, code),
        }
    return out


def _alerts(ctx) -> dict:
    from monitor.alerts.rules import load_rules

    deliveries: dict[str, dict] = {}
    for r in ctx.state.db.read(
        "SELECT channel, status, count(*) AS n, max(sent_at) AS last_sent, "
        "max(CASE WHEN last_error IS NOT NULL THEN last_error END) AS error "
        "FROM alert_deliveries GROUP BY channel, status"
    ):
        channel = deliveries.setdefault(
            r["channel"], {"sent": 0, "pending": 0, "failed": 0, "last_sent_at": None}
        )
        channel[r["status"]] = r["n"]
        channel["last_sent_at"] = channel["last_sent_at"] or r["last_sent"]
        if r["status"] != "sent" and r["error"]:
            channel["last_error"] = r["error"]
    try:
        ruleset = load_rules(ctx.settings)
    except StartupError as exc:
        return {"rules": None, "error": str(exc), "channels": deliveries}
    for name, config in ruleset.channels.items():
        deliveries.setdefault(name, {"sent": 0, "pending": 0, "failed": 0, "last_sent_at": None})
        deliveries[name]["type"] = config.get("type", name) if isinstance(config, dict) else name
    return {"rules": len(ruleset.rules), "error": None, "channels": deliveries}


def status(args) -> int:
    """Print the status as text, or one JSON object with ``--json``."""
    settings = settings_from(args)
    feeds = shard.select(
        load_feeds(settings.feeds_file, settings.imported_feeds_path), settings.shard
    )
    with open_context(settings) as ctx:
        data = collect(ctx, feeds, ctx.clock())
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    else:
        print("\n".join(render(data, datetime.fromisoformat(data["at"]))))
    return 0


def render(data: dict, now: datetime) -> list[str]:
    """The text form of ``collect``'s dict."""
    daemon = data["daemon"]
    if daemon["ready"]:
        up = timedelta(seconds=int(daemon.get("uptime_seconds", 0)))
        lines = [f"daemon: ready, up {up} ({daemon['url']})"]
    else:
        lines = [f"daemon: {daemon.get('status', 'unready')}: " + "; ".join(daemon["reasons"])]
    lines += [f"  warning: {w}" for w in daemon.get("warnings", [])]
    store = data["store"]
    docs = (
        "unavailable: " + store["unavailable"]
        if store["unavailable"]
        else (f"{store['documents']} documents")
    )
    lines.append(f"store: {store['name']} ({store['where']}), {docs}")
    outbox = store["outbox"]
    if outbox is not None:
        lines.append(
            f"outbox: {outbox['waiting']} writes waiting "
            f"(oldest {outbox['oldest_queued_at'] or '-'})"
            f", {outbox['rejected']} rejected"
            + (f"; last error: {outbox['last_error']}" if outbox["last_error"] else "")
        )
    lines.append("translation backlog:")
    for code, row in data["translation_backlog"].items():
        why = row["model"] or row["reason"]
        lines.append(
            f"  {code}→en: {row['pending']} pending, {row['failed']} failed, "
            f"{row['done']} done; {why}"
        )
    lines += _render_alerts(data["alerts"])
    feeds = data["feeds"]
    where = f" (shard {data['shard']})" if data["shard"] else ""
    lines.append(
        f"feeds{where}: {len(feeds)}, {sum(1 for f in feeds if f['consecutive_failures'])} failing"
    )
    lines += _table(feeds, now)
    return lines


def _render_alerts(alerts: dict) -> list[str]:
    if alerts["error"]:
        head = f"alerts: the rules file does not load: {alerts['error']}"
    elif not alerts["rules"]:
        head = "alerts: no rules"
    else:
        head = f"alerts: {alerts['rules']} rules"
    lines = [head]
    for name, c in sorted(alerts["channels"].items()):
        last = f", last sent {c['last_sent_at']}" if c.get("last_sent_at") else ""
        error = f"; last error: {c['last_error']}" if c.get("last_error") else ""
        lines.append(
            f"  {name}: {c['sent']} sent, {c['pending']} pending, "
            f"{c['failed']} given up{last}{error}"
        )
    return lines


COLUMNS = ("FEED", "LANG", "LAST SUCCESS", "FAILURES", "NEXT POLL", "TODAY", "STATE")


def _table(feeds: list[dict], now: datetime) -> list[str]:
    rows = [
        (
            f["name"],
            f["language"],
            _ago(f["last_success_at"], now),
            str(f["consecutive_failures"]),
            _until(f["next_poll_at"], now),
            str(f["items_today"]),
            _state(f),
        )
        for f in feeds
    ]
    widths = [max(len(r[i]) for r in [COLUMNS, *rows]) for i in range(len(COLUMNS) - 1)]
    return [
        "  "
        + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False))
        + "  "
        + row[-1]
        for row in [COLUMNS, *rows]
    ]


def _state(f: dict) -> str:
    if not f["enabled"]:
        return "disabled in the feeds file"
    if f["disabled_reason"]:
        return f"disabled: {f['disabled_reason']} (fix the URL in the feeds file)"
    if not f["polled"]:
        return "never polled"
    if f["consecutive_failures"]:
        return f"{f['failure_class']}: {(f['last_error'] or '')[:80]}"
    return f["last_outcome"] or "ok"


def _ago(text: str | None, now: datetime) -> str:
    moment = parse_iso(text)
    return "never" if moment is None else f"{_span(now - moment)} ago"


def _until(text: str | None, now: datetime) -> str:
    moment = parse_iso(text)
    if moment is None:
        return "now"
    return "now" if moment <= now else f"in {_span(moment - now)}"


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"
