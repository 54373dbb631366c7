"""detect_language: which language the article is really in.

Armenian and Persian are told by their script. Russian, Azerbaijani and English by
lingua, restricted to those three so that Latin-script Azerbaijani is not taken for
Turkish and a short Russian headline is not taken for Bulgarian. Text too short to
judge, or a verdict below ``language_min_confidence``, keeps the feed's declared
language. A disagreement with the declared language is recorded, not hidden.
"""

from __future__ import annotations

import re
import threading
import unicodedata

from monitor.article import Article, LanguageResult

SAMPLE_CHARS = 1500  # enough letters for a confident script share; more only costs time
# lingua's cost grows with the text (on Cyrillic ten times faster than on Latin: 0.2 ms
# for 400 characters); a headline and a sentence already give full confidence between
# languages as far apart as Russian, Azerbaijani and English.
LINGUA_CHARS = 200
MIN_LETTERS = 12  # below this even the script share is noise
SCRIPT_SHARE = 0.5  # a script owning half of the letters decides the language
_LETTER = re.compile(r"[^\W\d_]")
# Letters only (Armenian and Arabic-script punctuation and digits are left out).
_SCRIPTS = (
    ("hy", re.compile(r"[\u0531-\u0556\u0559\u0561-\u0587\uFB13-\uFB17]")),
    (
        "fa",
        re.compile(
            r"[\u0620-\u064A\u066E-\u06D3\u06D5\u06EE\u06EF\u06FA-\u06FF\u0750-\u077F"
            r"\uFB50-\uFDFF\uFE70-\uFEFF]"
        ),
    ),
)
_detector = None
_detector_lock = threading.Lock()


def run(article: Article, ctx) -> None:
    """Fill ``article.language``."""
    n = article.normalized
    declared = article.feed.language
    article.language = detect(
        f"{n.title}\n{n.text}"[:SAMPLE_CHARS], declared, ctx.settings.language_min_confidence
    )


def detect(text: str, declared: str, min_confidence: float) -> LanguageResult:
    """The language of ``text``, given what the feed declared."""
    letters = len(_LETTER.findall(text))
    if letters < MIN_LETTERS:
        return LanguageResult(declared, "declared", declared, None)
    for code, pattern in _SCRIPTS:
        share = len(pattern.findall(text)) / letters
        if share >= SCRIPT_SHARE:
            return LanguageResult(code, "script", declared, code, round(min(share, 1.0), 3))
    code, confidence = _lingua(text)
    # Zero means lingua found none of its languages (Georgian, say): no verdict, even
    # when language_min_confidence is 0.
    if confidence <= 0 or confidence < min_confidence:
        return LanguageResult(declared, "declared", declared, None, round(confidence, 3))
    return LanguageResult(code, "detector", declared, code, round(confidence, 3))


def _lingua(text: str) -> tuple[str, float]:
    sample = unicodedata.normalize("NFC", text[:LINGUA_CHARS])
    values = detector().compute_language_confidence_values(sample)
    best = values[0]
    return best.language.iso_code_639_1.name.lower(), best.value


def detector():
    """The lingua detector for ru/az/en, built once (it is thread-safe)."""
    global _detector
    if _detector is None:
        with _detector_lock:
            if _detector is None:
                from lingua import Language, LanguageDetectorBuilder

                _detector = LanguageDetectorBuilder.from_languages(
                    Language.RUSSIAN, Language.AZERBAIJANI, Language.ENGLISH
                ).build()
    return _detector
