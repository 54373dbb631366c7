"""The articles of bench/stories_bench.py: syndicated news, made up, and its truth.

Deterministic for a seed. Each article is a dict with the fields the clustering stage
reads (``id``, ``language``, ``source``, ``title``, ``text``, ``url``) and the truth the
benchmark checks against (``event``, ``topic``, ``kind``: summary or full text, ``copy``:
0 for an event's first report, 1-6 for its copies).
The module docstring of bench/stories_bench.py says what the text is like and why.
Below the generator: what the articles are like, and the truth a result is held to: the
exact pairs (timed: they are the benchmark's baseline), the true pairs, the events.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterable

import numpy as np

VOCABULARY = 30_000  # made-up words, drawn by Zipf's law
ZIPF_EXPONENT = 1.0  # rank 1 is 9 % of the words, like "the" in English news (~6 %)
SUMMARY_SHARE = 0.4  # of events: a feed summary; the others are full texts
SUMMARY_WORDS = (30, 80)
FULL_WORDS = (150, 500)
TITLE_WORDS = (6, 12)
COPIED_SHARE = 0.3  # of events: copied by other outlets
COPIES = (2, 6)  # copies of a copied event, besides its first report
PREFIX_WORDS = (2, 6)  # an outlet's dateline or agency credit, before the text
TRAILER_WORDS = (3, 10)  # an outlet's "read more on ..." line, after the text
HEADLINE_WORDS = (8, 12)  # a copy's own headline, replacing the original's
CUT = (0.10, 0.40)  # share of the text's tail a copy leaves out
EDITS = (0.01, 0.05)  # share of the kept words a copy replaces (style, spelling)
TOPICS = 500  # events on one topic share its words and names
TOPIC_WORDS = 40
TOPIC_SHARE = 0.15  # of an event's words that are its topic's words
TOPIC_NAMES = 6  # multi-word names of a topic (people, places, bodies): 2-4 words each
NAMES_PER_EVENT = (1, 4)  # names mentioned in an event's text, each 1-3 times
OUTLETS = 300
SPREAD_EVENTS = 40  # copies appear within this many events after the first report
LANGUAGE = "ru"  # one label for all: one index holds them all (the largest index)
BANDS = (("0.5-0.6", 0.5, 0.6), ("0.6-0.8", 0.6, 0.8), ("0.8-1.0", 0.8, 1.01))  # of Jaccard
TRUE_BINS = (("<0.3", 0, 0.3), ("0.3-0.4", 0.3, 0.4), ("0.4-0.5", 0.4, 0.5), *BANDS)


def made_up_words(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct words of 2-4 syllables (consonant + vowel, an optional coda)."""
    onsets = list("bdfgklmnprstvz") + ["sh", "ch", "kr", "tr", "st"]
    vowels, codas = list("aeiou"), ["", "", "", "n", "r", "s", "l"]
    words: dict[str, None] = {}
    while len(words) < n:
        syllables = rng.integers(2, 5)
        parts = [rng.choice(onsets) + rng.choice(vowels) for _ in range(syllables)]
        words["".join(parts) + rng.choice(codas)] = None
    return list(words)


class Generator:
    """Events, their reports, and the stream of articles, in publication order."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.words = np.array(made_up_words(self.rng, VOCABULARY), dtype=object)
        ranks = np.arange(1, VOCABULARY + 1, dtype=float)
        self._cdf = np.cumsum(ranks**-ZIPF_EXPONENT)
        self._cdf /= self._cdf[-1]
        # topic words are content words: ranks 100-5,000, neither "the" nor a hapax
        self.topic_words = [self.rng.integers(100, 5000, TOPIC_WORDS) for _ in range(TOPICS)]
        self.topic_names = [
            [self.zipf(int(self.rng.integers(2, 5))) for _ in range(TOPIC_NAMES)]
            for _ in range(TOPICS)
        ]
        self.prefixes = [self.zipf(self._between(PREFIX_WORDS)) for _ in range(OUTLETS)]
        self.trailers = [self.zipf(self._between(TRAILER_WORDS)) for _ in range(OUTLETS)]

    def _between(self, bounds: tuple[int, int]) -> int:
        return int(self.rng.integers(bounds[0], bounds[1] + 1))

    def zipf(self, n: int) -> np.ndarray:
        """``n`` word ids drawn by Zipf's law."""
        return np.searchsorted(self._cdf, self.rng.random(n))

    def event(self, topic: int, summary: bool) -> tuple[np.ndarray, np.ndarray]:
        """A new event's title and text (word ids)."""
        lengths = SUMMARY_WORDS if summary else FULL_WORDS
        title = self._words(topic, self._between(TITLE_WORDS))
        text = self._words(topic, self._between(lengths))
        for _ in range(self._between(NAMES_PER_EVENT)):
            name = self.topic_names[topic][int(self.rng.integers(TOPIC_NAMES))]
            for _ in range(int(self.rng.integers(1, 4))):
                at = int(self.rng.integers(0, len(text) + 1))
                text = np.concatenate([text[:at], name, text[at:]])
        return title, text

    def _words(self, topic: int, n: int) -> np.ndarray:
        ids = self.zipf(n)
        on_topic = self.rng.random(n) < TOPIC_SHARE
        ids[on_topic] = self.rng.choice(self.topic_words[topic], int(on_topic.sum()))
        return ids

    def copy(self, topic: int, text: np.ndarray, outlet: int) -> tuple[np.ndarray, np.ndarray]:
        """An outlet's copy: own headline, the tail cut, light edits, prefix and trailer."""
        title = self._words(topic, self._between(HEADLINE_WORDS))
        kept = text[: max(1, round(len(text) * (1 - self.rng.uniform(*CUT))))].copy()
        edited = self.rng.random(len(kept)) < self.rng.uniform(*EDITS)
        kept[edited] = self.zipf(int(edited.sum()))
        return title, np.concatenate([self.prefixes[outlet], kept, self.trailers[outlet]])

    def text(self, ids: np.ndarray) -> str:
        return " ".join(self.words[ids])

    def articles(self, n: int) -> list[dict]:
        """The first ``n`` articles of the stream, in publication order."""
        reports: list[tuple[float, int, dict]] = []
        event = 0
        # Copies arrive up to SPREAD_EVENTS events after their first report, and no later
        # event comes before its own index: generate until the n-th report is final.
        while len(reports) < n or nth_time(reports, n) >= event:
            for _ in range(1000):
                self._reports(event, reports)
                event += 1
        reports.sort(key=lambda r: (r[0], r[1]))
        docs = [doc for _, _, doc in reports[:n]]
        for i, doc in enumerate(docs):
            doc["id"] = f"a{i:06d}"
        return docs

    def _reports(self, event: int, reports: list) -> None:
        """An event's first report and its copies, each with its time (in events)."""
        topic, summary = int(self.rng.integers(TOPICS)), self.rng.random() < SUMMARY_SHARE
        truth = {"event": event, "topic": topic, "kind": "summary" if summary else "full"}
        title, text = self.event(topic, summary)
        outlet = int(self.rng.integers(OUTLETS))
        reports.append((float(event), len(reports), self._doc(truth, 0, outlet, title, text)))
        if self.rng.random() < COPIED_SHARE:
            for copy in range(1, self._between(COPIES) + 1):
                outlet = int(self.rng.integers(OUTLETS))
                at = event + self.rng.uniform(0, SPREAD_EVENTS)
                doc = self._doc(truth, copy, outlet, *self.copy(topic, text, outlet))
                reports.append((at, len(reports), doc))

    def _doc(self, truth: dict, copy: int, outlet: int, title, text) -> dict:
        return {
            "id": "",
            "language": LANGUAGE,
            "source": f"outlet-{outlet}",
            "title": self.text(title),
            "text": self.text(text),
            "url": f"https://outlet-{outlet}.example/{truth['event']}/{copy}",
            **truth,
            "copy": copy,
        }


def nth_time(reports: list, n: int) -> float:
    """The time of the n-th report so far, in time order."""
    return float(np.partition(np.array([r[0] for r in reports]), n - 1)[n - 1])


def describe(docs: list[dict]) -> dict:
    """What the articles are like, for the JSON."""
    events = Counter(doc["event"] for doc in docs)
    words = [len(doc["title"].split()) + len(doc["text"].split()) for doc in docs]
    firsts = [doc for doc in docs if doc["copy"] == 0]
    return {
        "articles": len(docs),
        "events": len(events),
        "events_reported_more_than_once": sum(1 for n in events.values() if n > 1),
        "copies": len(docs) - len(firsts),
        "summary_share_of_events": sum(d["kind"] == "summary" for d in firsts) / len(firsts),
        "words_mean": sum(words) / len(words),
        "words_max": max(words),
        "sources": len({doc["source"] for doc in docs}),
        "topics": len({doc["topic"] for doc in docs}),
    }


def exact_definition(sets: list[set[str]], threshold: float) -> tuple[float, dict]:
    """Every pair's Jaccard, |a & b| / |a | b|: (seconds, {(j, i): Jaccard >= threshold})."""
    found = {}
    started = time.perf_counter()
    for i, a in enumerate(sets):
        for j, b in enumerate(sets[:i]):
            similarity = len(a & b) / len(a | b)
            if similarity >= threshold:
                found[(j, i)] = similarity
    return time.perf_counter() - started, found


def exact_intersection(sets: list[set[str]], threshold: float) -> tuple[float, set]:
    """The same pairs with one set operation a pair: |a & b| / (|a| + |b| - |a & b|)."""
    found = set()
    started = time.perf_counter()
    for i, a in enumerate(sets):
        size = len(a)
        for j, b in enumerate(sets[:i]):
            shared = len(a & b)
            if shared / (size + len(b) - shared) >= threshold:
                found.add((j, i))
    return time.perf_counter() - started, found


def jaccard(a: set, b: set) -> float:
    """The Jaccard similarity by its definition."""
    return len(a & b) / len(a | b)


def in_bins(values: Iterable[float], bins) -> dict[str, int]:
    """How many values fall in each (label, low, high) bin."""
    values = list(values)
    return {label: sum(low <= v < high for v in values) for label, low, high in bins}


def truth_of(docs: list[dict], sets: list[set[str]], threshold: float) -> dict:
    """The true pairs (two reports of one event) by exact Jaccard, and the most similar
    pairs of different events."""
    true, other, topic, above = [], 0.0, 0.0, 0
    for i, a in enumerate(sets):
        for j, b in enumerate(sets[:i]):
            similarity = jaccard(a, b)
            if docs[i]["event"] == docs[j]["event"]:
                true.append(similarity)
                continue
            above += similarity >= threshold
            other = max(other, similarity)
            if docs[i]["topic"] == docs[j]["topic"]:
                topic = max(topic, similarity)
    return {
        "true_pairs": len(true),
        "true_pairs_by_jaccard": in_bins(true, TRUE_BINS),
        "different_events_above_threshold": above,
        "different_events_max_jaccard": other,
        "same_topic_different_events_max_jaccard": topic,
    }


def grouping(story_of: dict[str, str], sizes: list[int], batches: Iterable[list[dict]]) -> dict:
    """Stories (article id -> story id, the stories' sizes) against the events."""
    first, copies, by_event, by_story = {}, [], defaultdict(list), defaultdict(set)
    for batch in batches:
        for doc in batch:
            story = story_of[doc["id"]]
            by_event[doc["event"]].append(story)
            by_story[story].add(doc["event"])
            if doc["copy"] == 0:
                first[doc["event"]] = story
            else:  # its first report came out before it
                copies.append((doc["kind"], story == first[doc["event"]]))
    families = [set(stories) for stories in by_event.values() if len(stories) > 1]
    by_kind = {kind: [joined for k, joined in copies if k == kind] for kind in ("summary", "full")}
    return {
        "assigned": len(story_of),
        "stories": len(sizes),
        "stories_of_2_or_more": sum(size >= 2 for size in sizes),
        "copies": len(copies),
        "copies_joined": sum(joined for _, joined in copies),
        "copies_joined_by_kind": {
            k: {"copies": len(v), "joined": sum(v)} for k, v in by_kind.items()
        },
        "events_reported_more_than_once": len(families),
        "events_split": sum(len(stories) > 1 for stories in families),
        "stories_mixing_events": sum(len(events) > 1 for events in by_story.values()),
    }
