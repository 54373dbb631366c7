"""The user's query string, and its translation into SQLite FTS5 syntax.

The syntax is the common subset users know from search boxes and Kibana:
words (all must match), ``"exact phrases"``, ``OR``, ``AND``, ``NOT`` / ``-word``
(also ``-"phrase"`` and ``-(group)``), ``prefix*``, parentheses, and ``title:`` /
``text:`` to look in one field (also ``title:"phrase"`` and ``title:(group)``).
Every word is quoted for FTS5, so punctuation and FTS5 keywords in the text never
turn into syntax errors. Adjacent terms are joined with an explicit ``AND``: FTS5's
implicit AND binds tighter than ``NOT`` and is not allowed next to parentheses, so
``a -b c`` would mean ``a NOT (b c)`` and ``a (b OR c)`` would be a syntax error.
"""

from __future__ import annotations

import re

from monitor.errors import QueryError
from monitor.text import fold_persian

FIELDS = ("title", "text")
_TOKEN = re.compile(
    r"\s*(?:"
    r'(?P<neg>-(?=["(]|(?:title|text):["(]))'  # the minus of -"phrase", -(group), -title:"x"
    r'|(?P<field>(?:title|text):(?=["(]))'  # the field of title:"phrase" and text:(group)
    r'|(?P<phrase>"[^"]*"?)'
    r"|(?P<paren>[()])"
    r'|(?P<word>[^\s()"]+)'
    r")"
)
_OPERATORS = ("AND", "OR", "NOT")
# After these an operand must come: no operator may follow, and no AND is needed.
# A field the user names covers the original and its English translation.
FIELD_COLUMNS = {"title": "{title title_en}", "text": "{text text_en}"}
_OPEN = (None, "(", *_OPERATORS, *(f"{FIELD_COLUMNS[field]} :" for field in FIELDS))


def to_fts5(query: str) -> str:
    """Translate a user query to an FTS5 MATCH expression, or raise QueryError."""
    return " ".join(fts5_tokens(query))


def fts5_tokens(query: str) -> list[str]:
    """The FTS5 expression as a token list: quoted terms (``"x"``, ``"x"*``), column
    filters (``{title title_en} :``, alone or before a term), AND, OR, NOT, parentheses.
    Checked and explicit (every AND written out), so other stores translate it from here
    and give the same errors and the same meaning."""
    out: list[str] = []
    depth = 0
    for position, (kind, value) in enumerate(_tokens(query)):
        prev = out[-1] if out else None
        if kind == "op":
            if prev in _OPEN:
                raise QueryError(
                    f"{value} at word {position + 1} of {query!r} needs a term before it "
                    f"(e.g. `Armenia {value} Azerbaijan`)"
                )
            out.append(value)
        elif kind == "not":
            # FTS5's NOT is binary: "a AND -b" is "a NOT b", a leading -word has nothing
            # to subtract from.
            if prev == "AND":
                out.pop()
                prev = out[-1]
            if prev in _OPEN:
                raise QueryError(
                    f"-{value} in {query!r} needs a term before it (e.g. `Karabakh -football`)"
                )
            out += ["NOT", _term(value, query)] if value else ["NOT"]
        elif kind == "paren" and value == ")":
            if not depth:
                raise QueryError(f"unbalanced ')' in {query!r}; remove it or add a '('")
            if prev in _OPEN:
                raise QueryError(f"nothing to search for before ')' in {query!r}; add a term")
            depth -= 1
            out.append(value)
        else:
            if prev not in _OPEN:
                out.append("AND")
            if kind == "paren":
                depth += 1
                out.append(value)
            elif kind == "field":
                out.append(f"{FIELD_COLUMNS[value]} :")
            else:
                out.append(value if kind == "phrase" else _term(value, query))
    if depth:
        raise QueryError(f"unbalanced '(' in {query!r}; close it with ')'")
    if out and out[-1] in _OPERATORS:
        raise QueryError(f"{query!r} ends with {out[-1]}; add a term after it")
    if not out:
        raise QueryError("empty query; give at least one word")
    return out


def _tokens(query: str) -> list[tuple[str, str]]:
    """(kind, value) pairs; kinds: word, phrase (quoted), paren, op, not, field.

    Words and phrases without a letter or digit are left out: FTS5 reads them as an
    empty phrase, which matches nothing and would empty the whole AND.
    """
    tokens: list[tuple[str, str]] = []
    pos = 0
    query = fold_persian(query)
    while pos < len(query):
        match = _TOKEN.match(query, pos)
        if not match or match.end() == pos:
            break
        pos = match.end()
        kind = match.lastgroup
        text = match[kind]
        if kind == "phrase":
            if len(text) < 2 or not text.endswith('"'):
                raise QueryError(f'unclosed quote in {query!r}; close the phrase with "')
            inner = text[1:-1].strip()
            if _has_token(inner):
                tokens.append(("phrase", _quote(inner)))
            elif tokens and tokens[-1][0] == "field":
                raise QueryError(f'{tokens[-1][1]}:"" in {query!r} has no term after the colon')
            elif tokens and tokens[-1] == ("not", ""):
                tokens.pop()  # -"" subtracts nothing
        elif kind == "neg":
            tokens.append(("not", ""))
        elif kind == "field":
            tokens.append(("field", text[:-1]))
        elif kind == "paren":
            tokens.append(("paren", text))
        elif text in _OPERATORS:
            tokens.append(("op", text))
        elif text.startswith("-") and len(text) > 1:
            if _has_token(text[1:]):
                tokens.append(("not", text[1:]))
        elif _has_token(text):
            tokens.append(("word", text))
    return tokens


def _term(word: str, query: str) -> str:
    field, sep, rest = word.partition(":")
    if sep and field in FIELDS:
        if not _has_token(rest):
            raise QueryError(f"{word!r} in {query!r} has no term after the colon")
        return f"{FIELD_COLUMNS[field]} : {_plain(rest)}"
    # "Пашинян:" (a pasted headline) and "https://..." are words, not fields.
    if sep and rest and field.isidentifier() and not field.startswith("http"):
        raise QueryError(
            f"unknown field {field!r} in {query!r}; searchable fields are "
            f"{', '.join(FIELDS)} (filters: --lang, --source, --kind)"
        )
    return _plain(word)


def _plain(word: str) -> str:
    # No field parsing here: in "text:title:x" the second colon is only punctuation.
    if word.endswith("*") and word.strip("*"):
        return _quote(word.rstrip("*")) + "*"
    return _quote(word)


def _has_token(text: str) -> bool:
    # FTS5's unicode61 tokenizer keeps letters and digits; everything else separates.
    return any(ch.isalnum() for ch in text)


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'
