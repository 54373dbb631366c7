"""Which language an article is really in (monitor/stages/detect_language.py).

The sentences are invented news about the region, written the way each press writes.
"""

from __future__ import annotations

import unicodedata

import pytest

from monitor.article import LanguageResult
from monitor.stages.detect_language import detect

RU = (
    "Министр иностранных дел Армении прибыл в Москву для переговоров о разблокировке "
    "транспортных коммуникаций и статусе Зангезурского коридора."
)
RU_HEADLINE = "Пашинян и Алиев встретятся в Москве на следующей неделе"
AZ = (
    "Azərbaycan Respublikasının Prezidenti Şuşa şəhərində regional əməkdaşlıq "
    "məsələlərinə dair beynəlxalq konfransda çıxış edib."
)
AZ_HEADLINE = "Bakıda Xəzər regionu üzrə iqtisadi forum başlayıb"
EN = (
    "The foreign ministers of Armenia and Azerbaijan met in Geneva on Tuesday to discuss "
    "the work of the border delimitation commission."
)
HY = (
    "Հայաստանի արտաքին գործերի նախարարը այսօր Երևանում հանդիպել է Իրանի դեսպանի հետ՝ "
    "քննարկելու տարածաշրջանային հաղորդակցությունների բացման հարցերը։"
)
FA = (
    "وزیر امور خارجه ایران امروز در تهران با همتای ارمنستانی خود درباره کریدور زنگزور "
    "و امنیت مرزهای شمالی گفتگو کرد."
)
FA_ARABIC_FORMS = "رئيس جمهور ايران در سفر به باكو با مقامات آذربايجان ديدار كرد"


@pytest.mark.parametrize(
    ("text", "declared", "expected"),
    [
        (HY, "hy", LanguageResult("hy", "script", "hy", "hy", 1.0)),
        (HY, "ru", LanguageResult("hy", "script", "ru", "hy", 1.0)),
        (FA, "fa", LanguageResult("fa", "script", "fa", "fa", 1.0)),
        (FA_ARABIC_FORMS, "fa", LanguageResult("fa", "script", "fa", "fa", 1.0)),
        (FA, "az", LanguageResult("fa", "script", "az", "fa", 1.0)),
    ],
)
def test_armenian_and_persian_are_told_by_their_script(text, declared, expected):
    assert detect(text, declared, 0.5) == expected


@pytest.mark.parametrize(
    ("text", "declared", "code"),
    [
        (RU, "ru", "ru"),
        (RU_HEADLINE, "ru", "ru"),
        (AZ, "az", "az"),
        (AZ_HEADLINE, "az", "az"),
        (EN, "en", "en"),
        (EN, "hy", "en"),
        (RU, "fa", "ru"),
    ],
)
def test_russian_azerbaijani_and_english_by_the_detector(text, declared, code):
    result = detect(text, declared, 0.5)
    assert (result.code, result.method, result.declared, result.detected) == (
        code,
        "detector",
        declared,
        code,
    )
    assert 0.5 <= result.confidence <= 1.0
    assert result.mismatch is (code != declared)


def test_azerbaijani_latin_declared_az_stays_az_and_is_not_turkish():
    result = detect(AZ, "az", 0.5)
    assert result.code == "az" and not result.mismatch


def test_a_russian_feed_with_an_azerbaijani_article_records_the_mismatch():
    result = detect(AZ, "ru", 0.5)
    assert (result.code, result.declared, result.detected, result.method) == (
        "az",
        "ru",
        "az",
        "detector",
    )
    assert result.mismatch is True


def test_an_azerbaijani_feed_with_a_russian_article_records_the_mismatch():
    result = detect(RU, "az", 0.5)
    assert (result.code, result.detected, result.mismatch) == ("ru", "ru", True)


@pytest.mark.parametrize(
    ("text", "declared"),
    [
        ("", "ru"),
        ("Баку", "az"),
        ("Şuşa", "ru"),
        ("Bakı, 12 may", "az"),  # 8 letters
        ("Երևան 2024", "hy"),
        ("۱۲۳۴ — 2024-05-01 !!!", "fa"),
        ("ایران", "ru"),  # Persian script, but too short to overrule the feed
    ],
)
def test_short_text_keeps_the_declared_language(text, declared):
    assert detect(text, declared, 0.5) == LanguageResult(declared, "declared", declared, None)


def test_text_no_detector_language_recognises_keeps_the_declared_language():
    georgian = "საქართველოს მთავრობამ დღეს თბილისში რეგიონული თანამშრომლობის საკითხები განიხილა"
    result = detect(georgian, "ru", 0.5)
    assert (result.code, result.method, result.detected, result.mismatch) == (
        "ru",
        "declared",
        None,
        False,
    )


def test_zero_confidence_is_no_verdict_even_with_min_confidence_zero():
    georgian = "საქართველოს მთავრობამ დღეს თბილისში რეგიონული თანამშრომლობის საკითხები განიხილა"
    result = detect(georgian, "hy", 0.0)
    assert (result.code, result.method, result.detected) == ("hy", "declared", None)


def test_min_confidence_above_the_verdict_keeps_the_declared_language():
    # Names and a few English words: English, but lingua is not sure (about 0.7).
    headline = "Aliyev met Pashinyan in Prague"
    result = detect(headline, "az", 0.5)
    strict = detect(headline, "az", 0.8)
    assert (result.code, result.method, result.detected) == ("en", "detector", "en")
    assert (strict.code, strict.method, strict.detected) == ("az", "declared", None)
    assert strict.confidence == result.confidence and 0.5 < strict.confidence < 0.8
    assert strict.mismatch is False


@pytest.mark.parametrize(
    ("text", "code", "method"),
    [
        # A Russian report quoting a short Armenian phrase stays Russian.
        (
            "Премьер-министр Армении Никол Пашинян заявил журналистам в Ереване, что "
            "переговоры продолжатся: «Խաղաղություն»",
            "ru",
            "detector",
        ),
        # An Armenian report with a Russian name in Cyrillic stays Armenian.
        (HY + " (Сергей Лавров)", "hy", "script"),
        # A Persian report with Latin abbreviations and digits stays Persian.
        ("خبرگزاری IRNA گزارش داد که نشست OSCE در سال 2024 در وین برگزار شد", "fa", "script"),
        # An English wire with Persian and Armenian place names stays English.
        (EN + " (Ժնև, ژنو)", "en", "detector"),
    ],
)
def test_mixed_script_text_goes_by_the_majority(text, code, method):
    result = detect(text, "ru", 0.5)
    assert (result.code, result.method) == (code, method)


def test_a_script_owning_half_the_letters_decides():
    half = "Армения Россия" + " " + "Հայաստան Ռուսաստան"  # 13 Cyrillic, 17 Armenian letters
    result = detect(half, "ru", 0.5)
    assert (result.code, result.method, result.confidence) == ("hy", "script", 0.567)


def test_detection_is_unchanged_by_unicode_normalization_form():
    decomposed = unicodedata.normalize("NFD", AZ)
    assert decomposed != AZ
    assert detect(decomposed, "ru", 0.5).code == "az"
