"""Canonical URLs: one spelling per article (monitor/urls.py)."""

from __future__ import annotations

import pytest

from monitor.urls import canonical_url


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        # scheme and host are lower-cased, the path is not
        ("HTTPS://News.AM/Arm/News/1", "https://news.am/Arm/News/1"),
        ("https://www.Azatutyun.AM./a/33", "https://www.azatutyun.am/a/33"),
        # default ports go, others stay
        ("https://tass.test:443/politika/1", "https://tass.test/politika/1"),
        ("http://tass.test:80/politika/1", "http://tass.test/politika/1"),
        ("http://tass.test:8080/politika/1", "http://tass.test:8080/politika/1"),
        ("http://tass.test:443/x", "http://tass.test:443/x"),
        ("https://tass.test:80/x", "https://tass.test:80/x"),
        # fragment goes
        ("https://apa.test/news/5#comments", "https://apa.test/news/5"),
        ("https://apa.test/news/5#", "https://apa.test/news/5"),
        # empty path becomes /
        ("https://apa.test", "https://apa.test/"),
        ("https://apa.test?id=5", "https://apa.test/?id=5"),
        ("http://apa.test:8080", "http://apa.test:8080/"),
        # surrounding spaces
        ("  https://apa.test/a \n", "https://apa.test/a"),
    ],
)
def test_scheme_host_port_fragment_and_path(url, canonical):
    assert canonical_url(url) == canonical


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        (
            "https://ria.test/a.html?utm_source=yxnews&utm_medium=desktop&utm_campaign=x",
            "https://ria.test/a.html",
        ),
        ("https://ria.test/a?fbclid=IwAR0abc", "https://ria.test/a"),
        ("https://ria.test/a?gclid=Cj0K&yclid=123&ysclid=l1", "https://ria.test/a"),
        ("https://ria.test/a?UTM_Source=rss", "https://ria.test/a"),
        ("https://ria.test/a?_ga=2.1&mc_cid=x&igshid=y&at_medium=z&pk_kwd=q", "https://ria.test/a"),
        ("https://ria.test/a?rss=1", "https://ria.test/a"),
        ("https://ria.test/a?", "https://ria.test/a"),
    ],
)
def test_tracking_parameters_are_removed(url, canonical):
    assert canonical_url(url) == canonical


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("https://kommersant.test/doc/1?from=rss", "https://kommersant.test/doc/1"),
        ("https://kommersant.test/doc/1?from=RSS_main", "https://kommersant.test/doc/1"),
        ("https://kommersant.test/doc/1?from=yandex", "https://kommersant.test/doc/1"),
        ("https://kommersant.test/doc/1?ref=feedly", "https://kommersant.test/doc/1"),
        ("https://kommersant.test/doc/1?source=telegram", "https://kommersant.test/doc/1"),
        ("https://kommersant.test/archive?from=2024", "https://kommersant.test/archive?from=2024"),
        ("https://kommersant.test/list?ref=main", "https://kommersant.test/list?ref=main"),
        ("https://kommersant.test/a?source=tass", "https://kommersant.test/a?source=tass"),
    ],
)
def test_from_ref_source_go_only_when_they_name_a_feed(url, canonical):
    assert canonical_url(url) == canonical


def test_other_parameters_are_kept_in_their_order():
    url = "https://news.test/view.php?utm_source=rss&id=5&fbclid=1&lang=ru&b=2&a=1&from=rss"
    assert canonical_url(url) == "https://news.test/view.php?id=5&lang=ru&b=2&a=1"
    assert canonical_url("https://n.test/?a=1&a=2") == "https://n.test/?a=1&a=2"
    assert canonical_url("https://n.test/?id=") == "https://n.test/?id="


def test_query_values_are_re_encoded_one_way():
    assert canonical_url("https://n.test/s?q=a+b") == canonical_url("https://n.test/s?q=a%20b")
    assert canonical_url("https://n.test/s?q=Москва") == (
        "https://n.test/s?q=%D0%9C%D0%BE%D1%81%D0%BA%D0%B2%D0%B0"
    )
    assert canonical_url("https://n.test/s?next=/a/b:c") == "https://n.test/s?next=/a/b:c"


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        (
            "https://Пример.Испытание/новости/Зангезур-2024",
            "https://пример.испытание/новости/Зангезур-2024",
        ),
        ("https://xn--e1afmkfd.xn--80akhbyknj4f/", "https://xn--e1afmkfd.xn--80akhbyknj4f/"),
        ("https://XN--E1AFMKFD.TEST/a", "https://xn--e1afmkfd.test/a"),
        (
            "https://news.test/%D0%BD%D0%BE%D0%B2%D0%BE%D1%81%D1%82%D0%B8/1",
            "https://news.test/%D0%BD%D0%BE%D0%B2%D0%BE%D1%81%D1%82%D0%B8/1",
        ),
        ("https://armenpress.test/hy/Հայաստան/1", "https://armenpress.test/hy/Հայաստան/1"),
        ("https://irna.test/fa/خبر/۱۲", "https://irna.test/fa/خبر/۱۲"),
    ],
)
def test_idn_hosts_and_non_latin_paths_survive(url, canonical):
    assert canonical_url(url) == canonical


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("http://[::1]:8080/feed", "http://[::1]:8080/feed"),
        ("https://[2001:DB8::1]:443/a", "https://[2001:db8::1]/a"),
        ("http://127.0.0.1:8000/rss?utm_source=x", "http://127.0.0.1:8000/rss"),
        ("https://user:secret@feeds.test/a", "https://user@feeds.test/a"),
        ("https://feeds.test:abc/a#x", "https://feeds.test:abc/a"),  # not a port; no crash
        ("https://feeds.test/a;jsessionid=1?x=1", "https://feeds.test/a;jsessionid=1?x=1"),
    ],
)
def test_unusual_hosts_and_ports(url, canonical):
    assert canonical_url(url) == canonical


def test_spellings_of_one_article_meet():
    spellings = [
        "https://www.Apa.test/az/siyaset/123?utm_source=rss",
        "HTTPS://www.apa.test:443/az/siyaset/123#top",
        "https://www.apa.test./az/siyaset/123?fbclid=abc&from=rss",
    ]
    assert {canonical_url(u) for u in spellings} == {"https://www.apa.test/az/siyaset/123"}


def test_canonical_is_a_fixed_point():
    url = "https://n.test/s?q=%D0%9C+1&x=a%2Fb&from=2024"
    once = canonical_url(url)
    assert canonical_url(once) == once
