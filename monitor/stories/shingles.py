"""The sets that near-duplicate detection compares.

Within one language the original text is compared as word 3-shingles: a copy with a
different headline, an agency prefix or a cut paragraph keeps most of its 3-shingles,
while two different reports on one topic share few (docs/choices.md, "Stories").
Across languages the English translations are compared as sets of content words: two
machine translations of one text agree on the words far more than on word order.
"""

from __future__ import annotations

from monitor.text import fingerprint_text

WITHIN_SHINGLE_WORDS = 3
# Below these sizes a text is too short to tell a copy from a coincidence (a headline
# alone); such an article starts its own story rather than joining one by chance.
MIN_WITHIN_SHINGLES = 5
MIN_ACROSS_WORDS = 8

# Function words carry no sign of which event a text reports; without them two
# translations of different news would look alike through "the", "of" and "said".
ENGLISH_STOPWORDS = frozenset(
    """a about after against all also an and any are as at be been before being between
    both but by can could did do does during each for from had has have he her here his
    how i if in into is it its itself just may me more most my no nor not now of off on
    once only or other our out over own said same says she should since so some such
    than that the their them then there these they this those through to too under until
    up very was we were what when where which while who whom why will with would you
    your""".split()  # noqa: SIM905 - a word list reads better as text
)


def words(title: str, text: str) -> list[str]:
    """The normalized words of a title and text (case, digits' script, punctuation and
    Persian letter forms folded: ``monitor.text.fingerprint_text``)."""
    return fingerprint_text(f"{title}\n{text}").split()


def within_language(title: str, text: str) -> set[str]:
    """Word 3-shingles of the original text (a short text gives its words' run)."""
    tokens = words(title, text)
    k = WITHIN_SHINGLE_WORDS
    if len(tokens) < k:
        return {" ".join(tokens)} if tokens else set()
    return {" ".join(tokens[i : i + k]) for i in range(len(tokens) - k + 1)}


def content_words(title_en: str, text_en: str) -> list[str]:
    """The words of an English text without function words and single letters."""
    return [w for w in words(title_en, text_en) if w not in ENGLISH_STOPWORDS and len(w) > 1]


def across_languages(title_en: str, text_en: str) -> set[str]:
    """The set of content words of an English text."""
    return set(content_words(title_en, text_en))
