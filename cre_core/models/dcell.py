"""DCell (Ma et al., Nature Methods 2018): a visible neural network shaped by the Gene Ontology.

The term hierarchy (an :class:`Ontology` the caller builds: ``cre_core.data.go`` holds the rules) fixes
the wiring. Each term t is a subsystem: input = binary deletion states of its direct genes (1 = deleted)
concatenated with its children's outputs; Linear → BatchNorm → Tanh of width
max(20, ceil(0.3 · genes(t))); weights initialised uniformly in ±0.001. Every term has a
linear head predicting fitness; the root's head is the model's output. Loss =
RMSE(root) + α · Σ_t MSE(head_t), α = 0.3.

Batched: all terms of a level (split into groups of similar size so padding stays small) run
as one batched matmul; each term computes only the strains that delete one of its genes, plus
one row shared by all the others (``DCell.terms_forward`` says why this is exact). A term that
runs alone (the big ones near the root) multiplies its children's own rows where that costs fewer
multiply-adds than its rows' whole inputs (:class:`_DeltaProduct`; bench/RESULTS.md, "DCell:
near-root terms from their children's rows").

Precision ``bf16`` runs the products of the big groups (``BF16_MIN`` weights or more) in bf16,
forward and backward (:class:`_Bf16Product`); everything else stays fp32.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Protocol, cast

import torch
from torch import nn
from torch.nn import functional as F

from cre_core.errors import CreError
from cre_core.models.base import FitnessModel, set_mask


class Ontology(Protocol):
    """The term wiring DCell is built on, made by the caller (``cre_core.data.go.build_ontology``):
    kept terms level by level, leaves first, the root last."""

    terms: list[str]
    direct: list[list[int]]
    children: list[list[int]]
    size: list[int]
    level: list[int]

    @property
    def root(self) -> int: ...

    def gene_sets(self) -> list[set[int]]: ...

DELTA_SAVES = 0.0      # share of a one-term group's multiply-adds its delta form must save (DCell._delta;
                       # 0 measured fastest of -0.3 to 0.5 on the real GO; tests set it below 0)
ALONE = 1 << 17        # weights of a term that runs in a group of its own (see _size_groups)
PRECISIONS = ("fp32", "bf16")
BF16_MIN = 1 << 16     # weights of a group whose products run in bf16 under precision bf16
PROCESS_BYTES = 500_000_000   # a training process before its model (measured: ~0.5 GB RSS)


class _Bf16Product(torch.autograd.Function):
    """``bias + x @ weight`` (batched over terms) whose three products run in bf16.

    Why: on a CPU with AMX (Sapphire Rapids) oneDNN's bf16 products are several times faster
    than fp32, but autocast made the whole step slower (per-op casts, fp32 backward
    products). Here the weight is cast once per step (into the group's reused bf16 copy: a fresh
    cast of the big weights page-faults its memory every step) and kept for the backward, the inputs
    and outputs stay in the caller's dtype, so the master weights, their gradients (bf16
    products of fp32 sums, returned as fp32) and the BatchNorm statistics stay fp32.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, w16: torch.Tensor) -> torch.Tensor:
        x16 = x.to(torch.bfloat16)
        w16.copy_(weight)
        # oneDNN is slow when a product's left operand is a transposed view: keep xᵀ laid out
        # for the weight gradient (5% of the step at full GO scale, measured)
        ctx.save_for_backward(x16.transpose(1, 2).contiguous(), w16)
        ctx.dtypes = x.dtype, weight.dtype
        return torch.bmm(x16, w16).to(x.dtype).add_(bias.unsqueeze(1))

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor, None]:
        x16t, w16 = ctx.saved_tensors
        x_dtype, w_dtype = ctx.dtypes
        g16 = grad.to(torch.bfloat16)
        grad_x = None
        if ctx.needs_input_grad[0]:       # as (W gᵀ)ᵀ, for the same reason
            grad_x = torch.bmm(w16, g16.transpose(1, 2)).transpose(1, 2).to(
                x_dtype, memory_format=torch.contiguous_format)
        grad_w = torch.bmm(x16t, g16).to(w_dtype)
        return grad_x, grad_w, grad.sum(1), None


@dataclass
class _Rows:
    """A one-term group's input (1, N, I), read row by row: its direct genes' slots (0/1), then
    each child's units, ``rows[j]`` picking child j's row for each of the term's rows.

    Why: the big terms near the root (one to a group) read millions of inputs a step; copying
    whole rows of a child (and adding whole rows back in the backward) costs a fraction of an
    index per input.
    """

    direct: torch.Tensor | None                 # (N, D), or None without direct genes
    blocks: list[tuple[int, int, int, int]]     # per child: (start in the store, rows, stride, width)
    rows: torch.Tensor                          # (children, N)

    def read(self, store: torch.Tensor) -> torch.Tensor:
        parts = [] if self.direct is None else [self.direct]
        for block, rows in zip(self.blocks, self.rows):
            parts.append(_block(store, *block).index_select(0, rows))
        return torch.cat(parts, 1).unsqueeze(0)

    def add_back(self, out: torch.Tensor, grad: torch.Tensor) -> None:
        at = 0 if self.direct is None else self.direct.shape[1]
        for block, rows in zip(self.blocks, self.rows):
            width = block[3]
            # a contiguous source: index_add_ from a column slice runs ~3x slower (measured)
            _block(out, *block).index_add_(0, rows, grad[0, :, at:at + width].contiguous())
            at += width


def _block(store: torch.Tensor, start: int, rows: int, stride: int, width: int) -> torch.Tensor:
    """A group's compact rows of one term in the store, as a (rows, width) view (the group's
    stride is its padded width)."""
    return store[start:start + rows * stride].view(rows, stride)[:, :width]


@dataclass
class _Blocks:
    """A delta term's children (:class:`_DeltaProduct`), each as its own compact rows, shared row
    first: (start in the store, rows, stride, width) per child, read as one flat vector."""

    blocks: list[tuple[int, int, int, int]]

    def read(self, store: torch.Tensor) -> torch.Tensor:
        return torch.cat([_block(store, *block).reshape(-1) for block in self.blocks])

    def add_back(self, out: torch.Tensor, grad: torch.Tensor) -> None:
        at = 0
        for block in self.blocks:
            n, w = block[1], block[3]
            _block(out, *block).add_(grad[at:at + n * w].view(n, w))
            at += n * w


@dataclass
class _Delta:
    """Where a delta term's inputs go: per child, its slot in the term's input, its width and
    the term's row of each of its strain rows; the deleted direct genes as (row, slot)."""

    rows: int                                   # the term's rows (shared row, strains, padding)
    first_child: int                            # input slot of the first child (after direct genes)
    children: list[tuple[int, int, torch.Tensor]]   # per child: (input slot, width, term row per strain row)
    direct_rows: torch.Tensor
    direct_slots: torch.Tensor


class _DeltaProduct(torch.autograd.Function):
    """``bias + x @ weight`` of a one-term group from its children's compact rows.

    Why: a strain's input to term t differs from the shared row's only in the children it touches
    (and its deleted direct genes), so z_n = z₀ + Σ_c (h_c,n − h_c,0) W_c + Σ_deleted W_g, where
    z₀ = b + x₀ W is the shared row's. Every strain that touches a child c touches t (c's genes are
    t's), so child c's rows multiply W_c once each: Σ_c rows(c) · width(c) inputs a term instead
    of rows(t) · inputs(t). Near the root, where every strain touches the term but only a few of
    its children, that is about half the multiply-adds, and no per-input gather.
    """

    @staticmethod
    def forward(ctx, flat: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, plan: _Delta) -> torch.Tensor:
        w = weight[0]
        blocks = _child_blocks(flat, plan)
        x0 = torch.cat([b[0] for b in blocks])
        z0 = torch.addmv(bias[0], w[plan.first_child:plan.first_child + len(x0)].t(), x0)
        z = z0.expand(plan.rows, -1).contiguous()
        diffs: list[torch.Tensor | None] = []
        for (slot, width, rows), block in zip(plan.children, blocks):
            if len(rows):
                d = block[1:] - block[0]
                z.index_add_(0, rows, d @ w[slot:slot + width])
                diffs.append(d.t().contiguous())          # for the weight gradient, laid out
            else:
                diffs.append(None)
        if len(plan.direct_rows):
            z.index_add_(0, plan.direct_rows, w.index_select(0, plan.direct_slots))
        ctx.save_for_backward(weight, *(b[0] for b in blocks))
        ctx.diffs, ctx.plan, ctx.flat_shape = diffs, plan, flat.shape
        return z.unsqueeze(0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        weight, *shared = ctx.saved_tensors
        plan: _Delta = ctx.plan
        g = grad[0]
        total = g.sum(0)
        w = weight[0]
        grad_w = torch.empty_like(weight)
        gw = grad_w[0]
        gw[:plan.first_child].zero_()
        grad_flat = grad.new_empty(ctx.flat_shape)
        for (slot, width, rows), h0, d_t, out in zip(plan.children, shared, ctx.diffs,
                                                      _child_blocks(grad_flat, plan)):
            torch.outer(h0, total, out=gw[slot:slot + width])
            out[0] = w[slot:slot + width] @ total
            if len(rows):
                g_rows = g.index_select(0, rows)
                gw[slot:slot + width] += d_t @ g_rows
                torch.mm(g_rows, w[slot:slot + width].t(), out=out[1:])
                out[0] -= out[1:].sum(0)
        if len(plan.direct_rows):
            gw.index_add_(0, plan.direct_slots, g.index_select(0, plan.direct_rows))
        return grad_flat, grad_w, total.unsqueeze(0), None


def _child_blocks(flat: torch.Tensor, plan: _Delta) -> list[torch.Tensor]:
    """The flat vector of :class:`_Blocks` as each child's (rows, width) block."""
    out, at = [], 0
    for _, width, rows in plan.children:
        n = 1 + len(rows)
        out.append(flat[at:at + n * width].view(n, width))
        at += n * width
    return out


class _Gather(torch.autograd.Function):
    """A level's inputs, gathered from the store that holds every unit output below it: by an
    index per input (groups of several terms) or row by row (:class:`_Rows`).

    Why a store: each group's output is copied into one preallocated vector as it is computed
    (concatenating them level by level copied the growing vector at every level), and the
    backward fills one gradient vector per level, not one per group (each ``index_select``'s
    backward zero-fills a gradient as long as the whole vector), whose slices go back, as
    views, to the outputs this level reads (``sources``, at ``spans`` (offset, length)).
    """

    @staticmethod
    def forward(ctx, store: torch.Tensor, spans: list[tuple[int, int]], reads: list[torch.Tensor | _Rows],
                *sources: torch.Tensor) -> tuple[torch.Tensor, ...]:
        ctx.reads, ctx.spans, ctx.shapes = reads, spans, [h.shape for h in sources]
        ctx.size = max((o + n for o, n in spans), default=2)
        return tuple(r.read(store) if isinstance(r, (_Rows, _Blocks))
                     else store.index_select(0, r.reshape(-1)).view(r.shape) for r in reads)

    @staticmethod
    def backward(ctx, *grads: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        out = grads[0].new_empty(ctx.size)       # zeroed where read: the sources' spans, the two constants
        out[:2].zero_()
        for o, n in ctx.spans:
            out[o:o + n].zero_()
        for read, grad in zip(ctx.reads, grads):
            if isinstance(read, (_Rows, _Blocks)):
                read.add_back(out, grad)
            else:
                out.index_add_(0, read.reshape(-1), grad.reshape(-1))
        views = [out[o:o + n].view(shape) for (o, n), shape in zip(ctx.spans, ctx.shapes)]
        return (None, None, None, *views)


class _NormTanhHeads(torch.autograd.Function):
    """A group's BatchNorm (weighted batch statistics) → Tanh → heads, with a hand-written backward.

    Why: autograd ran these as ~25 small ops per group forward and backward (about a third of a
    step at full GO scale); the backward in closed form needs a few passes over (T, N, W).
    Rows stand for ``share`` of the batch each, so with s_n = share, ẑ = (z − μ)·r, r = 1/√(σ² + ε),
    μ = Σ s z and σ² = Σ s (z − μ)², the gradient is dz = rγ (g − s (Σ g + ẑ Σ g ẑ)), g = ∂L/∂(γẑ + β)
    summed over rows (a row's gradient already sums the strains it stands for). Padding units
    have γ = β = 0 here (so tanh gives 0) and get no parameter gradient.
    """

    @staticmethod
    def forward(ctx, z: torch.Tensor, share: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor,
                mask: torch.Tensor, head_w: torch.Tensor, head_b: torch.Tensor, eps: float):
        with torch.autocast(z.device.type, enabled=False):                     # statistics in z's dtype
            mean = torch.bmm(share.unsqueeze(1), z)                             # (T, 1, W)
            zh = z - mean
            var = torch.bmm(share.unsqueeze(1), zh.square())
            r = torch.rsqrt(var + eps)
            zh.mul_(r)
            gamma_m = gamma * mask
            h, head = _tanh_heads(zh, gamma_m, beta * mask, head_w, head_b)
        ctx.save_for_backward(zh, h, r, share, gamma_m, mask, head_w)
        mean, var = mean.squeeze(1), var.squeeze(1)                             # for the running statistics
        ctx.mark_non_differentiable(mean, var)
        return h, head, mean, var

    @staticmethod
    def backward(ctx, grad_h, grad_head, _mean, _var):
        zh, h, r, share, gamma_m, mask, head_w = ctx.saved_tensors
        g = torch.zeros_like(h) if grad_h is None else grad_h.contiguous()
        grad_head = grad_head.unsqueeze(2)                                       # (T, N, 1)
        grad_head_w = torch.bmm(grad_head.transpose(1, 2), h).squeeze(1)
        g = torch.baddbmm(g, grad_head, head_w.unsqueeze(1))
        g = torch.ops.aten.tanh_backward(g, h)                                  # ∂L/∂(γẑ + β)
        g_beta = g.sum(1)
        g_gamma = (g * zh).sum(1)
        coef = share.unsqueeze(2) * torch.addcmul(g_beta.unsqueeze(1), zh, g_gamma.unsqueeze(1))
        grad_z = (g - coef).mul_((r.squeeze(1) * gamma_m).unsqueeze(1))
        return (grad_z, None, g_gamma * mask, g_beta * mask, None, grad_head_w, grad_head.sum((1, 2)),
                None)


def _tanh_heads(zh: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, head_w: torch.Tensor,
                head_b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised pre-activations ẑ (T, N, W) → unit outputs tanh(γẑ + β) (0 where γ = β = 0:
    the padding units) and the terms' heads (T, N)."""
    h = torch.addcmul(beta.unsqueeze(1), zh, gamma.unsqueeze(1)).tanh_()
    return h, torch.baddbmm(head_b.view(-1, 1, 1), h, head_w.unsqueeze(2)).squeeze(2)


class _Group(nn.Module):
    """A group of terms of one level run together: padded batched Linear → BN → Tanh + heads."""

    unit_mask: torch.Tensor                  # buffer, declared for the type checker

    def __init__(self, in_dims: list[int], widths: list[int], bf16: bool = False) -> None:
        super().__init__()
        t, i_max, w_max = len(in_dims), max(in_dims), max(widths)
        self.bf16 = bf16
        self.weight16: torch.Tensor | None = None            # bf16 products: their weight copy
        self.weight = nn.Parameter(torch.empty(t, i_max, w_max).uniform_(-0.001, 0.001))
        self.bias = nn.Parameter(torch.empty(t, w_max).uniform_(-0.001, 0.001))
        self.bn = nn.BatchNorm1d(t * w_max)
        self.head_w = nn.Parameter(torch.empty(t, w_max).uniform_(-0.001, 0.001))
        self.head_b = nn.Parameter(torch.zeros(t))
        unit = torch.zeros(t, w_max)
        for k, w in enumerate(widths):
            unit[k, :w] = 1.0
        self.register_buffer("unit_mask", unit, persistent=False)

    def forward(self, x: torch.Tensor | tuple[torch.Tensor, _Delta], row_weight: torch.Tensor,
                batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """x (T, N, I) compact rows, or a one-term group's children's rows with their
        :class:`_Delta` → unit outputs (T, N, W) (padding units 0), heads (T, N).

        Row n of term t stands for ``row_weight[t, n]`` strains of the batch of ``batch``: row 0
        for every strain that deletes none of t's genes (they all see the same input), the
        others for one strain each, padding rows for none. The BatchNorm statistics are those
        of the full batch, so this equals BatchNorm1d over one row per strain.
        """
        if self.bf16 and (self.weight16 is None or self.weight16.device != self.weight.device):
            self.weight16 = torch.empty_like(self.weight, dtype=torch.bfloat16)
        if isinstance(x, tuple):
            z = cast(torch.Tensor, _DeltaProduct.apply(x[0], self.weight, self.bias, x[1]))
        elif self.bf16:
            z = cast(torch.Tensor, _Bf16Product.apply(x, self.weight, self.bias, self.weight16))
        else:
            z = torch.baddbmm(self.bias.unsqueeze(1), x, self.weight)
        z = z.to(torch.promote_types(z.dtype, torch.float32))             # bf16 matmul (CUDA amp), fp32 stats
        t, _, w = z.shape
        bn = self.bn
        # BatchNorm1d built with the defaults (running stats tracked, momentum 0.1) has all of them
        assert bn.running_mean is not None and bn.running_var is not None
        assert bn.num_batches_tracked is not None and bn.momentum is not None
        mask = self.unit_mask.to(z.dtype)
        if not self.training:
            zh = (z - bn.running_mean.view(t, 1, w)) * torch.rsqrt(bn.running_var.view(t, 1, w) + bn.eps)
            with torch.autocast(z.device.type, enabled=False):                 # heads in z's dtype
                return _tanh_heads(zh, bn.weight.view(t, w) * mask, bn.bias.view(t, w) * mask, self.head_w,
                                   self.head_b)
        h, head, mean, var = _NormTanhHeads.apply(
            z, (row_weight / batch).to(z.dtype), bn.weight.view(t, w), bn.bias.view(t, w), mask,
            self.head_w, self.head_b, bn.eps)
        with torch.no_grad():
            m = bn.momentum
            bn.running_mean.mul_(1 - m).add_(mean.reshape(-1).float(), alpha=m)
            bn.running_var.mul_(1 - m).add_(var.reshape(-1).float(), alpha=m * batch / max(batch - 1, 1))
            bn.num_batches_tracked += 1
        return h, head


class DCell(FitnessModel):
    """DCell over an :class:`Ontology`; input is the set of deleted gene indices."""

    # buffers, declared for the type checker (also kids_k, src_kid_k, src_unit_k per group k)
    run_order: torch.Tensor
    stride: torch.Tensor
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
        widths = term_widths(ontology)
        n_terms = len(ontology.terms)
        dummy = n_terms                      # "no term": start 0 (the zero slot), width 0
        groups, term_ids, sources = nn.ModuleList(), [], []
        direct_of: list[list[tuple[int, int]]] = [[] for _ in range(n_genes + 1)]
        self.level_groups: list[list[int]] = []
        for level in _levels(ontology, widths, group_size):
            ids = []
            for chunk in level:
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
        self.term_group, self.term_pos = group_of, group_pos
        self.group_shape = [(len(c), max(widths[t] for t in c)) for c in term_ids]      # (terms, width)
        run_pos = {t: i for i, t in enumerate(run_order)}
        self.term_run = [run_pos.get(t, 0) for t in range(n_terms)]
        runs_of: list[list[int]] = [[] for _ in range(n_genes + 1)]      # run positions of its terms
        for t, genes in enumerate(ontology.gene_sets()):
            for g in genes:
                runs_of[g].append(run_pos[t])
        buffers = {
            "run_order": torch.tensor(run_order, dtype=torch.long),
            # a term's row stride in the store: its group's (padded) width; 0 for "no term"
            "stride": torch.tensor([self.group_shape[group_of[t]][1] for t in range(n_terms)] + [0],
                                   dtype=torch.long),
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
        # the groups each level reads its children's outputs from
        self.level_sources = [sorted({group_of[c] for k in ids for t in term_ids[k] for c in ontology.children[t]})
                              for ids in self.level_groups]

    def eval_rows(self, default: int) -> int:
        return max(64, min(default, (1 << 24) // self.max_in))

    def init_output(self, mean: float) -> None:
        with torch.no_grad():
            for g in self.groups:
                cast(_Group, g).head_b.fill_(mean)

    def terms_forward(self, idx: torch.Tensor) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]]]:
        """Root prediction (B,) and every group's heads on its compact rows: (heads (T, N),
        strain of each row (T, N); B for the shared row and padding rows)."""
        root, heads, _ = self._run(idx)
        return root, heads

    def term_states(self, idx: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Every GO term's state for a batch of genotypes ``idx`` (B, K), in ``ontology.terms``
        order: each term's subsystem output (B, width of the term) and every term's head
        prediction of fitness (B, terms).

        Why: DCell's point is that its hidden units are named subsystems; an explanation reads
        which terms a deletion moves away from the wild type. Runs in the model's current mode
        (``eval()`` for the running statistics; train mode uses the batch's own) and keeps the
        graph unless called under ``torch.no_grad()``. Costs B × (all terms' units) floats.
        """
        b = idx.shape[0]
        _, heads, units = self._run(idx)
        outputs: dict[int, torch.Tensor] = {}
        columns: dict[int, torch.Tensor] = {}
        for k, ((head, strain), h) in enumerate(zip(heads, units)):
            per_unit = _per_strain(h, strain, b)                                # (T, B, W)
            per_head = _per_strain(head.unsqueeze(2), strain, b)[..., 0]       # (T, B)
            for p, t in enumerate(self.term_ids[k]):
                outputs[t] = per_unit[p, :, :self.widths[t]]
                columns[t] = per_head[p]
        order = range(len(self.widths))
        return [outputs[t] for t in order], torch.stack([columns[t] for t in order], 1)

    def _run(self, idx: torch.Tensor) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]],
                                                list[torch.Tensor]]:
        """``terms_forward``'s root and heads, and every group's unit outputs (T, N, W).

        Why compact rows: a strain that deletes none of a term's genes gives that term the same
        input as every other such strain, so each term computes one shared row for them plus
        one row per strain that touches it (a pair touches ~1% of the leaves; only the terms
        near the root see every strain). A group's rows are padded to one count (``_bucket``)
        and its output (T, N, W) is copied as it is to its place in one store, level by level; a
        parent's input is an index gather from it (padding rows and units are never read).
        """
        b = idx.shape[0]
        n_terms = len(self.widths)
        dev = idx.device
        genes = torch.where(set_mask(idx), idx, self.n_genes)                  # PAD → no gene
        # which strains touch which terms, in run order (terms of group k at group_runs[k]...)
        touched = torch.zeros(n_terms + 1, b, dtype=torch.bool, device=dev)
        touched.scatter_(0, self.gene_runs[genes].reshape(b, -1).t(), True)
        at, strains = touched[:n_terms].nonzero(as_tuple=True)                 # sorted by run position
        count = touched[:n_terms].sum(1)                                        # strains per term
        ends = count.cumsum(0)
        ranks = torch.arange(len(at), device=dev) - (ends - count)[at] + 1
        # row of strain s in term t's block: 1 + its rank among t's strains, 0 = the shared row
        row = torch.zeros(n_terms + 1, b + 1, dtype=torch.long, device=dev)
        row[self.run_order[at], strains] = ranks
        counts, firsts = count.tolist(), [0] + ends.tolist()                   # one sync, not one a group
        rows_of = [_bucket(1 + max(counts[lo:hi]), 1 + b) for lo, hi in itertools.pairwise(self.group_runs)]
        blocks = [t * n * w for (t, w), n in zip(self.group_shape, rows_of)]
        offsets = [2 + o - n for o, n in zip(itertools.accumulate(blocks), blocks)]    # slots 0, 1: 0, 1
        rows = torch.tensor(rows_of, dtype=torch.long, device=dev)
        g_of = self.group_of[:n_terms]
        start = torch.zeros(n_terms + 1, dtype=torch.long, device=dev)
        start[:n_terms] = (torch.tensor(offsets, dtype=torch.long, device=dev)[g_of]
                           + self.group_pos[:n_terms] * rows[g_of] * self.stride[:n_terms])
        d_term = self.gene_direct_term[genes]                                   # (B, K, D)
        keep = d_term < n_terms
        d_strain = torch.arange(b, device=dev).view(b, 1, 1).expand_as(d_term)[keep]
        d_term, d_slot = d_term[keep], self.gene_direct_slot[genes][keep]
        # deleted direct genes, split by group (one host sync, not one a group)
        order = torch.argsort(self.group_of[d_term], stable=True)
        per_group = torch.bincount(self.group_of[d_term], minlength=len(self.groups)).tolist()
        direct = [v[order].split(per_group) for v in (d_term, d_strain, d_slot)]

        dtype = cast(_Group, self.groups[0]).weight.dtype
        store = torch.empty(offsets[self.root_group], dtype=dtype, device=dev)   # the root's group runs last
        store[:2] = torch.tensor([0.0, 1.0])
        outputs: dict[int, torch.Tensor] = {}
        heads: list[tuple[torch.Tensor, torch.Tensor]] = []
        units: list[torch.Tensor] = []
        strain_of: dict[int, torch.Tensor] = {}
        for level, ids in enumerate(self.level_groups):
            plans = []
            reads: list[torch.Tensor | _Rows | _Blocks] = []
            for k in ids:
                lo, hi = self.group_runs[k], self.group_runs[k + 1]            # its run positions
                q, s, r = at[firsts[lo]:firsts[hi]] - lo, strains[firsts[lo]:firsts[hi]], ranks[firsts[lo]:firsts[hi]]
                strain = strain_of[k] = torch.full((hi - lo, rows_of[k]), b, dtype=torch.long, device=dev)
                strain[q, r] = s
                d_term, d_strain, d_slot = (v[k] for v in direct)
                delta = None
                if hi - lo == 1:
                    delta = self._delta(k, counts, rows_of, offsets, strain_of, row, d_strain, d_slot)
                    reads.append(delta[0] if delta else
                                 self._rows(k, strain[0], row, offsets, rows_of, d_strain, d_slot))
                else:
                    reads.append(self._index(k, strain, row, start, d_term, d_strain, d_slot))
                plans.append((k, count[lo:hi], strain, delta and delta[1]))
            sources = self.level_sources[level]
            spans = [(offsets[k], blocks[k]) for k in sources]
            xs = _Gather.apply(store, spans, reads, *[outputs[k] for k in sources])
            for (k, n_rows, strain, plan), x in zip(plans, xs):
                weight = (torch.arange(strain.shape[1], device=dev) <= n_rows.unsqueeze(1)).to(dtype)
                weight[:, 0] = b - n_rows
                h, head = cast(_Group, self.groups[k])((x, plan) if plan else x, weight, b)
                if k != self.root_group:
                    store[offsets[k]:offsets[k] + blocks[k]] = h.detach().reshape(-1)
                    outputs[k] = h
                heads.append((head, strain))
                units.append(h)
        root = heads[self.root_group][0][self.root_pos, row[self.ontology.root, :b]]
        return root, heads, units

    def _index(self, k: int, strain: torch.Tensor, row: torch.Tensor, start: torch.Tensor, d_term: torch.Tensor,
               d_strain: torch.Tensor, d_slot: torch.Tensor) -> torch.Tensor:
        """Group k's input as one store index per input (T, N, I); a deleted direct gene reads
        the store's slot of 1, an unused slot the slot of 0."""
        kids, src_kid = getattr(self, f"kids_{k}"), getattr(self, f"src_kid_{k}")
        # where each row's block of each child starts, then spread over the input slots
        kid = kids.unsqueeze(1)                                                 # (T, 1, C)
        first = start[kid] + row[kid, strain.unsqueeze(2)] * self.stride[kid]   # (T, N, C)
        t, n = strain.shape
        index = first.gather(2, src_kid.unsqueeze(1).expand(t, n, src_kid.shape[1]))
        index += getattr(self, f"src_unit_{k}").unsqueeze(1)                    # (T, N, I)
        if len(d_term):
            index[self.group_pos[d_term], row[d_term, d_strain], d_slot] = 1
        return index

    def _delta(self, k: int, counts: list[int], rows_of: list[int], offsets: list[int],
               strain_of: dict[int, torch.Tensor], row: torch.Tensor, d_strain: torch.Tensor,
               d_slot: torch.Tensor) -> tuple[_Blocks, _Delta] | None:
        """One-term group k's input as its children's own rows (:class:`_DeltaProduct`), or None
        where that would not save a ``DELTA_SAVES`` share of the multiply-adds of reading every
        strain's whole input."""
        t = self.term_ids[k][0]
        kids = self.ontology.children[t]
        n_in = _in_dim(self.ontology, self.widths, t)
        cost = n_in + sum(counts[self.term_run[c]] * self.widths[c] for c in kids)
        if not kids or cast(_Group, self.groups[k]).bf16 or cost > (1 - DELTA_SAVES) * rows_of[k] * n_in:
            return None
        blocks, children = [], []
        slot = n_direct = len(self.ontology.direct[t])
        for c in kids:
            g, p, n = self.term_group[c], self.term_pos[c], counts[self.term_run[c]]
            width = self.group_shape[g][1]
            blocks.append((offsets[g] + p * rows_of[g] * width, 1 + n, width, self.widths[c]))
            children.append((slot, self.widths[c], row[t, strain_of[g][p, 1:1 + n]]))
            slot += self.widths[c]
        # a gene listed twice in a set is deleted once
        key = torch.unique(row[t, d_strain] * max(1, n_direct) + d_slot)
        return _Blocks(blocks), _Delta(rows_of[k], n_direct, children, key // max(1, n_direct),
                                      key % max(1, n_direct))

    def _rows(self, k: int, strain: torch.Tensor, row: torch.Tensor, offsets: list[int], rows_of: list[int],
              d_strain: torch.Tensor, d_slot: torch.Tensor) -> _Rows:
        """One-term group k's input read row by row (:class:`_Rows`)."""
        t = self.term_ids[k][0]
        n_direct = len(self.ontology.direct[t])
        direct = None
        if n_direct:
            dtype = cast(_Group, self.groups[k]).weight.dtype
            direct = torch.zeros(len(strain), n_direct, dtype=dtype, device=strain.device)
            direct[row[t, d_strain], d_slot] = 1
        kids = self.ontology.children[t]
        blocks = []
        for c in kids:
            g = self.term_group[c]
            width = self.group_shape[g][1]
            blocks.append((offsets[g] + self.term_pos[c] * rows_of[g] * width, rows_of[g], width, self.widths[c]))
        return _Rows(direct, blocks, row[getattr(self, f"kids_{k}")[0, 1:]][:, strain])

    def strain_heads(self, idx: torch.Tensor) -> list[torch.Tensor]:
        """Every group's heads per strain, (B, terms of the group) each, in run order."""
        b = idx.shape[0]
        return [_per_strain(head.unsqueeze(2), strain, b)[..., 0].t() for head, strain in self.terms_forward(idx)[1]]

    def predict(self, idx: torch.Tensor) -> torch.Tensor:
        return self.terms_forward(idx)[0]

    def forward(self, idx: torch.Tensor, target: torch.Tensor | None = None) -> dict:
        root, heads = self.terms_forward(idx)
        out = {"pred": root.float()}
        if target is not None:
            t = target.float()
            root_mse = F.mse_loss(root.float(), t)
            out["loss"] = torch.sqrt(root_mse + 1e-12) + self.alpha * _heads_mse(heads, t)
            out["root_mse"] = root_mse.detach()
        return out


def _per_strain(rows: torch.Tensor, strain: torch.Tensor, b: int) -> torch.Tensor:
    """A group's compact rows (T, N, W) as one row per strain (T, B, W): the shared row for
    the strains that touch none of a term's genes, their own row for the others."""
    t, _, w = rows.shape
    full = rows[:, :1].expand(t, b, w).clone()
    term, n = (strain < b).nonzero(as_tuple=True)
    full[term, strain[term, n]] = rows[term, n]
    return full


def _heads_mse(heads: list[tuple[torch.Tensor, torch.Tensor]], target: torch.Tensor) -> torch.Tensor:
    """Σ over terms of the MSE of the term's head over the batch, from the compact rows.

    A term's shared row v₀ predicts every strain, and each strain that touches it swaps
    (v₀ − y)² for (v − y)² = (v₀ − y)² + (v − v₀)(v + v₀ − 2y); Σ (v₀ − y)² over the batch is
    B (v₀ − ȳ)² + Σ (y − ȳ)². No (batch, terms) table is built.
    """
    b = target.shape[0]
    mean = target.mean()
    spread = (target - mean).square().sum()
    y = torch.cat([target, target.new_zeros(1)])                               # index b: no strain
    total = target.new_zeros(())
    for head, strain in heads:
        head = head.float()
        v0 = head[:, :1]
        swap = (head - v0) * (head + v0 - 2 * y[strain]) * (strain < b)
        total = total + b * (v0 - mean).square().sum() + len(head) * spread + swap.sum()
    return total / b


def term_widths(onto: Ontology) -> list[int]:
    """Units of each term: max(20, ceil(0.3 · its genes)) (Ma et al. 2018; docs/dcell.md)."""
    return [max(20, math.ceil(0.3 * s)) for s in onto.size]


@dataclass
class Plan:
    """What a DCell over an ontology costs before it is built: shape, parameters (padding
    included: the groups' weights are padded blocks) and an estimate of training memory."""

    terms: int
    levels: int
    units: int
    parameters: int
    train_bytes: int               # estimate: weights, gradients, AdamW state, one step's activations

    def line(self) -> str:
        return (f"dcell ontology: {self.terms:,} terms, {self.levels} levels, {self.units:,} units, "
                f"{self.parameters:,} parameters, training needs ~{self.train_bytes / 1e9:.1f} GB")


def plan(onto: Ontology, batch: int, precision: str = "fp32", group_size: int = 256,
         genes_per_set: float = 2.0) -> Plan:
    """The shape and cost of ``DCell(..., onto)`` trained at ``batch`` strains a step.

    Memory: the process itself (Python, torch, the training data: ``PROCESS_BYTES``), 16 bytes
    a parameter (fp32 weight, gradient, AdamW's two moments), 2 more for the bf16 copies under
    bf16, and the step's activations: a term computes one row per strain that deletes one of its
    genes (expected: batch × genes_per_set × its share of the genes) plus one shared row, each
    row holding its input and a few copies of its units (forward and backward, 4 bytes each).
    Checked against measured peaks in bench/RESULTS.md ("DCell on the real Gene Ontology").
    """
    widths = term_widths(onto)
    n_counted = max(onto.size)
    params = bf16 = activations = 0
    for level in _levels(onto, widths, group_size):
        for chunk in level:
            t_count = len(chunk)
            i_max = max(max(1, _in_dim(onto, widths, t)) for t in chunk)
            w_max = max(widths[t] for t in chunk)
            weights = t_count * i_max * w_max
            params += weights + 4 * t_count * w_max + t_count     # bias, BN γ β, head w; head b
            bf16 += weights if precision == "bf16" and weights >= BF16_MIN else 0
            share = max(min(1.0, genes_per_set * onto.size[t] / n_counted) for t in chunk)
            activations += t_count * (1 + math.ceil(batch * share)) * (i_max + 6 * w_max)
    return Plan(len(onto.terms), max(onto.level) + 1, sum(widths), params,
                PROCESS_BYTES + 16 * params + 2 * bf16 + 4 * 2 * activations)


def check_fits(p: Plan, total: int, where: str) -> None:
    """Refuse (one line) an ontology whose training would not fit in the device's memory.

    The advice is fewer genes: the near-root terms grow with the square of the training genes,
    while a higher --dcell-min-genes moves the genes of dropped terms into their ancestors'
    direct inputs (on the real workspace 6 → 100 keeps 43.3M of 49.2M parameters).
    """
    if p.train_bytes > total:
        raise CreError(f"{p.line()}: more than {where}; train on fewer genes (--subset, --split-file) "
                       f"or lower --batch-size")


def _levels(onto: Ontology, widths: list[int], group_size: int) -> list[list[list[int]]]:
    """Each level's terms (leaves first) split into the groups that run together."""
    out = []
    for lv in sorted(set(onto.level)):
        members = [t for t in range(len(onto.terms)) if onto.level[t] == lv]
        out.append(_size_groups(members, onto, widths, group_size))
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
