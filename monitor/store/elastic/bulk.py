"""The bulk path's pure parts: merging waiting writes, the actions sent, and what each
answer means for the outbox row. No client here, so tests check exactly what is sent."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from monitor.store.elastic import template
from monitor.store.outbox import Entry


@dataclass
class Op:
    """One write to send: a document's waiting writes merged, and their outbox rows."""

    op: str
    doc_id: str
    body: dict[str, Any]
    seqs: list[int] = field(default_factory=list)


def coalesce(entries: list[Entry]) -> list[Op]:
    """Merge the writes of each document, in queue order: a create followed by updates
    is one create of the updated document; updates are one update of all fields.
    The result is ordered by each document's first write."""
    ops: dict[tuple[str, str], Op] = {}
    order: list[Op] = []
    for entry in entries:
        current = ops.get(("doc", entry.doc_id))
        if current is not None and entry.op == "update":
            current.body = {**current.body, **entry.body}
            current.seqs.append(entry.seq)
            continue
        op = Op(entry.op, entry.doc_id, dict(entry.body), [entry.seq])
        ops[("doc", entry.doc_id)] = op
        order.append(op)
    return order


def disposition(op: str, status: int) -> str:
    """What to do with an outbox row after the store answered ``status`` for it:
    ``ack``, ``duplicate`` (a create that exists: counted, then forgotten), ``retry``
    (overloaded or failing: later) or ``reject`` (refused for good: kept aside)."""
    if 200 <= status < 300:
        return "ack"
    if op == "create" and status == 409:
        return "duplicate"
    if status == 429 or status >= 500:
        return "retry"
    return "reject"


def to_source(document: dict[str, Any]) -> dict[str, Any]:
    """The document as Elasticsearch keeps it: no nulls, no empty dates."""
    return {
        k: v
        for k, v in document.items()
        if v is not None and not (k in template.DATE_FIELDS and v == "")
    }


def split_ops(ops: list[Op], located: dict[str, str]) -> tuple[list[Op], list[Op], list[Op]]:
    """(duplicates, creates, updates): a create whose id some index behind the alias
    holds already (an older one, after rollover) is a duplicate and is not sent."""
    duplicates, creates, updates = [], [], []
    for op in ops:
        if op.op == "create":
            (duplicates if op.doc_id in located else creates).append(op)
        else:
            updates.append(op)
    return duplicates, creates, updates


def bulk_actions(
    creates: list[Op], updates: list[Op], located: dict[str, str], alias: str
) -> tuple[list[dict], list[dict]]:
    """The bulk helper's actions: creates through the alias (its write index), partial
    updates to the index that holds the document (the alias if not found yet: a create
    of a moment ago is in the write index, where a bulk update finds it in real time)."""
    create_actions = [
        {"_op_type": "create", "_index": alias, "_id": op.doc_id, "_source": op.body}
        for op in creates
    ]
    update_actions = [
        {
            "_op_type": "update",
            "_index": located.get(op.doc_id, alias),
            "_id": op.doc_id,
            "doc": op.body,
            # two daemons updating one document (translation, full text) at once
            "retry_on_conflict": 3,
        }
        for op in updates
    ]
    return create_actions, update_actions
