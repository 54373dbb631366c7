"""The Elasticsearch store: the same interface as the embedded one, writes through the
outbox.

``add`` and ``update`` only queue (in the caller's state-database transaction); ``flush``
sends what waits, in order, with the bulk helper. Each document id is the article id
and new documents go in with ``create``, so a re-poll or a second daemon makes no
second copy: a conflict is counted as a duplicate. Indices roll over behind the alias,
and ``create`` only checks the write index, so before creating, the ids are looked up
across the alias (LESSONS: rollover breaks ``_id`` uniqueness); updates go to the index
that holds the document.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

from elasticsearch import ApiError, BadRequestError, NotFoundError, helpers

from monitor.errors import QueryError, StartupError
from monitor.store import SearchQuery, SearchResult
from monitor.store.elastic import query as es_query
from monitor.store.elastic import template
from monitor.store.elastic.bulk import Op, bulk_actions, coalesce, disposition, split_ops, to_source
from monitor.store.elastic.client import build_client, explain, is_transient
from monitor.store.outbox import Entry, Outbox

log = logging.getLogger(__name__)

# The outbox backs off 2, 4, 8 ... seconds after failed sends, up to 5 minutes: quick
# to notice a cluster that comes back, and at most one failed request per 5 minutes
# (per process) against one that stays down.
BACKOFF_FIRST_SECONDS = 2
BACKOFF_MAX_SECONDS = 300
# The bulk helper's own retries of documents rejected with 429 (queue full).
BULK_RETRIES = 3
BULK_BACKOFF_SECONDS = (1, 30)
MAX_RESULT_WINDOW = 10_000  # Elasticsearch's default index.max_result_window


class ElasticStore:
    """Documents in Elasticsearch behind one alias, written through the outbox."""

    name = "elasticsearch"

    def __init__(self, settings, state, clock, client=None):
        self.settings = settings
        self.url = settings.elasticsearch_url
        self.alias = settings.elasticsearch_index
        self.client = client or build_client(settings)
        self.state = state
        self.clock = clock
        stale = max(60.0, 3 * settings.elasticsearch_timeout_seconds)
        self.outbox = Outbox(state.db, stale_seconds=stale)
        self.ilm: bool | None = None  # known after setup
        self._ready = False
        self._send_lock = threading.Lock()
        self._failures = 0
        self._next_try = 0.0

    # -- set-up ------------------------------------------------------------------------

    def connect(self) -> dict[str, Any]:
        """Check the cluster answers with these credentials, then install the templates
        and the alias. Raises ``StartupError`` or ``StoreUnavailable`` with one line."""
        try:
            info = self.client.info()
            self.setup()
        except Exception as exc:  # noqa: BLE001 - one line: StartupError or StoreUnavailable
            raise explain(exc, self.url) from None
        return {"version": info["version"]["number"], "ilm": self.ilm, "alias": self.alias}

    def setup(self) -> None:
        """Install (idempotently) the ILM policy where the cluster has ILM, the component
        and index templates, and the first index with the write alias."""
        n = template.names(self.alias)
        self.ilm = self._put_policy(n["policy"])
        for name, body in template.component_templates(self.settings, self.ilm).items():
            self.client.cluster.put_component_template(name=name, **body)
        body = template.index_template(self.settings)
        self.client.indices.put_index_template(
            name=n["template"],
            index_patterns=body["index_patterns"],
            composed_of=body["composed_of"],
            priority=body["priority"],
            meta=body["_meta"],
        )
        if not self.client.indices.exists_alias(name=self.alias):
            if self.client.indices.exists(index=self.alias):
                raise StartupError(
                    f"Elasticsearch has an index named {self.alias!r} where monitor's alias "
                    "should be (written before the templates existed?); reindex and delete "
                    "it, or choose another elasticsearch_index"
                )
            index, first = template.first_index(self.settings)
            try:
                self.client.indices.create(index=index, aliases=first["aliases"])
            except BadRequestError as exc:  # another daemon created it a moment ago
                if exc.error != "resource_already_exists_exception":
                    raise
        self._ready = True

    def _put_policy(self, name: str) -> bool:
        try:
            self.client.ilm.put_lifecycle(name=name, policy=template.ilm_policy(self.settings))
        except ApiError as exc:
            # Serverless projects and clusters without ILM answer 4xx here; the index
            # then simply does not roll over (said once at start).
            if exc.meta.status in (400, 404, 405, 410):
                log.info(
                    "component",
                    extra={"component": "ilm", "state": "off", "reason": str(exc.message)[:200]},
                )
                return False
            raise
        return True

    # -- writes: queued ------------------------------------------------------------------

    def add(self, document: dict[str, Any]) -> bool:
        """Queue the document's creation; True (a duplicate is found when it is sent)."""
        self.outbox.put("create", document["id"], to_source(document), self.clock())
        return True

    def update(self, doc_id: str, fields: dict[str, Any]) -> bool:
        """Queue a partial update of the document."""
        self.outbox.put("update", doc_id, to_source(fields), self.clock())
        return True

    def batch(self):
        """Queue writes in one state-database transaction (the caller's, if open)."""
        return self.state.batch()

    # -- writes: sent ----------------------------------------------------------------------

    def flush(self, force: bool = False) -> dict[str, int]:
        """Send the waiting writes in order; returns counts by disposition. Skipped
        while backing off after a failure (unless ``force``) or while another thread
        of this process sends."""
        done: dict[str, int] = {}
        if not force and time.monotonic() < self._next_try:
            return done
        if not self._send_lock.acquire(blocking=False):
            return done
        try:
            while True:
                entries = self.outbox.claim(self.settings.elasticsearch_bulk_size, self.clock())
                if not entries:
                    self._failures = 0
                    break
                handled: set[int] = set()
                try:
                    for kind, count in self._send(entries, handled).items():
                        done[kind] = done.get(kind, 0) + count
                except Exception as exc:  # noqa: BLE001 - kept in the outbox, retried later
                    rest = [e.seq for e in entries if e.seq not in handled]
                    self.outbox.release(rest, _describe(exc, self.url))
                    self._back_off(exc)
                    break
                if done.get("retry"):
                    self._back_off(None)
                    break
        finally:
            self._send_lock.release()
        if done:
            self.state.bump({f"store.{k}": v for k, v in done.items()})
        return done

    def _back_off(self, exc: Exception | None) -> None:
        self._failures += 1
        delay = min(BACKOFF_FIRST_SECONDS * 2 ** (self._failures - 1), BACKOFF_MAX_SECONDS)
        self._next_try = time.monotonic() + delay
        if exc is not None and not is_transient(exc):
            self._ready = False  # e.g. the alias was deleted: set up again next time
        log.warning(
            "store_unavailable",
            extra={
                "store": self.name,
                "error": _describe(exc, self.url) if exc else "documents refused with 429/5xx",
                "waiting": self.outbox.depth()["waiting"],
                "retry_in_seconds": delay,
            },
        )

    def _send(self, entries: list[Entry], handled: set[int]) -> dict[str, int]:
        if not self._ready:
            self.setup()
        ops = coalesce(entries)
        located = self._locate([op.doc_id for op in ops])
        counts: dict[str, int] = {}
        duplicates, creates, updates = split_ops(ops, located)
        for op in duplicates:
            self._settle(op, "duplicate", "", counts, handled)
        create_actions, update_actions = bulk_actions(creates, updates, located, self.alias)
        for group, actions, extra in (
            # require_alias: a deleted alias never turns into an auto-created index
            (creates, create_actions, {"require_alias": True}),
            (updates, update_actions, {}),
        ):
            by_id = {op.doc_id: op for op in group}
            for _ok, item in self._bulk(actions, extra):
                info = next(iter(item.values()))
                op = by_id[info["_id"]]
                kind = disposition(op.op, int(info.get("status", 500)))
                self._settle(op, kind, _item_error(info), counts, handled)
        return counts

    def _bulk(self, actions: list[dict], extra: dict) -> Iterable[tuple[bool, dict]]:
        if not actions:
            return []
        return helpers.streaming_bulk(
            self.client,
            actions,
            chunk_size=len(actions),
            max_retries=BULK_RETRIES,
            initial_backoff=BULK_BACKOFF_SECONDS[0],
            max_backoff=BULK_BACKOFF_SECONDS[1],
            raise_on_error=False,
            raise_on_exception=True,
            **extra,
        )

    def _settle(self, op: Op, kind: str, error: str, counts: dict, handled: set) -> None:
        if kind in ("ack", "duplicate"):
            self.outbox.ack(op.seqs)
        elif kind == "retry":
            self.outbox.release(op.seqs, error)
        else:
            log.error(
                "store_rejected",
                extra={"article_id": op.doc_id, "op": op.op, "error": error},
            )
            for seq in op.seqs:
                self.outbox.reject(seq, error, self.clock())
        counts[kind] = counts.get(kind, 0) + 1
        handled.update(op.seqs)

    def _locate(self, ids: list[str]) -> dict[str, str]:
        """The concrete index of each of these ids that is already stored."""
        response = self.client.search(
            index=self.alias, query={"ids": {"values": ids}}, size=len(ids), source=False
        )
        return {hit["_id"]: hit["_index"] for hit in response["hits"]["hits"]}

    # -- reads -------------------------------------------------------------------------------

    def get(self, doc_id: str) -> dict[str, Any] | None:
        """The stored document (searchable ones: a write still in the outbox is not)."""
        hits = self._read(query={"ids": {"values": [doc_id]}}, size=1)["hits"]["hits"]
        return hits[0]["_source"] if hits else None

    def find(self, patterns: dict[str, str], limit: int = 1000) -> list[dict[str, Any]]:
        """Documents whose keyword fields match all the patterns, newest first."""
        response = self._read(
            query=es_query.find_query(patterns),
            size=min(limit, MAX_RESULT_WINDOW),
            sort=[{"published": "desc"}, {"id": "asc"}],
        )
        return [hit["_source"] for hit in response["hits"]["hits"]]

    def search(self, query: SearchQuery) -> SearchResult:
        """Full-text search with filters and paging, as on the embedded store."""
        body = es_query.search_body(query)
        if query.offset + query.limit > MAX_RESULT_WINDOW:
            raise QueryError(
                f"page too deep: Elasticsearch pages through the first {MAX_RESULT_WINDOW} "
                "hits only; narrow the search with --since/--lang/--source"
            )
        response = self._read(**{("from_" if k == "from" else k): v for k, v in body.items()})
        hits = []
        for hit in response["hits"]["hits"]:
            doc = dict(hit["_source"])
            highlight = hit.get("highlight", {})
            fragments = highlight.get("text") or highlight.get("text_en") or [""]
            doc["snippet"] = fragments[0] if query.text.strip() else ""
            hits.append(doc)
        return SearchResult(total=response["hits"]["total"]["value"], hits=hits)

    def counts(self) -> dict[str, dict[str, int]]:
        """Document counts by language, source, kind, and language + translation status."""
        return es_query.counts_from(self._read(**es_query.counts_body()))

    def _read(self, **body) -> dict[str, Any]:
        try:
            return self.client.search(index=self.alias, **body).body
        except BadRequestError as exc:
            raise QueryError(f"Elasticsearch cannot run this search: {_describe(exc)}") from None
        except NotFoundError:
            return _EMPTY  # nothing stored yet: the alias is made at the first write
        except Exception as exc:  # noqa: BLE001 - one line, not a traceback
            raise explain(exc, self.url) from None

    def waiting(self) -> dict[str, Any]:
        """The outbox: writes waiting and rejected."""
        return self.outbox.depth()

    def close(self) -> None:
        """Close the client's connections."""
        self.client.close()


_EMPTY: dict[str, Any] = {
    "hits": {"total": {"value": 0}, "hits": []},
    "aggregations": {name: {"buckets": []} for name in (*es_query.COUNT_SIZES, "translation")},
}


def _item_error(info: dict[str, Any]) -> str:
    error = info.get("error")
    if isinstance(error, dict):
        return f"{error.get('type', '')}: {error.get('reason', '')}"[:500]
    return str(error or "")[:500]


def _describe(exc: Exception, url: str = "") -> str:
    explained = explain(exc, url) if url else exc
    if explained is not exc:  # "cannot reach Elasticsearch at ...", "refused the credentials"
        return str(explained)[:500]
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    status = getattr(getattr(exc, "meta", None), "status", None)
    return (f"{status} " if status else "") + str(message).splitlines()[0][:300]
