"""The interaction model: fitness of a gene set as single-mutant fitness times, plus explicit ε/τ.

For a set D of deleted genes (1-3 in the data, any size at query time)::

    f̂(D) = Π_{g∈D} ŝ_g  +  Σ_{a<b ∈ D} ε̂_ab · Π_{c∈D∖{a,b}} ŝ_c  +  Σ_{a<b<c ∈ D} τ̂_abc · Π_{rest} ŝ

which for a double is ŝ_a ŝ_b + ε̂_ab and for a triple is Kuzmin et al.'s (2018) definition of
τ: f_abc = f_a f_b f_c + ε_ab f_c + ε_ac f_b + ε_bc f_a + τ_abc.

- ŝ_g, the single-mutant fitness: with ``smf_aware`` the measured SMF where the store has one
  (the multiplicative baseline's information), else a head on the gene's representation; without
  (``sequence-only``) always the head: the honest choice for genes never measured. The head
  learns from the single mutants of the training set in both modes.
- ε̂_ab = Σ_k w_k u_ak u_bk + b₂: a symmetric bilinear form of per-gene vectors u (any symmetric
  bilinear form is diagonal in some basis, so a signed diagonal ``w`` loses nothing at rank r).
  It sees the two genes jointly: "same module → negative" is a rank-(number of modules) form,
  which a pooled sum followed by ρ has to rediscover from a sum that mixes both genes.
- τ̂_abc = Σ_k v_k t_ak t_bk t_ck + b₃: the symmetric trilinear analogue for triples.

The ŝ head reads a trunk φ over the gene representation (a
:class:`~cre_core.embed.genes.GeneRepresentation`: a feature table of kmer / words / SpeciesLM /
random-control embeddings, learned per-gene vectors (``--embedder id``), or a trainable sequence encoder), evaluated
once per unique gene of a batch (:func:`~cre_core.models.deepset.per_slot`). u and t come from
the same trunk (``pair_from="trunk"``) or straight from the representation by one linear map
(``"features"``): ε̂ is then a low-rank bilinear form of the two genes' features, xₐᵀ W x_b.
Why the second: a trunk of hidden layers can give every training gene its own u (it has more
parameters than there are genes) and so memorise partners by identity; a linear map of motif
counts can only say which motifs interact, which is what carries over to genes never seen.

Loss: MSE on fitness plus ``interaction_weight`` × MSE of the set's own term (ε̂ for a double,
τ̂ for a triple) against the measured interaction score where one exists, plus, in the SMF-aware
mode, MSE of the ŝ head on the batch's single mutants (whose prediction is otherwise the
measured value itself, with no gradient).

A partner scan is exact and cheap: ŝ, u of every gene once, then f̂(g, p) = ŝ_g ŝ_p + (w ⊙ u_g)·u_p
+ b₂ for all p (one mat-vec).
"""

from __future__ import annotations

from itertools import combinations

import torch
from torch import nn
from torch.nn import functional as F

from cre_core.embed.genes import FeatureTable, GeneRepresentation
from cre_core.models.base import FitnessModel, phi_net, set_mask
from cre_core.models.deepset import per_slot


class InteractionModel(FitnessModel):
    smf: torch.Tensor
    """Π ŝ + pairwise ε̂ + triple τ̂ over a gene representation (module docstring).

    Args:
        genes: the gene representation (maps gene indices to vectors).
        hidden / phi_layers / norm / dropout: the shared trunk φ.
        rank: width of the pairwise (u) and triple (t) vectors.
        smf: measured single-mutant fitness per gene (NaN = not measured); stored with the model.
        smf_aware: use measured SMF for ŝ where present (else always the head).
        interaction_weight: weight of the ε/τ loss.
        pair_from: "trunk" (u, t from φ) or "features" (u, t linear in the representation).
        pair_decay: AdamW weight decay of that linear map and of the ε/τ weights (features only).
    """

    uses_interaction = True

    def __init__(
        self, genes: GeneRepresentation, hidden: int = 128, phi_layers: int = 2, rank: int = 32,
        norm: str = "none", dropout: float = 0.0, smf: torch.Tensor | None = None,
        smf_aware: bool = True, interaction_weight: float = 5.0, pair_from: str = "features",
        pair_decay: float = 1.0,
    ) -> None:
        super().__init__()
        self.genes, self.n_genes, self.rank = genes, genes.n_genes, rank
        self.reads_measured_smf, self.interaction_weight = smf_aware, interaction_weight
        if pair_from not in PAIR_FROM:
            raise ValueError(f"pair_from must be one of {PAIR_FROM}, not {pair_from!r}")
        self.pair_from, self.pair_decay = pair_from, pair_decay
        self.phi = phi_net(genes.trunk_dim, hidden, phi_layers, norm, dropout)
        linear = pair_from == "features"
        # ŝ | u (pairs) | t (triples): all from φ, or ŝ from φ and u | t from the representation
        self.heads = nn.Linear(hidden, 1 if linear else 1 + 2 * rank)
        self.pair_map = nn.Linear(genes.pair_dim, 2 * rank) if linear else None
        self.pair_w = nn.Parameter(torch.zeros(rank))
        self.triple_w = nn.Parameter(torch.zeros(rank))
        self.pair_b = nn.Parameter(torch.zeros(()))
        self.triple_b = nn.Parameter(torch.zeros(()))
        smf = torch.full((self.n_genes,), float("nan")) if smf is None else smf.float().clone()
        self.register_buffer("smf", smf)
        self._cache: torch.Tensor | None = None

    # --- per gene --------------------------------------------------------------------------
    def representation(self) -> nn.Module:
        return self.genes

    def set_features(self, features: torch.Tensor) -> None:
        """Install the feature table of a :class:`FeatureTable` representation."""
        if not isinstance(self.genes, FeatureTable):
            raise ValueError(f"{type(self.genes).__name__} has no feature table")
        self.genes.set_features(features)
        self._cache = None

    def gene_outputs(self, genes: torch.Tensor) -> torch.Tensor:
        """(u, 1 + 2·rank): predicted SMF, pair vector, triple vector of each gene."""
        return self._outputs(self.genes(genes))

    def all_outputs(self) -> torch.Tensor:
        return self._outputs(self.genes.all())

    def _outputs(self, rep: torch.Tensor) -> torch.Tensor:
        out = self.heads(self.phi(rep[..., self.genes.trunk_columns]))
        if self.pair_map is None:
            return out
        return torch.cat([out, self.pair_map(rep[..., self.genes.pair_columns])], dim=-1)

    def pair_inputs(self) -> torch.Tensor:
        """Every gene's input to the features pair map, (n_genes, pair_dim): what ε̂ is a
        bilinear form of (the representation's ``pair_columns``)."""
        return self.genes.all()[:, self.genes.pair_columns]

    def param_groups(self, weight_decay: float) -> list[dict]:
        """The linear pair map and the ε/τ weights decay by ``pair_decay``, the rest as asked."""
        if self.pair_map is None:
            return super().param_groups(weight_decay)
        pair = {id(p) for p in (*self.pair_map.parameters(), self.pair_w, self.triple_w)}
        params = [p for p in self.parameters() if p.requires_grad]
        return [{"params": [p for p in params if id(p) in pair], "weight_decay": self.pair_decay},
                {"params": [p for p in params if id(p) not in pair], "weight_decay": weight_decay}]

    @torch.no_grad()
    def install_pair_map(self, vectors: torch.Tensor, weights: torch.Tensor, bias: float) -> None:
        """Set ε̂ to Σ_k weights_k (v_k·x̃ₐ)(v_k·x̃_b) + bias for x̃ = [x, 1] (vectors (D+1, k),
        k ≤ rank; the rest of the u block is zeroed); the triple block t is kept."""
        if self.pair_map is None:
            raise ValueError("only the features pair map (pair_from='features') can be installed")
        k = vectors.shape[1]
        weight, b = self.pair_map.weight, self.pair_map.bias
        weight[:self.rank].zero_()
        b[:self.rank].zero_()
        self.pair_w.zero_()
        weight[:k] = vectors[:-1].T.to(weight)
        b[:k] = vectors[-1].to(b)
        self.pair_w[:k] = weights.to(self.pair_w)
        self.pair_b.fill_(bias)
        self._cache = None

    def train(self, mode: bool = True) -> InteractionModel:
        self._cache = None
        return super().train(mode)

    def init_output(self, mean: float) -> None:
        """Start ŝ at the mean measured SMF (or the training mean) and ε̂, τ̂ at 0."""
        measured = self.smf[torch.isfinite(self.smf)]
        start = float(measured.mean()) if measured.numel() else mean
        with torch.no_grad():
            self.heads.bias[0].fill_(start)
            self.pair_w.zero_()
            self.triple_w.zero_()

    def singles(self, idx: torch.Tensor, head: torch.Tensor) -> torch.Tensor:
        """ŝ per slot: measured SMF where known (SMF-aware), else the head; 1 at padding."""
        s = head
        if self.reads_measured_smf:
            measured = F.embedding(idx.clamp(min=0), self.smf.unsqueeze(1)).squeeze(-1)
            s = torch.where(torch.isfinite(measured), measured.to(head.dtype), head)
        return torch.where(set_mask(idx), s, torch.ones_like(s))

    # --- sets ------------------------------------------------------------------------------
    def terms(self, idx: torch.Tensor) -> dict[str, torch.Tensor]:
        """``pred`` (B,), ``interaction`` (B,: the set's own ε̂ or τ̂, 0 for singles), ``head`` (B, K)."""
        out = per_slot(idx, self.n_genes, self.gene_outputs, self.all_outputs,   # (B, K, 1+2r)
                       whole=self.genes.cheap_all or not self.training)
        present = set_mask(idx)
        head, u, t = out.split([1, self.rank, self.rank], dim=-1)
        head = head.squeeze(-1)
        s = self.singles(idx, head)
        k = idx.shape[1]
        pred = s.prod(1)
        sums = []
        for order, vectors, weight, bias in ((2, u, self.pair_w, self.pair_b), (3, t, self.triple_w, self.triple_b)):
            members, rest = _combos(k, order, idx.device)
            if members.shape[0] == 0:
                sums.append(torch.zeros_like(pred))
                continue
            # every combination at once: index_select (advanced indexing is several times
            # slower on the CPU), not a slice per combination
            prod = vectors.index_select(1, members[:, 0])
            for j in range(1, order):
                prod = prod * vectors.index_select(1, members[:, j])
            term = (prod * weight).sum(-1) + bias                                 # (B, C)
            full = _gather(present, members).all(-1)
            term = torch.where(full, term, torch.zeros_like(term))
            pred = pred + (term * _gather(s, rest).prod(-1)).sum(1)               # Π ŝ of the rest
            sums.append(term.sum(1))
        size = present.sum(1)
        interaction = torch.where(size == 2, sums[0], torch.where(size == 3, sums[1], torch.zeros_like(pred)))
        return {"pred": pred, "interaction": interaction, "head": head}

    def predict(self, idx: torch.Tensor) -> torch.Tensor:
        return self.terms(idx)["pred"]

    def forward(self, idx: torch.Tensor, target: torch.Tensor | None = None,
                interaction: torch.Tensor | None = None) -> dict:
        parts = self.terms(idx)
        out = {"pred": parts["pred"].float(), "interaction": parts["interaction"].float()}
        if target is None:
            return out
        loss = F.mse_loss(out["pred"], target)
        if interaction is not None:
            loss = loss + self.interaction_weight * masked_mse(
                out["interaction"], interaction, torch.isfinite(interaction))
        if self.reads_measured_smf:
            loss = loss + masked_mse(parts["head"][:, 0].float(), target, set_mask(idx).sum(1) == 1)
        out["loss"] = loss
        return out

    # --- scans -----------------------------------------------------------------------------
    @torch.no_grad()
    def cached_outputs(self) -> torch.Tensor:
        """Every gene's outputs once per eval-mode model (scans); ŝ column already resolved."""
        if self._cache is None or self.training:
            out = self.all_outputs().float()
            genes = torch.arange(self.n_genes, device=out.device).unsqueeze(1)
            out[:, 0] = self.singles(genes, out[:, :1]).squeeze(1)
            self._cache = out
        return self._cache

    @torch.no_grad()
    def scan(self, gene: int, n_genes: int, chunk: int = 0) -> torch.Tensor:
        out = self.cached_outputs()
        s, u = out[:, 0], out[:, 1:1 + self.rank]
        return s[gene] * s + u @ (self.pair_w * u[gene]) + self.pair_b


PAIR_FROM = ("features", "trunk")


def masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """MSE over the rows where ``mask`` holds (0 when none): no boolean indexing, so no
    nonzero() and no host sync in the training step."""
    diff = torch.where(mask, pred - torch.nan_to_num(target), torch.zeros_like(pred))
    return (diff * diff).sum() / mask.sum().clamp(min=1)


def _combos(k: int, order: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Slot combinations of ``order`` among ``k`` slots (C, order) and the other slots (C, k - order)."""
    members = list(combinations(range(k), order))
    rest = [[c for c in range(k) if c not in m] for m in members]
    return (torch.tensor(members, dtype=torch.long, device=device).reshape(len(members), order),
            torch.tensor(rest, dtype=torch.long, device=device).reshape(len(members), max(k - order, 0)))


def _gather(x: torch.Tensor, slots: torch.Tensor) -> torch.Tensor:
    """``x[:, slots]`` for a (B, K) tensor and (C, m) slot numbers: (B, C, m)."""
    return x.index_select(1, slots.reshape(-1)).reshape(x.shape[0], *slots.shape)
