"""The user's query string, and its translation into SQLite FTS5 syntax.

The syntax is the common subset users know from search boxes and Kibana:
words (all must match), ``"exact phrases"``, ``OR``, ``AND``, ``NOT`` / ``-word``,
``prefix*``, parentheses, and ``title:`` / ``text:`` to look in one field.
Every word is quoted for FTS5, so punctuation and FTS5 keywords in the text never
turn into syntax errors.
"""

from __future__ import annotations

import re

from monitor.errors import QueryError
from monitor.text import fold_persian

FIELDS = ("title", "text")
_TOKEN = re.compile(r'\s*(?:(?P<phrase>"[^"]*"?)|(?P<paren>[()])|(?P<word>[^\s()"]+))')


def to_fts5(query: str) -> str:
    """Translate a user query to an FTS5 MATCH expression, or raise QueryError."""
    tokens = _tokens(query)
    out: list[str] = []
    depth = 0
    for position, (kind, value) in enumerate(tokens):
        prev = out[-1] if out else None
        if kind == "paren":
            depth += 1 if value == "(" else -1
            if depth < 0:
                raise QueryError(f"unbalanced ')' in {query!r}; remove it or add a '('")
            out.append(value)
            continue
        if kind == "op":
            if prev in (None, "(", "AND", "OR", "NOT"):
                raise QueryError(
                    f"{value} at word {position + 1} of {query!r} needs a term before it "
                    f"(e.g. `Armenia {value} Azerbaijan`)"
                )
            out.append(value)
            continue
        if kind == "not_term":
            # FTS5's NOT is binary; a leading -word has nothing to subtract from.
            if prev in (None, "(", "AND", "OR", "NOT"):
                raise QueryError(
                    f"-{value} in {query!r} needs a term before it (e.g. `Karabakh -football`)"
                )
            out += ["NOT", _quote(value)]
            continue
        out.append(value if kind == "phrase" else _term(value, query))
    if depth:
        raise QueryError(f"unbalanced '(' in {query!r}; close it with ')'")
    if out and out[-1] in ("AND", "OR", "NOT"):
        raise QueryError(f"{query!r} ends with {out[-1]}; add a term after it")
    if not out:
        raise QueryError("empty query; give at least one word")
    return " ".join(out)


def _tokens(query: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    query = fold_persian(query)
    while pos < len(query):
        match = _TOKEN.match(query, pos)
        if not match or match.end() == pos:
            break
        pos = match.end()
        if match["phrase"] is not None:
            phrase = match["phrase"]
            if len(phrase) < 2 or not phrase.endswith('"'):
                raise QueryError(f'unclosed quote in {query!r}; close the phrase with "')
            inner = phrase[1:-1].strip()
            if inner:
                tokens.append(("phrase", _quote(inner)))
        elif match["paren"]:
            tokens.append(("paren", match["paren"]))
        else:
            word = match["word"]
            if word in ("AND", "OR", "NOT"):
                tokens.append(("op", word))
            elif word.startswith("-") and len(word) > 1:
                tokens.append(("not_term", word[1:]))
            else:
                tokens.append(("word", word))
    return tokens


def _term(word: str, query: str) -> str:
    field, sep, rest = word.partition(":")
    if sep and field in FIELDS:
        if not rest:
            raise QueryError(f"{word!r} in {query!r} has no term after the colon")
        return f"{field} : {_term(rest, query)}"
    if sep and field.isidentifier() and not field.startswith("http"):
        raise QueryError(
            f"unknown field {field!r} in {query!r}; searchable fields are "
            f"{', '.join(FIELDS)} (filters: --lang, --source, --kind)"
        )
    if word.endswith("*") and word.strip("*"):
        return _quote(word.rstrip("*")) + "*"
    return _quote(word)


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'
