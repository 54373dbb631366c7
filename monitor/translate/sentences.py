"""Split news text into sentences for the translators, with rules written here.

The translation models take one sentence at a time, and sentence models (stanza, spaCy,
NLTK punkt) would have to be downloaded, so the splitter is a handful of regular
expressions and word lists for the five languages we translate from or pass through
(ru, hy, az, fa, en). It errs towards *not* splitting: two sentences translated together
come out fine, while a sentence cut after "И." or "г." comes out as two broken ones.

A sentence ends at a terminator (``. ! ? …``, Armenian ``։``, Arabic-script ``؟ ۔``),
plus any closing quotes or brackets, when whitespace and a plausible sentence start
follow. Line breaks always end a sentence. Nothing but whitespace and invisible
direction marks is ever dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LANGUAGES = ("ru", "hy", "az", "fa", "en")

# Direction marks and the byte-order mark are invisible, carry no words, and a translator's
# tokenizer turns them into unknown tokens; a feed that puts one after each sentence would
# otherwise leave "sentences" made of a lone mark. ZWNJ (U+200C) is kept: it is part of
# Persian words (می‌شود).
_INVISIBLE = dict.fromkeys(map(ord, "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e"), None)
_INVISIBLE.update(dict.fromkeys(map(ord, "\u2066\u2067\u2068\u2069\ufeff"), None))

_TERMINATORS = ".!?…\u0589\u061f\u06d4"  # ։ Armenian full stop, ؟ and ۔ Arabic-script
# These three are never abbreviation dots and belong to scripts where case cannot tell a
# sentence start (Arabic script has none; Armenian writers often go on in lowercase after
# ։), so after them any letter starts a sentence.
_UNAMBIGUOUS = frozenset("\u0589\u061f\u06d4")
_CLOSERS = "»\"”’')]›"
_OPENING = "«\"“„‘'([‹"
_OPENERS = frozenset(_OPENING)
_DASHES = frozenset("—–-")
_ARMENIAN_CAPITALS = "\u0531-\u0556"

_WORD_CHAR = re.compile(r"\w")
_DOTTED = re.compile(r"(?:[^\W\d_]\.)+[^\W\d_]")  # U.S, e.g, т.е, А.С (the last dot excluded)


def _keys(*abbreviations: str) -> frozenset[str]:
    """Lookup keys for abbreviations written as in text ("т.д."): lowercase, no final dot,
    also with a space after inner dots ("т. д"), as many writers type them."""
    keys = set()
    for abbreviation in abbreviations:
        key = abbreviation.lower().removesuffix(".")
        keys.update((key, key.replace(".", ". ")))
    return frozenset(keys)


# A dot after these never ends a sentence: they are followed by a name, a number or more of
# the same phrase ("г. Гюмри", "ул. Абовяна", "проф. Məmmədov", "Dr. Smith", "Jan. 5").
_ABBREVIATIONS = {
    "ru": _keys(
        "т.е.", "т.к.", "т.н.", "т.ч.", "в т.ч.", "г.", "гг.", "в.", "вв.", "ул.", "им.",
        "пр.", "просп.", "пл.", "обл.", "с.", "д.", "кв.", "ст.", "стр.", "проф.", "акад.",
        "ген.", "зам.", "см.", "напр.", "рис.", "тел.", "н.э.",
    ),
    "hy": _keys("թ.", "թթ.", "պրն.", "տկն.", "պրոֆ.", "դոկտ.", "ակադ.", "փ.", "ք.", "մ.թ.ա."),
    "az": _keys("b.", "məs.", "prof.", "dos.", "akad.", "küç.", "səh.", "e.ə.", "b.e."),
    "fa": _keys("ه.ش.", "ه.ق.", "ق.م."),
    "en": _keys(
        "Mr.", "Mrs.", "Ms.", "Dr.", "Prof.", "Sen.", "Rep.", "Gov.", "Gen.", "Col.", "Lt.",
        "Sgt.", "Capt.", "St.", "Jr.", "Sr.", "vs.", "approx.", "Fig.", "U.S.", "U.K.",
        "U.N.", "e.g.", "i.e.", "Jan.", "Feb.", "Mar.", "Apr.", "Jun.", "Jul.", "Aug.",
        "Sep.", "Sept.", "Oct.", "Nov.", "Dec.",
    ),
}  # fmt: skip
# These close an enumeration or a quantity and are followed by lowercase words or numbers
# inside a sentence ("и т.д. и т.п.", "5 млн. рублей", "5 млн. 300 тыс."), so their dot
# ends a sentence only before a capital letter: "нефть, газ и т.д. Министр заявил ...".
_MAY_END = {
    "ru": _keys("т.д.", "т.п.", "др.", "и др.", "тыс.", "млн.", "млрд.", "трлн.", "руб.",
                "долл.", "коп.", "чел."),
    "hy": _keys("հազ.", "մլն.", "մլրդ.", "դր."),
    "az": _keys("və s.", "və b.", "min.", "mln.", "mlrd.", "man."),
    "fa": frozenset(),
    "en": _keys("etc.", "Inc.", "Ltd.", "Corp.", "a.m.", "p.m."),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Rules:
    """What ends a sentence in one language."""

    boundary: re.Pattern[str]
    abbreviations: frozenset[str]
    may_end: frozenset[str]
    caseless: bool  # any letter may start a sentence, not only a capital
    dot_is_colon: bool  # "." before a quote or dash introduces speech (Armenian միջակետ)


def _boundary(armenian_colon: bool) -> re.Pattern[str]:
    """Candidate ends: terminators, closing quotes/brackets, then whitespace and a character.
    Requiring whitespace keeps 3.5, ۳.۵, 20.11.2026 and the inner dots of U.S. out at once."""
    marks = f"[{_TERMINATORS}]+"
    if armenian_colon:
        # Armenian writers type ASCII ":" for "։"; only a capital after it makes it one,
        # so "հետևյալը: բյուջեն" and "ժամը 14:30" keep their colon inside the sentence.
        marks = f"(?:{marks}|:(?=\\s+[{_ARMENIAN_CAPITALS}]))"
    closers = re.escape(_CLOSERS)
    return re.compile(f"(?P<mark>{marks})(?P<close>[{closers}]*)(?=\\s+(?P<next>\\S))")


_RULES = {
    language: _Rules(
        boundary=_boundary(armenian_colon=language == "hy"),
        abbreviations=_ABBREVIATIONS[language],
        may_end=_MAY_END[language],
        caseless=language == "fa",
        dot_is_colon=language == "hy",
    )
    for language in LANGUAGES
}


def split_sentences(text: str, language: str, max_chars: int = 400) -> list[str]:
    """Sentences of ``text`` in ``language`` (ru, hy, az, fa, en), in order, stripped, none empty.

    Joining them with spaces/newlines gives back all the words of the text (nothing dropped).
    """
    return [s for paragraph in split_for_translation(text, language, max_chars) for s in paragraph]


def split_for_translation(text: str, language: str, max_chars: int = 400) -> list[list[str]]:
    """Paragraphs (split on blank lines / line breaks) each split into sentences — so that a
    translation can be put back together with its paragraph breaks.

    Sentences longer than ``max_chars`` are cut into pieces of at most ``max_chars`` between
    words; a single word longer than that stays whole.
    """
    rules = _RULES.get(language)
    if rules is None:
        raise ValueError(f"language {language!r}: expected one of {', '.join(LANGUAGES)}")
    if max_chars < 1:
        raise ValueError(f"max_chars must be at least 1, not {max_chars}")
    paragraphs = []
    # A line break always ends a sentence: feeds' paragraphs, headlines and captions rarely
    # end with a full stop, and gluing a headline to the first sentence spoils both.
    for line in text.translate(_INVISIBLE).splitlines():
        sentences = [
            piece for sentence in _split_line(line, rules) for piece in _cut(sentence, max_chars)
        ]
        if sentences:
            paragraphs.append(sentences)
    return paragraphs


def _split_line(line: str, rules: _Rules) -> list[str]:
    """Sentences of one line."""
    sentences = []
    start = 0
    for match in rules.boundary.finditer(line):
        if _ends_sentence(line, start, match, rules):
            sentences.append(line[start : match.end()].strip())
            start = match.end()
    if rest := line[start:].strip():
        sentences.append(rest)
    return sentences


def _ends_sentence(line: str, start: int, match: re.Match[str], rules: _Rules) -> bool:
    """Whether the candidate ``match`` ends the sentence that began at ``start``."""
    if not _WORD_CHAR.search(line, start, match.start()):
        return False  # "..." or "?!" alone is no sentence: it stays with what follows
    mark = match["mark"]
    caseless = rules.caseless or mark[-1] in _UNAMBIGUOUS or mark == ":"
    if not _starts_sentence(line, match.start("next"), caseless):
        return False  # "рост... но", "2026 թ. նոյեմբերի", "!» — заявил он"
    if mark != "." or match["close"]:
        return True
    if rules.dot_is_colon and (match["next"] in _OPENERS or match["next"] in _DASHES):
        # Armenian ends sentences with "։"; its "." is the միջակետ, a colon before quoted
        # speech: Նախարարը հայտարարեց. «Մենք պատրաստ ենք»։
        return False
    return _dot_ends(line, start, match.start(), match["next"], rules)


def _starts_sentence(line: str, at: int, caseless: bool) -> bool:
    """Whether the text at ``at`` can begin a sentence."""
    first = line[at]
    if first in _DASHES:
        # «Мы готовы!» — заявил министр: a dash and a lowercase word after direct speech
        # are the author's words, the same sentence; a dash and a capital is a new line of
        # dialogue or a new sentence.
        after = line[at + 1 : at + 8].lstrip()
        return not after[:1].islower()
    if first.isupper() or first.isdigit() or first in _OPENERS:
        return True
    return caseless and first.isalpha()


def _dot_ends(line: str, start: int, dot: int, following: str, rules: _Rules) -> bool:
    """Whether a full stop ends the sentence, or marks an abbreviation, initial or list item."""
    # Only the last two words matter; a bounded look-back keeps long lines linear.
    words = line[max(start, dot - 64) : dot].split()
    if not words:
        return True
    word = words[-1].lstrip(_OPENING)
    key = word.lower()
    pair = f"{words[-2].lower()} {key}" if len(words) > 1 else ""
    for candidate in (pair, key):  # "и т. д" before "д" (house number)
        if candidate in rules.may_end:
            return following.isupper()
        if candidate in rules.abbreviations:
            return False
    if len(word) == 1 and word.isalpha():
        return not word.isupper()  # initials: И. Алиев, J. Smith, Ն. Փաշինյան
    if _DOTTED.fullmatch(word):
        return False  # U.S. Treasury, А.С. Пушкин, e.g.
    # "1. Армения и Азербайджан ..." is a list item, not a sentence "1."
    return not (len(words) == 1 and word.isdigit() and len(word) <= 3)


# Translation models are trained on sentences of a few dozen words and degrade on very long
# inputs (repetition, dropped clauses, time quadratic in length), so run-on sentences,
# tables flattened to one line and missing full stops are cut at a clause end or a space.
_CLAUSE_END = re.compile(r"[,;:\u060c\u061b\u055d]\s")  # ، Persian comma, ؛ semicolon, ՝
_SPACE = re.compile(r"\s+")


def _cut(sentence: str, max_chars: int) -> list[str]:
    """Pieces of ``sentence`` at most ``max_chars`` long, cut between words."""
    pieces = []
    rest = sentence
    while len(rest) > max_chars:
        at = _cut_point(rest, max_chars)
        if at is None:
            break  # one word longer than the limit: never cut inside it
        pieces.append(rest[:at].rstrip())
        rest = rest[at:].lstrip()
    pieces.append(rest)
    return pieces


def _cut_point(text: str, max_chars: int) -> int | None:
    """Where to cut ``text`` so that the first piece is at most ``max_chars`` long."""
    window = text[: max_chars + 1]
    clause = max((m.start() + 1 for m in _CLAUSE_END.finditer(window)), default=0)
    # A clause end makes the better cut, unless it is so early that the piece is a stub and
    # the rest needs more cuts; then the last space is better.
    if clause and clause >= max_chars // 2:
        return clause
    space = max((m.start() for m in _SPACE.finditer(window)), default=0)
    if space > 0:
        return space
    beyond = _SPACE.search(text, max_chars)
    return beyond.start() if beyond else None
