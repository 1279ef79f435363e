"""The ``kmer`` embedder: a k-mer spectrum with a fixed random projection. No weights, any CPU.

Definition (deterministic, the same on every machine):

1. For each k in 1..6, count the k-mers of the window (stride 1, both strands are NOT merged:
   windows already read 5'->3' in the gene's orientation). A k-mer holding any base other than
   A/C/G/T (the N padding of an edge window, IUPAC codes) is skipped.
2. Divide by the number of counted k-mers (frequencies) and scale block k by 2**k, so that each
   k weighs about the same (a uniform random sequence gives every block a norm near 1).
   Concatenated: 4 + 16 + 64 + 256 + 1024 + 4096 = 5,460 values, the *spectrum*.
3. Multiply by a fixed Gaussian matrix R (5,460 x 768, entries N(0, 1/768), drawn from
   ``numpy.random.default_rng(0)``): a Johnson-Lindenstrauss projection to 768 values, the width
   of SpeciesLM's embeddings, so the models downstream see the same shapes.

The spectrum is numpy over arrays of windows (integer k-mer codes and ``bincount``), no Python
loop over k-mers; the projection is one float32 matrix product per chunk (torch's CPU matmul,
about 3x numpy's OpenBLAS here): 6,000 genes x 2 regions take about 2 s on 2 CPU cores.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from cre_core.embed.base import Embedder, Progress, Window

KS = (1, 2, 3, 4, 5, 6)
DIM = 768
SEED = 0
CHUNK = 512  # windows per bincount (bounds memory: CHUNK * 4**6 counters)

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


def spectrum_width(ks: Sequence[int] = KS) -> int:
    return sum(4**k for k in ks)


def spectrum(codes: np.ndarray, ks: Sequence[int] = KS) -> np.ndarray:
    """Scaled k-mer frequencies (step 1-2 of the module docstring), float32 (n, spectrum_width)."""
    n, length = codes.shape
    blocks = []
    idx = np.zeros((n, length), dtype=np.int64)   # code of the k-mer starting at each position
    bad = np.zeros((n, length), dtype=bool)       # it holds a non-ACGT base
    kmax = max(ks)
    for k in range(1, kmax + 1):
        m = length - k + 1
        if m <= 0:
            idx, bad = idx[:, :0], bad[:, :0]
        else:
            c = codes[:, k - 1 : k - 1 + m]
            idx = idx[:, :m] * 4 + (c & 3)
            bad = bad[:, :m] | (c > 3)
        if k not in ks:
            continue
        size = 4**k
        counts = np.zeros((n, size), dtype=np.float32)
        if idx.shape[1]:
            rows = np.broadcast_to(np.arange(n, dtype=np.int64)[:, None] * size, idx.shape)
            flat = (rows + idx)[~bad]
            counts = np.bincount(flat, minlength=n * size).reshape(n, size).astype(np.float32)
        total = counts.sum(axis=1, keepdims=True)
        blocks.append(counts * (2.0**k / np.maximum(total, 1.0)))
    return np.concatenate(blocks, axis=1)


@lru_cache(maxsize=4)
def projection(ks: tuple[int, ...] = KS, dim: int = DIM, seed: int = SEED) -> np.ndarray:
    """The fixed Gaussian projection R (spectrum_width x dim), N(0, 1/dim) entries (shared: read only)."""
    rng = np.random.default_rng(seed)
    matrix = rng.standard_normal((spectrum_width(ks), dim), dtype=np.float32)
    matrix /= np.float32(np.sqrt(dim))
    return matrix


def _matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` in float32 with torch when it is installed (faster BLAS), else numpy."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a requirement; numpy is the fallback
        return a @ b
    with torch.inference_mode():
        return (torch.from_numpy(np.ascontiguousarray(a)) @ torch.from_numpy(b)).numpy()


class KmerEmbedder(Embedder):
    """k-mer spectrum (k = 1..6) projected to 768 values; see the module docstring."""

    name = "kmer"

    def __init__(self, ks: Sequence[int] = KS, dim: int = DIM, seed: int = SEED) -> None:
        self.ks = tuple(sorted(set(int(k) for k in ks)))
        self._dim = int(dim)
        self.seed = int(seed)

    def model_label(self, region: str) -> str:
        return f"kmer k={self.ks[0]}..{self.ks[-1]} -> {self._dim}-d (seed {self.seed})"

    def cache_id(self, region: str) -> str:
        return f"k{self.ks[0]}-{self.ks[-1]}_d{self._dim}_s{self.seed}"

    def dim(self, region: str) -> int:
        return self._dim

    def describe(self, region: str) -> dict:
        return {"ks": list(self.ks), "dim": self._dim, "seed": self.seed,
                "scaling": "frequency * 2**k", "projection": "gaussian N(0, 1/dim)"}

    def embed(self, windows: Sequence[Window], region: str,
              progress: Progress | None = None) -> np.ndarray:
        out = np.zeros((len(windows), self._dim), dtype=np.float32)
        matrix = projection(self.ks, self._dim, self.seed)
        lengths = np.array([len(w.sequence) for w in windows], dtype=np.int64)
        done = 0
        for length in np.unique(lengths):                 # equal lengths share one array
            rows = np.flatnonzero(lengths == length)
            for start in range(0, len(rows), CHUNK):
                part = rows[start : start + CHUNK]
                codes = encode([windows[i].sequence for i in part])
                out[part] = _matmul(spectrum(codes, self.ks), matrix)
                done += len(part)
                if progress:
                    progress(done, len(windows))
        return out
