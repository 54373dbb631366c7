"""The documents of bench/store_bench.py: realistic articles in the five languages,
shaped by ``Article.document()`` itself, with a long tail of words per language.

Deterministic for a seed, so every run and every store gets the same documents.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import sys
from datetime import UTC, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pipeline_bench as pb  # noqa: E402 - feedgen

LANGS = ("ru", "hy", "az", "fa", "en")
COUNTRY = {"ru": "RU", "hy": "AM", "az": "AZ", "fa": "IR", "en": "GB"}
TEXT_CHARS = 1500  # mean target length of an article's text
# The feedgen templates hold ~300 distinct words per language; 20,000 real articles hold
# tens of thousands (Heaps' law), and FTS5's cost and size grow with distinct terms. So
# this share of the words of 4+ letters is replaced by a word of a long tail: ranks drawn
# from Zipf's law (rank = TAIL_RANKS ** uniform), each rank's word made letter by letter by
# a Markov chain (2 letters of context) trained on the language's template words.
TAIL_SHARE = 0.2
TAIL_RANKS = 1_000_000

class Lexicon:
    """The long tail of one language's words, made up but spelled like its words."""

    def __init__(self, lang, seed: int):
        self.code, self.seed, self.words = lang.code, seed, {}
        texts = [*lang.titles, *lang.sentences, *(v for opts in lang.slots.values() for v in opts)]
        known = {w for t in texts for w in WORD.findall(re.sub(r"\{\w+\}", " ", t).lower())}
        self.used = set(known)  # every rank gets a word of its own
        self.next: dict[str, list[str]] = {}
        for word in sorted(known):
            padded = f"^^{word}$"
            for i in range(len(word) + 1):
                self.next.setdefault(padded[i : i + 2], []).append(padded[i + 2])

    def word(self, rng: random.Random) -> str:
        """A word of the tail, drawn by Zipf's law."""
        rank = int(TAIL_RANKS ** rng.random())
        if rank not in self.words:
            own = random.Random(f"store-bench-word:{self.seed}:{self.code}:{rank}")
            for _ in range(1000):  # a new word, unless the chain has few left to make
                word = self._spell(own)
                if word not in self.used:
                    break
            self.words[rank] = word
            self.used.add(word)
        return self.words[rank]

    def _spell(self, own: random.Random) -> str:
        word = ""
        while len(word) < 4:
            context, word = "^^", ""
            while len(word) < 14 and (letter := own.choice(self.next[context])) != "$":
                word, context = word + letter, context[1] + letter
        return word

    def vary(self, text: str, rng: random.Random) -> str:
        """``text`` with ``TAIL_SHARE`` of its words of 4+ letters from the tail."""

        def swap(match: re.Match) -> str:
            if rng.random() >= TAIL_SHARE:
                return match.group()
            word = self.word(rng)
            return word[:1].upper() + word[1:] if match.group()[:1].isupper() else word

        return LONG_WORD.sub(swap, text)


WORD = re.compile(r"[^\W\d_]+")
LONG_WORD = re.compile(r"[^\W\d_]{4,}")


def article_text(writer, lexicon: Lexicon, rng: random.Random, target: int) -> str:
    """Paragraphs of 3-5 template sentences (no template twice in a paragraph) with words
    of the long tail, cut at the first sentence end past ``target`` characters."""
    paragraphs, length = [], 0
    while length < target:
        chosen = rng.sample(writer.lang.sentences, rng.randint(3, 5))
        sentences = []
        for template in chosen:
            sentences.append(lexicon.vary(template.format(**writer.values()), rng))
            length += len(sentences[-1]) + 1
            if length >= target:
                break
        paragraphs.append(" ".join(sentences))
    return "\n\n".join(paragraphs)


def feed_documents(k: int, count: int, seed: int, feedgen, lexicons: dict) -> list[dict]:
    """The documents of feed ``k``: ``count`` articles in its language, newest first."""
    from monitor.article import Article, Entry, FeedRef, LanguageResult, Normalized
    from monitor.stages.normalize import article_id_for
    from monitor.text import content_hash
    from monitor.urls import canonical_url

    code = LANGS[k % len(LANGS)]
    lang, rng = feedgen.LANGUAGES[code], random.Random(f"store-bench:{seed}:{k}")
    writer, host = feedgen._Writer(lang, rng), f"feed{k:04d}.{lang.host}"
    feed_url = f"https://{host}/rss.xml"
    feed_id = hashlib.sha256(feed_url.encode()).hexdigest()[:16]  # as Feed.feed_id
    ref = FeedRef(feed_id, f"bench-{k:04d}-{code}", feed_url, code, COUNTRY[code])
    fetched = feedgen.BASE_TIME.astimezone(UTC) - timedelta(minutes=10 * k)
    published, docs = fetched - timedelta(minutes=rng.randint(1, 30)), []
    for i in range(count):
        title = lexicons[code].vary(writer.title(), rng)
        target = max(600, int(rng.gauss(TEXT_CHARS, 300)))
        text = article_text(writer, lexicons[code], rng, target)
        section = rng.choice(lang.sections)
        url = canonical_url(f"https://{host}/{section}/{published:%Y/%m/%d}/{k}-{i}.html")
        article_id, id_source = article_id_for(url, "", feed_url, title, published)
        article = Article(ref, Entry(link=url), fetched)
        article.normalized = Normalized(
            article_id, id_source, url, title, text, published, "feed", content_hash(title, text)
        )
        # hy and fa are told by their script; ru, az and en by lingua (detect_language)
        method = "script" if code in ("hy", "fa") else "detector"
        article.language = LanguageResult(code, method, code, code)
        docs.append(article.document())
        published -= timedelta(minutes=rng.randint(4, 95))
    return docs


def make_documents(n: int, batch: int, seed: int) -> list[dict]:
    """``n`` documents, ``batch`` per feed, the feeds' languages in turn."""
    feedgen, docs, k = pb.load_feedgen(), [], 0
    lexicons = {code: Lexicon(feedgen.LANGUAGES[code], seed) for code in LANGS}
    while len(docs) < n:
        docs += feed_documents(k, min(batch, n - len(docs)), seed, feedgen, lexicons)
        k += 1
    return docs


def describe(docs: list[dict]) -> dict:
    """Sizes and vocabulary of the documents (what the store has to index)."""
    words: dict[str, set] = {code: set() for code in LANGS}
    for doc in docs:
        words[doc["language"]].update(re.findall(r"\w+", f"{doc['title']} {doc['text']}".lower()))
    return {
        "text_chars_mean": sum(len(d["text"]) for d in docs) / len(docs),
        "json_bytes_mean": sum(len(json.dumps(d, ensure_ascii=False).encode()) for d in docs)
        / len(docs),
        "languages": {code: sum(d["language"] == code for d in docs) for code in LANGS},
        "distinct_words": {code: len(w) for code, w in words.items()},
    }


# --- the paths, each in a process of its own ------------------------------------------------
