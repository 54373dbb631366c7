"""Which seed analyses are the background of a story: TF-IDF cosine over English words.

The seed corpus is a handful of long English analyses; a story is a few short reports.
MinHash compares sets of similar size and would call nothing related, so the link uses
term weights instead: words frequent in the story and rare across the seeds count.
"""

from __future__ import annotations

import math
from collections import Counter

from monitor.stories.shingles import content_words

# Cosine similarities of a short report against a long analysis run low: a report
# retelling a seed analysis scores 0.40 against it, reports on other subjects 0.00–0.07
# against every seed (measured on the packaged corpus; docs/choices.md, "Stories").
MIN_COSINE = 0.08


class SeedLinker:
    """TF-IDF vectors of the seed documents, and the nearest ones to a text."""

    def __init__(self, seeds: list[dict]):
        bags = {doc["id"]: Counter(content_words(doc["title"], doc["text"])) for doc in seeds}
        df = Counter(term for bag in bags.values() for term in bag)
        n = len(bags)
        # Smoothed IDF (as in scikit-learn): a word in every seed still weighs a little.
        self._idf = {term: math.log((1 + n) / (1 + count)) + 1 for term, count in df.items()}
        self._unseen_idf = math.log(1 + n) + 1  # a word no seed has: the rarest there is
        self._vectors = {doc_id: self._weigh(bag) for doc_id, bag in bags.items()}

    def __len__(self) -> int:
        return len(self._vectors)

    def related(self, title_en: str, text_en: str, limit: int) -> list[str]:
        """Ids of up to ``limit`` seeds whose cosine with the text is at least
        ``MIN_COSINE``, most related first."""
        if not self._vectors or limit <= 0:
            return []
        query = self._weigh(Counter(content_words(title_en, text_en)))
        scored = []
        for doc_id, vector in self._vectors.items():
            score = sum(weight * vector.get(term, 0.0) for term, weight in query.items())
            if score >= MIN_COSINE:
                scored.append((score, doc_id))
        scored.sort(key=lambda pair: (-pair[0], pair[1]))
        return [doc_id for _, doc_id in scored[:limit]]

    def _weigh(self, bag: Counter) -> dict[str, float]:
        # Words no seed has match nothing, but they still count in the norm: a long
        # report on something else is not made related by its few shared words.
        idf = self._idf
        weights = {t: (1 + math.log(c)) * idf.get(t, self._unseen_idf) for t, c in bag.items()}
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        return {term: weight / norm for term, weight in weights.items()}
