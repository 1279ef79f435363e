"""DCell (Ma et al., Nature Methods 2018): a visible neural network shaped by the Gene Ontology.

Term construction (``build_ontology``), the rules chosen here:

1. Terms: every non-obsolete GO term given (all three namespaces unless the caller filters).
   Edges: ``is_a`` and ``part_of`` (child → parent), both treated as containment.
2. Annotations: every (gene, term) pair given (all evidence codes; the ingest already drops
   ``NOT`` qualifiers) is propagated upward: a gene annotated to a term belongs to all of its
   ancestors.
3. Size filter: keep terms with at least ``min_genes`` genes after propagation (default 6).
   Genes of dropped small terms reach the model through their nearest kept ancestor.
4. Collapse redundancy: a kept term whose gene set equals the gene set of one of its kept
   children is removed; its children attach to its kept parents (chains of identical sets
   keep only the lowest term).
5. The DAG between kept terms links each term to its nearest kept ancestors. When more than one
   root remains (e.g. the three GO namespaces) a synthetic ``ROOT`` term joins them.
6. A term's gene inputs are its genes not covered by any kept child (the genes "directly"
   annotated at that level after steps 2-4); unannotated genes are invisible to DCell (a pair
   with one of them is predicted from the other gene alone), as in the paper.
7. Levels: leaves are level 0; a term's level is one more than its highest child. Terms run
   leaves → root level by level.

Each term t is a subsystem: input = binary deletion states of its direct genes (1 = deleted)
concatenated with its children's outputs; Linear → BatchNorm → Tanh of width
max(20, ceil(0.3 · genes(t))); weights initialised uniformly in ±0.001. Every term has a
linear head predicting fitness; the root's head is the model's output. Loss =
RMSE(root) + α · Σ_t MSE(head_t), α = 0.3.

Batched: all terms of a level (split into groups of similar size so padding stays small) run
as one batched matmul over the whole batch of strains; nothing loops over samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from cre_core.models.base import FitnessModel, set_mask

ROOT = "ROOT"


@dataclass
class Ontology:
    """Kept terms in run order (level by level, leaves first) and their wiring.

    ``direct[t]`` gene indices fed to term t; ``children[t]`` term indices (all earlier in the
    order); ``size[t]`` genes annotated to t or its descendants; ``root`` the last term.
    """

    terms: list[str]
    direct: list[list[int]]
    children: list[list[int]]
    size: list[int]
    level: list[int]

    @property
    def root(self) -> int:
        return len(self.terms) - 1

    def to_dict(self) -> dict:
        return {"terms": self.terms, "direct": self.direct, "children": self.children,
                "size": self.size, "level": self.level}

    @classmethod
    def from_dict(cls, d: dict) -> Ontology:
        return cls(list(d["terms"]), [list(x) for x in d["direct"]],
                   [list(x) for x in d["children"]], list(d["size"]), list(d["level"]))


def build_ontology(
    genes: list[str], terms: list[str], edges: list[tuple[str, str]],
    annotations: list[tuple[str, str]], min_genes: int = 6,
) -> Ontology:
    """The DCell term hierarchy (rules in the module docstring).

    Args:
        genes: gene vocabulary; gene indices in the result index this list.
        terms: non-obsolete GO ids.
        edges: (child, parent) pairs (is_a and part_of).
        annotations: (gene, go_id) pairs.
        min_genes: smallest propagated gene count a term needs to be kept.

    Raises:
        ValueError: when no term has ``min_genes`` genes.
    """
    gene_index = {g: i for i, g in enumerate(genes)}
    term_set = set(terms)
    parents: dict[str, set[str]] = {t: set() for t in term_set}
    for child, parent in edges:
        if child in term_set and parent in term_set and child != parent:
            parents[child].add(parent)

    # 2. propagate annotations upward; gene sets are Python ints used as bitsets
    direct_bits: dict[str, int] = {}
    for gene, term in annotations:
        if gene in gene_index and term in term_set:
            direct_bits[term] = direct_bits.get(term, 0) | (1 << gene_index[gene])
    bits: dict[str, int] = {}
    for term in _ancestor_closure_order(direct_bits, parents):
        bits[term] = bits.get(term, 0) | direct_bits.get(term, 0)
    # push each term's set to its parents in topological order (children before parents)
    for term in _topological(bits.keys(), parents):
        for parent in parents[term]:
            bits[parent] = bits.get(parent, 0) | bits[term]

    # 3. size filter
    kept0 = {t for t, b in bits.items() if b.bit_count() >= min_genes}
    if not kept0:
        raise ValueError(f"no GO term has {min_genes} or more annotated genes")

    # 4. collapse terms identical to a kept child
    kept_children0 = _kept_children(kept0, parents)
    redundant = {t for t in kept0 if any(bits[c] == bits[t] for c in kept_children0.get(t, ()))}
    kept = kept0 - redundant
    kids = _kept_children(kept, parents)

    # 5. single root
    has_parent = {c for cs in kids.values() for c in cs}
    roots = sorted(t for t in kept if t not in has_parent)
    if len(roots) > 1:
        kids[ROOT] = set(roots)
        bits[ROOT] = 0
        for r in roots:
            bits[ROOT] |= bits[r]
        kept.add(ROOT)

    # 7. levels, then order: by level, then id (deterministic)
    level: dict[str, int] = {}
    for term in _topological(kept, {t: set() for t in kept}, kids):
        level[term] = 1 + max((level[c] for c in kids.get(term, ())), default=-1)
    order = sorted(kept, key=lambda t: (level[t], t == ROOT, t))
    pos = {t: i for i, t in enumerate(order)}

    direct, children = [], []
    for term in order:
        covered = 0
        for c in kids.get(term, ()):
            covered |= bits[c]
        direct.append(_bit_indices(bits[term] & ~covered))
        children.append(sorted(pos[c] for c in kids.get(term, ())))
    return Ontology(
        terms=order, direct=direct, children=children,
        size=[bits[t].bit_count() for t in order], level=[level[t] for t in order],
    )


def _bit_indices(b: int) -> list[int]:
    out, i = [], 0
    while b:
        low = b & -b
        i = low.bit_length() - 1
        out.append(i)
        b ^= low
    return out


def _ancestor_closure_order(seeds: dict[str, int], parents: dict[str, set[str]]) -> list[str]:
    """Every term that is annotated or an ancestor of an annotated term."""
    seen: set[str] = set()
    stack = list(seeds)
    while stack:
        t = stack.pop()
        if t in seen:
            continue
        seen.add(t)
        stack.extend(parents[t])
    return sorted(seen)


def _topological(nodes, parents: dict[str, set[str]], children: dict | None = None) -> list[str]:
    """Children before parents among ``nodes`` (Kahn's algorithm; cycles are ignored)."""
    nodes = set(nodes)
    if children is None:
        children = {}
        for t in nodes:
            for p in parents.get(t, ()):
                if p in nodes:
                    children.setdefault(p, set()).add(t)
    pending = {t: len([c for c in children.get(t, ()) if c in nodes]) for t in nodes}
    up: dict[str, set[str]] = {t: set() for t in nodes}
    for t in nodes:
        for c in children.get(t, ()):
            if c in nodes:
                up[c].add(t)
    ready = sorted(t for t, n in pending.items() if n == 0)
    out = []
    while ready:
        t = ready.pop()
        out.append(t)
        for p in up[t]:
            pending[p] -= 1
            if pending[p] == 0:
                ready.append(p)
    return out


def _kept_children(kept: set[str], parents: dict[str, set[str]]) -> dict[str, set[str]]:
    """For each kept term, the kept terms whose nearest kept ancestors include it."""
    memo: dict[str, set[str]] = {}

    def nearest(t: str, stack: frozenset = frozenset()) -> set[str]:
        if t in memo:
            return memo[t]
        out: set[str] = set()
        for p in parents.get(t, ()):
            if p in stack:
                continue
            out |= {p} if p in kept else nearest(p, stack | {t})
        memo[t] = out
        return out

    kids: dict[str, set[str]] = {}
    for t in kept:
        for p in nearest(t):
            kids.setdefault(p, set()).add(t)
    return kids


class _Group(nn.Module):
    """A group of terms of one level run together: padded batched Linear → BN → Tanh + heads."""

    def __init__(self, in_dims: list[int], widths: list[int]) -> None:
        super().__init__()
        t, i_max, w_max = len(in_dims), max(in_dims), max(widths)
        self.weight = nn.Parameter(torch.empty(t, i_max, w_max).uniform_(-0.001, 0.001))
        self.bias = nn.Parameter(torch.empty(t, w_max).uniform_(-0.001, 0.001))
        self.bn = nn.BatchNorm1d(t * w_max)
        self.head_w = nn.Parameter(torch.empty(t, w_max).uniform_(-0.001, 0.001))
        self.head_b = nn.Parameter(torch.zeros(t))
        unit = torch.zeros(t, w_max, dtype=torch.bool)
        for k, w in enumerate(widths):
            unit[k, :w] = True
        self.register_buffer("unit_mask", unit, persistent=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, T, I) → unit outputs (B, T, W) (padding units 0) and head outputs (B, T)."""
        h = torch.einsum("bti,tiw->btw", x, self.weight) + self.bias
        b, t, w = h.shape
        h = torch.tanh(self.bn(h.reshape(b, t * w)).reshape(b, t, w))
        h = h * self.unit_mask.to(h.dtype)
        return h, (h * self.head_w).sum(-1) + self.head_b


class DCell(FitnessModel):
    """DCell over an :class:`Ontology`; input is the set of deleted gene indices."""

    def __init__(self, n_genes: int, ontology: Ontology, alpha: float = 0.3, group_size: int = 256) -> None:
        super().__init__()
        self.n_genes, self.alpha, self.ontology = n_genes, alpha, ontology
        widths = [max(20, math.ceil(0.3 * s)) for s in ontology.size]
        n_terms = len(ontology.terms)
        # state layout: [gene states (n_genes) | zero slot | term units, in the order groups run]
        zero = n_genes
        offset = [0] * n_terms
        start = n_genes + 1
        groups, gather, term_ids = nn.ModuleList(), [], []
        self.level_groups: list[list[int]] = []
        for lv in sorted(set(ontology.level)):
            members = [t for t in range(n_terms) if ontology.level[t] == lv]
            ids = []
            for chunk in _size_groups(members, ontology, widths, group_size):
                inputs = []
                for t in chunk:
                    src = list(ontology.direct[t])
                    for c in ontology.children[t]:
                        src += range(offset[c], offset[c] + widths[c])
                    inputs.append(src)
                in_dims = [max(1, len(s)) for s in inputs]
                index = torch.full((len(chunk), max(in_dims)), zero, dtype=torch.long)
                for k, src in enumerate(inputs):
                    if src:
                        index[k, :len(src)] = torch.tensor(src, dtype=torch.long)
                for t in chunk:                       # units are appended in this order
                    offset[t] = start
                    start += widths[t]
                ids.append(len(groups))
                groups.append(_Group(in_dims, [widths[t] for t in chunk]))
                gather.append(index)
                term_ids.append(chunk)
            self.level_groups.append(ids)
        self.state_size = start
        self.groups = groups
        for k, index in enumerate(gather):
            self.register_buffer(f"gather_{k}", index, persistent=False)
        self.term_ids = term_ids
        self.widths, self.offset = widths, offset
        self.root_group = next(k for k, ids in enumerate(term_ids) if ontology.root in ids)
        self.root_pos = term_ids[self.root_group].index(ontology.root)

    def eval_rows(self, default: int) -> int:
        return max(64, min(default, (1 << 24) // self.state_size))

    def init_output(self, mean: float) -> None:
        with torch.no_grad():
            for g in self.groups:
                g.head_b.fill_(mean)

    def terms_forward(self, idx: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Root prediction (B,) and every group's head outputs."""
        b = idx.shape[0]
        mask = set_mask(idx)
        dtype = self.groups[0].weight.dtype
        genes = torch.zeros(b, self.n_genes + 1, dtype=dtype, device=idx.device)
        rows = torch.arange(b, device=idx.device).unsqueeze(1).expand_as(idx)
        genes[rows[mask], idx[mask]] = 1.0
        state = genes
        heads: list[torch.Tensor] = []
        for ids in self.level_groups:
            outs = []
            for k in ids:
                index = getattr(self, f"gather_{k}")
                x = state[:, index]                                   # (B, T, I)
                h, head = self.groups[k](x)
                heads.append(head)
                outs.append(h[:, self.groups[k].unit_mask])           # real units, term order
            state = torch.cat([state, *outs], dim=1)
        root = heads[self.root_group][:, self.root_pos]
        return root, heads

    def predict(self, idx: torch.Tensor) -> torch.Tensor:
        return self.terms_forward(idx)[0]

    def forward(self, idx: torch.Tensor, target: torch.Tensor | None = None) -> dict:
        root, heads = self.terms_forward(idx)
        out = {"pred": root.float()}
        if target is not None:
            t = target.float()
            root_mse = F.mse_loss(root.float(), t)
            aux = sum(((h.float() - t.unsqueeze(1)) ** 2).mean(0).sum() for h in heads)
            out["loss"] = torch.sqrt(root_mse + 1e-12) + self.alpha * aux
            out["root_mse"] = root_mse.detach()
        return out


def _size_groups(members: list[int], onto: Ontology, widths: list[int], size: int) -> list[list[int]]:
    """Split one level's terms into groups of similar input and width (bounded padding)."""
    def in_dim(t: int) -> int:
        return len(onto.direct[t]) + sum(widths[c] for c in onto.children[t])

    ordered = sorted(members, key=lambda t: (in_dim(t) * widths[t], t))
    groups: list[list[int]] = []
    current: list[int] = []
    real = 0
    for t in ordered:
        cost = max(1, in_dim(t)) * widths[t]
        if current:
            group = current + [t]
            padded = (len(current) + 1) * max(max(1, in_dim(x)) for x in group) * max(widths[x] for x in group)
            if len(current) >= size or padded > 2 * (real + cost):
                groups.append(current)
                current, real = [], 0
        current.append(t)
        real += cost
    if current:
        groups.append(current)
    return groups
