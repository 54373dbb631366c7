"""Alert rules: the Lucene syntax parser and its errors (monitor/alerts/lucene.py), the
evaluator against the shared case table (evaluate.py), the analyzer's Python twin and
the Elasticsearch DSL and index settings (percolate.py)."""

from __future__ import annotations

import pytest

from monitor.alerts.evaluate import Document, matches
from monitor.alerts.lucene import Bool, Phrase, RuleSyntaxError, Term, Wildcard, parse
from monitor.alerts.percolate import (
    _CHAR_FILTER,
    analyze,
    normalize_pattern,
    percolator_mappings,
    percolator_settings,
    to_elastic,
)
from tests.alert_cases import CASES, DOCUMENTS

# --- Parser -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "ast"),
    [
        ("Пашинян", Term(None, "Пашинян")),
        ("a b", Bool(should=(Term(None, "a"), Term(None, "b")))),
        ("a OR b", Bool(should=(Term(None, "a"), Term(None, "b")))),
        ("a || b", Bool(should=(Term(None, "a"), Term(None, "b")))),
        ("a AND b", Bool(must=(Term(None, "a"), Term(None, "b")))),
        ("a && b", Bool(must=(Term(None, "a"), Term(None, "b")))),
        ("NOT a", Bool(must_not=(Term(None, "a"),))),
        ("!a", Bool(must_not=(Term(None, "a"),))),
        ("-a", Bool(must_not=(Term(None, "a"),))),
        ("+a", Term(None, "a")),
        (
            "+a b -c",
            Bool(must=(Term(None, "a"),), should=(Term(None, "b"),), must_not=(Term(None, "c"),)),
        ),
        # AND binds tighter than OR, NOT tighter than AND.
        (
            "a OR b AND c",
            Bool(should=(Term(None, "a"), Bool(must=(Term(None, "b"), Term(None, "c"))))),
        ),
        ("NOT a AND b", Bool(must=(Term(None, "b"),), must_not=(Term(None, "a"),))),
        # `a OR NOT b` is Lucene's `a -b`: a, without b.
        ("a OR NOT b", Bool(should=(Term(None, "a"),), must_not=(Term(None, "b"),))),
        ("NOT NOT a", Bool(must_not=(Bool(must_not=(Term(None, "a"),)),))),
        ("(a)", Term(None, "a")),
        ('"a b"', Phrase(None, "a b")),
        ('"a b"~3', Phrase(None, "a b", 3)),
        ("Zəngəzur*", Wildcard(None, "Zəngəzur*")),
        ("te?t", Wildcard(None, "te?t")),
        ("title:x", Term("title", "x")),
        ("title: x", Term("title", "x")),
        ("lang:ru", Term("language", "ru")),
        ('source:"RIA Novosti"', Phrase("source", "RIA Novosti")),
        ("title:(a OR text:b)", Bool(should=(Term("title", "a"), Term("text", "b")))),
        ("kind:se*", Wildcard("kind", "se*")),
        # Escapes: special characters, operators and spaces as text.
        ("12\\:30", Term(None, "12:30")),
        ("\\AND", Term(None, "AND")),
        ("\\-a", Term(None, "-a")),
        ("source:Radio\\ Azatutyun", Term("source", "Radio Azatutyun")),
        ("a\\*b*", Wildcard(None, "a\\*b*")),
        ("a\\\\b", Term(None, "a\\b")),
        ('"say \\"no\\""', Phrase(None, 'say "no"')),
        ("Nagorno-Karabakh", Term(None, "Nagorno-Karabakh")),
    ],
)
def test_parse(rule, ast):
    assert parse(rule) == ast


def test_leaves_remember_where_they_were_written():
    node = parse('title:a OR "b c"')
    assert [child.position for child in node.should] == [6, 11]


@pytest.mark.parametrize(
    ("rule", "position", "message"),
    [
        ("", 0, "empty rule at 0: write at least one term"),
        ('Пашинян AND "Зангезурский', 12, 'unclosed quote at 12: close the phrase with "'),
        ("titel:x", 0, "unknown field `titel:` at 0: use one of title, text, title_en, "),
        ("a OR title_ru:x", 5, "unknown field `title_ru:` at 5"),
        ("12:30", 0, "unknown field `12:` at 0"),
        ("*zur", 0, "leading wildcard `*` at 0: slow on Elasticsearch"),
        ("a title:?ur", 8, "leading wildcard `?` at 8"),
        ("(a OR b", 0, "unclosed parenthesis at 0: add a `)`"),
        ("a OR b)", 6, "unexpected `)` at 6"),
        ("()", 0, "empty parentheses at 0"),
        ("a AND", 2, "`AND` at 2: it needs a term after it"),
        ("a &&", 2, "`&&` at 2: it needs a term after it"),
        ("AND a", 0, "`AND` at 0: it needs a term before it"),
        ("a OR OR b", 2, "`OR` at 2: it needs a term after it"),
        ("(OR a)", 1, "`OR` at 1: it needs a term before it"),
        ("a NOT", 2, "`NOT` at 2: it needs a term after it"),
        ("a !", 2, "`!` at 2: it needs a term after it"),
        ("a - b", 2, "`-` alone at 2"),
        ("a +", 2, "`+` alone at 2"),
        ("+-a", 0, "`+` at 0: write it directly before a term"),
        ("title:", 0, "field `title:` at 0"),
        ("title:AND", 0, "field `title:` at 0"),
        ("a : b", 2, "`:` without a field at 2"),
        ("Pashinyan~", 9, "fuzzy `~` at 9: not supported"),
        ("Pashinyan~2", 9, "fuzzy `~` at 9"),
        ("a^2", 1, "boost `^` at 1: not supported"),
        ('"a b"^2', 5, "boost `^` at 5"),
        ("[a TO b]", 0, "range at 0: not supported"),
        ("{a TO b}", 0, "range at 0"),
        ("lang:>ru", 5, "range `>` at 5"),
        ("/zur.*/", 0, "regular expression `/` at 0: not supported"),
        ("a/b", 1, "regular expression `/` at 1"),
        ("abc\\", 3, "backslash at the end at 3"),
        ('"a b"~', 5, "proximity `~` at 5: give a whole number"),
        ('"a b"~1.5', 5, "proximity `~` at 5"),
        ('"a b"~10001', 5, "proximity ~10001 at 5: use at most ~10000"),
        ('lang:"ru"~1', 5, "proximity on a keyword field at 5"),
        ('a ""', 2, "empty phrase at 2"),
        ("— a", 0, "`—` has no letters or digits at 0"),
        ('"« »"', 0, "`« »` has no letters or digits at 0"),
        ("Nagorno-Kara*", 0, "wildcard `Nagorno-Kara*` spans words at 0"),
    ],
)
def test_syntax_errors_name_the_problem_and_its_position(rule, position, message):
    with pytest.raises(RuleSyntaxError) as raised:
        parse(rule)
    assert raised.value.position == position
    assert str(raised.value).startswith(message)


def test_a_syntax_error_is_a_value_error():
    assert issubclass(RuleSyntaxError, ValueError)


def test_keyword_values_need_no_letters():
    assert parse("source:«»") == Term("source", "«»")


# --- The case table against the evaluator -------------------------------------------


def test_case_ids_are_unique_and_documents_exist():
    assert len({case.id for case in CASES}) == len(CASES)
    assert {case.doc for case in CASES} <= set(DOCUMENTS)
    assert 80 <= len(CASES) <= 170


# Every operator and field has a row that matches and a row that does not.
FEATURES = {
    "AND": " AND ",
    "OR": " OR ",
    "NOT": "NOT ",
    "&&": " && ",
    "||": " || ",
    "!": "!",
    "+": "+",
    "-": "-",
    "phrase": '"',
    "proximity": '"~',
    "*": "*",
    "?": "?",
    "escape": "\\",
    "group": "(",
    **{field: f"{field}:" for field in ("title", "text", "title_en", "text_en")},
    **{field: f"{field}:" for field in ("lang", "language", "source", "country", "kind")},
}


@pytest.mark.parametrize("feature", FEATURES)
def test_the_table_has_both_outcomes_for(feature):
    def uses(rule: str) -> bool:
        if feature in ("+", "-"):  # a modifier, not a hyphen inside a word
            return rule.startswith(feature) or f" {feature}" in rule
        if feature in ("title", "text"):
            return rule.startswith(f"{feature}:") or f" {feature}:" in rule
        return FEATURES[feature] in rule

    outcomes = {case.match for case in CASES if uses(case.rule)}
    assert outcomes == {True, False}, feature


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_case_table_on_the_evaluator(case):
    assert (matches(parse(case.rule), DOCUMENTS[case.doc]) is not None) is case.match


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_phrases_survive_elasticsearch_analyzing_them_again(case):
    # match_phrase sends normalized tokens, which Elasticsearch analyzes once more.
    for clause in _leaves(parse(case.rule)):
        if not isinstance(clause, Wildcard) and clause.field not in ("language", "source"):
            tokens = analyze(clause.text)
            assert analyze(" ".join(tokens)) == tokens


def _leaves(node):
    if isinstance(node, Bool):
        for child in node.must + node.should + node.must_not:
            yield from _leaves(child)
    else:
        yield node


# --- Matched terms ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "doc", "found"),
    [
        ("Пашинян", "ru", ["Пашинян"]),
        ('"Зангезурский коридор" OR Алиев OR Ереван', "ru", ["Зангезурский коридор", "Алиев"]),
        # Optional terms that matched are reported; prohibited ones never are.
        ("+Pashinyan Brussels Yerevan -Baku", "ru", ["Pashinyan", "Brussels"]),
        ("Zəngəzur* AND (Bakı* OR Şuşa)", "az", ["Zəngəzur*", "Bakı*", "Şuşa"]),
        # Query order, each once, whatever field matched.
        ("Pashinyan OR corridor OR title_en:Pashinyan", "ru", ["Pashinyan", "corridor"]),
        # A failed AND contributes nothing even when one side matched.
        ("(Пашинян AND Ереван) OR Алиев", "ru", ["Алиев"]),
        # Keyword filters are not found words.
        ("lang:ru AND Пашинян", "ru", ["Пашинян"]),
        ("lang:ru", "ru", []),
        ("NOT Ереван", "ru", []),
        ("Ереван", "ru", None),
    ],
)
def test_matches_reports_the_positive_terms_that_matched(rule, doc, found):
    assert matches(parse(rule), DOCUMENTS[doc]) == found


def test_a_prepared_document_serves_many_rules():
    document = Document(DOCUMENTS["fa"])
    assert matches(parse("کریدور"), document) == ["کریدور"]
    assert matches(parse("Yerevan"), document) == ["Yerevan"]
    assert set(document._positions) == set(("title", "text", "title_en", "text_en"))


def test_missing_and_list_fields():
    assert matches(parse("title:a"), {}) is None
    assert matches(parse("NOT title:a"), {}) == []
    doc = {"title": ["first value ends", "second value"], "country": ["AM", "GE"]}
    assert matches(parse("country:GE"), doc) == []
    assert matches(parse('"ends second"'), doc) is None  # no phrase across two values
    assert matches(parse('"first value"'), doc) == ["first value"]


def test_phrase_slop_follows_lucene():
    doc = {"text": "a x b c"}
    assert matches(parse('"a b"'), doc) is None
    assert matches(parse('"a b"~1'), doc) == ["a b"]
    assert matches(parse('"b a"~2'), doc) is None  # the swap costs 2, the gap 1 more
    assert matches(parse('"b a"~3'), doc) == ["b a"]
    assert matches(parse('"a a"~5'), {"text": "a"}) is None  # two tokens, two positions
    assert matches(parse('"a a"~1'), {"text": "a x a"}) == ["a a"]


# --- The analyzer's twin ------------------------------------------------------------
# Expected tokens are those Lucene's analyzers give for the same chain.


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        (
            "İlham Əliyev: Qarabağ’ın bərpası İŞĞAL BAKI Bakı",
            ["ilham", "eliyev", "qarabag'in", "berpasi", "isgal", "baki", "baki"],
        ),
        (
            "وزیر امور خارجه می\u200cگوید كريدور ۱۴۰۳ ١٤٠٣ وَزیر",
            ["وزير", "امور", "خارجه", "مي", "گويد", "كريدور", "1403", "1403", "وزير"],
        ),
        (
            "Премьер-министр Пашинян заявил: «Ёлка» 14 мая",
            ["премьер", "министр", "пашинян", "заявил", "елка", "14", "мая"],
        ),
        ("Հայաստանը և Երևան։ ՀԱՅԱՍՏԱՆ", ["հայաստանը", "եւ", "երեւան", "հայաստան"]),
        (
            "The U.S. won't pay $1,000.50 at 12:30 (EUMA) e-mail foo_bar",
            ["the", "u.s", "won't", "pay", "1,000.50", "at", "12", "30", "euma", "e", "mail"]
            + ["foo_bar"],
        ),
        ("Straße Łódź Øresund æther ﬁnal", ["strasse", "lodz", "oresund", "aether", "final"]),
        ("peace 👍🏽 talks 🇦🇲 now", ["peace", "👍🏽", "talks", "🇦🇲", "now"]),
        ("x" * 300, ["x" * 255, "x" * 45]),
        ("a\u200bb a\u00adb ___", ["a", "b", "a\u00adb"]),
    ],
)
def test_analyze(text, tokens):
    assert analyze(text) == tokens


def test_wildcard_patterns_are_normalized_like_tokens():
    assert normalize_pattern("Zəngəz?r*") == "zengez?r*"
    assert normalize_pattern("İŞĞAL*") == "isgal*"
    assert normalize_pattern("کری*") == "كري*"
    assert normalize_pattern("a\\*b\\\\c*") == "a\\*b\\\\c*"


# --- Elasticsearch ------------------------------------------------------------------


def _any_field(query):
    return {
        "bool": {
            "should": [query(field) for field in ("title", "text", "title_en", "text_en")],
            "minimum_should_match": 1,
        }
    }


def test_dsl_of_a_rule_with_every_kind_of_clause():
    rule = '+lang:az Zəngəzur* "Şuşa bəyannaməsinin"~2 -title:Pashinyan'
    assert to_elastic(parse(rule)) == {
        "bool": {
            "must": [{"term": {"language": "az"}}],
            "should": [
                _any_field(lambda field: {"wildcard": {field: {"value": "zengezur*"}}}),
                _any_field(
                    lambda field: {
                        "match_phrase": {field: {"query": "susa beyannamesinin", "slop": 2}}
                    }
                ),
            ],
            "must_not": [{"term": {"title": "pashinyan"}}],
        }
    }


def test_dsl_of_or_and_precedence():
    assert to_elastic(parse("title:a OR title:b AND title:c")) == {
        "bool": {
            "should": [
                {"term": {"title": "a"}},
                {"bool": {"must": [{"term": {"title": "b"}}, {"term": {"title": "c"}}]}},
            ],
            "minimum_should_match": 1,
        }
    }


def test_dsl_of_a_pure_negation_matches_all_but():
    assert to_elastic(parse("NOT source:APA")) == {
        "bool": {"must": [{"match_all": {}}], "must_not": [{"term": {"source": "APA"}}]}
    }


def test_dsl_of_keywords_is_exact_and_of_words_analyzed():
    assert to_elastic(parse("source:Radio\\ Azat*")) == {
        "wildcard": {"source": {"value": "Radio Azat*"}}
    }
    assert to_elastic(parse("text_en:Armenia-Azerbaijan")) == {
        "match_phrase": {"text_en": {"query": "armenia azerbaijan"}}
    }
    assert to_elastic(parse('title:"ВЁЛ"~3')) == {"term": {"title": "вел"}}


def test_percolator_index_settings_and_mappings():
    analyzer = percolator_settings()["analysis"]["analyzer"]["monitor_alert"]
    assert analyzer == {
        "type": "custom",
        "char_filter": ["monitor_alert_chars"],
        "tokenizer": "standard",
        "filter": [
            "lowercase",
            "decimal_digit",
            "arabic_normalization",
            "persian_normalization",
            "asciifolding",
        ],
    }
    char_filter = percolator_settings()["analysis"]["char_filter"]["monitor_alert_chars"]
    assert char_filter["type"] == "mapping"
    # The Python twin replaces exactly what the char filter does.
    pairs = [rule.encode().decode("unicode_escape").split("=>") for rule in char_filter["mappings"]]
    assert {source: target for source, target in pairs} == {
        chr(code): target for code, target in _CHAR_FILTER.items()
    }
    properties = percolator_mappings()["properties"]
    assert properties["query"] == {"type": "percolator"}
    assert properties["rule"] == {"type": "keyword"}
    assert properties["title_en"] == {"type": "text", "analyzer": "monitor_alert"}
    assert properties["language"] == {"type": "keyword"}
    assert set(properties) == {
        *("title", "text", "title_en", "text_en", "language", "source", "country", "kind"),
        *("query", "rule"),
    }
