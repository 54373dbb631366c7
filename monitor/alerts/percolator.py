"""Matching on Elasticsearch: the rules as stored queries in a percolator index.

The index ``<alias>-alert-rules`` holds one document per rule (its query translated by
``monitor.alerts.percolate.to_elastic``). A batch of new documents is sent inline in one
``percolate`` query, so matching does not wait for the documents to be indexed (or for
the outbox to drain); the index's own analyzer is the one the evaluator reproduces.
The rules are written again at start, and any rule no longer in the file is deleted.
"""

from __future__ import annotations

import logging
from typing import Any

from monitor.alerts.percolate import percolator_mappings, percolator_settings, to_elastic
from monitor.alerts.rules import Rule
from monitor.errors import StoreUnavailable

log = logging.getLogger("monitor.alerts")
FIELDS = ("title", "text", "title_en", "text_en", "language", "source", "country", "kind")


def rules_index(alias: str) -> str:
    """The percolator index of an alias."""
    return f"{alias}-alert-rules"


def rule_documents(rules: list[Rule]) -> dict[str, dict[str, Any]]:
    """The percolator documents by id (the rule's name)."""
    return {rule.name: {"rule": rule.name, "query": to_elastic(rule.node)} for rule in rules}


def percolate_body(docs: list[dict[str, Any]], rules: int) -> dict[str, Any]:
    """The search body that percolates a batch of documents (only the fields rules read)."""
    return {
        "query": {
            "percolate": {
                "field": "query",
                "documents": [{k: doc.get(k) or "" for k in FIELDS} for doc in docs],
            }
        },
        "size": max(rules, 1),
        "_source": ["rule"],
    }


class Percolator:
    """The percolator index of the rules, installed on first use."""

    def __init__(self, store, settings):
        self.store = store
        self.index = rules_index(settings.elasticsearch_index)
        # A handful of small documents: one shard; replicas as the articles have them.
        self.index_settings = {
            "number_of_shards": 1,
            "number_of_replicas": settings.elasticsearch_replicas,
            **percolator_settings(),
        }
        self._installed_for: tuple[str, ...] | None = None

    def install(self, rules: list[Rule]) -> None:
        """Create the index if needed, write every rule, delete rules no longer there."""
        client = self.store.client
        if not client.indices.exists(index=self.index):
            client.indices.create(
                index=self.index, settings=self.index_settings, mappings=percolator_mappings()
            )
        wanted = rule_documents(rules)
        for name, body in wanted.items():
            client.index(index=self.index, id=name, document=body)
        found = client.search(index=self.index, size=10_000, _source=False)
        for hit in found["hits"]["hits"]:
            if hit["_id"] not in wanted:
                client.delete(index=self.index, id=hit["_id"])
        client.indices.refresh(index=self.index)
        log.info("alert_rules_installed", extra={"index": self.index, "rules": len(wanted)})

    def match(self, rules: list[Rule], docs: list[dict]) -> list[tuple[Rule, int]]:
        """(rule, document index) of every match; ``StoreUnavailable`` when the cluster
        does not answer (the documents stay queued)."""
        from monitor.store.elastic.client import explain, is_transient

        by_name = {rule.name: rule for rule in rules}
        try:
            key = tuple(sorted(by_name))
            if self._installed_for != key:
                self.install(rules)
                self._installed_for = key
            response = self.store.client.search(
                index=self.index, **percolate_body(docs, len(rules))
            )
        except Exception as exc:
            if is_transient(exc):
                url = self.store.settings.elasticsearch_url
                raise StoreUnavailable(str(explain(exc, url))) from None
            raise
        out = []
        for hit in response["hits"]["hits"]:
            rule = by_name.get(hit["_source"]["rule"])
            slots = hit.get("fields", {}).get("_percolator_document_slot", [])
            if rule is not None:
                out += [(rule, slot) for slot in slots]
        return out
