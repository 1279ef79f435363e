"""The ``kmer`` embedder: composition plus counts of the genome's enriched 8-mers. No weights, any CPU.

Why not a projected k-mer spectrum (this embedder before round 2): a 10-bp regulatory motif
planted twice in a 1003-bp window adds 2 to a handful of 6-mer counts among 4,096, and a random
projection of all 5,460 k = 1..6 frequencies to 768 values mixes those few counts with thousands
of noise counts, and a ridge from them to SMF on held-out demo genes fell well short of this
embedder (bench/RESULTS.md, "k-mer embedder that keeps motifs"). Motifs are words that recur
across many genes' windows far more often than the base composition predicts, so this embedder
keeps such words explicitly.

Definition (deterministic given the windows of a region; no labels are used):

1. **Composition**: for k in 1..4, the frequencies of the window's k-mers (stride 1, in the gene's
   orientation; a k-mer with a base other than A/C/G/T is skipped), block k scaled by 2**k so each
   block weighs about the same: 4 + 16 + 64 + 256 = 340 values.
2. **Vocabulary** (``enriched_words``), fitted once per region over every window of the genome:
   for each of the 4**8 words of length 8, the number of windows that contain it, against the
   number expected under a second-order Markov background fitted to the same windows (so
   composition and short repeats do not count as motifs). Words are ranked by the Poisson z-score
   (observed - expected) / sqrt(expected); those with z >= ``MIN_Z`` (far beyond the largest z of
   4**8 words of random sequence, about 5), up to ``N_WORDS`` of them, form the vocabulary.
3. **Word counts**: how often the window holds each vocabulary word (428 values; unused slots,
   when fewer words pass, stay 0).

768 values in all, the width of SpeciesLM's embeddings. The vocabulary is part of the cache id
(a hash of its words), so a genome with other enriched words gets its own cache.

Everything is numpy over arrays of windows (integer k-mer codes and ``bincount``), no Python loop
over k-mers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from cre_core.embed.base import Embedder, Progress, Window

COMPOSITION_KS = (1, 2, 3, 4)
WORD_K = 8
DIM = 768
MIN_Z = 6.0
MARKOV_ORDER = 2
CHUNK = 512  # windows per bincount (bounds memory: CHUNK * 4**k counters)

_CODES = np.full(256, 4, dtype=np.uint8)
for _i, _b in enumerate("ACGT"):
    _CODES[ord(_b)] = _CODES[ord(_b.lower())] = _i


def encode(sequences: Sequence[str]) -> np.ndarray:
    """Equal-length sequences -> uint8 array (n, L): A=0 C=1 G=2 T=3, anything else 4."""
    if not sequences:
        return np.zeros((0, 0), dtype=np.uint8)
    length = len(sequences[0])
    raw = np.frombuffer("".join(sequences).encode("ascii", "replace"), dtype=np.uint8)
    return _CODES[raw].reshape(len(sequences), length)


def kmer_codes(codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Integer code (base 4, first base most significant) of the k-mer starting at each position.

    Returns (kint, bad), both (n, L - k + 1): ``bad`` marks k-mers holding a non-ACGT base
    (their code is meaningless).
    """
    n, length = codes.shape
    m = max(length - k + 1, 0)
    kint = np.zeros((n, m), dtype=np.int64)
    bad = np.zeros((n, m), dtype=bool)
    for j in range(k):
        c = codes[:, j : j + m]
        kint = kint * 4 + (c & 3)
        bad |= c > 3
    return kint, bad


def count_kmers(codes: np.ndarray, k: int) -> np.ndarray:
    """k-mer counts per window, float32 (n, 4**k); k-mers with a non-ACGT base are skipped."""
    n = codes.shape[0]
    size = 4**k
    kint, bad = kmer_codes(codes, k)
    if not kint.size:
        return np.zeros((n, size), dtype=np.float32)
    rows = np.broadcast_to(np.arange(n, dtype=np.int64)[:, None] * size, kint.shape)
    flat = (rows + kint)[~bad]
    return np.bincount(flat, minlength=n * size).reshape(n, size).astype(np.float32)


def spectrum_width(ks: Sequence[int] = COMPOSITION_KS) -> int:
    return sum(4**k for k in ks)


def spectrum(codes: np.ndarray, ks: Sequence[int] = COMPOSITION_KS) -> np.ndarray:
    """Scaled k-mer frequencies (step 1 of the module docstring), float32 (n, spectrum_width)."""
    blocks = []
    for k in ks:
        counts = count_kmers(codes, k)
        total = counts.sum(axis=1, keepdims=True)
        blocks.append(counts * (2.0**k / np.maximum(total, 1.0)))
    return np.concatenate(blocks, axis=1)


N_WORDS = DIM - spectrum_width()


def _chunks(windows: Sequence[Window]):
    """uint8 code arrays of equal-length windows, at most CHUNK rows each."""
    lengths = np.array([len(w.sequence) for w in windows], dtype=np.int64)
    for length in np.unique(lengths):
        rows = np.flatnonzero(lengths == length)
        for start in range(0, len(rows), CHUNK):
            part = rows[start : start + CHUNK]
            yield part, encode([windows[i].sequence for i in part])


def word_z_scores(windows: Sequence[Window], k: int = WORD_K, order: int = MARKOV_ORDER) -> np.ndarray:
    """Poisson z of each k-mer's window count against a Markov(order) background, (4**k,).

    Observed: the number of windows holding the word at least once. Expected: the sum over
    windows of 1 - exp(-positions * p(word)), p from the background fitted to all windows.
    """
    present = np.zeros(4**k, dtype=np.float64)
    context = np.zeros(4 ** (order + 1), dtype=np.float64)
    positions: list[int] = []
    for _, codes in _chunks(windows):
        kint, bad = kmer_codes(codes, k)
        words = np.sort(np.where(bad, -1, kint), axis=1)           # each window's words, sorted
        first = np.ones_like(words, dtype=bool)
        first[:, 1:] = words[:, 1:] != words[:, :-1]               # a word's first occurrence
        present += np.bincount(words[first & (words >= 0)], minlength=4**k)
        cint, cbad = kmer_codes(codes, order + 1)
        context += np.bincount(cint[~cbad], minlength=4 ** (order + 1))
        positions += (~bad).sum(axis=1).tolist()
    # background: p(first order+1 bases) * prod p(next base | previous `order` bases)
    context += 0.5                                   # pseudocount: no zero probabilities
    joint = context / context.sum()
    cond = (context.reshape(-1, 4) / context.reshape(-1, 4).sum(axis=1, keepdims=True)).ravel()
    words = np.arange(4**k, dtype=np.int64)
    digits = [(words // 4 ** (k - 1 - j)) % 4 for j in range(k)]   # base j of every word
    head = np.zeros_like(words)
    for j in range(order + 1):
        head = head * 4 + digits[j]
    log_p = np.log(joint[head])
    for j in range(order + 1, k):
        window = np.zeros_like(words)
        for i in range(j - order, j + 1):
            window = window * 4 + digits[i]
        log_p += np.log(cond[window])
    p = np.exp(log_p)
    expected = np.zeros_like(p)
    sizes, n_windows = np.unique(np.asarray(positions, dtype=np.int64), return_counts=True)
    for size, count in zip(sizes, n_windows):          # windows of equal length share a term
        expected += count * -np.expm1(-size * p)
    expected = np.maximum(expected, 1e-9)
    return (present - expected) / np.sqrt(expected)


def enriched_words(windows: Sequence[Window], k: int = WORD_K, limit: int = N_WORDS,
                   min_z: float = MIN_Z) -> np.ndarray:
    """Codes of the enriched words (step 2 of the module docstring), highest z first."""
    z = word_z_scores(windows, k)
    order = np.lexsort((np.arange(len(z)), -z))      # z descending, ties by code: deterministic
    keep = order[z[order] >= min_z][:limit]
    return keep.astype(np.int64)


def word_text(code: int, k: int = WORD_K) -> str:
    return "".join("ACGT"[(int(code) >> (2 * (k - 1 - j))) & 3] for j in range(k))


class KmerEmbedder(Embedder):
    """Composition (k = 1..4) plus counts of the region's enriched 8-mers; see the module docstring.

    ``prepare`` fits each region's vocabulary on the whole genome's windows; ``embed`` on a
    region that was not prepared fits it on the windows it is given.
    """

    name = "kmer"
    composition = True

    def __init__(self) -> None:
        self.words: dict[str, np.ndarray] = {}

    def prepare(self, windows: dict[str, list[Window]]) -> None:
        for region, ws in windows.items():
            self.words[region] = enriched_words(ws)

    def _vocabulary(self, region: str) -> np.ndarray:
        if region not in self.words:
            raise RuntimeError(f"kmer vocabulary of {region} not fitted: call prepare() first")
        return self.words[region]

    def _vocab_hash(self, region: str) -> str:
        return hashlib.sha1(self._vocabulary(region).tobytes()).hexdigest()[:10]

    def model_label(self, region: str) -> str:
        return (f"kmer k=1..4 + {len(self._vocabulary(region))} enriched {WORD_K}-mers "
                f"-> {DIM}-d")

    def cache_id(self, region: str) -> str:
        return f"c1-4_w{WORD_K}_{self._vocab_hash(region)}"

    def dim(self, region: str) -> int:
        return DIM

    def describe(self, region: str) -> dict:
        out = {"composition_ks": list(COMPOSITION_KS) if self.composition else [],
               "word_k": WORD_K, "min_z": MIN_Z, "markov_order": MARKOV_ORDER,
               "dim": self.dim(region)}
        return out | {"words": [word_text(c) for c in self._vocabulary(region)]}

    def embed(self, windows: Sequence[Window], region: str,
              progress: Progress | None = None) -> np.ndarray:
        if region not in self.words:
            self.words[region] = enriched_words(windows)
        vocab = self._vocabulary(region)
        column = np.full(4**WORD_K, -1, dtype=np.int64)
        column[vocab] = np.arange(len(vocab))
        width = spectrum_width() if self.composition else 0
        out = np.zeros((len(windows), self.dim(region)), dtype=np.float32)
        done = 0
        for part, codes in _chunks(windows):
            if self.composition:
                out[part, :width] = spectrum(codes)
            kint, bad = kmer_codes(codes, WORD_K)
            col = np.where(bad, -1, column[kint])
            hit = col >= 0
            rows = np.broadcast_to(np.arange(len(part))[:, None], col.shape)[hit]
            flat = np.bincount(rows * N_WORDS + col[hit], minlength=len(part) * N_WORDS)
            out[part, width:] = flat.reshape(len(part), N_WORDS)
            done += len(part)
            if progress:
                progress(done, len(windows))
        return out


class WordsEmbedder(KmerEmbedder):
    """Only the counts of the region's enriched 8-mers (the motif words), no composition.

    Why a second embedder: the composition block is close to unique per window, so a model
    with many examples per gene can key on it as a gene identity and memorise partners instead
    of learning which motifs interact; on the demo's gene split the interaction model's ε r is
    higher from the words alone than from kmer features (bench/RESULTS.md, "Round 2, session 2:
    ε from the motif words"). Choose ``words`` to ask what the motifs alone explain.
    """

    name = "words"
    composition = False

    def model_label(self, region: str) -> str:
        return f"{len(self._vocabulary(region))} enriched {WORD_K}-mers -> {N_WORDS}-d"

    def cache_id(self, region: str) -> str:
        return f"w{WORD_K}_{self._vocab_hash(region)}"

    def dim(self, region: str) -> int:
        return N_WORDS
