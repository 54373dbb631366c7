"""Sentence splitting for translation (monitor/translate/sentences.py): a table of invented
news in the five languages, line breaks, long sentences, and nothing lost."""

from __future__ import annotations

import random
import re

import pytest

from monitor.translate.sentences import LANGUAGES, split_for_translation, split_sentences

# (language, text, expected sentences); each row names the rule it checks.
CASES = [
    # --- Russian ---------------------------------------------------------------------------
    (
        "ru",
        "Премьер-министр Армении Н. Пашинян прибыл в Москву. Переговоры с В. Путиным "
        "продлятся два дня.",
        [
            "Премьер-министр Армении Н. Пашинян прибыл в Москву.",
            "Переговоры с В. Путиным продлятся два дня.",
        ],
    ),
    (
        "ru",
        "Президент Азербайджана И. Алиев провёл совещание. Обсуждались поставки газа.",
        ["Президент Азербайджана И. Алиев провёл совещание.", "Обсуждались поставки газа."],
    ),
    (
        "ru",
        "Инфляция в октябре составила 3.5%. Встреча назначена на 20.11.2026. "
        "Стороны подтвердили участие.",
        [
            "Инфляция в октябре составила 3.5%.",
            "Встреча назначена на 20.11.2026.",
            "Стороны подтвердили участие.",
        ],
    ),
    (
        "ru",
        "Акция прошла на ул. Абовяна у театра им. Сундукяна, т.е. в центре г. Ереван. "
        "Её организовали студенты.",
        [
            "Акция прошла на ул. Абовяна у театра им. Сундукяна, т.е. в центре г. Ереван.",
            "Её организовали студенты.",
        ],
    ),
    (
        "ru",
        "В 2020 г. Армения и Азербайджан вели войну. Об этом напомнил проф. Иванов, "
        "см. Приложение 2.",
        [
            "В 2020 г. Армения и Азербайджан вели войну.",
            "Об этом напомнил проф. Иванов, см. Приложение 2.",
        ],
    ),
    (
        "ru",
        "Соглашение подписали пять стран, в т.ч. Армения и Грузия. Азербайджан воздержался.",
        ["Соглашение подписали пять стран, в т.ч. Армения и Грузия.", "Азербайджан воздержался."],
    ),
    (
        "ru",
        "Цены выросли в ряде регионов, напр. Сюнике и Лори. В столице они не изменились.",
        ["Цены выросли в ряде регионов, напр. Сюнике и Лори.", "В столице они не изменились."],
    ),
    (
        "ru",
        "В 2020–2022 гг. Россия поставила оружия на 1 млрд. долл. Данные опубликовал СИПРИ.",
        [
            "В 2020–2022 гг. Россия поставила оружия на 1 млрд. долл.",
            "Данные опубликовал СИПРИ.",
        ],
    ),
    (
        "ru",
        "На ремонт дорог выделено 5 млн. 300 тыс. руб. из бюджета области.",
        ["На ремонт дорог выделено 5 млн. 300 тыс. руб. из бюджета области."],
    ),
    (
        "ru",
        "Регион экспортирует нефть, газ, хлопок и т.д. Министр назвал цифры предварительными.",
        ["Регион экспортирует нефть, газ, хлопок и т.д.", "Министр назвал цифры предварительными."],
    ),
    (
        "ru",
        "В списке санкций банки, заводы и т. д. и т. п. Их число растёт.",
        ["В списке санкций банки, заводы и т. д. и т. п.", "Их число растёт."],
    ),
    (
        "ru",
        "«Мы готовы к переговорам!» — заявил министр. Ответа пока нет.",
        ["«Мы готовы к переговорам!» — заявил министр.", "Ответа пока нет."],
    ),
    (
        "ru",
        "Посол заявил: «Мы не допустим эскалации.» Затем он покинул зал.",
        ["Посол заявил: «Мы не допустим эскалации.»", "Затем он покинул зал."],
    ),
    (
        "ru",
        "Подписание отложено (по данным источников в МИД.) Новая дата не названа.",
        ["Подписание отложено (по данным источников в МИД.)", "Новая дата не названа."],
    ),
    (
        "ru",
        "Переговоры затянулись… но стороны договорились. Потом все разъехались... Итогов нет.",
        [
            "Переговоры затянулись… но стороны договорились.",
            "Потом все разъехались...",
            "Итогов нет.",
        ],
    ),
    (
        "ru",
        "Кто ответит за срыв поставок?! Вопрос остаётся открытым. 12 вагонов стоят на границе.",
        [
            "Кто ответит за срыв поставок?!",
            "Вопрос остаётся открытым.",
            "12 вагонов стоят на границе.",
        ],
    ),
    (
        "ru",
        "1. Армения и Азербайджан согласовали текст. 2. Грузия выступит посредником.",
        ["1. Армения и Азербайджан согласовали текст.", "2. Грузия выступит посредником."],
    ),
    # --- Armenian --------------------------------------------------------------------------
    (
        "hy",
        "Վարչապետ Ն. Փաշինյանն այսօր ժամանել է Բրյուսել։ Այնտեղ նա կհանդիպի ԵՄ ղեկավարների հետ։",
        [
            "Վարչապետ Ն. Փաշինյանն այսօր ժամանել է Բրյուսել։",
            "Այնտեղ նա կհանդիպի ԵՄ ղեկավարների հետ։",
        ],
    ),
    (
        "hy",
        "Բանակցությունները կշարունակվեն։ հաջորդ հանդիպումը կկայանա Թբիլիսիում։",
        ["Բանակցությունները կշարունակվեն։", "հաջորդ հանդիպումը կկայանա Թբիլիսիում։"],
    ),
    (
        "hy",
        "Ո՞վ է պատասխանատու այս որոշման համար։ Ի՜նչ ամոթ է, գրել է պատգամավորը։",
        ["Ո՞վ է պատասխանատու այս որոշման համար։", "Ի՜նչ ամոթ է, գրել է պատգամավորը։"],
    ),
    (
        "hy",
        "Կառավարությունը հաստատեց 2027 թ. բյուջեն: Նիստը տևեց երեք ժամ:",
        ["Կառավարությունը հաստատեց 2027 թ. բյուջեն:", "Նիստը տևեց երեք ժամ:"],
    ),
    (
        "hy",
        "Նախարարը նշեց հետևյալը: բյուջեն կավելանա 5 տոկոսով։ Նիստը սկսվեց ժամը 14:30-ին։",
        ["Նախարարը նշեց հետևյալը: բյուջեն կավելանա 5 տոկոսով։", "Նիստը սկսվեց ժամը 14:30-ին։"],
    ),
    (
        "hy",
        "Նախարարը հայտարարեց: «Մենք պատրաստ ենք բանակցությունների»։ Պատասխանը դեռ չկա։",
        ["Նախարարը հայտարարեց: «Մենք պատրաստ ենք բանակցությունների»։", "Պատասխանը դեռ չկա։"],
    ),
    (
        "hy",
        "Դեսպանը հայտարարեց. «Մենք պատրաստ ենք աջակցել։» Հետո նա լքեց դահլիճը։",
        ["Դեսպանը հայտարարեց. «Մենք պատրաստ ենք աջակցել։»", "Հետո նա լքեց դահլիճը։"],
    ),
    (
        "hy",
        "2026 թ. Հայաստանը կնախագահի ԵԱՏՄ-ում։ Գնաճը կազմել է 3.5 տոկոս։",
        ["2026 թ. Հայաստանը կնախագահի ԵԱՏՄ-ում։", "Գնաճը կազմել է 3.5 տոկոս։"],
    ),
    (
        "hy",
        "Հանդիպմանը մասնակցել է պրոֆ. Սարգսյանը։ Քննարկումը տևեց երկու ժամ…",
        ["Հանդիպմանը մասնակցել է պրոֆ. Սարգսյանը։", "Քննարկումը տևեց երկու ժամ…"],
    ),
    # --- Azerbaijani -----------------------------------------------------------------------
    (
        "az",
        "Prezident İ. Əliyev bu gün Bakıda İtaliyanın xarici işlər nazirini qəbul edib. "
        "Görüşdə enerji təhlükəsizliyi müzakirə olunub.",
        [
            "Prezident İ. Əliyev bu gün Bakıda İtaliyanın xarici işlər nazirini qəbul edib.",
            "Görüşdə enerji təhlükəsizliyi müzakirə olunub.",
        ],
    ),
    (
        "az",
        "Sərgidə xalçalar, mis qablar və s. nümayiş olunub. Tədbir üç gün davam edəcək.",
        ["Sərgidə xalçalar, mis qablar və s. nümayiş olunub.", "Tədbir üç gün davam edəcək."],
    ),
    (
        "az",
        "Ölkə neft, qaz, pambıq və s. Nazir bu rəqəmləri açıqlayıb.",
        ["Ölkə neft, qaz, pambıq və s.", "Nazir bu rəqəmləri açıqlayıb."],
    ),
    (
        "az",
        "Konfransda prof. Məmmədov və dos. Həsənova çıxış ediblər. Növbəti konfrans Gəncədə "
        "keçiriləcək.",
        [
            "Konfransda prof. Məmmədov və dos. Həsənova çıxış ediblər.",
            "Növbəti konfrans Gəncədə keçiriləcək.",
        ],
    ),
    (
        "az",
        "Bəzi şəhərlərdə, məs. Gəncə və Şəkidə, turist axını artıb. Statistika Komitəsi "
        "bunu bildirir (b. Əlavə 2).",
        [
            "Bəzi şəhərlərdə, məs. Gəncə və Şəkidə, turist axını artıb.",
            "Statistika Komitəsi bunu bildirir (b. Əlavə 2).",
        ],
    ),
    (
        "az",
        "Mərkəzi Bank uçot dərəcəsini 7.25 faizdə saxlayıb. Növbəti iclas 20.11.2026 "
        "tarixində keçiriləcək. Layihəyə 500 min. manat ayrılıb.",
        [
            "Mərkəzi Bank uçot dərəcəsini 7.25 faizdə saxlayıb.",
            "Növbəti iclas 20.11.2026 tarixində keçiriləcək.",
            "Layihəyə 500 min. manat ayrılıb.",
        ],
    ),
    (
        "az",
        "Sülh sazişi nə vaxt imzalanacaq? Bu barədə hələ məlumat yoxdur!",
        ["Sülh sazişi nə vaxt imzalanacaq?", "Bu barədə hələ məlumat yoxdur!"],
    ),
    # --- Persian ---------------------------------------------------------------------------
    (
        "fa",
        "وزیر امور خارجه ایران امروز وارد ایروان شد. او با همتای ارمنی خود دیدار می‌کند.",
        ["وزیر امور خارجه ایران امروز وارد ایروان شد.", "او با همتای ارمنی خود دیدار می‌کند."],
    ),
    (
        "fa",
        "آیا مذاکرات ادامه خواهد یافت؟ سخنگوی دولت به این پرسش پاسخ نداد.",
        ["آیا مذاکرات ادامه خواهد یافت؟", "سخنگوی دولت به این پرسش پاسخ نداد."],
    ),
    (
        "fa",
        "نرخ تورم به ۳٫۵ درصد رسید. بانک مرکزی نرخ بهره را ۲۳.۵ درصد اعلام کرد.",
        ["نرخ تورم به ۳٫۵ درصد رسید.", "بانک مرکزی نرخ بهره را ۲۳.۵ درصد اعلام کرد."],
    ),
    (
        "fa",
        "جلسه در تهران برگزار شد۔ نتایج آن فردا اعلام می‌شود۔",
        ["جلسه در تهران برگزار شد۔", "نتایج آن فردا اعلام می‌شود۔"],
    ),
    (
        "fa",
        "سخنگو گفت: «این توافق برای منطقه مهم است.» سپس نشست به پایان رسید.",
        ["سخنگو گفت: «این توافق برای منطقه مهم است.»", "سپس نشست به پایان رسید."],
    ),
    (
        "fa",
        "قیمت نفت به 85 دلار رسید. 12 کشور تولید را کاهش دادند.",
        ["قیمت نفت به 85 دلار رسید.", "12 کشور تولید را کاهش دادند."],
    ),
    (
        "fa",
        "این قانون در سال ۱۴۰۳ ه.ش. تصویب شد. اجرای آن از ماه آینده آغاز می‌شود.",
        ["این قانون در سال ۱۴۰۳ ه.ش. تصویب شد.", "اجرای آن از ماه آینده آغاز می‌شود."],
    ),
    (
        "fa",
        "\u200fسفیر ایران در باکو با وزیر خارجه دیدار کرد. \u200fگفت‌وگوها ادامه دارد.\u200f",
        ["سفیر ایران در باکو با وزیر خارجه دیدار کرد.", "گفت‌وگوها ادامه دارد."],
    ),
    # --- English ---------------------------------------------------------------------------
    (
        "en",
        "Mr. Smith met Dr. Aliyeva in Baku on Jan. 5. The talks lasted two hours.",
        ["Mr. Smith met Dr. Aliyeva in Baku on Jan. 5.", "The talks lasted two hours."],
    ),
    (
        "en",
        "The U.S. Treasury imposed new sanctions, e.g. on two banks. Officials declined to "
        "comment.",
        [
            "The U.S. Treasury imposed new sanctions, e.g. on two banks.",
            "Officials declined to comment.",
        ],
    ),
    (
        "en",
        "Prices rose... slightly, analysts said. The talks stalled... Then they resumed.",
        ["Prices rose... slightly, analysts said.", "The talks stalled...", "Then they resumed."],
    ),
    (
        "en",
        'J. Smith, a reporter, said: "We saw the convoy." The embassy confirmed it.',
        ['J. Smith, a reporter, said: "We saw the convoy."', "The embassy confirmed it."],
    ),
    (
        "en",
        "Exports include oil, gas, cotton, etc. The ministry published the figures.",
        ["Exports include oil, gas, cotton, etc.", "The ministry published the figures."],
    ),
    (
        "en",
        "The meeting starts at 5 p.m. on Monday. It ends at 9 p.m. Officials expect a deal.",
        [
            "The meeting starts at 5 p.m. on Monday.",
            "It ends at 9 p.m.",
            "Officials expect a deal.",
        ],
    ),
    (
        "en",
        "Why now? Nobody knows! The ceasefire holds, i.e. for now.",
        ["Why now?", "Nobody knows!", "The ceasefire holds, i.e. for now."],
    ),
]


def _ids(case):
    language, text, _ = case
    return f"{language}:{text[:24]}"


@pytest.mark.parametrize(("language", "text", "expected"), CASES, ids=[_ids(c) for c in CASES])
def test_news_sentences(language, text, expected):
    assert split_sentences(text, language) == expected


# Whitespace, direction marks and the byte-order mark are the only characters dropped.
_DROPPABLE = re.compile(r"[\s\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069\ufeff]+")


def _kept(text):
    return _DROPPABLE.sub("", text)


def _assert_well_formed(text, language, sentences):
    assert _kept("".join(sentences)) == _kept(text)
    for sentence in sentences:
        assert sentence
        assert sentence == sentence.strip()


@pytest.mark.parametrize(("language", "text", "expected"), CASES, ids=[_ids(c) for c in CASES])
@pytest.mark.parametrize("max_chars", [400, 30, 5])
def test_nothing_but_whitespace_is_lost(language, text, expected, max_chars):
    _assert_well_formed(text, language, split_sentences(text, language, max_chars))


_TOKENS = [
    "Ереван", "г.", "т.д.", "И.", "3.5", "20.11.2026", "Բաքու", "թ.", "։", ":", "Ո՞վ",
    "və s.", "İ.", "می‌کند", "؟", "۔", "۳٫۵", "،", "U.S.", "etc.", "...", "…", "!", "?", ".",
    "«", "»", '"', "(", ")", "—", "-", ",", "\u200f", "\u200e", "\u200c", " ", " ", " ", "\n",
    "\n\n", "\r\n", "\t", "\u00a0", "1.", "x" * 50,
]  # fmt: skip


@pytest.mark.parametrize("language", LANGUAGES)
def test_random_text_keeps_every_character(language):
    rng = random.Random(language)
    for _ in range(300):
        text = "".join(rng.choice(_TOKENS) for _ in range(rng.randint(0, 60)))
        max_chars = rng.choice([1, 10, 40, 400])
        sentences = split_sentences(text, language, max_chars)
        _assert_well_formed(text, language, sentences)
        for sentence in sentences:
            assert len(sentence) <= max_chars or not re.search(r"\s", sentence)
            assert "\n" not in sentence


# --- line breaks and paragraphs -------------------------------------------------------------


def test_paragraphs_keep_their_breaks():
    text = "Заголовок без точки\nПервый абзац. Второе предложение.\n\n\nНовый абзац\r\nПодпись"
    assert split_for_translation(text, "ru") == [
        ["Заголовок без точки"],
        ["Первый абзац.", "Второе предложение."],
        ["Новый абзац"],
        ["Подпись"],
    ]


def test_line_break_ends_a_sentence_even_before_lowercase():
    assert split_sentences("Министр И.\nАлиев и т.д.\nи др.", "ru") == [
        "Министр И.",
        "Алиев и т.д.",
        "и др.",
    ]


def test_split_sentences_is_the_paragraphs_flattened():
    text = "Բանակցությունները կշարունակվեն։ Այո։\n\nՀետո նա լքեց դահլիճը։"
    paragraphs = split_for_translation(text, "hy")
    assert split_sentences(text, "hy") == [s for p in paragraphs for s in p]
    assert len(paragraphs) == 2


@pytest.mark.parametrize("text", ["", "   ", "\n\n", "\u200f", "\u200f \u200e\n\ufeff"])
def test_no_words_no_sentences(text):
    assert split_sentences(text, "fa") == []
    assert split_for_translation(text, "fa") == []


def test_marks_alone_stay_with_the_next_sentence():
    assert split_sentences("... Переговоры начались.", "ru") == ["... Переговоры начались."]


# --- long sentences -------------------------------------------------------------------------


def test_long_sentence_is_cut_after_a_comma():
    text = "В заявлении говорится о поставках газа, о ценах на электроэнергию, о транзите"
    assert split_sentences(text, "ru", max_chars=50) == [
        "В заявлении говорится о поставках газа,",
        "о ценах на электроэнергию, о транзите",
    ]


def test_long_persian_sentence_is_cut_after_a_persian_comma():
    text = "وزیران درباره انرژی، حمل‌ونقل، تجارت مرزی و امنیت منطقه گفت‌وگو کردند"
    pieces = split_sentences(text, "fa", max_chars=30)
    assert pieces[0] == "وزیران درباره انرژی، حمل‌ونقل،"
    assert all(len(piece) <= 30 for piece in pieces)
    assert " ".join(pieces) == text


def test_early_comma_loses_to_a_later_space():
    text = "Итак, делегации Армении и Азербайджана встретились в Алматы"
    assert split_sentences(text, "ru", max_chars=40) == [
        "Итак, делегации Армении и Азербайджана",
        "встретились в Алматы",
    ]


def test_long_sentence_is_never_cut_inside_a_word():
    text = "Рост составил 3,5 процента за год"
    assert split_sentences(text, "ru", max_chars=20) == ["Рост составил 3,5", "процента за год"]


def test_word_longer_than_the_limit_stays_whole():
    url = "https://news.example.am/" + "a" * 60
    assert split_sentences(f"Источник {url} сообщил", "ru", max_chars=20) == [
        "Источник",
        url,
        "сообщил",
    ]


def test_pieces_fit_the_default_limit():
    text = ", ".join(["Армения и Азербайджан обсудили делимитацию границы"] * 30) + "."
    pieces = split_sentences(text, "ru")
    assert len(pieces) > 1
    assert all(len(piece) <= 400 for piece in pieces)


# --- arguments ------------------------------------------------------------------------------


def test_unknown_language_is_refused():
    with pytest.raises(ValueError, match="'de'"):
        split_sentences("Guten Tag.", "de")


def test_max_chars_must_be_positive():
    with pytest.raises(ValueError, match="max_chars"):
        split_for_translation("Текст.", "ru", max_chars=0)
