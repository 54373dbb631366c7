"""The feed list: the shipped feeds file, validation, imported feeds, OPML
(monitor/feeds.py)."""

from __future__ import annotations

import tomllib
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from monitor.errors import StartupError
from monitor.feeds import Feed, find_feed, import_opml, load_feeds, parse_opml, write_imported
from tests.conftest import write_feeds

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "config" / "feeds.toml"
CAUCASUS_OPML = ROOT / "tests" / "fixtures" / "opml" / "caucasus.opml"

# What caucasus.opml holds that can be imported without a default language, in order.
OPML_FEEDS = [
    ("Кавказский вестник", "https://kavkaz-vestnik.test/rss/all.xml", "ru"),
    ("Новости Закавказья", "https://zakavkazye.test/feed/", "ru"),
    ("Телеграф «Юг»", "https://yug-telegraf.test/export/rss2", "ru"),
    ("Արարատ Լուր", "https://ararat-lur.test/hy/rss", "hy"),
    ("Սյունիքի ձայն", "https://syunik-dzayn.test/feed", "hy"),
    ("Qafqaz Xəbər", "https://qafqaz-xeber.test/rss", "az"),
    ("خبرگزاری ارس", "https://aras-news.test/fa/rss", "fa"),
    ('Caucasus Wire "Daily"', "https://caucasus-wire.test/feed.xml", "en"),
]
OPML_SKIPPED = [
    "Xəzər Press (https://xezer-press.test/az/rss.xml): no language; "
    "add a language attribute or pass --language",
    "Kartuli Ambebi (https://kartuli.test/rss): language 'ka' is not one of "
    "ru/hy/az/fa/en; add a language attribute or pass --language",
    "Telegram mirror (tg://resolve?domain=caucasus): url: Value error, "
    "must start with http:// or https://",
]


def feed(name: str, url: str, language: str = "ru", **more) -> dict:
    return {"name": name, "url": url, "language": language, **more}


def load_error(path: Path, imported: Path | None = None) -> str:
    with pytest.raises(StartupError) as info:
        load_feeds(path, imported)
    return str(info.value)


def opml(body: str) -> bytes:
    return f'<?xml version="1.0"?><opml version="2.0"><head/><body>{body}</body></opml>'.encode()


# --- the shipped feeds file -------------------------------------------------------


def test_shipped_feeds_file_loads_with_at_least_four_feeds_per_language():
    feeds = load_feeds(SHIPPED)
    per_language = Counter(f.language for f in feeds)
    for language in ("ru", "hy", "az", "fa"):
        assert per_language[language] >= 4, (language, per_language)


def test_shipped_feeds_have_unique_names_and_urls_countries_and_http_urls():
    feeds = load_feeds(SHIPPED)
    assert len({f.name for f in feeds}) == len(feeds)
    assert len({f.url for f in feeds}) == len(feeds)
    assert len({f.feed_id for f in feeds}) == len(feeds)
    for f in feeds:
        assert len(f.country) == 2 and f.country.isupper() and f.country.isalpha(), f
        parts = urlsplit(f.url)
        assert parts.scheme in ("http", "https") and parts.hostname, f
        assert f.category in ("agency", "broadcaster", "independent", "newspaper", "government")
        assert f.poll_interval_minutes is None or 5 <= f.poll_interval_minutes <= 1440


# --- validation -------------------------------------------------------------------


def test_a_valid_file_loads_every_field(tmp_path):
    path = write_feeds(
        tmp_path / "feeds.toml",
        [
            feed("Арминфо", "https://arminfo.test/rss", "ru", country="AM"),
            feed(
                "Syunik Today",
                " https://syunik.test/feed ",
                "en",
                poll_interval_minutes=60,
                category="newspaper",
                enabled=False,
            ),
        ],
    )
    first, second = load_feeds(path)
    assert first == Feed(
        name="Арминфо", url="https://arminfo.test/rss", language="ru", country="AM"
    )
    assert second.url == "https://syunik.test/feed"  # surrounding spaces are not part of it
    assert second.poll_interval_minutes == 60
    assert (second.category, second.enabled) == ("newspaper", False)


def test_feed_id_follows_the_url_not_the_name():
    a = Feed(name="A", url="https://x.test/rss", language="ru")
    b = Feed(name="B", url="https://x.test/rss", language="hy")
    assert a.feed_id == b.feed_id == "5eda3e24b487076f"  # sha256 of the URL, 16 hex digits
    assert Feed(name="A", url="https://y.test/rss", language="ru").feed_id != a.feed_id


BAD_ENTRIES = [
    (feed("Bad URL", "ftp://x.test/rss"), "`url` Value error, must start with http:// or https://"),
    (
        feed("Bad lang", "https://x.test/", "de"),
        "`language` Input should be 'ru', 'hy', 'az', 'fa' or 'en'",
    ),
    (
        feed("Bad country", "https://x.test/", country="ARM"),
        "`country` String should have at most 2 characters",
    ),
    (
        feed("Too often", "https://x.test/", poll_interval_minutes=1),
        "`poll_interval_minutes` Input should be greater than or equal to 5",
    ),
    (
        feed("Typo", "https://x.test/", categroy="agency"),
        "`categroy` Extra inputs are not permitted",
    ),
    ({"url": "https://x.test/", "language": "ru"}, "`name` Field required"),
]


@pytest.mark.parametrize(("entry", "problem"), BAD_ENTRIES)
def test_validation_error_names_the_file_the_feed_and_the_key(tmp_path, entry, problem):
    path = write_feeds(tmp_path / "feeds.toml", [feed("Good", "https://ok.test/"), entry])
    label = entry.get("name", "#2")
    assert load_error(path) == (
        f"{path}: feed {label!r}: {problem}. Fix that entry (keys: name, url, language "
        "(ru/hy/az/fa/en), country, poll_interval_minutes, category, enabled, full_text)"
    )


def test_every_problem_of_one_entry_is_listed(tmp_path):
    path = write_feeds(tmp_path / "feeds.toml", [feed("X", "ftp://x.test/", "de")])
    message = load_error(path)
    assert "`url` Value error" in message and "`language` Input should be" in message


def test_duplicate_names_are_refused(tmp_path):
    path = write_feeds(
        tmp_path / "feeds.toml",
        [feed("Азатутюн", "https://a.test/rss"), feed("Азатутюн", "https://b.test/rss")],
    )
    assert load_error(path) == (
        "feed name 'Азатутюн' is used twice (https://a.test/rss and https://b.test/rss); "
        "give each feed a unique name"
    )


def test_one_url_listed_twice_is_refused(tmp_path):
    path = write_feeds(
        tmp_path / "feeds.toml",
        [
            feed("Sputnik", "https://a.test/rss"),
            feed("Sputnik Armenia", "https://a.test/rss", "hy"),
        ],
    )
    assert load_error(path) == (
        "feed URL https://a.test/rss is listed twice ('Sputnik' and 'Sputnik Armenia'); "
        "remove one of the entries"
    )


def test_an_entry_repeated_word_for_word_is_refused(tmp_path):
    entry = feed("Sputnik", "https://a.test/rss")
    path = write_feeds(tmp_path / "feeds.toml", [entry, entry])
    assert load_error(path).startswith("feed name 'Sputnik' is used twice")


def test_missing_feeds_file_says_how_to_point_at_one(tmp_path):
    assert load_error(tmp_path / "none.toml") == (
        f"feeds file {tmp_path / 'none.toml'} does not exist; create it or point "
        "`feeds_file` (MONITOR_FEEDS_FILE) at one"
    )


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ('[[feeds]]\nname = "A\n', "not valid TOML ("),
        ('title = "x"\n', "unknown top-level key(s) ['title']; only [[feeds]]"),
        ('feeds = ["https://a.test/rss"]\n', "`feeds` must be an array of tables"),
        ("feeds = 3\n", "`feeds` must be an array of tables"),
        ('[feeds]\nname = "A"\n', "`feeds` must be an array of tables"),
    ],
)
def test_a_malformed_file_is_a_startup_error_naming_it(tmp_path, text, start):
    path = tmp_path / "feeds.toml"
    path.write_text(text, encoding="utf-8")
    assert load_error(path).startswith(f"{path}: {start}")


def test_an_empty_feeds_file_is_an_empty_list(tmp_path):
    path = tmp_path / "feeds.toml"
    path.write_text("# nothing yet\n", encoding="utf-8")
    assert load_feeds(path) == []


def test_find_feed_by_name_url_or_case_insensitive_name():
    feeds = [Feed(name="News.am", url="https://news-am.test/rss", language="hy")]
    assert find_feed(feeds, "News.am") is feeds[0]
    assert find_feed(feeds, "https://news-am.test/rss") is feeds[0]
    assert find_feed(feeds, "news.AM") is feeds[0]
    with pytest.raises(StartupError, match="no feed named 'Newsam'"):
        find_feed(feeds, "Newsam")


# --- imported feeds ---------------------------------------------------------------


def test_imported_feeds_are_added_after_the_file_and_a_known_url_is_kept_once(tmp_path):
    main = write_feeds(
        tmp_path / "feeds.toml", [feed("Main", "https://a.test/rss"), feed("B", "https://b.test/")]
    )
    imported = write_feeds(
        tmp_path / "imported-feeds.toml",
        [feed("A again", "https://a.test/rss", "hy"), feed("C", "https://c.test/", "az")],
    )
    feeds = load_feeds(main, imported)
    assert [(f.name, f.url) for f in feeds] == [
        ("Main", "https://a.test/rss"),
        ("B", "https://b.test/"),
        ("C", "https://c.test/"),
    ]


def test_missing_imported_file_is_fine_but_a_broken_one_is_named(tmp_path):
    main = write_feeds(tmp_path / "feeds.toml", [feed("Main", "https://a.test/rss")])
    assert len(load_feeds(main, tmp_path / "absent.toml")) == 1
    broken = write_feeds(tmp_path / "imported-feeds.toml", [feed("X", "https://x.test/", "xx")])
    assert load_error(main, broken).startswith(f"{broken}: feed 'X': `language`")


def test_an_imported_name_clashing_with_the_file_is_refused(tmp_path):
    main = write_feeds(tmp_path / "feeds.toml", [feed("Main", "https://a.test/rss")])
    imported = write_feeds(tmp_path / "imported.toml", [feed("Main", "https://z.test/", "fa")])
    assert load_error(main, imported).startswith("feed name 'Main' is used twice")


# --- OPML ------------------------------------------------------------------------


def test_parse_opml_reads_the_caucasus_export():
    feeds, skipped = parse_opml(CAUCASUS_OPML.read_bytes())
    assert [(f.name, f.url, f.language) for f in feeds] == OPML_FEEDS
    assert skipped == OPML_SKIPPED


def test_parse_opml_default_language_fills_only_missing_attributes():
    feeds, skipped = parse_opml(CAUCASUS_OPML.read_bytes(), default_language="az")
    assert ("Xəzər Press", "https://xezer-press.test/az/rss.xml", "az") in [
        (f.name, f.url, f.language) for f in feeds
    ]
    assert len(feeds) == len(OPML_FEEDS) + 1
    assert skipped == OPML_SKIPPED[1:]  # "ka" on the outline still wins over the default


@pytest.mark.parametrize(
    ("attrs", "name", "language"),
    [
        ('text="Т" title="Ti" language="ru"', "Т", "ru"),
        ('title="Ti" language="hy"', "Ti", "hy"),
        ('text="  " title="Ti" language="hy"', "Ti", "hy"),
        ('language="fa"', "https://x.test/rss", "fa"),
        ('text="T" language="ru-RU"', "T", "ru"),
        ('text="T" language="AZ_az"', "T", "az"),
        ('text=" T " language=" en "', "T", "en"),
    ],
)
def test_parse_opml_name_and_language_attributes(attrs, name, language):
    feeds, skipped = parse_opml(opml(f'<outline {attrs} xmlUrl=" https://x.test/rss "/>'))
    assert skipped == []
    assert [(f.name, f.url, f.language) for f in feeds] == [(name, "https://x.test/rss", language)]


def test_parse_opml_walks_nested_folders_and_ignores_outlines_without_xmlurl():
    body = (
        '<outline text="Folder"><outline text="Sub"><outline text="Deep" '
        'xmlUrl="https://deep.test/" language="hy"/></outline>'
        '<outline text="Page" htmlUrl="https://page.test/"/>'
        '<outline text="Empty" xmlUrl="" language="ru"/></outline>'
    )
    feeds, skipped = parse_opml(opml(body))
    assert [f.name for f in feeds] == ["Deep"]
    assert skipped == []


def test_parse_opml_refuses_what_is_not_xml():
    with pytest.raises(StartupError, match=r"^not a valid OPML/XML file \("):
        parse_opml(b"<opml><body><outline text='x'></body>")


# --- import_opml and the imported file --------------------------------------------


def test_import_opml_writes_a_file_load_feeds_reads_back(tmp_path):
    main = write_feeds(tmp_path / "feeds.toml", [feed("Main", "https://main.test/rss")])
    imported = tmp_path / "data" / "imported-feeds.toml"
    added, skipped = import_opml(CAUCASUS_OPML, imported, load_feeds(main), None)
    assert [(f.name, f.url, f.language) for f in added] == OPML_FEEDS
    assert skipped == OPML_SKIPPED
    text = imported.read_text(encoding="utf-8")
    assert text.startswith("# Written by `monitor feeds import-opml`; safe to edit.\n")
    assert "Արարատ Լուր" in text  # written as UTF-8, not as \u escapes
    feeds = load_feeds(main, imported)
    assert [(f.name, f.url, f.language) for f in feeds[1:]] == OPML_FEEDS
    assert feeds[1:] == added


def test_import_opml_skips_known_urls_and_is_idempotent(tmp_path):
    main = write_feeds(
        tmp_path / "feeds.toml", [feed("Վեստնիկ", "https://kavkaz-vestnik.test/rss/all.xml")]
    )
    imported = tmp_path / "imported-feeds.toml"
    added, skipped = import_opml(CAUCASUS_OPML, imported, load_feeds(main), None)
    assert [f.url for f in added] == [url for _, url, _ in OPML_FEEDS[1:]]
    assert skipped[-1] == (
        "Кавказский вестник (https://kavkaz-vestnik.test/rss/all.xml): already in the feed list"
    )
    before = imported.read_bytes()
    again, skipped_again = import_opml(CAUCASUS_OPML, imported, load_feeds(main), None)
    assert again == []
    assert len(skipped_again) == len(OPML_FEEDS) + len(OPML_SKIPPED)
    assert imported.read_bytes() == before


def test_import_opml_appends_to_earlier_imports(tmp_path):
    imported = tmp_path / "imported-feeds.toml"
    first = tmp_path / "first.opml"
    first.write_bytes(opml('<outline text="Earlier" xmlUrl="https://e.test/" language="fa"/>'))
    import_opml(first, imported, [], None)
    import_opml(CAUCASUS_OPML, imported, [], "ru")
    names = [f.name for f in load_feeds(imported)]
    assert names[0] == "Earlier"
    assert names[1:] == [name for name, _, _ in OPML_FEEDS[:6]] + ["Xəzər Press"] + [
        name for name, _, _ in OPML_FEEDS[6:]
    ]


def test_import_opml_renames_a_feed_whose_name_is_taken(tmp_path):
    existing = [Feed(name="Արարատ Լուր", url="https://other.test/rss", language="hy")]
    added, _ = import_opml(CAUCASUS_OPML, tmp_path / "imp.toml", existing, None)
    renamed = next(f for f in added if f.url == "https://ararat-lur.test/hy/rss")
    assert renamed.name == f"Արարատ Լուր ({renamed.feed_id[:6]})"
    main = write_feeds(tmp_path / "feeds.toml", [existing[0].model_dump(exclude_defaults=True)])
    assert len(load_feeds(main, tmp_path / "imp.toml")) == 1 + len(OPML_FEEDS)


def test_import_opml_of_a_missing_file(tmp_path):
    with pytest.raises(StartupError, match="^cannot read .*nope.opml: No such file"):
        import_opml(tmp_path / "nope.opml", tmp_path / "imp.toml", [], None)


@pytest.mark.parametrize(
    "name",
    [
        'Радио «Свобода» "Кавказ"',
        "back\\slash \\u0041 \\n",
        "Ազատություն ռադիոկայան",
        "تسنیم\u200cنیوز",
        "tab\tand\u2028separator",
        "delete\x7fchar",
        "emoji 🛰 feed",
    ],
)
def test_written_names_read_back_exactly(tmp_path, name):
    path = tmp_path / "imported-feeds.toml"
    written = Feed(name=name, url="https://x.test/rss", language="ru", country="AM")
    write_imported(path, [written])
    tomllib.loads(path.read_text(encoding="utf-8"))  # valid TOML
    assert load_feeds(path) == [written]


def test_write_imported_keeps_only_non_default_keys(tmp_path):
    path = tmp_path / "sub" / "imported-feeds.toml"
    write_imported(
        path,
        [
            Feed(name="A", url="https://a.test/", language="hy"),
            Feed(name="B", url="https://b.test/", language="fa", poll_interval_minutes=60),
        ],
    )
    assert path.read_text(encoding="utf-8") == (
        "# Written by `monitor feeds import-opml`; safe to edit.\n\n"
        '[[feeds]]\nname = "A"\nurl = "https://a.test/"\nlanguage = "hy"\n\n'
        '[[feeds]]\nname = "B"\nurl = "https://b.test/"\nlanguage = "fa"\n'
        "poll_interval_minutes = 60.0\n"
    )
    assert not path.with_suffix(".tmp").exists()
