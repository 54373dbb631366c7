"""MinHash signatures (datasketch) of shingle sets, and their bytes in the state database.

Every signature is made with the same permutations (one seed), so signatures made in
different processes, or before a restart, compare with each other.
"""

from __future__ import annotations

import zlib
from functools import lru_cache

import numpy as np
from datasketch import MinHash

# 128 permutations estimate a Jaccard similarity of 0.5 within about ±0.044 (one
# standard error, sqrt(J(1-J)/128)); 512 bytes per signature (docs/choices.md).
NUM_PERM = 128
SEED = 1
SCHEME = "affine32"  # 32-bit hash values: half the bytes of affine64, same accuracy here
# Each shingle is hashed to 32 bits by CRC-32 before the permutations: stable across
# processes (unlike hash()), and a seventh of the cost of datasketch's default SHA-1,
# which was most of the time of a signature. datasketch mixes the value (fmix) before
# applying the permutations, so CRC's linearity does not carry into the signature.
HASH = zlib.crc32


@lru_cache(maxsize=1)
def _permutations():
    return MinHash(num_perm=NUM_PERM, seed=SEED, scheme=SCHEME).permutations


def signature(shingles: set[str]) -> MinHash:
    """The MinHash of a shingle set."""
    minhash = MinHash(
        num_perm=NUM_PERM, seed=SEED, permutations=_permutations(), scheme=SCHEME, hashfunc=HASH
    )
    minhash.update_batch([s.encode("utf-8") for s in shingles])
    return minhash


def to_bytes(minhash: MinHash) -> bytes:
    """The signature's hash values as 512 bytes."""
    return np.asarray(minhash.hashvalues, dtype="<u4").tobytes()


def from_bytes(blob: bytes) -> MinHash:
    """A signature read back from ``to_bytes``."""
    values = np.frombuffer(blob, dtype="<u4").astype(np.uint32)
    return MinHash(seed=SEED, hashvalues=values, permutations=_permutations(), scheme=SCHEME)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """The estimated Jaccard similarity of two signatures' hash values."""
    return float(np.count_nonzero(a == b)) / len(a)
