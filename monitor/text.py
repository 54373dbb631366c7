"""Text helpers shared by normalize, search and the seed loader.

HTML to plain text with the standard library's parser: script, style and similar
elements are dropped with their contents, block elements become line breaks, entities
are decoded. Persian text is folded so that Arabic yeh/kaf and Persian digits in a feed
match the Persian letters and digits a user types.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from html.parser import HTMLParser

_DROP = {"script", "style", "noscript", "template", "iframe", "svg", "object", "head"}
_BLOCK = {
    "p",
    "div",
    "br",
    "li",
    "ul",
    "ol",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "tr",
    "table",
    "blockquote",
    "section",
    "article",
    "header",
    "footer",
    "figure",
    "figcaption",
    "pre",
    "hr",
    "dd",
    "dt",
    "dl",
    # Table cells and page regions: without a break "<td>Ереван</td><td>Баку</td>"
    # would become one word, "ЕреванБаку", that no search finds.
    "td",
    "th",
    "caption",
    "main",
    "nav",
    "aside",
    "address",
    "details",
    "summary",
}
_CONTROL_SPACE = re.compile(r"[\x0b\x0c\x1c-\x1f\x85]")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]")
_NOT_WORD = re.compile(r"[\W_]+")  # \W in str patterns: not a letter or number
# Combining marks of the scripts we read: Latin/Cyrillic accents, Cyrillic titlo,
# Arabic-script harakat and Quranic marks.
_MARKS = re.compile(r"[\u0300-\u036f\u0483-\u0489\u064b-\u065f\u0670\u06d6-\u06ed]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
# Arabic-script letters that Persian writes differently; feeds mix both.
_PERSIAN_FOLD = str.maketrans({"ي": "ی", "ك": "ک", "ى": "ی", "ۀ": "ه", "ة": "ه"})
_ARABIC_FORMS = re.compile("[يكىۀة]")
_EASTERN_DIGITS = re.compile("[۰-۹٠-٩]")
_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")


class _TextExtractor(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in _DROP:
            self.skip += 1
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_startendtag(self, tag, attrs):
        if tag in _BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in _DROP:
            self.skip = max(0, self.skip - 1)
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    """Plain text of an HTML fragment: no tags, no scripts, entities decoded."""
    if not markup:
        return ""
    if "<" not in markup and "&" not in markup:
        return clean_whitespace(markup)
    parser = _TextExtractor()
    try:
        parser.feed(markup)
        parser.close()
        text = "".join(parser.parts)
    except Exception:  # noqa: BLE001 - a parser bug must not lose the article
        text = html.unescape(re.sub(r"<[^>]*>", " ", markup))
    # Double-escaped feeds ("&amp;laquo;") still hold entities after one pass.
    if "&" in text:
        text = html.unescape(text)
    return clean_whitespace(text)


def clean_whitespace(text: str) -> str:
    """Collapse runs of spaces, keep paragraph breaks, strip control characters."""
    # Line ends first: a lone CR (old Mac files) is a line break, and CR LF is one break.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # Control characters that separate words (form feed, vertical tab, NEL, the
    # information separators) become spaces so they do not glue two words together;
    # the others are dropped.
    text = _CONTROL.sub("", _CONTROL_SPACE.sub(" ", text))
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def one_line(text: str) -> str:
    """A title-like single line."""
    return " ".join(text.split())


def fold_persian(text: str) -> str:
    """Persian letters for their Arabic look-alikes (ي→ی, ك→ک)."""
    # translate() with a dict costs a lookup per character; most text has nothing to fold.
    return text.translate(_PERSIAN_FOLD) if _ARABIC_FORMS.search(text) else text


def fingerprint_text(text: str) -> str:
    """The text reduced for an exact-content hash: case, punctuation, digits' script
    and spacing do not make two copies of one article different."""
    text = fold_persian(unicodedata.normalize("NFKC", text))
    if _EASTERN_DIGITS.search(text):
        text = text.translate(_DIGITS)
    text = text.casefold()
    # Vowel marks and stress accents are dropped, not turned into spaces: a copy with
    # Persian harakat or Russian stress marks is the same text.
    return " ".join(_NOT_WORD.sub(" ", _MARKS.sub("", text)).split())


def stable_hash(*parts: str) -> str:
    """A 128-bit hex hash of the parts: ids and content hashes. At 128 bits a collision
    is out of reach for any number of articles this will ever see."""
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]


def content_hash(title: str, text: str) -> str:
    """Hash of the normalized title and text: equal for two copies of one article."""
    return stable_hash("content", fingerprint_text(title), fingerprint_text(text))
