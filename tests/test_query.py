"""The search syntax and its translation to FTS5 (monitor/store/query.py), checked as
strings and against a real in-memory FTS5 table with the store's tokenizer."""

from __future__ import annotations

import random
import sqlite3

import pytest

from monitor.errors import QueryError
from monitor.store.query import to_fts5
from monitor.text import fold_persian

# --- translation ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "fts5"),
    [
        ("Карабах", '"Карабах"'),
        ("Армения Азербайджан", '"Армения" AND "Азербайджан"'),
        ('"мирный договор"', '"мирный договор"'),
        ('  "  мирный   договор "  ', '"мирный   договор"'),
        ("Армения OR Азербайджан", '"Армения" OR "Азербайджан"'),
        ("Армения AND Азербайджан", '"Армения" AND "Азербайджан"'),
        ("Карабах NOT футбол", '"Карабах" NOT "футбол"'),
        ("Карабах -футбол", '"Карабах" NOT "футбол"'),
        ("Карабах AND -футбол", '"Карабах" NOT "футбол"'),
        ("Карабах -футбол*", '"Карабах" NOT "футбол"*'),
        ("Карабах -футбол матч", '"Карабах" NOT "футбол" AND "матч"'),
        ('Карабах -"Лига конференций"', '"Карабах" NOT "Лига конференций"'),
        ("Карабах -(футбол OR матч)", '"Карабах" NOT ( "футбол" OR "матч" )'),
        ("Зангезур*", '"Зангезур"*'),
        ("Զանգեզուր**", '"Զանգեզուր"*'),
        ("(Баку OR Ереван) мир", '( "Баку" OR "Ереван" ) AND "мир"'),
        ("мир (Баку OR Ереван)", '"мир" AND ( "Баку" OR "Ереван" )'),
        ("(Баку) (Ереван)", '( "Баку" ) AND ( "Ереван" )'),
        ("((Баку))", '( ( "Баку" ) )'),
        ("title:Ереван", '{title title_en} : "Ереван"'),
        ("text:Ереван*", '{text text_en} : "Ереван"*'),
        ('title:"мирный договор"', '{title title_en} : "мирный договор"'),
        ("title:(Баку OR Ереван)", '{title title_en} : ( "Баку" OR "Ереван" )'),
        ("мир -title:Баку", '"мир" NOT {title title_en} : "Баку"'),
        ('мир -title:"Баку сегодня"', '"мир" NOT {title title_en} : "Баку сегодня"'),
        ("text:title:x", '{text text_en} : "title:x"'),
        ('"rock AND roll"', '"rock AND roll"'),
        ("armenia or azerbaijan", '"armenia" AND "or" AND "azerbaijan"'),
        ("NEAR(a b)", '"NEAR" AND ( "a" AND "b" )'),
        ("ايران كشور", '"ایران" AND "کشور"'),
        ("https://mfa.test/news/2024-05-01", '"https://mfa.test/news/2024-05-01"'),
        ("12:30", '"12:30"'),
        ("Пашинян: мир", '"Пашинян:" AND "мир"'),
        ("C++ ^start a+b {x} col:", '"C++" AND "^start" AND "a+b" AND "{x}" AND "col:"'),
        ("Баку - Ереван", '"Баку" AND "Ереван"'),
        ('Баку "" Ереван', '"Баку" AND "Ереван"'),
        ('Баку -"" Ереван', '"Баку" AND "Ереван"'),
        ("Баку --Ереван", '"Баку" NOT "-Ереван"'),
        ("Баку * Ереван", '"Баку" AND "Ереван"'),
    ],
)
def test_translation(query, fts5):
    assert to_fts5(query) == fts5


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "empty query; give at least one word"),
        ("   ", "empty query; give at least one word"),
        ("- * ...", "empty query; give at least one word"),
        ('"«»"', "empty query; give at least one word"),
        ('"мирный договор', "unclosed quote in '\"мирный договор'; close the phrase with \""),
        ('Баку "Ереван', "unclosed quote in 'Баку \"Ереван'; close the phrase with \""),
        ("(Баку OR Ереван", "unbalanced '(' in '(Баку OR Ереван'; close it with ')'"),
        ("Баку OR Ереван)", "unbalanced ')' in 'Баку OR Ереван)'; remove it or add a '('"),
        (")Баку(", "unbalanced ')' in ')Баку('; remove it or add a '('"),
        ("()", "nothing to search for before ')' in '()'; add a term"),
        ("Баку ()", "nothing to search for before ')' in 'Баку ()'; add a term"),
        ("(Баку OR)", "nothing to search for before ')' in '(Баку OR)'; add a term"),
        (
            "NOT Баку",
            "NOT at word 1 of 'NOT Баку' needs a term before it (e.g. `Armenia NOT Azerbaijan`)",
        ),
        (
            "OR Баку",
            "OR at word 1 of 'OR Баку' needs a term before it (e.g. `Armenia OR Azerbaijan`)",
        ),
        (
            "Баку OR AND Ереван",
            "AND at word 3 of 'Баку OR AND Ереван' needs a term before it "
            "(e.g. `Armenia AND Azerbaijan`)",
        ),
        (
            "(OR Баку)",
            "OR at word 2 of '(OR Баку)' needs a term before it (e.g. `Armenia OR Azerbaijan`)",
        ),
        ("Баку OR", "'Баку OR' ends with OR; add a term after it"),
        ("Баку AND", "'Баку AND' ends with AND; add a term after it"),
        ("Баку NOT", "'Баку NOT' ends with NOT; add a term after it"),
        ("-футбол Карабах", "-футбол in '-футбол Карабах' needs a term before it"),
        ("Баку OR -футбол", "-футбол in 'Баку OR -футбол' needs a term before it"),
        ("(-футбол)", "-футбол in '(-футбол)' needs a term before it"),
        ('-"футбол матч"', "- in '-\"футбол матч\"' needs a term before it"),
        ("author:Иванов", "unknown field 'author' in 'author:Иванов'; searchable fields are "),
        ("title:", "'title:' in 'title:' has no term after the colon"),
        ("Баку title:*", "'title:*' in 'Баку title:*' has no term after the colon"),
        ('title:""', 'title:"" in \'title:""\' has no term after the colon'),
    ],
)
def test_errors_say_what_is_wrong(query, message):
    with pytest.raises(QueryError) as info:
        to_fts5(query)
    assert str(info.value).startswith(message)


def test_unknown_field_names_the_fields_and_the_filters():
    with pytest.raises(QueryError) as info:
        to_fts5("lang:ru Баку")
    assert str(info.value) == (
        "unknown field 'lang' in 'lang:ru Баку'; searchable fields are title, text "
        "(filters: --lang, --source, --kind)"
    )


# --- against a real FTS5 table ----------------------------------------------------

DOCS = {
    "ru_corridor": (
        "Зангезурский коридор обсудили в Москве",
        "Министры иностранных дел России, Армении и Азербайджана встретились в Москве. "
        "Обсуждалась разблокировка коммуникаций и статус Зангезурского коридора.",
    ),
    "ru_football": (
        "Футбол: «Карабах» обыграл соперника",
        "Азербайджанский клуб «Карабах» из Агдама победил в матче Лиги конференций.",
    ),
    "ru_anniversary": (
        "Карабах: годовщина событий",
        "В Ханкенди прошли памятные мероприятия; жители вспоминали 2023 год.",
    ),
    "hy_road": (
        "Հայաստանի կառավարությունը հաստատեց նոր ճանապարհը",
        "Երևանում կառավարության նիստում հաստատվեց Սյունիքի մարզով անցնող նոր ճանապարհի "
        "նախագիծը։ Խաղաղության պայմանագիրը կքննարկվի հաջորդ շաբաթ։",
    ),
    "az_shusha": (
        "Şuşa şəhərində beynəlxalq konfrans keçirilib",
        "Azərbaycan Respublikasının Xarici İşlər Nazirliyi Şuşada regional əməkdaşlıq "
        "mövzusunda konfrans təşkil edib. Zəngəzur dəhlizi də müzakirə olunub.",
    ),
    "fa_visit": (
        # The feed wrote Arabic yeh and kaf in places, as Persian feeds do.
        "سفر وزير خارجه ايران به ايروان",
        "وزیر امور خارجه ایران در سفر به ایروان درباره كريدور زنگزور و امنیت مرزهای "
        "شمالی با همتای ارمنی خود گفتگو کرد. این دیدار در سال ۱۴۰۳ انجام شد.",
    ),
    "en_geneva": (
        "Armenia and Azerbaijan agree on a border commission",
        "The foreign ministers met in Geneva. The Zangezur corridor was not on the agenda, "
        "officials said. Details: https://mfa.test/news/2024-05-01 (C++ free).",
    ),
}


@pytest.fixture(scope="module")
def fts():
    """The store's FTS5 table layout and tokenizer, holding DOCS folded as the store does."""
    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE VIRTUAL TABLE docs USING fts5("
        "id UNINDEXED, title, text, title_en, text_en, "
        "tokenize='unicode61 remove_diacritics 2')"
    )
    for doc_id, (title, text) in DOCS.items():
        db.execute(
            "INSERT INTO docs (id, title, text) VALUES (?, ?, ?)",
            (doc_id, fold_persian(title), fold_persian(text)),
        )
    yield db
    db.close()


def found(db, query: str) -> set[str]:
    rows = db.execute("SELECT id FROM docs WHERE docs MATCH ?", (to_fts5(query),)).fetchall()
    return {row[0] for row in rows}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # words, case, and the Cyrillic prefix
        ("Москве", {"ru_corridor"}),
        ("москве министры", {"ru_corridor"}),
        ("Зангезур", set()),
        ("Зангезур*", {"ru_corridor"}),
        ("зангезурского", {"ru_corridor"}),
        # Armenian words, phrases and prefixes
        ('"նոր ճանապարհը"', {"hy_road"}),
        ('"ճանապարհը նոր"', set()),
        ("Երևան*", {"hy_road"}),
        ("title:կառավարությունը", {"hy_road"}),
        ("text:կառավարությունը", set()),
        # Azerbaijani Latin: case, and diacritics removed on both sides
        ("şuşa", {"az_shusha"}),
        ("Şuşa*", {"az_shusha"}),
        ("Susa", {"az_shusha"}),
        ('"xarici işlər nazirliyi"', {"az_shusha"}),
        ("Zəngəzur", {"az_shusha"}),
        # Persian: Arabic yeh/kaf in the query or the text meet after folding
        ("ايران", {"fa_visit"}),
        ("ایران", {"fa_visit"}),
        ("کریدور", {"fa_visit"}),
        ("كريدور", {"fa_visit"}),
        ('"وزیر امور خارجه"', {"fa_visit"}),
        ("title:وزير", {"fa_visit"}),
        ("۱۴۰۳", {"fa_visit"}),
        ("زنگزور OR Zangezur OR Зангезур*", {"fa_visit", "en_geneva", "ru_corridor"}),
        # OR, AND, NOT and their precedence
        ("Москве OR Geneva", {"ru_corridor", "en_geneva"}),
        ("Armenia AND Geneva", {"en_geneva"}),
        ("Armenia AND Москве", set()),
        ("Карабах", {"ru_football", "ru_anniversary"}),
        ("Карабах NOT футбол", {"ru_anniversary"}),
        ("Карабах -футбол", {"ru_anniversary"}),
        ("Карабах -футбол*", {"ru_anniversary"}),
        ("Карабах -футбол годовщина", {"ru_anniversary"}),
        ("Карабах -годовщина матче", {"ru_football"}),
        ('Карабах -"Лиги конференций"', {"ru_anniversary"}),
        ("Карабах -(матче OR турнир)", {"ru_anniversary"}),
        ("Карабах AND -футбол", {"ru_anniversary"}),
        ("(Москве OR Geneva) Zangezur", {"en_geneva"}),
        ("Zangezur (Москве OR Geneva)", {"en_geneva"}),
        ("Москве OR Geneva Zangezur", {"ru_corridor", "en_geneva"}),
        ("Москве Zangezur OR Geneva", {"en_geneva"}),
        # fields
        ("title:Карабах", {"ru_football", "ru_anniversary"}),
        ("text:Карабах", {"ru_football"}),
        ('title:"border commission"', {"en_geneva"}),
        ('text:"border commission"', set()),
        ("title:(Карабах OR Armenia)", {"ru_football", "ru_anniversary", "en_geneva"}),
        ("Карабах -title:футбол", {"ru_anniversary"}),
        # punctuation and FTS5 syntax characters inside words
        ("https://mfa.test/news/2024-05-01", {"en_geneva"}),
        ("2024-05-01", {"en_geneva"}),
        ("mfa.test", {"en_geneva"}),
        ("C++", {"en_geneva"}),
        ("+Armenia", {"en_geneva"}),
        ("Armenia^", {"en_geneva"}),
        ("^Armenia", {"en_geneva"}),
        ("«Карабах»", {"ru_football", "ru_anniversary"}),
        ("Футбол: Карабах", {"ru_football"}),
        ("Ханкенди/Степанакерт", set()),
        ("NEAR(Armenia Geneva)", set()),
        ("near", set()),
        ("Armenia - Geneva", {"en_geneva"}),
    ],
)
def test_query_finds_the_right_documents(fts, query, expected):
    assert found(fts, query) == expected


# Pieces users type, including everything FTS5 treats as syntax.
PIECES = [
    "Баку", "Ереван", "Զանգեզուր", "ایران", "Şuşa", "a", "title:", "text:", "title:x",
    "author:", "-", "-x", "--", "*", "x*", '"', '"x y"', "(", ")", "OR", "AND", "NOT",
    "NEAR", "NEAR(", ":", "^", "+", "{", "}", ",", ".", "/", "'", "\\", "12:30",
    "https://a.test/x?y=1", "«", "»", "\u200c", " ",
]  # fmt: skip


def test_random_queries_give_a_query_error_or_a_valid_fts5_expression(fts):
    rng = random.Random(20240501)
    valid = 0
    for _ in range(3000):
        query = "".join(
            rng.choice(PIECES) + rng.choice(["", " "]) for _ in range(rng.randint(1, 7))
        )
        try:
            match = to_fts5(query)
        except QueryError:
            continue
        try:
            fts.execute("SELECT count(*) FROM docs WHERE docs MATCH ?", (match,)).fetchone()
        except sqlite3.OperationalError as exc:
            pytest.fail(f"{query!r} -> {match!r}: {exc}")
        valid += 1
    assert valid > 500  # most random queries are accepted, not refused
