"""Near-duplicate keys: what tells that two articles report the same incident, from their words alone.

Two keys (``stories.py`` decides with them): the normalised title (lower case, accents and
punctuation dropped; ``title_key``), and a MinHash signature over 5-word shingles (``minhash``),
whose share of equal values estimates the Jaccard similarity of two texts' shingle sets. The
signature is cut into 32 bands of 3, each hashed to one key (``band_keys``): only articles sharing a
band key are compared. Two texts with similarity 0.5 share a band with probability
1 - (1 - 0.5**3)**32 = 0.986; at 0.2, 0.23.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from pipeline.text import fold_accents

SHINGLE = 5  # words per shingle
NUM_HASHES = 96
BANDS, ROWS = 32, 3  # BANDS * ROWS == NUM_HASHES
MIN_SIMILARITY = 0.5
MIN_SHINGLES = 8  # texts shorter than this (about 12 words) are not compared
MAX_WORDS = 2000  # the start of a long text identifies it as well as the whole
MIN_TITLE_WORDS = 5

_WORD = re.compile(r"[a-z0-9]+")
_rng = np.random.default_rng(20251020)  # fixed: signatures must be comparable across runs
# Multiply-shift hashing (a*x + b mod 2**64, top 32 bits): 96 independent-enough permutations.
_MUL = _rng.integers(1, 2**63, NUM_HASHES, dtype=np.uint64) | np.uint64(1)
_ADD = _rng.integers(0, 2**63, NUM_HASHES, dtype=np.uint64)
_SHINGLE_MUL = (_rng.integers(1, 2**63, SHINGLE, dtype=np.uint64) | np.uint64(1)).reshape(SHINGLE, 1)
_BAND_MUL = _rng.integers(1, 2**63, ROWS + 1, dtype=np.uint64) | np.uint64(1)
_SHIFT = np.uint64(32)


def words(text: str | None) -> list[str]:
    """Lower-case, accent-free words: "Extorsión en SJL" → ["extorsion", "en", "sjl"]."""
    if not text:
        return []
    return _WORD.findall(fold_accents(text.lower()))


def title_key(title: str | None) -> str | None:
    """The normalised title, or None when it is too short to tell one story from another."""
    ws = words(title)
    return " ".join(ws) if len(ws) >= MIN_TITLE_WORDS else None


def _token_hash(token: str) -> int:
    return int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "little")


def minhash(tokens: Sequence[str], cache: dict[str, int] | None = None) -> np.ndarray | None:
    """The MinHash signature (NUM_HASHES uint32) of the text's word shingles; None if too short."""
    tokens = tokens[:MAX_WORDS]
    if len(tokens) - SHINGLE + 1 < MIN_SHINGLES:
        return None
    cache = {} if cache is None else cache
    for token in set(tokens).difference(cache):
        cache[token] = _token_hash(token)
    hashes = np.fromiter(map(cache.__getitem__, tokens), dtype=np.uint64, count=len(tokens))
    n = len(tokens) - SHINGLE + 1
    windows = np.lib.stride_tricks.sliding_window_view(hashes, SHINGLE)[:n]  # (n, SHINGLE)
    # A shingle's hash: each word's hash times its position's odd constant, summed (mod 2**64).
    # Repeated shingles are left in: they cannot change a minimum, and removing them costs more.
    shingles = (windows.T * _SHINGLE_MUL).sum(axis=0, dtype=np.uint64)
    permuted = (shingles[:, None] * _MUL + _ADD) >> _SHIFT
    return permuted.min(axis=0).astype(np.uint32)


def band_keys(signature: np.ndarray) -> np.ndarray:
    """One uint64 key per LSH band: articles that share a key are compared."""
    rows = signature.astype(np.uint64).reshape(BANDS, ROWS)
    mixed = (rows * _BAND_MUL[:ROWS]).sum(axis=1, dtype=np.uint64)
    return mixed ^ (np.arange(BANDS, dtype=np.uint64) * _BAND_MUL[ROWS])


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of two signatures: the share of equal MinHash values."""
    return float(np.count_nonzero(a == b)) / NUM_HASHES
