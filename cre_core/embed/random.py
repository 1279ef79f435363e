"""The ``random`` control embedder: a fixed, seeded Gaussian vector per gene (docs/design.md section 3).

Each (gene, region) gets ``N(0, 1)`` values of the k-mer embedder's width (768), drawn from a
generator seeded by SHA-1 of ``seed:region:gene``: the same gene always gets the same vector, on
any machine, whatever else is in the genome. Sequence plays no part, which is the point: a model
that does as well on these as on sequence embeddings has learned gene identity, not regulation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from cre_core.embed import kmer
from cre_core.embed.base import Embedder, Progress, Window


class RandomEmbedder(Embedder):
    """Seeded Gaussian vector per gene; the control row of every results table."""

    name = "random"

    def __init__(self, dim: int = kmer.DIM, seed: int = 0) -> None:
        self._dim = int(dim)
        self.seed = int(seed)

    def model_label(self, region: str) -> str:
        return f"random N(0,1) {self._dim}-d (seed {self.seed})"

    def cache_id(self, region: str) -> str:
        return f"d{self._dim}_s{self.seed}"

    def dim(self, region: str) -> int:
        return self._dim

    def describe(self, region: str) -> dict:
        return {"dim": self._dim, "seed": self.seed, "per": "gene"}

    def key(self, window: Window) -> str:
        return f"gene:{window.gene}"      # per gene, not per sequence

    def vector(self, gene: str, region: str) -> np.ndarray:
        digest = hashlib.sha1(f"{self.seed}:{region}:{gene}".encode()).digest()
        rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
        return rng.standard_normal(self._dim, dtype=np.float32)

    def embed(self, windows: Sequence[Window], region: str,
              progress: Progress | None = None) -> np.ndarray:
        out = np.zeros((len(windows), self._dim), dtype=np.float32)
        for i, window in enumerate(windows):
            out[i] = self.vector(window.gene, region)
        if progress:
            progress(len(windows), len(windows))
        return out
