"""A trainable CNN over one-hot CRE windows: the gene representation that reads the sequence.

Windows are held on the device as uint8 codes (A, C, G, T = 0..3, anything else 4), one row
per gene and region, in a non-persistent buffer (checkpoints never carry sequences; the query
service reloads them from the store). A batch's one-hot input is built from the codes of its
unique genes only, so the (u, L, 4) float tensor exists per step, never for the genome.

The first layer is ``filters`` position weight matrices of ``width`` bp (wide enough to read a
10-bp motif with a few bases of context). By default (``--encoder-init enriched``) training starts
them from the genome's enriched words (``seed_words``: cre_core.embed.word_seeds, no labels)
and refines them at a tenth of the learning rate (``--encoder-lr``); from random weights the
~700 training genes of the small demo are memorised before the filters find motifs.
Each filter is applied to both strands: its reverse complement is the same weights flipped in
position and base (A↔T, C↔G is a flip of the ACGT axis), and a position scores the better
strand, so a motif counts the same on either strand and no parameter is spent learning it twice.
After a ReLU each region's activations are pooled two ways per filter, over positions and both
strands: the maximum (is the motif there?) and the mean of the ``TOP_K`` strongest sites (how
many copies, up to TOP_K?); a window and its reverse complement pool to the same vector. Pooling
over the strongest sites only, not the sum over the window, keeps the gradient (and so the
attribution maps) on the sites a filter is read from: a sum gives every weakly active background
window the same weight as a motif.
The gene's vector is those pooled values of every region side by side, standardised per column
by a BatchNorm (the raw values sit near the same level for every gene, so without it the
first steps see inputs of a scale nothing else in the model has): ``out_dim = 2 * filters *
len(regions)``. ``raw_all()`` gives the values before it (the motif report reads those).

With ``sense_view`` the same activations are pooled a second time on the sense strand only
(the gene's orientation, in which the windows are read and the words embedder counts) and
appended after those blocks in the same layout: ``out_dim`` doubles. The first half is
unchanged, so the motif report, the attribution's hits and the export read it as before.

A model that reads the whole vector (the DeepSet, wt-anchored, wt-diff: ``--encoder-sense-view``)
then sees each filter on either strand and in the gene's orientation, and can learn whether a
motif's orientation matters: the either-strand pooling alone adds every chance hit of a motif's
reverse complement to its count (on the demo's gene split this lifted the DeepSet from below
kmer to above it at most seeds: bench/RESULTS.md, "Encoder fitness with the sense-strand view").

In the interaction model (``--encoder-sense-view``, its features ε map) ``pair_columns`` names
the second half (the ε map reads it), ``trunk_columns`` the first (the fitness trunk reads it,
as without the view). Why: ε follows which genes share a module's motif, and the better strand
adds every chance hit of the reverse complement to that count: on the demo the sense-strand
columns follow module membership more closely, and the ridge ε map of the gene split gains
from them (bench/RESULTS.md, "Encoder ε on the gene split, session 4"). That trunk does not read
the sense view: a few hundred training singles against twice the columns let it fit single
genes (the same section).

Training (cre_core.train.loop, ``--encoder-pretrain``) first fits the encoder with the model on
the training genes' single mutants, then ``freeze``s it: later steps read cached vectors.

Training passes over more than ``CHUNK_GENES`` genes are cut into chunks whose activations are
recomputed in the backward pass (torch.utils.checkpoint), so peak memory is one chunk's, not
the genome's. In eval mode the vectors of every gene are computed once and reused until the
module goes back to training mode (evaluation, queries, scans).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.checkpoint import checkpoint

from cre_core.embed.genes import GeneRepresentation

BASES = "ACGT"
N_CODE = 4
TOP_K = 4                  # copies a filter counts: the mean of its TOP_K strongest sites
CHUNK_GENES = 256          # genes per encoding chunk (memory: chunk × L × 2·filters floats)

_CODE_TABLE = np.full(256, N_CODE, dtype=np.uint8)
for _i, _b in enumerate(BASES):
    _CODE_TABLE[ord(_b)] = _CODE_TABLE[ord(_b.lower())] = _i


def sequence_codes(sequences: list[str], length: int | None = None) -> np.ndarray:
    """uint8 codes (n, length) of equal-length sequences; shorter ones are N-padded at the end."""
    length = max((len(s) for s in sequences), default=0) if length is None else length
    out = np.full((len(sequences), length), N_CODE, dtype=np.uint8)
    for i, seq in enumerate(sequences):
        raw = np.frombuffer(seq[:length].encode("ascii", "replace"), dtype=np.uint8)
        out[i, :len(raw)] = _CODE_TABLE[raw]
    return out


_ONE_HOT = torch.eye(N_CODE + 1)[:, :N_CODE]      # code → ACGT row; N is all zeros


def one_hot(codes: torch.Tensor) -> torch.Tensor:
    """(…, L) codes → (…, L, 4) float one-hot; N (code 4) is all zeros (one gather, no copies)."""
    return F.embedding(codes.long(), _ONE_HOT.to(codes.device))


class SeqEncoder(GeneRepresentation):
    """Reverse-complement-shared PWM filters, max + count pooling per region (module docstring).

    Args:
        n_genes: vocabulary size; ``set_windows`` installs one code row per gene and region.
        regions: the windows read, in output order (``upstream``, ``downstream``).
        filters: number of first-layer PWM filters.
        width: filter width in bp.
        sense_view: also pool on the sense strand alone, for the model or the ε map (module
            docstring).
    """

    cheap_all = False

    def __init__(self, n_genes: int, regions: tuple[str, ...] | list[str], filters: int = 64,
                 width: int = 15, sense_view: bool = False) -> None:
        super().__init__()
        self.n_genes, self.regions = n_genes, tuple(regions)
        self.filters, self.width, self.sense_view = filters, width, sense_view
        shared = 2 * filters * len(self.regions)
        self.out_dim = 2 * shared if sense_view else shared
        if sense_view:
            self.trunk_columns, self.pair_columns = slice(0, shared), slice(shared, self.out_dim)
        # a random window scores about N(0, 4): filters start selective, so the few windows that
        # pass the ReLU steer each filter towards one motif (a smaller start learns much slower)
        self.weight = nn.Parameter(torch.randn(filters, 4, width) * 2.0 / width ** 0.5)
        self.bias = nn.Parameter(torch.full((filters,), -0.5))
        self.norm = nn.BatchNorm1d(self.out_dim)
        for region in self.regions:
            self.register_buffer(f"codes_{region}", torch.full((n_genes, width), N_CODE, dtype=torch.uint8),
                                 persistent=False)
        self._cache: torch.Tensor | None = None
        self._raw_cache: torch.Tensor | None = None
        self.frozen = False

    # --- windows -------------------------------------------------------------------------
    def set_windows(self, windows: dict[str, np.ndarray | torch.Tensor]) -> None:
        """Install (n_genes, L) uint8 codes per region (moved to the module's device)."""
        for region in self.regions:
            codes = torch.as_tensor(windows[region], dtype=torch.uint8)
            if codes.ndim != 2 or codes.shape[0] != self.n_genes or codes.shape[1] < self.width:
                raise ValueError(f"{region} windows are {tuple(codes.shape)}; expected ({self.n_genes}, ≥{self.width})")
            setattr(self, f"codes_{region}", codes.to(self.bias.device))
        self._cache = self._raw_cache = None

    def codes(self, region: str) -> torch.Tensor:
        return getattr(self, f"codes_{region}")

    @torch.no_grad()
    def seed_words(self) -> int:
        """Start the first filters from the installed windows' enriched words (no labels:
        cre_core.embed.word_seeds); returns how many filters were seeded."""
        from cre_core.embed.word_seeds import assemble, genome_words, seed_filters

        words = genome_words({r: self.codes(r).cpu().numpy() for r in self.regions})
        return seed_filters(self.weight, self.bias, assemble(words, self.width))

    # --- the network ---------------------------------------------------------------------
    def both_strands(self) -> torch.Tensor:
        """(2·filters, 4·width) matmul weights: every filter, then its reverse complement."""
        rc = self.weight.flip(1, 2)
        return torch.cat([self.weight, rc]).reshape(2 * self.filters, 4 * self.width)

    def strand_activations(self, x: torch.Tensor) -> torch.Tensor:
        """One-hot (u, L, 4) → ReLU activations (u, L - width + 1, 2, filters): every filter at
        every position on the plus strand (index 0) and the minus strand (index 1)."""
        u, length, _ = x.shape
        windows = x.unfold(1, self.width, 1).reshape(u, length - self.width + 1, 4 * self.width)
        act = torch.relu(F.linear(windows, self.both_strands(), self.bias.repeat(2)))
        return act.view(u, length - self.width + 1, 2, self.filters)

    def activations(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(u, L - width + 1, filters) activations of the better strand, and which strand it
        was (True = minus): what the motif report and the attribution hits read."""
        best, strand = self.strand_activations(x).max(2)
        return best, strand.bool()

    def pooled(self, x: torch.Tensor) -> list[torch.Tensor]:
        """One-hot (u, L, 4) of one region → its views, (u, 2·filters) each: per filter the max
        and the mean of the TOP_K largest activations over positions and both strands, then
        (``sense_view``) the same over the sense strand's positions only."""
        act = self.strand_activations(x).float()
        views = [act.reshape(len(act), -1, self.filters)]       # (u, 2·positions, filters)
        if self.sense_view:
            views.append(act[:, :, 0])
        return [_max_and_top(v) for v in views]

    def encode_onehot(self, onehots: list[torch.Tensor]) -> torch.Tensor:
        """Vectors (u, out_dim) from one one-hot tensor per region (attribution's entry point)."""
        return self.norm(self.raw_onehot(onehots))

    def raw_onehot(self, onehots: list[torch.Tensor]) -> torch.Tensor:
        """The pooled values before the BatchNorm, (u, out_dim): every region's shared view, then
        (``sense_view``) every region's sense view."""
        per_region = [self.pooled(x) for x in onehots]
        return torch.cat([views[v] for v in range(len(per_region[0])) for views in per_region], dim=1)

    def _raw_codes(self, *codes: torch.Tensor) -> torch.Tensor:
        return self.raw_onehot([one_hot(c) for c in codes])

    def raw_genes(self, genes: torch.Tensor) -> torch.Tensor:
        """Pooled values of ``genes`` (before the norm), in chunks of CHUNK_GENES genes."""
        parts = []
        for start in range(0, len(genes), CHUNK_GENES):
            chunk = [self.codes(r)[genes[start:start + CHUNK_GENES]] for r in self.regions]
            if torch.is_grad_enabled() and len(genes) > CHUNK_GENES:
                parts.append(checkpoint(self._raw_codes, *chunk, use_reentrant=False))
            else:
                parts.append(self._raw_codes(*chunk))
        if not parts:
            return torch.zeros(0, self.out_dim, device=self.bias.device)
        return torch.cat(parts)

    def encode_genes(self, genes: torch.Tensor) -> torch.Tensor:
        """Vectors of ``genes`` from their windows (the norm sees the batch's genes together)."""
        return self.norm(self.raw_genes(genes))

    # --- GeneRepresentation --------------------------------------------------------------
    def forward(self, genes: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return F.embedding(genes, self.all())
        return self.encode_genes(genes)

    def all(self) -> torch.Tensor:
        """Every gene's vector; cached in eval mode (computed without gradients)."""
        if self.training:
            return self.encode_genes(torch.arange(self.n_genes, device=self.bias.device))
        if self._cache is None:
            with torch.no_grad():
                self._cache = self.encode_genes(torch.arange(self.n_genes, device=self.bias.device)).float()
        return self._cache

    @torch.no_grad()
    def raw_all(self) -> torch.Tensor:
        """Every gene's pooled values before the norm (eval mode: cached): column block
        ``r`` of the max-pooled activations (shared view) is ``[2·filters·r, 2·filters·r + filters)``."""
        if self.training or self._raw_cache is None:
            raw = self.raw_genes(torch.arange(self.n_genes, device=self.bias.device)).float()
            if self.training:
                return raw
            self._raw_cache = raw
        return self._raw_cache

    def filter_parameters(self) -> list[nn.Parameter]:
        """The first layer (filters and their biases): trained at their own rate (--encoder-lr)."""
        return [self.weight, self.bias]

    def freeze(self) -> None:
        """Stop training the encoder: no gradients, eval mode for good (BatchNorm on its running
        statistics), so every gene's vector is computed once and reused by every later step."""
        self.requires_grad_(False)
        self.frozen = True
        self.eval()

    def train(self, mode: bool = True) -> SeqEncoder:
        if self.frozen:
            return super().train(False)
        self._cache = self._raw_cache = None
        return super().train(mode)

    def _load_from_state_dict(self, *args, **kwargs) -> None:
        self._cache = self._raw_cache = None
        super()._load_from_state_dict(*args, **kwargs)


def _max_and_top(act: torch.Tensor) -> torch.Tensor:
    """(u, sites, filters) activations → (u, 2·filters): the max and the mean of the TOP_K
    largest per filter."""
    top = act.topk(min(TOP_K, act.shape[1]), dim=1).values
    return torch.cat([top[:, 0], top.mean(1)], dim=1)
