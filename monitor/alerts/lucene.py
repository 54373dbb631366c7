"""Alert rules in the Lucene query-string syntax Kibana users know, parsed to a small AST.

The syntax: words, ``"phrases"``, proximity ``"a b"~3``, wildcards inside or at the end
of a word (``Zəngəzur*``, ``te?t``), field prefixes (``title:``, ``text:``,
``title_en:``, ``text_en:``, ``lang:``/``language:``, ``source:``, ``country:``,
``kind:``, also on a group: ``title:(a OR b)``), ``AND``/``&&``, ``OR``/``||``,
``NOT``/``!``, ``+required``, ``-prohibited``, parentheses and backslash escapes.
Adjacent clauses are joined by OR, as in Kibana.

Where the meaning departs from Lucene's classic parser, on purpose: NOT binds tighter
than AND, and AND tighter than OR (the classic parser has no precedence, so there
``a OR b AND c`` requires b and c). One list of OR-ed clauses follows Lucene's rule:
``+x`` is required, ``-x`` and ``NOT x`` are prohibited, the others are optional and
at least one of them must match only when nothing is required. An AND chain is a
single clause of such a list, with every operand required.

Fuzzy ``~``, ranges, regular expressions and boosts are refused: fuzzy expansion and the
regex dialect could not mean the same on our evaluator and on Elasticsearch, the alert
fields hold no numbers or dates, and alerts match without ranking.

The AST is the contract between the two engines, ``monitor.alerts.evaluate`` and
``monitor.alerts.percolate``, which give it one meaning.
"""

from __future__ import annotations

import dataclasses
import unicodedata
from typing import NamedTuple

TEXT_FIELDS = ("title", "text", "title_en", "text_en")
KEYWORD_FIELDS = ("language", "source", "country", "kind")
# The names a rule may write before a colon, and the document field each one means.
FIELDS = {
    **{name: name for name in TEXT_FIELDS},
    "lang": "language",
    **{name: name for name in KEYWORD_FIELDS},
}
# Elasticsearch refuses a slop past 2**31 - 1; past a few thousand words a proximity
# is an AND anyway, so the cap costs nothing and keeps both engines in agreement.
MAX_SLOP = 10_000

_ENDS_WORD = frozenset('()"^~[]{}/:')
# Lucene syntax alert rules refuse (see the module docstring), and what to write instead.
_UNSUPPORTED = {
    "~": ("fuzzy `~`", "not supported; list spellings with OR or use a wildcard (Pashinyan*)"),
    "^": ("boost `^`", "not supported: boosts change ranking, and alerts only match"),
    "/": ("regular expression `/`", "not supported; use * and ?, or escape a slash as \\/"),
    **dict.fromkeys("[]{}", ("range", "not supported; escape a bracket you search for: \\[")),
}


class RuleSyntaxError(ValueError):
    """A rule that cannot be parsed. ``position`` is the 0-based offset of the problem;
    the message names it and says how to fix it."""

    def __init__(self, message: str, position: int):
        super().__init__(message)
        self.position = position


def _error(what: str, position: int, fix: str) -> RuleSyntaxError:
    return RuleSyntaxError(f"{what} at {position}: {fix}", position)


@dataclasses.dataclass(frozen=True)
class Term:
    """A word as written, escapes resolved. On a text field it is analyzed, and a word
    that analyzes to several tokens (Nagorno-Karabakh) is a phrase of them; on a
    keyword field it is the exact value. ``field`` None means the four text fields."""

    field: str | None
    text: str
    position: int = dataclasses.field(default=0, compare=False)


@dataclasses.dataclass(frozen=True)
class Phrase:
    """Quoted words: consecutive tokens of one field, or within ``slop`` moves of it."""

    field: str | None
    text: str
    slop: int = 0
    position: int = dataclasses.field(default=0, compare=False)


@dataclasses.dataclass(frozen=True)
class Wildcard:
    """A word with ``*`` (any run of characters) or ``?`` (one character); ``pattern`` is
    in Elasticsearch's wildcard syntax, where a backslash escapes ``*``, ``?`` and
    itself. It matches one token of a text field, or a whole keyword value."""

    field: str | None
    pattern: str
    position: int = dataclasses.field(default=0, compare=False)


@dataclasses.dataclass(frozen=True)
class Bool:
    """Lucene's clause list: every ``must`` and no ``must_not`` match, and at least one
    ``should`` does when there is no ``must``; with neither, every document but the
    ``must_not`` ones matches."""

    must: tuple[Node, ...] = ()
    should: tuple[Node, ...] = ()
    must_not: tuple[Node, ...] = ()


Leaf = Term | Phrase | Wildcard
Node = Term | Phrase | Wildcard | Bool


def parse(query: str) -> Node:
    """The AST of an alert rule, or RuleSyntaxError naming the problem and its position."""
    return _Parser(_lex(query)).parse()


class _Token(NamedTuple):
    kind: str  # ( ) AND OR NOT + - field word phrase end
    position: int
    # A word or phrase with escapes resolved; a field's document name; an operator as
    # written (&& or AND), for the error messages.
    text: str = ""
    pattern: str | None = None  # a word's wildcard pattern, when it has * or ?
    slop: int = 0


def _lex(query: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(query):
        char = query[i]
        if char.isspace():
            i += 1
        elif char in "()":
            tokens.append(_Token(char, i))
            i += 1
        elif query.startswith(("&&", "||"), i):
            tokens.append(_Token("AND" if char == "&" else "OR", i, char * 2))
            i += 2
        elif char == "!":
            tokens.append(_Token("NOT", i, "!"))
            i += 1
        elif char in "+-":
            if i + 1 == len(query) or query[i + 1].isspace():
                raise _error(f"`{char}` alone", i, f"write it directly before a term ({char}word)")
            tokens.append(_Token(char, i, char))
            i += 1
        elif char == '"':
            token, i = _phrase(query, i)
            tokens.append(token)
        elif char in _UNSUPPORTED:
            raise _error(_UNSUPPORTED[char][0], i, _UNSUPPORTED[char][1])
        elif char == ":":
            raise _error("`:` without a field", i, "write a field before it, or escape it as \\:")
        elif char in "<>=" and tokens and tokens[-1].kind == "field":
            raise _error(f"range `{char}`", i, "alert rules do not support ranges")
        else:
            token, i = _word(query, i)
            tokens.append(token)
    tokens.append(_Token("end", len(query)))
    return tokens


def _word(query: str, start: int) -> tuple[_Token, int]:
    text: list[str] = []
    pattern: list[str] = []
    wild = escaped = False
    i = start
    while i < len(query) and not (query[i].isspace() or query[i] in _ENDS_WORD):
        char = query[i]
        if char == "\\":
            if i + 1 == len(query):
                raise _error("backslash at the end", i, "escape a backslash as \\\\")
            char, escaped = query[i + 1], True
            pattern.append("\\" + char if char in "*?\\" else char)
            i += 1
        elif char in "*?":
            if i == start:
                fix = "slow on Elasticsearch; start the word with letters (Zangezur*)"
                raise _error(f"leading wildcard `{char}`", i, fix)
            wild = True
            pattern.append(char)
        else:
            pattern.append(char)
        text.append(char)
        i += 1
    raw = query[start:i]
    if i < len(query) and query[i] == ":":
        if raw not in FIELDS or escaped:
            fix = f"use one of {', '.join(FIELDS)}, or escape the colon as \\:"
            raise _error(f"unknown field `{raw}:`", start, fix)
        return _Token("field", start, FIELDS[raw]), i + 1
    if raw in ("AND", "OR", "NOT"):
        return _Token(raw, start, raw), i
    return _Token("word", start, "".join(text), "".join(pattern) if wild else None), i


def _phrase(query: str, start: int) -> tuple[_Token, int]:
    chars: list[str] = []
    i = start + 1
    while i < len(query) and query[i] != '"':
        if query[i] == "\\" and i + 1 < len(query):
            i += 1
        chars.append(query[i])
        i += 1
    if i == len(query):
        raise _error("unclosed quote", start, 'close the phrase with "')
    i += 1
    slop = 0
    if i < len(query) and query[i] == "~":
        end = i + 1
        while end < len(query) and query[end] in "0123456789":
            end += 1
        if end == i + 1 or (end < len(query) and query[end] in ".,"):
            raise _error("proximity `~`", i, 'give a whole number of words: "a b"~3')
        slop = int(query[i + 1 : end])
        if slop > MAX_SLOP:
            raise _error(f"proximity ~{slop}", i, f"use at most ~{MAX_SLOP}, or AND")
        i = end
    return _Token("phrase", start, "".join(chars), slop=slop), i


_MUST, _SHOULD, _MUST_NOT = "must", "should", "must_not"
# Tokens after which an operand is missing when an operator or the end follows.
_NOT_OPERAND = ("AND", "OR", ")", "end")


class _Parser:
    def __init__(self, tokens: list[_Token]):
        self.tokens = tokens
        self.i = 0

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        self.i += 1
        return self.tokens[self.i - 1]

    def parse(self) -> Node:
        if self.peek().kind == "end":
            raise _error("empty rule", 0, "write at least one term")
        node = self.clauses(None)
        if self.peek().kind == ")":
            raise _error("unexpected `)`", self.peek().position, "remove it or add a `(` before")
        return node

    def clauses(self, field: str | None) -> Node:
        """A list of clauses joined by OR or nothing, up to `)` or the end."""
        items: list[tuple[str, Node]] = []
        while self.peek().kind not in (")", "end"):
            token = self.peek()
            if token.kind in ("AND", "OR"):
                if not items:
                    raise _error(f"`{token.text}`", token.position, "it needs a term before it")
                if token.kind == "OR":
                    self.take()
                    self.operand_after(token)
            items.append(self.chain(field))
        return _combine(items)

    def operand_after(self, operator: _Token) -> None:
        if self.peek().kind in _NOT_OPERAND:
            raise _error(f"`{operator.text}`", operator.position, "it needs a term after it")

    def chain(self, field: str | None) -> tuple[str, Node]:
        """Operands joined by AND: one clause, or one required-together Bool."""
        items = [self.unary(field)]
        while self.peek().kind == "AND":
            self.operand_after(self.take())
            items.append(self.unary(field))
        if len(items) == 1:
            return items[0]
        must = tuple(node for occur, node in items if occur != _MUST_NOT)
        must_not = tuple(node for occur, node in items if occur == _MUST_NOT)
        return _SHOULD, Bool(must=must, must_not=must_not)

    def unary(self, field: str | None) -> tuple[str, Node]:
        token = self.peek()
        if token.kind == "NOT":
            self.take()
            self.operand_after(token)
            occur, node = self.unary(field)
            # NOT of a prohibited clause is a clause of its own: "not (not x)".
            return _MUST_NOT, Bool(must_not=(node,)) if occur == _MUST_NOT else node
        if token.kind in "+-":
            self.take()
            if self.peek().kind not in ("word", "phrase", "field", "("):
                raise _error(f"`{token.text}`", token.position, "write it directly before a term")
            return (_MUST if token.kind == "+" else _MUST_NOT), self.primary(field)
        return _SHOULD, self.primary(field)

    def primary(self, field: str | None) -> Node:
        token = self.take()
        if token.kind == "field":
            if self.peek().kind not in ("word", "phrase", "("):
                fix = 'write a word, a "phrase" or a (group) directly after it'
                raise _error(f"field `{token.text}:`", token.position, fix)
            return self.primary(token.text)
        if token.kind == "(":
            if self.peek().kind == ")":
                raise _error("empty parentheses", token.position, "put a term inside them")
            node = self.clauses(field)
            if self.take().kind != ")":
                raise _error("unclosed parenthesis", token.position, "add a `)`")
            return node
        if token.kind in ("word", "phrase"):
            return _leaf(token, field)
        if token.kind == ")":
            raise _error("unexpected `)`", token.position, "remove it or add a `(` before")
        raise _error(f"`{token.text}`", token.position, "it needs a term before it")


def _combine(items: list[tuple[str, Node]]) -> Node:
    if len(items) == 1:
        occur, node = items[0]
        return Bool(must_not=(node,)) if occur == _MUST_NOT else node
    return Bool(
        must=tuple(node for occur, node in items if occur == _MUST),
        should=tuple(node for occur, node in items if occur == _SHOULD),
        must_not=tuple(node for occur, node in items if occur == _MUST_NOT),
    )


def _leaf(token: _Token, field: str | None) -> Node:
    on_text = field is None or field in TEXT_FIELDS
    if token.kind == "phrase":
        if not token.text.strip():
            raise _error("empty phrase", token.position, "put words between the quotes")
        if token.slop and not on_text:
            fix = f"{field} holds one exact value; remove the ~"
            raise _error("proximity on a keyword field", token.position, fix)
    if on_text and not any(char.isalnum() for char in token.text):
        fix = "alert rules match words; remove it"
        raise _error(f"`{token.text}` has no letters or digits", token.position, fix)
    if token.pattern is not None:
        if on_text and _splits_words(token.text):
            fix = "a wildcard matches within one word; use a phrase for the rest"
            raise _error(f"wildcard `{token.pattern}` spans words", token.position, fix)
        return Wildcard(field, token.pattern, token.position)
    if token.kind == "phrase":
        return Phrase(field, token.text, token.slop, token.position)
    return Term(field, token.text, token.position)


def _splits_words(text: str) -> bool:
    # Letters, digits, the underscore and the marks that join words (Qarabağ'ın, U.S.)
    # stay inside one token; anything else ends it, so no single token could match.
    return any(
        not (char.isalnum() or char in "*?_.'’" or unicodedata.category(char)[0] == "M")
        for char in text
    )
