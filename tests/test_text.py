"""Text helpers: HTML to plain text, whitespace, Persian folding, fingerprints and
content hashes (monitor/text.py)."""

from __future__ import annotations

import pytest

from monitor.text import (
    clean_whitespace,
    content_hash,
    fingerprint_text,
    fold_persian,
    html_to_text,
    one_line,
    stable_hash,
)

# --- html_to_text ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("", ""),
        ("Ереван и Баку согласовали текст", "Ереван и Баку согласовали текст"),
        ("  plain   text \n\n\n next  ", "plain text\n\nnext"),
        ("x < y and y > z", "x < y and y > z"),
        ("AT&T и «Газпром»", "AT&T и «Газпром»"),
    ],
)
def test_plain_text_is_only_cleaned(markup, text):
    assert html_to_text(markup) == text


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("<p>Ереван</p><script>track('Баку');</script><p>Тегеран</p>", "Ереван\n\nТегеран"),
        ("<style>p { color: red }</style>Шуша", "Шуша"),
        ("<script>var s = '<p>не текст</p>';</script>Текст", "Текст"),
        ("<noscript><img src=x>Включите JS</noscript>Статья", "Статья"),
        ("<template><p>шаблон</p></template>Статья", "Статья"),
        ("<svg><text>логотип</text></svg>Статья", "Статья"),
        ("<iframe src='https://v.test/'>видео</iframe>Статья", "Статья"),
        ("<head><title>Заголовок окна</title></head><body>Тело</body>", "Тело"),
        ("<div><script>a()</script><script>b()</script>Ок</div>", "Ок"),
        ("<!-- реклама -->Текст", "Текст"),
    ],
)
def test_scripts_styles_and_similar_are_dropped_with_their_content(markup, text):
    assert html_to_text(markup) == text


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("Первая<br>Вторая<br/>Третья", "Первая\nВторая\nТретья"),
        ("<p>Абзац один.</p><p>Абзац два.</p>", "Абзац один.\n\nАбзац два."),
        ("<ul><li>Баку</li><li>Ереван</li></ul>", "Баку\n\nЕреван"),
        ("<h1>Заголовок</h1>Текст", "Заголовок\nТекст"),
        ("<div>Один</div><div>Два</div>", "Один\n\nДва"),
        ("<table><tr><td>Ереван</td><td>Баку</td></tr></table>", "Ереван\n\nБаку"),
        ("<table><tr><th>Город</th><th>Страна</th></tr></table>", "Город\n\nСтрана"),
        ("<nav>Меню</nav><main>Статья</main><aside>Ещё</aside>", "Меню\n\nСтатья\n\nЕщё"),
        ("a<hr>b", "a\nb"),
        ("<b>Жирный</b> и <i>курсив</i>", "Жирный и курсив"),
        ("Зан<b>гезур</b>", "Зангезур"),  # inline tags do not split a word
    ],
)
def test_block_tags_become_line_breaks_inline_tags_do_not(markup, text):
    assert html_to_text(markup) == text


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("&laquo;Зангезур&raquo; &mdash; коридор", "«Зангезур» — коридор"),
        ("&#1330;&#x531;&#1406;", "ԲԱվ"),
        ("Tom &amp; Jerry", "Tom & Jerry"),
        ("5 &lt; 6 &gt; 4", "5 < 6 > 4"),
        ("&nbsp;Ереван&nbsp;&nbsp;сегодня", "Ереван сегодня"),
        ("&lt;b&gt;не тег&lt;/b&gt;", "<b>не тег</b>"),  # escaped markup is text
        ("<p>&quot;Цитата&quot;</p>", '"Цитата"'),
    ],
)
def test_entities_are_decoded(markup, text):
    assert html_to_text(markup) == text


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("&amp;laquo;Зангезур&amp;raquo;", "«Зангезур»"),
        ("<p>&amp;quot;Азатутюн&amp;quot; сообщает</p>", '"Азатутюн" сообщает'),
        ("&amp;#1330;", "Բ"),
        ("&amp;nbsp;пробел", "пробел"),
    ],
)
def test_double_escaped_entities_are_decoded_too(markup, text):
    assert html_to_text(markup) == text


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("<p>Незакрытый <b>жирный", "Незакрытый жирный"),
        ("Лишний </div></p> закрывающий", "Лишний\n\nзакрывающий"),
        ("<p><b>Перекрытые</p></b> теги", "Перекрытые\nтеги"),
        ("<P CLASS=x>Верхний регистр</P>", "Верхний регистр"),
        ("<div attr='>'>Кавычка в атрибуте</div>", "Кавычка в атрибуте"),
        ("<p>Абзац<p>Абзац", "Абзац\nАбзац"),
    ],
)
def test_broken_html_keeps_the_text(markup, text):
    assert html_to_text(markup) == text


def test_persian_and_armenian_markup():
    markup = "<p dir='rtl'>وزیر امور خارجه&nbsp;ایران</p><p>Հայաստանի&nbsp;կառավարությունը</p>"
    assert html_to_text(markup) == "وزیر امور خارجه ایران\n\nՀայաստանի կառավարությունը"


# --- clean_whitespace ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  a   b\t\tc  ", "a b c"),
        ("a\u00a0\u2009\u202fb", "a b"),
        ("one\n\n\n\ntwo", "one\n\ntwo"),
        ("one\n  \n\t\ntwo", "one\n\ntwo"),
        ("one\ntwo", "one\ntwo"),
        ("one\r\ntwo", "one\ntwo"),
        ("one\r\n\r\ntwo", "one\n\ntwo"),
        ("one\rtwo", "one\ntwo"),
        ("a\x0cb\x0bc\x85d", "a b c d"),
        ("a\x00b\x07c", "abc"),
        ("\n\n  text  \n\n", "text"),
        ("می\u200cخواهد", "می\u200cخواهد"),  # ZWNJ is part of Persian spelling
        ("", ""),
    ],
)
def test_clean_whitespace(raw, clean):
    assert clean_whitespace(raw) == clean


def test_one_line():
    assert one_line("  Заголовок\n\nв  две\tстроки ") == "Заголовок в две строки"


# --- Persian folding and fingerprints --------------------------------------------------


def test_fold_persian_replaces_arabic_look_alikes():
    assert fold_persian("علي كريمي") == "علی کریمی"
    assert fold_persian("مصطفى") == "مصطفی"
    assert fold_persian("مدرسة خانۀ") == "مدرسه خانه"
    assert fold_persian("Ереван 2024 ۲۰۲۴") == "Ереван 2024 ۲۰۲۴"  # digits stay


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Пашинян прибыл в Москву.", "ПАШИНЯН прибыл в москву"),
        ("Баку, 12 мая — «Зангезур»!", "баку 12 мая зангезур"),
        ("رئيس جمهور در ۱۴۰۳", "رئیس جمهور در 1403"),
        ("كشور يك", "کشور یک"),
        ("٢٠٢٤ سال", "2024 سال"),
        ("Azərbaycan   Respublikası\n\nBakı", "AZƏRBAYCAN respublikası bakı"),
        ("Ｆｕｌｌ ｗｉｄｔｈ", "full width"),
        ("Straße", "STRASSE"),
    ],
)
def test_fingerprints_ignore_case_punctuation_digit_script_and_letter_forms(a, b):
    assert fingerprint_text(a) == fingerprint_text(b)


def test_fingerprint_exact_value():
    assert fingerprint_text("  «Ереван», ۲۰۲۴-05-01: كتاب!  ") == "ереван 2024 05 01 کتاب"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Ереван", "Баку"),
        ("2024", "2025"),
        ("Армения Азербайджан", "Азербайджан Армения"),
        ("Azərbaycan", "Azerbaycan"),
    ],
)
def test_fingerprints_still_tell_different_texts_apart(a, b):
    assert fingerprint_text(a) != fingerprint_text(b)


def test_content_hash_is_equal_for_two_copies_of_one_article():
    one = content_hash("Пашинян: «мир близок»", "Текст статьи.\n\nВторой абзац.")
    other = content_hash("ПАШИНЯН — мир близок", "текст статьи второй абзац")
    assert one == other
    assert len(one) == 32 and int(one, 16) >= 0


def test_content_hash_tells_title_from_text():
    assert content_hash("Баку", "Ереван") != content_hash("Ереван", "Баку")
    assert content_hash("Баку Ереван", "") != content_hash("Баку", "Ереван")
    assert content_hash("Баку", "Ереван") != content_hash("Баку", "Ереван Тегеран")


def test_stable_hash_is_a_fixed_function_of_its_parts():
    assert stable_hash("url", "https://a.test/") == stable_hash("url", "https://a.test/")
    assert stable_hash("ab", "c") != stable_hash("a", "bc")
    assert stable_hash("") == "e3b0c44298fc1c149afbf4c8996fb924"  # sha256 of b"", cut


def test_fingerprint_drops_vowel_marks_and_stress_accents_instead_of_splitting_words():
    assert fingerprint_text("Ира\u0301н и Арме\u0301ния") == fingerprint_text("Иран и Армения")
    assert fingerprint_text("ایران") == fingerprint_text("اِیران")  # kasra
    assert fingerprint_text("Ира\u0301н") == "иран"
