"""detect_language: which language the article is really in.

Armenian and Persian are told by their script. Russian, Azerbaijani and English by
lingua, restricted to those three so that Latin-script Azerbaijani is not taken for
Turkish and a short Russian headline is not taken for Bulgarian. Text too short to
judge, or a verdict below ``language_min_confidence``, keeps the feed's declared
language. A disagreement with the declared language is recorded, not hidden.
"""

from __future__ import annotations

import threading
import unicodedata

from monitor.article import Article, LanguageResult

SAMPLE_CHARS = 1500  # enough letters for a confident verdict; more only costs time
MIN_LETTERS = 12  # below this even the script share is noise
SCRIPT_SHARE = 0.5  # a script owning half of the letters decides the language
_SCRIPTS = (
    ("hy", ((0x0530, 0x058F), (0xFB13, 0xFB17))),
    ("fa", ((0x0600, 0x06FF), (0x0750, 0x077F), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF))),
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
    letters = [ch for ch in text if ch.isalpha()]
    if len(letters) < MIN_LETTERS:
        return LanguageResult(declared, "declared", declared, None)
    for code, ranges in _SCRIPTS:
        share = sum(1 for ch in letters if _in(ord(ch), ranges)) / len(letters)
        if share >= SCRIPT_SHARE:
            return LanguageResult(code, "script", declared, code, round(share, 3))
    code, confidence = _lingua(text)
    # Zero means lingua found none of its languages (Georgian, say): no verdict, even
    # when language_min_confidence is 0.
    if confidence <= 0 or confidence < min_confidence:
        return LanguageResult(declared, "declared", declared, None, round(confidence, 3))
    return LanguageResult(code, "detector", declared, code, round(confidence, 3))


def _in(point: int, ranges) -> bool:
    return any(lo <= point <= hi for lo, hi in ranges)


def _lingua(text: str) -> tuple[str, float]:
    values = detector().compute_language_confidence_values(unicodedata.normalize("NFC", text))
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
