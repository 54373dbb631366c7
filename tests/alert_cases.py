"""The alert rule case table: (rule, document, expected match) rows that both engines must
agree on, our evaluator (tests/test_alert_query.py) and an Elasticsearch percolator
index built from ``monitor.alerts.percolate`` (when MONITOR_TEST_ES_URL names one).

Plain data, importable on its own: ``CASES`` is a list of ``AlertCase`` with unique
``id``s; ``DOCUMENTS`` holds the documents by name. No row depends on a tokenizer
detail the Python twin does not reproduce (emoji sequences, scripts other than ours).
"""

from __future__ import annotations

from typing import Any, NamedTuple


class AlertCase(NamedTuple):
    """One row: ``rule`` should (``match``) or should not match ``DOCUMENTS[doc]``."""

    id: str
    rule: str
    doc: str
    match: bool


def _doc(name: str, **fields: str) -> dict[str, Any]:
    return {"id": name, "kind": "article", **fields}


DOCUMENTS: dict[str, dict[str, Any]] = {
    "ru": _doc(
        "ru",
        language="ru",
        source="RIA Novosti",
        country="RU",
        title="Пашинян и Алиев обсудили Зангезурский коридор",
        text="Премьер-министр Армении Никол Пашинян заявил, что Зангезурского коридора "
        "не будет. Переговоры прошли в Брюсселе 14 мая. Её представитель сообщил о "
        "договорённости.",
        title_en="Pashinyan and Aliyev discussed the Zangezur corridor",
        text_en="Armenian Prime Minister Nikol Pashinyan said there will be no Zangezur "
        "corridor. The talks took place in Brussels on May 14.",
    ),
    "hy": _doc(
        "hy",
        language="hy",
        source="Azatutyun",
        country="AM",
        title="Հայաստանը և Ադրբեջանը քննարկել են Զանգեզուրի հարցը",
        text="Երևանում կայացած հանդիպմանը Նիկոլ Փաշինյանը հայտարարեց, որ Սյունիքը "
        "Հայաստանի անբաժանելի մասն է։",
        title_en="Armenia and Azerbaijan discussed the Zangezur issue",
        text_en="At the meeting in Yerevan, Nikol Pashinyan stated that Syunik is an "
        "integral part of Armenia.",
    ),
    "az": _doc(
        "az",
        language="az",
        source="APA",
        country="AZ",
        title="İlham Əliyev: Zəngəzur dəhlizi açılacaq",
        text="Prezident Bakıda Şuşa bəyannaməsinin ildönümündə çıxış etdi. Qarabağ’ın "
        "bərpası davam edir. İŞĞAL başa çatıb.",
        title_en="Ilham Aliyev: the Zangezur corridor will be opened",
        text_en="The president spoke in Baku on the anniversary of the Shusha declaration. "
        "The restoration of Karabakh continues.",
    ),
    "fa": _doc(
        "fa",
        language="fa",
        source="IRNA",
        country="IR",
        title="سفر وزیر امور خارجه به ارمنستان در سال ۱۴۰۳",
        text="وزیر امور خارجه ایران می‌گوید کریدور زنگزور خط قرمز است. "
        "گفتگوها در ایروان ادامه دارد.",
        title_en="Foreign minister's trip to Armenia in the year 1403",
        text_en="Iran's foreign minister says the Zangezur corridor is a red line. "
        "Talks continue in Yerevan.",
    ),
    "en": _doc(
        "en",
        language="en",
        source="Reuters",
        country="GB",
        title="EU monitors deployed along the Armenia-Azerbaijan border",
        text="The European Union mission (EUMA) will patrol the border. Officials said "
        "the U.S. supports the test of a new peace framework at 12:30 today.",
        title_en="EU monitors deployed along the Armenia-Azerbaijan border",
        text_en="The European Union mission (EUMA) will patrol the border. Officials said "
        "the U.S. supports the test of a new peace framework at 12:30 today.",
    ),
    # A seed document: only a title and a text, in English, from a source with a space.
    "seed": {
        "id": "seed",
        "kind": "seed",
        "language": "en",
        "source": "Radio Azatutyun",
        "title": "Lachin corridor closed",
        "text": "Star*Media reports the Lachin corridor was closed again.",
    },
}


def _rows(doc: str, *rows: tuple[str, str, bool]) -> list[AlertCase]:
    return [AlertCase(f"{doc}-{name}", rule, doc, match) for name, rule, match in rows]


CASES: list[AlertCase] = [
    *_rows(
        "ru",
        # Terms: originals and translations, case and inflection.
        ("term-original", "Пашинян", True),
        ("term-translation", "corridor", True),
        ("term-absent", "Ереван", False),
        ("term-inflected-form-differs", "Зангезур", False),
        ("wildcard-end", "Зангезур*", True),
        ("wildcard-end-absent", "Ереван*", False),
        ("wildcard-inside", "Pash*an", True),
        ("wildcard-inside-absent", "Pash*ov", False),
        ("digits-phrase", '"14 мая"', True),
        ("yo-as-written", "договорённости", True),
        ("yo-typed-as-ye", "договоренности", True),
        # Phrases and proximity (slop as Lucene's sloppy phrase: a swap costs 2).
        ("phrase", '"Зангезурский коридор"', True),
        ("phrase-order", '"коридор Зангезурский"', False),
        ("phrase-swap-slop1", '"коридор Зангезурский"~1', False),
        ("phrase-swap-slop2", '"коридор Зангезурский"~2', True),
        ("proximity-within", '"Пашинян коридор"~4', True),
        ("proximity-beyond", '"Пашинян коридор"~3', False),
        ("proximity-english", '"Pashinyan corridor"~5', True),
        ("proximity-english-beyond", '"Pashinyan corridor"~4', False),
        ("phrase-across-fields", '"коридор Премьер-министр"~1', False),
        ("phrase-translation", '"Pashinyan said"', True),
        ("hyphenated-term-is-phrase", "Премьер-министр", True),
        ("hyphenated-term-order", "министр-Премьер", False),
        # Operators.
        ("and", "Пашинян AND Алиев", True),
        ("and-negative", "Пашинян AND Ереван", False),
        ("and-symbol", "Пашинян && Brussels", True),
        ("and-symbol-negative", "Пашинян && Ереван", False),
        ("or", "Ереван OR Алиев", True),
        ("or-negative", "Ереван OR Баку", False),
        ("or-symbol", "Ереван || Brussels", True),
        ("or-symbol-negative", "Ереван || Baku", False),
        ("implicit-or", "Ереван Брюсселе", True),
        ("implicit-or-negative", "Ереван Баку", False),
        ("not-alone", "NOT Ереван", True),
        ("not-alone-negative", "NOT Алиев", False),
        ("bang-alone-negative", "!Алиев", False),
        ("minus-alone", "-Yerevan", True),
        ("minus-alone-negative", "-Aliyev", False),
        ("and-not", "Пашинян AND NOT Алиев", False),
        ("required-optional-prohibited", "+Pashinyan Yerevan -Baku", True),
        ("prohibited-wins", "+Pashinyan Yerevan -Aliyev", False),
        ("required-missing", "+Yerevan Pashinyan", False),
        ("or-not-is-and-not", "Yerevan OR NOT Baku", False),
        # Fields.
        ("field-title", "title:Пашинян", True),
        ("field-text", "text:Брюсселе", True),
        ("field-text-absent", "text:Алиев", False),
        ("field-title-absent", "title:Брюсселе", False),
        ("field-title-en", "title_en:Zangezur", True),
        ("field-text-en", "text_en:Brussels", True),
        ("field-group-or", "title:(Ереван OR Алиев)", True),
        ("field-group-and", "title:(Пашинян AND Брюсселе)", False),
        ("lang", "lang:ru", True),
        ("lang-other", "lang:hy", False),
        ("language-case-sensitive", "language:RU", False),
        ("source-quoted", 'source:"RIA Novosti"', True),
        ("source-exact-value", "source:RIA", False),
        ("source-wildcard", "source:RIA*", True),
        ("country", "country:RU", True),
        ("kind-seed", "kind:seed", False),
        ("lang-and-term", "lang:ru AND Пашинян", True),
        ("lang-and-term-negative", "lang:az AND Пашинян", False),
        # Precedence: NOT binds tighter than AND, AND tighter than OR.
        ("precedence-and-over-or", "Şuşa OR Pashinyan AND Brussels", True),
        ("precedence-not-over-and", "NOT Aliyev AND Pashinyan", False),
        ("not-group", "NOT (Aliyev AND Pashinyan)", False),
        ("double-not", "NOT NOT Aliyev", True),
        ("escaped-operator-word", "\\AND", True),
    ),
    *_rows(
        "hy",
        ("term-original", "Զանգեզուրի", True),
        ("term-uppercase", "ԶԱՆԳԵԶՈՒՐԻ", True),
        ("term-base-form", "Զանգեզուր", False),
        ("wildcard-end", "Զանգեզուր*", True),
        ("wildcard-question", "Հայաստան?", True),
        ("ligature-as-written", "Երևանում", True),
        ("ligature-spelled-out", "Երեւանում", True),
        ("phrase", '"Նիկոլ Փաշինյանը"', True),
        ("phrase-other-form", '"Նիկոլ Փաշինյան"', False),
        ("word-before-full-stop", "է", True),
        ("prefix-is-not-a-word", "մաս", False),
        ("precedence-and-over-or", "Şuşa OR Pashinyan AND Brussels", False),
        ("precedence-not-over-and", "NOT Aliyev AND Pashinyan", True),
        ("not-group", "NOT (Aliyev AND Pashinyan)", True),
        ("required-optional-prohibited", "+Zangezur Pashinyan -Aliyev", True),
        ("or-not-is-and-not", "Yerevan OR NOT Baku", True),
        ("field-text-en-absent", "text_en:Zangezur", False),
        ("language", "language:hy", True),
        ("source", "source:Azatutyun", True),
        ("source-lowercase", "source:azatutyun", False),
        ("country-wildcard", "country:A?", True),
        ("mixed-scripts", "Զանգեզուրի AND Yerevan", True),
    ),
    *_rows(
        "az",
        ("schwa", "Zəngəzur", True),
        ("schwa-typed-as-e", "title:Zengezur", True),
        ("schwa-not-a", "title:Zangazur", False),
        ("schwa-capital", "title:Əliyev", True),
        ("schwa-capital-as-e", "title:Eliyev", True),
        ("original-is-not-translation", "title:Aliyev", False),
        ("dotted-capital-i", "title:İlham", True),
        ("dotted-capital-i-as-i", "title:ilham", True),
        ("dotless-i", "açılacaq", True),
        ("dotless-i-typed-as-i", "acilacaq", True),
        ("dotless-i-uppercase", "AÇILACAQ", True),
        ("capitals-with-breves", "işğal", True),
        ("capitals-typed-ascii", "ISGAL", True),
        ("cedilla", "Susa", True),
        ("cedilla-uppercase", "ŞUŞA", True),
        ("inflected-form-differs", "Bakı", False),
        ("wildcard-inflection", "Bakı*", True),
        ("wildcard-with-schwa", "Zəngəz?r", True),
        ("wildcard-in-title", "title:Zəng*", True),
        ("apostrophe-suffix-stays", "Qarabağ", False),
        ("apostrophe-suffix-wildcard", "Qarabağ*", True),
        ("apostrophe-suffix-typed", "Qarabağ'ın", True),
        ("phrase", '"Zəngəzur dəhlizi"', True),
        ("phrase-ascii", '"zengezur dehlizi"', True),
        ("precedence-and-over-or", "Şuşa OR Pashinyan AND Brussels", True),
        ("parentheses-change-it", "(Şuşa OR Pashinyan) AND Brussels", False),
        ("or-not-is-and-not", "Yerevan OR NOT Baku", False),
        ("lang-and-term", "lang:az AND Şuşa", True),
        ("plus-lang", "+lang:az +Karabakh", True),
        ("plus-lang-negative", "+lang:ru +Karabakh", False),
    ),
    *_rows(
        "fa",
        ("persian-letters", "کریدور", True),
        ("arabic-letters", "كريدور", True),
        ("arabic-yeh-in-query", "وزير", True),
        ("vowel-marks-ignored", "وَزیر", True),
        ("persian-digits-in-title", "title:1403", True),
        ("arabic-indic-digits", "title:١٤٠٣", True),
        ("persian-digits-query", "title:۱۴۰۳", True),
        ("zwnj-word", "می‌گوید", True),
        ("zwnj-second-half", "گوید", True),
        ("zwnj-dropped-differs", "میگوید", False),
        ("phrase", '"کریدور زنگزور"', True),
        ("phrase-arabic-forms", '"كريدور زنگزور"', True),
        ("phrase-other-order", '"زنگزور کریدور"', False),
        ("wildcard", "ایرو*", True),
        ("wildcard-arabic-forms", "كري*", True),
        ("possessive-stays-one-word", "text_en:Iran", False),
        ("possessive-wildcard", "text_en:Iran*", True),
        ("field-title-absent", "title:زنگزور", False),
        ("lang-and-translation", "lang:fa AND Zangezur", True),
        ("source-wildcard-inside", "source:I*A", True),
    ),
    *_rows(
        "en",
        ("wildcard-question", "te?t", True),
        ("wildcard-question-one-char", "te?", False),
        ("hyphenated-term", "Armenia-Azerbaijan", True),
        ("hyphenated-reversed", "Azerbaijan-Armenia", False),
        ("acronym-with-periods", "U.S.", True),
        ("acronym-without-periods", "US", False),
        ("escaped-parentheses", "\\(EUMA\\)", True),
        ("escaped-colon", "12\\:30", True),
        ("escaped-operator-word", "\\AND", False),
        ("escaped-minus-is-a-term", "\\-EUMA", True),
        ("required-only-optional-missing", "+border Pashinyan", True),
        ("and-or-chain", "border AND EUMA OR Aliyev AND Pashinyan", True),
        ("and-or-chain-negative", "border AND Aliyev OR EUMA AND Pashinyan", False),
        ("not-alone", "NOT Pashinyan", True),
        ("bang-alone", "!Pashinyan", True),
        ("precedence-not-over-and", "NOT Aliyev AND Pashinyan", False),
    ),
    *_rows(
        "seed",
        ("kind-seed", "kind:seed", True),
        ("kind-seed-and-term", "kind:seed AND Lachin", True),
        ("kind-article", "kind:article", False),
        ("source-escaped-space", "source:Radio\\ Azatutyun", True),
        ("source-quoted", 'source:"Radio Azatutyun"', True),
        ("source-escaped-star", "source:Radio\\ Azat\\*", False),
        ("source-wildcard-space", "source:Radio*", True),
        ("star-in-text-splits", '"Star Media"', True),
        ("missing-field", "title_en:Lachin", False),
        ("missing-field-negated", "NOT text_en:Lachin", True),
        ("missing-country", "country:AM", False),
        ("escaped-word-and", "\\AND OR Lachin", True),
    ),
]
