"""Alert rules on Elasticsearch: the percolator index, its analyzer's twin in Python,
and the query DSL of a rule.

Each rule is stored as a query in a percolator index whose four text fields share one
analyzer, ``monitor_alert``; a new article is percolated against it. The evaluator of
the embedded store (``monitor.alerts.evaluate``) must give the same answers, so the
analyzer is plain Lucene parts that this module reproduces token for token:

- char filter: ZWNJ (U+200C) becomes a space, so both halves of a Persian word are
  words; schwa (ə, Ə) becomes e, because Lucene's ASCII folding turns it into "a" while
  Azerbaijani typed without its letters writes e (Azerbaycan, Zengezur); Russian ё
  becomes е, which most Russian text writes for it; the Armenian ligature և becomes
  եւ, as classical spelling writes it (Երևան, Երեւան);
- tokenizer ``standard`` (Unicode word boundaries, UAX #29), approximated in
  ``tokenize`` where the scripts we read are exact (see the alert rule docs for where
  it differs);
- filters ``lowercase`` (per code point, as Java does: İ is i), ``decimal_digit``
  (digits of every script are ASCII), ``arabic_normalization`` and
  ``persian_normalization`` (letter forms and vowel marks; note they fold Persian ی and
  ک to Arabic ي and ك, the opposite of ``monitor.text.fold_persian``, which is fine as
  both sides fold the same way), and ``asciifolding`` (Latin diacritics; ı is i).

No stemming and no stop words: rules use wildcards for inflection. Terms and wildcard
patterns are normalized here, as the evaluator does, and sent as ``term`` and
``wildcard`` queries, which Elasticsearch does not analyze; phrases are sent as
``match_phrase`` of the normalized tokens, which the analyzer leaves as they are.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Any

from monitor.alerts.lucene import KEYWORD_FIELDS, TEXT_FIELDS, Bool, Node, Phrase, Term, Wildcard

ANALYZER = "monitor_alert"


def percolator_settings() -> dict[str, Any]:
    """The analysis settings of the percolator index (shards and replicas are the
    caller's)."""
    return {
        "analysis": {
            "char_filter": {
                "monitor_alert_chars": {
                    "type": "mapping",
                    "mappings": [
                        "\\u200C=>\\u0020",  # ZWNJ: a space
                        "\\u0259=>e",  # ə
                        "\\u018F=>E",  # Ə
                        "\\u0451=>\\u0435",  # ё: е
                        "\\u0401=>\\u0415",  # Ё: Е
                        "\\u0587=>\\u0565\\u0582",  # the ligature և: եւ
                    ],
                }
            },
            "analyzer": {
                ANALYZER: {
                    "type": "custom",
                    "char_filter": ["monitor_alert_chars"],
                    "tokenizer": "standard",
                    "filter": [
                        "lowercase",
                        "decimal_digit",
                        "arabic_normalization",
                        "persian_normalization",
                        "asciifolding",
                    ],
                }
            },
        }
    }


def percolator_mappings() -> dict[str, Any]:
    """The fields rules can name, the stored ``query`` and the ``rule`` name. Other
    fields of a percolated article are ignored, not mapped."""
    properties: dict[str, Any] = {
        name: {"type": "text", "analyzer": ANALYZER} for name in TEXT_FIELDS
    }
    properties.update({name: {"type": "keyword"} for name in KEYWORD_FIELDS})
    properties.update(query={"type": "percolator"}, rule={"type": "keyword"})
    return {"dynamic": False, "properties": properties}


def to_elastic(node: Node) -> dict[str, Any]:
    """The query DSL with the meaning ``evaluate.matches`` gives the rule."""
    if isinstance(node, Bool):
        body: dict[str, Any] = {}
        if node.must:
            body["must"] = [to_elastic(child) for child in node.must]
        elif not node.should:
            body["must"] = [{"match_all": {}}]  # a pure negation: everything but
        if node.should:
            body["should"] = [to_elastic(child) for child in node.should]
            if not node.must:
                body["minimum_should_match"] = 1
        if node.must_not:
            body["must_not"] = [to_elastic(child) for child in node.must_not]
        return {"bool": body}
    if node.field in KEYWORD_FIELDS:
        if isinstance(node, Wildcard):
            return {"wildcard": {node.field: {"value": node.pattern}}}
        return {"term": {node.field: node.text}}
    queries = [_text_query(node, field) for field in ((node.field,) if node.field else TEXT_FIELDS)]
    if len(queries) == 1:
        return queries[0]
    return {"bool": {"should": queries, "minimum_should_match": 1}}


def _text_query(node: Term | Phrase | Wildcard, field: str) -> dict[str, Any]:
    if isinstance(node, Wildcard):
        return {"wildcard": {field: {"value": normalize_pattern(node.pattern)}}}
    tokens = analyze(node.text)
    if not tokens:
        return {"match_none": {}}
    if len(tokens) == 1:
        return {"term": {field: tokens[0]}}
    phrase: dict[str, Any] = {"query": " ".join(tokens)}
    if isinstance(node, Phrase) and node.slop:
        phrase["slop"] = node.slop
    return {"match_phrase": {field: phrase}}


# --- The analyzer's twin -------------------------------------------------------------

_CHAR_FILTER = str.maketrans({"\u200c": " ", "ə": "e", "Ə": "E", "ё": "е", "Ё": "Е", "և": "եւ"})

# Word-break classes of UAX #29, as far as Lucene's StandardTokenizer uses them.
_LETTER, _DIGIT, _KATAKANA, _CONNECT, _EXTEND, _MID_LETTER, _MID_NUM, _MID_BOTH = range(8)
_IDEOGRAPH, _EMOJI, _OTHER = range(8, 11)
_PUNCTUATION_CLASSES = {
    **dict.fromkeys(":·\u0387\u05f4\u2027\ufe13\ufe55\uff1a", _MID_LETTER),
    **dict.fromkeys(",;\u037e\u0589\u060c\u060d\u066c\u07f8\u2044\ufe10\ufe14", _MID_NUM),
    **dict.fromkeys("\ufe50\ufe54\uff0c\uff1b", _MID_NUM),
    **dict.fromkeys(".'\u2018\u2019\u2024\ufe52\uff07\uff0e", _MID_BOTH),
    "\u066b": _DIGIT,  # the Arabic decimal separator is Numeric in UAX #29
    "\u202f": _CONNECT,  # narrow no-break space joins Mongolian suffixes
    "\u200b": _OTHER,  # zero width space is a break, unlike other format characters
}


def _ranges(spec: str) -> tuple[range, ...]:
    bounds = (part.split("-") for part in spec.split())
    return tuple(range(int(low, 16), int((high or [low])[0], 16) + 1) for low, *high in bounds)


# Symbols Lucene emits as tokens of their own (Extended_Pictographic, as Lucene 8.7 on
# Java 17 has it); they take a position, which matters to phrases.
_EMOJI_RANGES = _ranges(
    "a9 ae 203c 2049 2122 2194-2199 21a9-21aa 231a-231b 2328 2388 23cf 23e9-23f3 "
    "23f8-23fa 25aa-25ab 25b6 25c0 25fb-25fe 2600-2605 2607-2612 2614-2685 2690-2705 "
    "2708-2712 2714 2716 271d 2721 2728 2733-2734 2744 2747 274c 274e 2753-2755 2757 "
    "2763-2767 2795-2797 27a1 27b0 27bf 2934-2935 2b05-2b07 2b1b-2b1c 2b50 2b55 3030 "
    "303d 3297 3299 1f000-1f02b 1f030-1f093 1f0a0-1f0ae 1f0b1-1f0bf 1f0c1-1f0cf "
    "1f0d1-1f0f5 1f10d-1f10f 1f12f-1f149 1f150-1f169 1f16c-1f189 1f18e 1f191-1f19a 1f1ad "
    "1f200-1f202 1f21a 1f22f 1f232-1f23a 1f250-1f251 1f260-1f265 1f300-1f53d 1f546-1f64f "
    "1f680-1f6d7 1f6dd-1f6ec 1f6f0-1f6fc 1f7d5-1f7d8 1f7e0-1f7eb 1f7f0 1f8b0-1f8b1 "
    "1f90c-1f93a 1f93c-1f945 1f947-1fa53 1fa60-1fa6d 1fa70-1fa74 1fa78-1fa7c 1fa80-1fa86 "
    "1fa90-1faac 1fab0-1faba 1fac0-1fac5 1fad0-1fad9 1fae0-1fae7 1faf0-1faf6"
)
_IDEOGRAPH_RANGES = _ranges(
    "2e80-2fdf 3005-3007 3040-309a 309d-309f 3400-9fff f900-faff 20000-3ffff"
)
_KATAKANA_RANGES = _ranges("309b-309c 30a0-30ff 31f0-31ff 32d0-32fe 3300-3357 ff66-ff9f")
_REGIONAL_INDICATORS = range(0x1F1E6, 0x1F200)
_WORD = (_LETTER, _DIGIT, _KATAKANA, _CONNECT)


@functools.cache
def _class(char: str) -> int:
    if char in _PUNCTUATION_CLASSES:
        return _PUNCTUATION_CLASSES[char]
    code = ord(char)
    category = unicodedata.category(char)
    if any(code in block for block in _EMOJI_RANGES) or code in _REGIONAL_INDICATORS:
        return _EMOJI
    if category[0] == "M" or category == "Cf":
        return _EXTEND
    if any(code in block for block in _IDEOGRAPH_RANGES):
        return _IDEOGRAPH  # Han and Hiragana: one token per character
    if any(code in block for block in _KATAKANA_RANGES):
        return _KATAKANA
    if category == "Nd":
        return _DIGIT
    if category == "Pc":
        return _CONNECT
    if char.isalpha() or category == "Nl" or 0x24B6 <= code <= 0x24E9:
        return _LETTER  # Roman numerals and circled letters are letters in UAX #29
    return _OTHER


def tokenize(text: str) -> list[str]:
    """The tokens of Lucene's StandardTokenizer, before any filter."""
    tokens: list[str] = []
    i = 0
    while i < len(text):
        kind = _class(text[i])
        if kind in _WORD:
            end = _word_end(text, i)
            word = text[i:end]
            # A run of connectors alone (___) is not a word; Lucene cuts words at 255.
            if any(_class(char) in (_LETTER, _DIGIT, _KATAKANA) for char in word):
                tokens.extend(word[start : start + 255] for start in range(0, len(word), 255))
        elif kind == _IDEOGRAPH:
            end = _extended(text, i + 1)
            tokens.append(text[i:end])
        elif kind == _EMOJI:
            end = _emoji_end(text, i)
            if ord(text[i]) not in _REGIONAL_INDICATORS or end - i > 1:
                tokens.append(text[i:end])  # half a flag is not a token
        else:
            end = i + 1
        i = end
    return tokens


def _extended(text: str, i: int) -> int:
    while i < len(text) and _class(text[i]) == _EXTEND:
        i += 1
    return i


def _word_end(text: str, i: int) -> int:
    previous = _class(text[i])
    i = _extended(text, i + 1)
    while i < len(text):
        kind = _class(text[i])
        if kind in _WORD and _joins(previous, kind):
            previous = kind
            i = _extended(text, i + 1)
            continue
        after = _extended(text, i + 1)
        following = _class(text[after]) if after < len(text) else _OTHER
        # A period or an apostrophe joins letters (U.S., Qarabağ'ın) or digits (3.14);
        # a colon joins letters, a comma digits (1,000).
        if previous == following and (
            (previous == _LETTER and kind in (_MID_LETTER, _MID_BOTH))
            or (previous == _DIGIT and kind in (_MID_NUM, _MID_BOTH))
        ):
            i = after
            continue
        break
    return i


def _joins(previous: int, kind: int) -> bool:
    # Katakana joins only Katakana; a connector (_) joins anything to anything.
    return _CONNECT in (previous, kind) or (previous == _KATAKANA) == (kind == _KATAKANA)


def _emoji_end(text: str, i: int) -> int:
    if ord(text[i]) in _REGIONAL_INDICATORS:
        if i + 1 == len(text) or ord(text[i + 1]) not in _REGIONAL_INDICATORS:
            return i + 1
        i += 1  # a flag is a pair
    base = ord(text[i])
    i = _extended(text, i + 1)
    # A skin tone joins the people and hands before it (roughly Emoji_Modifier_Base).
    if base >= 0x1F385 or base in (0x261D, 0x26F9, 0x270A, 0x270B, 0x270C, 0x270D):
        while i < len(text) and 0x1F3FB <= ord(text[i]) <= 0x1F3FF:
            i = _extended(text, i + 1)
    # Zero width joiner sequences (family, profession emoji) are one token.
    while text[i - 1 : i] == "\u200d" and i < len(text) and _class(text[i]) == _EMOJI:
        i = _extended(text, i + 1)
    return i


# asciifolding for letters without a Unicode decomposition to ASCII, as Lucene's table
# has them (its oddities included: ǥ is "G"); the rest of Latin goes through NFD.
_FOLD_PAIRS = (
    "ßss æae ðd øo þth đd ħh ıi ĳij ĸq ŀl łl ŉn ŋn œoe ŧt ſs ƀb ƃb ƈc ƌd ƒf ƕhv ƙk "
    "ƚl ƞn ƥp ƫt ƭt ƴy ƶz ƿw ǆdz ǉlj ǌnj ǝe ǣae ǥG ǧG ǳdz ǽae ǿo ȝz ȡd ȣou ȥz ȴl ȵn "
    "ȶt ȷj ȸdb ȹqp ȼc ȿs ɀz ɇe ɉj ɋq ɍr ɏy ẚa ẛf ẜs ẝs ỻll ỿy ﬀff ﬁfi ﬂfl ﬃffi ﬄffl "
    "ﬆst ɓb ɔo ɖd ɗd ɛe ɠg ɨi ɯm ɲn ɵo ʀR ʈt ʋv ⱥa ⱦt ʉu ʌv "
    # Punctuation that can sit inside a token: apostrophes, full-width separators.
    "ↄc ‘' ’' ＇' ．. ：: ⁄/ ，, ；; ＿_ ‼!! ⁉!?"
)
_FOLD = {pair[0]: pair[1:] for pair in _FOLD_PAIRS.split()}
# arabic_normalization then persian_normalization: alef and yeh forms, teh marbuta,
# keheh, heh forms; tatweel, harakat and hamza above are dropped.
_ARABIC = str.maketrans(
    {
        **dict.fromkeys("آأإ", "ا"),
        **dict.fromkeys("ىیے", "ي"),
        **dict.fromkeys("ةۀہ", "ه"),
        "ک": "ك",
        **dict.fromkeys("\u0640\u064b\u064c\u064d\u064e\u064f\u0650\u0651\u0652\u0654", ""),
    }
)


@functools.cache
def _normal(char: str) -> str:
    lower = char.lower()
    # Java lowercases one code point at a time: İ is i, not i + combining dot.
    char = lower if len(lower) == 1 else ("i" if char == "İ" else char)
    if unicodedata.category(char) == "Nd":
        char = str(unicodedata.decimal(char))
    char = char.translate(_ARABIC)
    if char in _FOLD:
        return _FOLD[char]
    code = ord(char[:1] or " ")
    if 0xC0 <= code < 0x250 or 0x1E00 <= code < 0x1F00:
        base = "".join(
            c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c)
        )
        return base if base.isascii() else char
    if 0xFF41 <= code <= 0xFF5A:  # full-width a-z
        return chr(code - 0xFF41 + ord("a"))
    if 0x24D0 <= code <= 0x24E9:  # circled a-z
        return chr(code - 0x24D0 + ord("a"))
    return char


def normalize(word: str) -> str:
    """One token through the filters: every filter maps a character at a time."""
    return "".join(_normal(char) for char in word.translate(_CHAR_FILTER))


def analyze(text: str) -> list[str]:
    """The tokens ``monitor_alert`` indexes for a text, in position order."""
    return [normalize(token) for token in tokenize(text.translate(_CHAR_FILTER))]


def normalize_pattern(pattern: str) -> str:
    """A wildcard pattern with its literal characters normalized like tokens, since
    Elasticsearch matches a ``wildcard`` query against the indexed tokens as given."""
    out = []
    for escaped, char in re.findall(r"(\\)?(.)", pattern, re.S):
        if char in "*?" and not escaped:
            out.append(char)
        else:
            out.append(re.sub(r"([*?\\])", r"\\\1", normalize(char)))
    return "".join(out)
