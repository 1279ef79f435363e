"""DCell (Ma et al., Nature Methods 2018): a visible neural network shaped by the Gene Ontology.

The term hierarchy (:class:`~cre_core.data.go.Ontology`, rules in ``cre_core.data.go``) fixes the
wiring. Each term t is a subsystem: input = binary deletion states of its direct genes (1 = deleted)
concatenated with its children's outputs; Linear → BatchNorm → Tanh of width
max(20, ceil(0.3 · genes(t))); weights initialised uniformly in ±0.001. Every term has a
linear head predicting fitness; the root's head is the model's output. Loss =
RMSE(root) + α · Σ_t MSE(head_t), α = 0.3.

Batched: all terms of a level (split into groups of similar size so padding stays small) run
as one batched matmul; each term computes only the strains that delete one of its genes, plus
one row shared by all the others (``DCell.terms_forward`` says why this is exact).

Precision ``bf16`` runs the products of the big groups (``BF16_MIN`` weights or more) in bf16,
forward and backward (:class:`_Bf16Product`); everything else stays fp32.
"""

from __future__ import annotations

import itertools
import math
from typing import cast

import torch
from torch import nn
from torch.nn import functional as F

from cre_core.data.go import ROOT, Ontology, build_ontology  # noqa: F401  (re-exported)
from cre_core.models.base import FitnessModel, set_mask

ALONE = 1 << 17        # weights of a term that runs in a group of its own (see _size_groups)
PRECISIONS = ("fp32", "bf16")
BF16_MIN = 1 << 16     # weights of a group whose products run in bf16 under precision bf16


class _Bf16Product(torch.autograd.Function):
    """``bias + x @ weight`` (batched over terms) whose three products run in bf16.

    Why: on a CPU with AMX (Sapphire Rapids) oneDNN's bf16 products are several times faster
    than fp32, but autocast made the whole step slower (per-op casts, fp32 backward
    products). Here the weight is cast once per step and kept for the backward, the inputs
    and outputs stay in the caller's dtype, so the master weights, their gradients (bf16
    products of fp32 sums, returned as fp32) and the BatchNorm statistics stay fp32.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        x16, w16 = x.to(torch.bfloat16), weight.to(torch.bfloat16)
        # oneDNN is slow when a product's left operand is a transposed view: keep xᵀ laid out
        # for the weight gradient (5% of the step at full GO scale, measured)
        ctx.save_for_backward(x16.transpose(1, 2).contiguous(), w16)
        ctx.dtypes = x.dtype, weight.dtype
        return torch.bmm(x16, w16).to(x.dtype).add_(bias.unsqueeze(1))

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor]:
        x16t, w16 = ctx.saved_tensors
        x_dtype, w_dtype = ctx.dtypes
        g16 = grad.to(torch.bfloat16)
        grad_x = None
        if ctx.needs_input_grad[0]:       # as (W gᵀ)ᵀ, for the same reason
            grad_x = torch.bmm(w16, g16.transpose(1, 2)).transpose(1, 2).to(
                x_dtype, memory_format=torch.contiguous_format)
        grad_w = torch.bmm(x16t, g16).to(w_dtype)
        return grad_x, grad_w, grad.sum(1)


class _Gather(torch.autograd.Function):
    """Index gathers from one vector (a level's groups' inputs from the outputs below them).

    Why not one ``index_select`` per group: each one's backward zero-fills a gradient as long
    as the whole vector (millions of units at full GO scale) and autograd then sums them;
    here a level fills one.
    """

    @staticmethod
    def forward(ctx, flat: torch.Tensor, *indices: torch.Tensor) -> tuple[torch.Tensor, ...]:
        ctx.save_for_backward(*indices)
        ctx.size = flat.shape[0]
        return tuple(flat.index_select(0, i.reshape(-1)).view(i.shape) for i in indices)

    @staticmethod
    def backward(ctx, *grads: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        out = grads[0].new_zeros(ctx.size)
        for index, grad in zip(ctx.saved_tensors, grads):
            out.index_add_(0, index.reshape(-1), grad.reshape(-1))
        return (out, *[None] * len(grads))


class _Group(nn.Module):
    """A group of terms of one level run together: padded batched Linear → BN → Tanh + heads."""

    unit_mask: torch.Tensor                  # buffer, declared for the type checker

    def __init__(self, in_dims: list[int], widths: list[int], bf16: bool = False) -> None:
        super().__init__()
        t, i_max, w_max = len(in_dims), max(in_dims), max(widths)
        self.bf16 = bf16
        self.weight = nn.Parameter(torch.empty(t, i_max, w_max).uniform_(-0.001, 0.001))
        self.bias = nn.Parameter(torch.empty(t, w_max).uniform_(-0.001, 0.001))
        self.bn = nn.BatchNorm1d(t * w_max)
        self.head_w = nn.Parameter(torch.empty(t, w_max).uniform_(-0.001, 0.001))
        self.head_b = nn.Parameter(torch.zeros(t))
        unit = torch.zeros(t, w_max, dtype=torch.bool)
        for k, w in enumerate(widths):
            unit[k, :w] = True
        self.register_buffer("unit_mask", unit, persistent=False)

    def forward(self, x: torch.Tensor, row_weight: torch.Tensor, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """x (T, N, I) compact rows → unit outputs (T, N, W) (padding units 0), heads (T, N).

        Row n of term t stands for ``row_weight[t, n]`` strains of the batch of ``batch``: row 0
        for every strain that deletes none of t's genes (they all see the same input), the
        others for one strain each, padding rows for none. The BatchNorm statistics are those
        of the full batch, so this equals BatchNorm1d over one row per strain.
        """
        if self.bf16:
            z = cast(torch.Tensor, _Bf16Product.apply(x, self.weight, self.bias))
        else:
            z = torch.baddbmm(self.bias.unsqueeze(1), x, self.weight)
        z = z.to(torch.promote_types(z.dtype, torch.float32))             # bf16 matmul (CUDA amp), fp32 stats
        t, _, w = z.shape
        bn = self.bn
        # BatchNorm1d built with the defaults (running stats tracked, momentum 0.1) has all of them
        assert bn.running_mean is not None and bn.running_var is not None
        assert bn.num_batches_tracked is not None and bn.momentum is not None
        if self.training:
            share = (row_weight / batch).unsqueeze(1).to(z.dtype)                  # (T, 1, N)
            mean = torch.bmm(share, z).squeeze(1)
            var = torch.bmm(share, (z - mean.unsqueeze(1)).square()).squeeze(1)
            with torch.no_grad():
                m = bn.momentum
                bn.running_mean.mul_(1 - m).add_(mean.reshape(-1).detach().float(), alpha=m)
                unbiased = var.reshape(-1).detach().float() * (batch / max(batch - 1, 1))
                bn.running_var.mul_(1 - m).add_(unbiased, alpha=m)
                bn.num_batches_tracked += 1
        else:
            mean, var = bn.running_mean.view(t, w), bn.running_var.view(t, w)
        scale = torch.rsqrt(var + bn.eps) * bn.weight.view(t, w)
        h = torch.tanh((z - mean.unsqueeze(1)) * scale.unsqueeze(1) + bn.bias.view(t, 1, w))
        h = h * self.unit_mask.unsqueeze(1).to(h.dtype)
        return h, (h * self.head_w.unsqueeze(1)).sum(-1) + self.head_b.unsqueeze(1)


class DCell(FitnessModel):
    """DCell over an :class:`Ontology`; input is the set of deleted gene indices."""

    # buffers, declared for the type checker (also kids_k, src_kid_k, src_unit_k per group k)
    run_order: torch.Tensor
    width_ext: torch.Tensor
    group_of: torch.Tensor
    group_pos: torch.Tensor
    gene_runs: torch.Tensor
    gene_direct_term: torch.Tensor
    gene_direct_slot: torch.Tensor

    def __init__(self, n_genes: int, ontology: Ontology, alpha: float = 0.3, group_size: int = 256,
                 precision: str = "fp32") -> None:
        super().__init__()
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
        self.n_genes, self.alpha, self.ontology, self.precision = n_genes, alpha, ontology, precision
        widths = [max(20, math.ceil(0.3 * s)) for s in ontology.size]
        n_terms = len(ontology.terms)
        dummy = n_terms                      # "no term": start 0 (the zero slot), width 0
        groups, term_ids, sources = nn.ModuleList(), [], []
        direct_of: list[list[tuple[int, int]]] = [[] for _ in range(n_genes + 1)]
        self.level_groups: list[list[int]] = []
        for lv in sorted(set(ontology.level)):
            members = [t for t in range(n_terms) if ontology.level[t] == lv]
            ids = []
            for chunk in _size_groups(members, ontology, widths, group_size):
                in_dims = [max(1, _in_dim(ontology, widths, t)) for t in chunk]
                # input slot → (column of the term's child list, unit); column 0 is "no term"
                kids = _padded([[dummy] + ontology.children[t] for t in chunk], dummy)
                src_kid = torch.zeros((len(chunk), max(in_dims)), dtype=torch.long)
                src_unit = torch.zeros_like(src_kid)
                for k, t in enumerate(chunk):        # inputs: direct genes, then children's units
                    for slot, g in enumerate(ontology.direct[t]):
                        direct_of[g].append((t, slot))
                    slot = len(ontology.direct[t])
                    for j, c in enumerate(ontology.children[t], 1):
                        src_kid[k, slot:slot + widths[c]] = j
                        src_unit[k, slot:slot + widths[c]] = torch.arange(widths[c])
                        slot += widths[c]
                ids.append(len(groups))
                big = len(chunk) * max(in_dims) * max(widths[t] for t in chunk) >= BF16_MIN
                groups.append(_Group(in_dims, [widths[t] for t in chunk], precision == "bf16" and big))
                term_ids.append(chunk)
                sources.append((kids, src_kid, src_unit))
            self.level_groups.append(ids)
        self.groups, self.term_ids, self.widths = groups, term_ids, widths
        run_order = [t for chunk in term_ids for t in chunk]
        group_of, group_pos = [0] * (n_terms + 1), [0] * (n_terms + 1)
        for k, chunk in enumerate(term_ids):
            for p, t in enumerate(chunk):
                group_of[t], group_pos[t] = k, p
        run_pos = {t: i for i, t in enumerate(run_order)}
        runs_of: list[list[int]] = [[] for _ in range(n_genes + 1)]      # run positions of its terms
        for t, genes in enumerate(ontology.gene_sets()):
            for g in genes:
                runs_of[g].append(run_pos[t])
        buffers = {
            "run_order": torch.tensor(run_order, dtype=torch.long),
            "width_ext": torch.tensor(widths + [0], dtype=torch.long),
            "group_of": torch.tensor(group_of, dtype=torch.long),
            "group_pos": torch.tensor(group_pos, dtype=torch.long),
            "gene_runs": _padded(runs_of, n_terms),
            "gene_direct_term": _padded([[t for t, _ in d] for d in direct_of], dummy),
            "gene_direct_slot": _padded([[s for _, s in d] for d in direct_of], 0),
        }
        for k, (kids, src_kid, src_unit) in enumerate(sources):
            buffers[f"kids_{k}"], buffers[f"src_kid_{k}"], buffers[f"src_unit_{k}"] = kids, src_kid, src_unit
        for name, value in buffers.items():
            self.register_buffer(name, value, persistent=False)
        self.max_in = max(cast(_Group, g).weight.shape[1] for g in groups)
        self.root_group = group_of[ontology.root]
        self.root_pos = group_pos[ontology.root]
        self.group_runs = [0] + list(itertools.accumulate(len(c) for c in term_ids))  # run positions
        fed = {ontology.level[c] for kids_of in ontology.children for c in kids_of}
        self.level_fed = [lv in fed for lv in sorted(set(ontology.level))]     # some parent reads it

    def eval_rows(self, default: int) -> int:
        return max(64, min(default, (1 << 24) // self.max_in))

    def init_output(self, mean: float) -> None:
        with torch.no_grad():
            for g in self.groups:
                cast(_Group, g).head_b.fill_(mean)

    def terms_forward(self, idx: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Root prediction (B,) and every group's head outputs ((B, terms of the group) each).

        Why compact rows: a strain that deletes none of a term's genes gives that term the same
        input as every other such strain, so each term computes one shared row for them plus
        one row per strain that touches it (a pair touches ~1% of the leaves; only the terms
        near the root see every strain). Term outputs live in one flat vector, term by term
        (its shared row, then its strains' rows); a parent's input is an index gather from it.
        """
        b = idx.shape[0]
        n_terms = len(self.widths)
        genes = torch.where(set_mask(idx), idx, self.n_genes)                  # PAD → no gene
        # which strains touch which terms, in run order (terms of group k at group_runs[k]...)
        touched = torch.zeros(n_terms + 1, b, dtype=torch.bool, device=idx.device)
        touched.scatter_(0, self.gene_runs[genes].reshape(b, -1).t(), True)
        at, strains = touched[:n_terms].nonzero(as_tuple=True)                 # sorted by run position
        count = touched[:n_terms].sum(1)                                        # strains per term
        ends = count.cumsum(0)
        ranks = torch.arange(len(at), device=idx.device) - (ends - count)[at] + 1
        # row of strain s in term t's block: 1 + its rank among t's strains, 0 = the shared row
        row = torch.zeros(n_terms + 1, b + 1, dtype=torch.long, device=idx.device)
        row[self.run_order[at], strains] = ranks
        counts, firsts = count.tolist(), [0] + ends.tolist()                   # one sync, not one a group
        block = (1 + count) * self.width_ext[self.run_order]
        start = torch.zeros(n_terms + 1, dtype=torch.long, device=idx.device)
        start[self.run_order] = 2 + torch.cumsum(block, 0) - block              # slots 0, 1: 0, 1
        d_term = self.gene_direct_term[genes]                                   # (B, K, D)
        keep = d_term < n_terms
        d_strain = torch.arange(b, device=idx.device).view(b, 1, 1).expand_as(d_term)[keep]
        d_term, d_slot = d_term[keep], self.gene_direct_slot[genes][keep]
        d_group = self.group_of[d_term]

        dtype = cast(_Group, self.groups[0]).weight.dtype
        flat = torch.tensor([0.0, 1.0], dtype=dtype, device=idx.device)
        heads: list[torch.Tensor] = []
        for level, ids in enumerate(self.level_groups):
            plans, indices = [], []
            for k in ids:
                kids, src_kid = getattr(self, f"kids_{k}"), getattr(self, f"src_kid_{k}")
                lo, hi = self.group_runs[k], self.group_runs[k + 1]            # its run positions
                n_rows = count[lo:hi]
                q, s, r = at[firsts[lo]:firsts[hi]] - lo, strains[firsts[lo]:firsts[hi]], ranks[firsts[lo]:firsts[hi]]
                n_max = max(counts[lo:hi])
                strain = torch.full((hi - lo, _bucket(1 + n_max, 1 + b)), b, dtype=torch.long, device=idx.device)
                strain[q, r] = s
                # where each row's block of each child starts, then spread over the input slots
                kid = kids.unsqueeze(1)                                         # (T, 1, C)
                first = start[kid] + row[kid, strain.unsqueeze(2)] * self.width_ext[kid]   # (T, N, C)
                t_, n_, i_ = hi - lo, strain.shape[1], src_kid.shape[1]
                index = first.gather(2, src_kid.unsqueeze(1).expand(t_, n_, i_))
                index += getattr(self, f"src_unit_{k}").unsqueeze(1)            # (T, N, I)
                mine = d_group == k
                if bool(mine.any()):                 # deleted direct genes read the slot of 1
                    t = d_term[mine]
                    index[self.group_pos[t], row[t, d_strain[mine]], d_slot[mine]] = 1
                plans.append((k, n_rows, n_max, q, s, r, n_))
                indices.append(index)
            pieces = []
            for (k, n_rows, n_max, q, s, r, n_), x in zip(plans, _Gather.apply(flat, *indices)):
                group = cast(_Group, self.groups[k])
                real = torch.arange(n_, device=idx.device).unsqueeze(0) <= n_rows.unsqueeze(1)
                weight = real.to(dtype)
                weight[:, 0] = b - n_rows
                h, head = group(x, weight, b)
                if len(n_rows) == 1:                 # no padding units: a slice, not a mask
                    pieces.append(h[0, :1 + n_max].reshape(-1))
                else:
                    pieces.append(h[real.unsqueeze(2) & group.unit_mask.unsqueeze(1)])
                heads.append(head[:, 0].unsqueeze(0).expand(b, -1).index_put((s, q), head[q, r]))
            if self.level_fed[level]:                # not the root's level
                flat = torch.cat([flat, *pieces])
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


def _in_dim(onto: Ontology, widths: list[int], t: int) -> int:
    return len(onto.direct[t]) + sum(widths[c] for c in onto.children[t])


def _bucket(rows: int, most: int) -> int:
    """Rows rounded up: to a power of two up to 32, a multiple of 32 above, ``most`` (every
    strain of the batch, plus the shared row) above 7/8 of it.

    Why: oneDNN builds a bf16 product's kernel for each new shape (~100 ms for the root's,
    measured) and the rows of a term change with every batch; a few padded sizes are built
    once and reused, and the terms near the root (that see ~90% of the strains) get one.
    Padding rows read the shared rows and weigh 0 in the statistics.
    """
    if rows > most * 7 // 8:
        return most
    return 1 << (rows - 1).bit_length() if rows <= 32 else -(-rows // 32) * 32


def _padded(lists: list[list[int]], fill: int) -> torch.Tensor:
    """Ragged lists as one (len, longest) tensor padded with ``fill``."""
    out = torch.full((len(lists), max(1, max(map(len, lists)))), fill, dtype=torch.long)
    for i, values in enumerate(lists):
        out[i, :len(values)] = torch.tensor(values, dtype=torch.long)
    return out


def _size_groups(members: list[int], onto: Ontology, widths: list[int], size: int) -> list[list[int]]:
    """Split one level's terms into groups of similar input and width (bounded padding).

    A term of ``ALONE`` weights or more runs in a group of its own: padding it to a neighbour's
    shape would cost real multiplies (the GO's three namespace roots padded to the widest of
    them cost 1.5x their own weights), while one more group costs only a few small ops.
    """
    def in_dim(t: int) -> int:
        return _in_dim(onto, widths, t)

    ordered = sorted(members, key=lambda t: (in_dim(t) * widths[t], t))
    groups: list[list[int]] = []
    current: list[int] = []
    real = 0
    for t in ordered:
        cost = max(1, in_dim(t)) * widths[t]
        if current:
            members = current + [t]
            padded = (len(current) + 1) * max(max(1, in_dim(x)) for x in members) * max(
                widths[x] for x in members)
            if len(current) >= size or padded > 2 * (real + cost) or cost >= ALONE:
                groups.append(current)
                current, real = [], 0
        current.append(t)
        real += cost
    if current:
        groups.append(current)
    return groups
