"""Recent signatures of one space, and a query for the similar ones (datasketch LSH).

Locality-sensitive hashing only proposes candidates; each candidate's similarity is
then estimated from the two signatures and kept if it reaches the threshold less a
margin. The LSH bands are tuned for a threshold well below the real one, so that pairs
just above the threshold are still proposed (a missed pair is a story split in two; a
candidate too many costs one comparison of 128 numbers).
"""

from __future__ import annotations

import numpy as np
from datasketch import MinHash, MinHashLSH

from monitor.stories.signatures import NUM_PERM, similarity

# Bands for 0.6 × the threshold: at 0.5, datasketch picks 37 bands of 3 rows, and a
# pair at 0.5 shares a band with a chance of 99.3 % (at 0.8 × it was 32 × 4, 87 %).
CANDIDATE_FACTOR = 0.6
# The estimate from 128 permutations has a standard error of 0.044 at 0.5: verified
# against the threshold itself, half the pairs just above it would be lost to noise.
# Accepting estimates from 0.05 below lifts the recall of the pairs above the threshold
# from 91 % to 98 % (bench/stories_bench.py), at the price of some pairs just below it.
VERIFY_MARGIN = 0.05


class SimilarityIndex:
    """Signatures by key, oldest first, with their LSH bands."""

    def __init__(self, threshold: float):
        self.threshold = threshold
        self.accept = threshold - VERIFY_MARGIN
        self._lsh = MinHashLSH(threshold=threshold * CANDIDATE_FACTOR, num_perm=NUM_PERM)
        self._values: dict[str, np.ndarray] = {}
        self._added: dict[str, str] = {}  # key -> added_at (ISO), in insertion order

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, key: str) -> bool:
        return key in self._values

    def add(self, key: str, minhash: MinHash, added_at: str) -> None:
        """Remember a signature (a key already there keeps its first signature)."""
        if key in self._values:
            return
        self._lsh.insert(key, minhash, check_duplication=False)
        self._values[key] = minhash.hashvalues
        self._added[key] = added_at

    def remove(self, key: str) -> None:
        """Forget one signature (no error if it is not there)."""
        if self._values.pop(key, None) is not None:
            self._lsh.remove(key)
            del self._added[key]

    def similar(self, minhash: MinHash) -> list[tuple[str, float]]:
        """Keys whose estimated similarity reaches the threshold (less the margin), most
        similar first."""
        found = []
        for key in self._lsh.query(minhash):
            score = similarity(minhash.hashvalues, self._values[key])
            if score >= self.accept:
                found.append((key, score))
        found.sort(key=lambda pair: (-pair[1], pair[0]))
        return found

    def forget_before(self, cutoff: str) -> int:
        """Forget every signature added before ``cutoff`` (ISO); returns how many.
        Signatures arrive in time order, so this stops at the first one to keep."""
        old = []
        for key, added_at in self._added.items():
            if added_at >= cutoff:
                break
            old.append(key)
        for key in old:
            self.remove(key)
        return len(old)
