"""Start the sequence encoder's first-layer filters from the genome's enriched words.

Why: trained from random weights on ~700 genes, the encoder fits each training gene's effect
with half-formed filters before any filter converges on a motif (bench/RESULTS.md, "Sequence
encoder"). The kmer embedder already finds, without labels, the 8-mers that recur across many
windows far beyond a Markov background (``cre_core.embed.kmer.enriched_words``). Seeding a filter
with such a word gives it a motif to refine instead of one to discover; training then moves it.

Words of a motif overlap (a 10-mer holds three 8-mers; each may be found on either strand), so
the words of all regions are first assembled into *seeds* (``assemble``): taken in order of
enrichment, a word joins the first seed it overlaps by at least ``MIN_OVERLAP`` identical bases
(either strand; the seed grows by the overhang while it fits the filter width), else it starts a
new seed. No label and no demo truth is used: only the windows' sequence.

A seed becomes a filter centred in the filter width: the weight of a base at a column is
``SCALE`` times the words holding that base there over the most words any column has (a
motif's core outweighs a flank that one word added), 0 outside the seed; the bias is such that
an exact site scores ``SLACK·SCALE`` and a mismatch in the core ``(SLACK - 1)·SCALE`` (still
active), two mismatches nothing. Seeds with the most words go first; filters beyond the seeds
keep their random start.
"""

from __future__ import annotations

import numpy as np
import torch

from cre_core.embed.base import Window
from cre_core.embed.kmer import enriched_words, word_text
from cre_core.genome.dna import reverse_complement

MIN_OVERLAP = 7        # bases two words must share, identically, to be the same motif: the
                       # 8-mers of one motif overlap by 7 (one step apart); at 6 two motifs'
                       # words often chain into one chimeric seed (8 of the demo's 25
                       # upstream module motifs lost their own filter at seed 0)
SCALE = 1.0            # weight of a seed base (a random filter's site scores about N(0, 4))
SLACK = 1.5            # an exact site scores SLACK·SCALE after the bias


class Seed:
    """Words assembled into one motif: base counts per column, the consensus, the support."""

    def __init__(self, word: str) -> None:
        self.counts = _onehot(word)
        self.support = 1

    @property
    def consensus(self) -> str:
        return "".join("ACGT"[i] for i in self.counts.argmax(1))

    def join(self, word: str, width: int) -> bool:
        """Add ``word`` (or its reverse complement) when it overlaps the consensus by at least
        MIN_OVERLAP identical bases and the seed still fits ``width``; False when it does not."""
        seed = self.consensus
        for w in (word, reverse_complement(word)):
            for shift in range(-(len(w) - MIN_OVERLAP), len(seed) - MIN_OVERLAP + 1):
                lo, hi = max(shift, 0), min(shift + len(w), len(seed))
                left, right = max(-shift, 0), max(shift + len(w) - len(seed), 0)
                if seed[lo:hi] != w[lo - shift:hi - shift] or len(seed) + left + right > width:
                    continue
                self.counts = np.pad(self.counts, ((left, right), (0, 0)))
                self.counts[shift + left:shift + left + len(w)] += _onehot(w)
                self.support += 1
                return True
        return False


def _onehot(word: str) -> np.ndarray:
    return np.array([[float(b == base) for base in "ACGT"] for b in word])


def assemble(words: list[str], width: int) -> list[Seed]:
    """Overlapping words merged into seeds of at most ``width`` bp (module docstring), the
    seeds with the most words first (ties: the one with the more enriched first word)."""
    seeds: list[Seed] = []
    for word in words:
        if not any(seed.join(word, width) for seed in seeds):
            seeds.append(Seed(word))
    return sorted(seeds, key=lambda seed: -seed.support)      # stable: ties keep word order


def genome_words(codes: dict[str, np.ndarray]) -> list[str]:
    """Every region's enriched words (kmer's unsupervised vocabulary), most enriched first:
    regions interleaved by rank (each region's best word, then each one's second...); a word
    enriched in two regions keeps its better rank."""
    letters = np.frombuffer(b"ACGTN", dtype=np.uint8)
    rank: dict[str, int] = {}
    for table in codes.values():
        windows = [Window(str(i), letters[row].tobytes().decode()) for i, row in enumerate(table)]
        for r, code in enumerate(enriched_words(windows)):
            word = word_text(code)
            rank[word] = min(rank.get(word, r), r)
    return sorted(rank, key=lambda w: (rank[w], w))


@torch.no_grad()
def seed_filters(weight: torch.Tensor, bias: torch.Tensor, seeds: list[Seed]) -> int:
    """Write ``seeds`` into the first filters of ``weight`` (filters, 4, width) and ``bias``
    (module docstring); returns how many filters were seeded."""
    n_filters, _, width = weight.shape
    used = min(len(seeds), n_filters)
    for k, seed in enumerate(seeds[:used]):
        pwm = seed.counts / seed.counts.sum(1).max() * SCALE      # (L, 4): the best column is SCALE
        start = (width - len(pwm)) // 2
        weight[k].zero_()
        weight[k, :, start:start + len(pwm)] = torch.as_tensor(pwm.T, dtype=weight.dtype)
        bias[k] = -(float(pwm.max(1).sum()) - SLACK * SCALE)
    return used
