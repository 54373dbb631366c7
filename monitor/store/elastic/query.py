"""Searches on Elasticsearch with the same meaning as on the embedded store.

The user's query is checked and made explicit once, by ``store.query.fts5_tokens`` (the
same errors on both stores), then parsed with FTS5's precedence (NOT binds tighter than
AND, AND tighter than OR) into a bool query. Every term is a phrase query over the
original text (all its analyzed sub-fields) and the English translation, as FTS5 reads
a quoted term as a phrase of the tokens in it (``Nagorno-Karabakh`` is two).
"""

from __future__ import annotations

from typing import Any

from monitor.store import SearchQuery
from monitor.store.query import FIELD_COLUMNS, fts5_tokens

# Which Elasticsearch fields a column filter (or no filter) means. Titles weigh double,
# as a headline match is the stronger signal; ``title.*`` covers every language analyzer.
FIELDS = {
    None: ["title^2", "title.*^2", "title_en^2", "text", "text.*", "text_en"],
    "title": ["title", "title.*", "title_en"],
    "text": ["text", "text.*", "text_en"],
}
_COLUMN = {marker + " :": name for name, marker in FIELD_COLUMNS.items()}
_PRECEDENCE = {"OR": 1, "AND": 2, "NOT": 3}
SNIPPET_FIELDS = ("text", "text_en")


def to_query(text: str) -> dict[str, Any]:
    """The bool query for a user query string; raises ``QueryError`` like ``to_fts5``."""
    parser = _Parser(fts5_tokens(text))
    return parser.expression(0)


class _Parser:
    """Precedence climbing over the token list from ``fts5_tokens``."""

    def __init__(self, tokens: list[str]):
        self.tokens = tokens
        self.pos = 0

    def expression(self, min_precedence: int) -> dict[str, Any]:
        left = self.operand(None)
        while self.pos < len(self.tokens):
            op = self.tokens[self.pos]
            precedence = _PRECEDENCE.get(op)
            if precedence is None or precedence < min_precedence:
                break
            self.pos += 1
            right = self.expression(precedence + 1)
            left = _combine(op, left, right)
        return left

    def operand(self, column: str | None) -> dict[str, Any]:
        token = self.tokens[self.pos]
        self.pos += 1
        if token == "(":
            return self._group(column)
        if token in _COLUMN:
            return self.operand(_COLUMN[token])
        marker, sep, term = token.partition(" : ")
        if sep and marker + " :" in _COLUMN:
            return _term(term, _COLUMN[marker + " :"])
        return _term(token, column)

    def _group(self, column: str | None) -> dict[str, Any]:
        """The group after "(", parsed on its own; ``pos`` ends after its ")"."""
        start, depth = self.pos, 1
        while depth:
            depth += {"(": 1, ")": -1}.get(self.tokens[self.pos], 0)
            self.pos += 1
        inner = self.tokens[start : self.pos - 1]
        if column:  # a column filter before a group applies to every bare term in it
            marker = FIELD_COLUMNS[column]
            inner = [f"{marker} : {t}" if t.startswith('"') else t for t in inner]
        return _Parser(inner).expression(0)


def _combine(op: str, left: dict, right: dict) -> dict[str, Any]:
    if op == "NOT":
        return {"bool": {"must": [left], "must_not": [right]}}
    if op == "AND":
        return {"bool": {"must": [left, right]}}
    return {"bool": {"should": [left, right], "minimum_should_match": 1}}


def _term(token: str, column: str | None) -> dict[str, Any]:
    prefix = token.endswith("*")
    inner = token[1 : -2 if prefix else -1].replace('""', '"')
    return {
        "multi_match": {
            "query": inner,
            "type": "phrase_prefix" if prefix else "phrase",
            "fields": FIELDS[column],
        }
    }


def filters(query: SearchQuery) -> list[dict[str, Any]]:
    """Term and range filters for languages, sources, kinds and the time window."""
    out: list[dict[str, Any]] = []
    for field, values in (
        ("language", query.languages),
        ("source", query.sources),
        ("kind", query.kinds),
    ):
        if values:
            out.append({"terms": {field: list(values)}})
    window: dict[str, str] = {}
    if query.since:
        window["gte"] = query.since.isoformat(timespec="seconds")
    if query.until:
        window["lt"] = query.until.isoformat(timespec="seconds")
    if window:
        out.append({"range": {"published": window}})
    return out


def search_body(query: SearchQuery) -> dict[str, Any]:
    """The body of ``_search`` for one page of a search, totals exact."""
    bool_query: dict[str, Any] = {"filter": filters(query)}
    by_relevance = bool(query.text.strip()) and query.sort == "relevance"
    if query.text.strip():
        bool_query["must"] = [to_query(query.text)]
    body: dict[str, Any] = {
        "query": {"bool": bool_query},
        "from": query.offset,
        "size": query.limit,
        "track_total_hits": True,
        # the same tie-break as the embedded store, so pages do not overlap
        "sort": (["_score"] if by_relevance else [{"published": "desc"}]) + [{"id": "asc"}],
    }
    if query.text.strip():
        body["highlight"] = {
            "fields": {name: {} for name in SNIPPET_FIELDS},
            "pre_tags": ["["],
            "post_tags": ["]"],
            "fragment_size": 120,
            "number_of_fragments": 1,
            "require_field_match": False,
        }
    return body


def find_query(patterns: dict[str, str]) -> dict[str, Any]:
    """Keyword fields matching SQL LIKE patterns (``%`` any run of characters)."""
    clauses = []
    for field, pattern in patterns.items():
        if not field.isidentifier():
            raise ValueError(f"not a field name: {field!r}")
        if "%" in pattern:
            escaped = pattern.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")
            clauses.append({"wildcard": {field: {"value": escaped.replace("%", "*")}}})
        else:
            clauses.append({"term": {field: pattern}})
    return {"bool": {"filter": clauses}}


# Aggregation sizes: sources can number in the hundreds; languages and kinds are few.
COUNT_SIZES = {"language": 50, "source": 1000, "kind": 20}


def counts_body() -> dict[str, Any]:
    """Aggregations for ``Store.counts``: by language, source, kind, and language with
    translation status."""
    aggs: dict[str, Any] = {
        name: {"terms": {"field": name, "size": size}} for name, size in COUNT_SIZES.items()
    }
    aggs["translation"] = {
        "terms": {"field": "language", "size": COUNT_SIZES["language"]},
        "aggs": {"status": {"terms": {"field": "translation_status", "missing": "?"}}},
    }
    return {"size": 0, "track_total_hits": True, "aggs": aggs}


def counts_from(response: dict[str, Any]) -> dict[str, dict[str, int]]:
    """``Store.counts`` from the response to ``counts_body``."""
    aggs = response["aggregations"]
    out = {name: {b["key"]: b["doc_count"] for b in aggs[name]["buckets"]} for name in COUNT_SIZES}
    out["total"] = {"documents": response["hits"]["total"]["value"]}
    out["translation"] = {
        f"{lang['key']} {status['key']}": status["doc_count"]
        for lang in aggs["translation"]["buckets"]
        for status in lang["status"]["buckets"]
    }
    return out
