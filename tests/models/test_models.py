"""Models: shapes for sets of 1..3 genes, exact wild-type anchoring, DCell construction and
batching against a per-term reference, baselines."""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator

import pytest
import torch
from torch.nn import functional as F

from cre_core.data.go import ROOT, build_ontology
from cre_core.models import (
    DCell,
    DeepSet,
    Multiplicative,
    dcell,
)
from cre_core.models.base import PAD
from cre_core.train import specs
from tests.models_support import build_model

G, DIM = 40, 10


def _model(name: str, norm: str = "none", pooling: str = "sum"):
    torch.manual_seed(0)
    onto = build_ontology([f"g{i}" for i in range(G)], ["R", "A", "B"], [("A", "R"), ("B", "R")],
                          [(f"g{i}", "A" if i < 20 else "B") for i in range(G)], min_genes=5)
    smf = torch.linspace(0.5, 1.0, G)
    m = build_model(name, G, in_dim=DIM, hidden=16, norm=norm, pooling=pooling, ontology=onto, smf=smf)
    if name in ("deepset", "wt-anchored", "wt-diff"):
        m.set_features(torch.randn(G, DIM))
    m.init_output(0.8)
    return m


SETS = torch.tensor([[3, PAD, PAD], [4, 5, PAD], [6, 7, 8], [9, 10, PAD]])


@pytest.mark.parametrize("name", specs.names())
def test_every_model_takes_sets_of_one_to_three_genes(name):
    m = _model(name, norm="batch" if name not in ("mean", "multiplicative") else "none")
    out = m(SETS, torch.rand(4))
    assert out["pred"].shape == (4,)
    assert out["loss"].ndim == 0 and torch.isfinite(out["loss"])
    if m.trainable:
        out["loss"].backward()
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in m.parameters())
    m.eval()
    with torch.no_grad():
        for k in (1, 2, 3):
            assert m.predict(SETS[:, :k].clamp(min=0)).shape == (4,)
        # padding columns do not change a prediction
        wide = torch.cat([SETS, torch.full((4, 2), PAD)], 1)
        assert torch.allclose(m.predict(wide), m.predict(SETS), atol=1e-6)


@pytest.mark.parametrize("norm", ["none", "batch", "layer"])
@pytest.mark.parametrize("pooling", ["sum", "mean"])
def test_wt_anchored_predicts_exactly_one_for_wild_type(norm, pooling):
    m = _model("wt-anchored", norm, pooling)
    opt = torch.optim.AdamW(m.parameters(), lr=0.05)
    wt = torch.full((2, 2), PAD)
    for _ in range(5):                                 # parameters move; the anchor holds
        out = m(SETS, torch.rand(4))
        assert out["wt_mean"].item() == 1.0 and out["wt_loss"].item() == 0.0
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
    assert m.predict(torch.cat([SETS[:, :2], wt])).tolist()[-2:] == [1.0, 1.0]
    m.eval()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert m.predict(torch.cat([SETS[:, :2], wt])).tolist()[-2:] == [1.0, 1.0]
    assert m.wt_prediction() == 1.0
    assert not torch.all(m.predict(SETS) == 1.0)


def test_wt_anchored_step_cost_does_not_touch_the_genome():
    """The forward only evaluates φ on the batch's genes (the feature table is never read whole)."""
    m = _model("wt-anchored")
    seen = []
    m.phi.register_forward_hook(lambda mod, inp, out: seen.append(inp[0].shape[0]))
    m(SETS[:2, :2], torch.rand(2))
    assert max(seen) <= 4 < G


@pytest.mark.parametrize("norm", ["none", "batch", "layer"])
@pytest.mark.parametrize("pooling", ["sum", "mean"])
def test_wt_diff_eval_shortcut_equals_whole_genome_pass(norm, pooling):
    m = _model("wt-diff", norm, pooling)
    m(SETS, torch.rand(4))["loss"].backward()          # one training pass (BN statistics move)
    m.eval()
    with torch.no_grad():
        z = m.set_embeddings(torch.cat([SETS, torch.full((1, 3), PAD)]))
        reference = m.rho(z[:-1] - z[-1:]).squeeze(-1)
        assert torch.allclose(m.predict(SETS), reference, atol=1e-5)
        pairs = torch.stack([torch.full((G,), 2), torch.arange(G)], 1)
        keep = torch.arange(G) != 2
        assert torch.allclose(m.scan(2, G)[keep], m.predict(pairs)[keep], atol=1e-5)


def test_wt_diff_batches_the_wild_type_and_reports_it():
    m = _model("wt-diff", "batch")
    out = m(SETS, torch.rand(4))
    assert out["pred"].shape == (4,) and 0 < out["wt_mean"].item() < 2
    warm = m(SETS[:0], torch.rand(0), wt_only=True)
    assert warm["pred"].shape == (0,)
    assert torch.isclose(warm["loss"], (warm["wt_mean"] - 1) ** 2, atol=1e-5)


def test_wt_diff_cost_grows_with_genome_under_batch_norm():
    m = _model("wt-diff", "batch")
    seen = []
    m.phi_rest.register_forward_hook(lambda mod, inp, out: seen.append(inp[0].shape[0]))
    m(SETS, torch.rand(4))
    assert seen[0] == 5 * G - 8                        # (4 sets + 1 wild type) × G minus 8 deleted


@pytest.mark.parametrize("norm", ["none", "layer"])
@pytest.mark.parametrize("pooling", ["sum", "mean"])
def test_wt_diff_per_node_training_step_equals_whole_genome_pass(norm, pooling):
    """Without BatchNorm φ(gene) is the same in every set: φ of the genome once gives the same
    loss and gradients as the seed's pass over every node of every set."""
    fast = _model("wt-diff", norm, pooling)
    slow = copy.deepcopy(fast)
    slow.per_node = False
    target = torch.rand(4)
    seen = []
    fast.phi_rest.register_forward_hook(lambda mod, inp, out: seen.append(inp[0].shape[0]))
    outs = [m(SETS, target) for m in (fast, slow)]
    assert seen == [G]                                 # one row per gene, not (4 + 1) × G
    assert torch.allclose(outs[0]["pred"], outs[1]["pred"], atol=1e-5)
    assert torch.allclose(outs[0]["loss"], outs[1]["loss"], atol=1e-6)
    for out in outs:
        out["loss"].backward()
    for (name, a), b in zip(fast.named_parameters(), slow.parameters()):
        assert torch.allclose(a.grad, b.grad, atol=1e-5, rtol=1e-4), name
    warm = fast(SETS[:0], torch.rand(0), wt_only=True)
    assert torch.isclose(warm["loss"], (warm["wt_mean"] - 1) ** 2, atol=1e-6)


def test_deepset_unique_and_whole_table_paths_agree():
    m = _model("deepset")
    m.eval()
    rows = []
    m.phi.register_forward_hook(lambda mod, inp, out: rows.append(inp[0].shape[0]))
    small = m.predict(SETS)                            # 12 slots < 40 genes: torch.unique path
    big = torch.cat([SETS, torch.randint(0, G, (30, 3))])
    assert torch.allclose(m.predict(big)[:4], small, atol=1e-6)
    assert rows[0] < G and rows[1] == G                # 102 slots >= 2 per gene: whole table


def test_deepset_scan_equals_forward_on_pairs():
    m = _model("deepset", "batch")
    m.eval()
    pairs = torch.stack([torch.full((G,), 7), torch.arange(G)], 1)
    assert torch.allclose(m.scan(7, G), m.predict(pairs), atol=1e-6)


def test_gene_id_has_no_feature_table():
    m = build_model("deepset", G, hidden=8, gene_dim=4, embedder="id")
    assert isinstance(m, DeepSet) and m.learned
    with pytest.raises(ValueError):
        m.set_features(torch.zeros(G, 4))


def test_feature_table_shape_is_checked():
    m = build_model("deepset", G, in_dim=DIM)
    with pytest.raises(ValueError, match="feature table"):
        m.set_features(torch.zeros(G, DIM + 1))


def test_multiplicative_uses_smf_and_documented_fallback():
    smf = torch.tensor([0.5, 0.8, float("nan"), 0.9])
    m = Multiplicative(smf)
    fallback = (0.5 + 0.8 + 0.9) / 3
    got = m.predict(torch.tensor([[0, 1, PAD], [0, 2, PAD], [0, 1, 3], [PAD, PAD, PAD]]))
    assert torch.allclose(got, torch.tensor([0.4, 0.5 * fallback, 0.36, 1.0]))
    assert m.fallback.item() == pytest.approx(fallback)


def test_mean_model():
    m = build_model("mean", G)
    m.init_output(0.7)
    assert m.predict(SETS).tolist() == pytest.approx([0.7] * 4)
    assert not m.trainable


# --- DCell -----------------------------------------------------------------------------------

# A tiny OBO-like graph:            ROOT1 (namespace P)      ROOT2 (namespace F)
#                                   /      \                      |
#                                  A        B (part_of)           F1 (same genes as ROOT2)
#                                 / \        \
#                                A1  A2       B1 (same genes as B: collapsed into B1)
#                                    |
#                                   A2x (2 genes: below min_genes, dropped)
TERMS = ["ROOT1", "A", "B", "A1", "A2", "A2x", "B1", "ROOT2", "F1", "OBSOLETE"]
EDGES = [("A", "ROOT1"), ("B", "ROOT1"), ("A1", "A"), ("A2", "A"), ("A2x", "A2"), ("B1", "B"),
         ("F1", "ROOT2")]
GENES = [f"g{i}" for i in range(30)]
ANN = ([(f"g{i}", "A1") for i in range(0, 6)] + [(f"g{i}", "A2") for i in range(6, 10)]
       + [(f"g{i}", "A2x") for i in range(10, 12)] + [(f"g{i}", "B1") for i in range(12, 19)]
       + [(f"g{i}", "F1") for i in range(19, 26)] + [("g0", "F1"), ("g29", "A")]
       + [("unknown", "A1"), ("g1", "NOT_A_TERM")])


def test_dcell_term_construction_rules():
    onto = build_ontology(GENES, TERMS, EDGES, ANN, min_genes=6)
    t = {name: i for i, name in enumerate(onto.terms)}
    # propagated sizes; A2 (4 + 2 genes from A2x) kept at 6, A2x dropped, B collapsed into B1
    # ROOT2 holds exactly F1's genes: collapsed into F1
    assert set(t) == {"A1", "A2", "B1", "A", "ROOT1", "F1", ROOT}
    assert onto.size[t["A2"]] == 6 and onto.size[t["A"]] == 13 and onto.size[t["B1"]] == 7
    # genes of a dropped child reach the nearest kept ancestor; g29 is fed directly to A
    assert sorted(onto.direct[t["A2"]]) == list(range(6, 12))
    assert onto.direct[t["A"]] == [29]
    assert onto.direct[t["ROOT1"]] == [] and onto.direct[t[ROOT]] == []
    # B1 hangs from ROOT1 directly (B removed); a synthetic root joins the two namespaces
    assert sorted(onto.children[t["ROOT1"]]) == sorted([t["A"], t["B1"]])
    assert sorted(onto.children[t[ROOT]]) == sorted([t["ROOT1"], t["F1"]])
    assert onto.root == t[ROOT] and onto.size[t[ROOT]] == 27
    # g0 is annotated in two branches and feeds both
    assert 0 in onto.direct[t["A1"]] and 0 in onto.direct[t["F1"]]
    # levels run leaves → root; every child comes before its parent
    assert onto.level[t["A1"]] == 0 and onto.level[t["A"]] == 1 and onto.level[t[ROOT]] == 3
    for i, kids in enumerate(onto.children):
        assert all(c < i for c in kids)


def test_dcell_single_namespace_needs_no_synthetic_root():
    onto = build_ontology(GENES, TERMS, EDGES, [a for a in ANN if a[1] != "F1"], min_genes=6)
    assert onto.terms[onto.root] == "ROOT1" and ROOT not in onto.terms


def test_dcell_min_genes_too_high():
    with pytest.raises(ValueError, match="no GO term"):
        build_ontology(GENES, TERMS, EDGES, ANN, min_genes=100)


def _reference_dcell(m: DCell, idx: torch.Tensor, target: torch.Tensor | None = None):
    """Term by term, in plain Python, one row per strain: the model's parameters sliced per term.

    Returns the root prediction, every term's head outputs, the loss (when ``target`` is given),
    each BatchNorm slice's running statistics after the batch (train mode updates copies) and
    every term's unit outputs.
    """
    onto = m.ontology
    b = idx.shape[0]
    dtype = m.groups[0].weight.dtype
    state = torch.zeros(b, m.n_genes, dtype=dtype)
    for r in range(b):
        for g in idx[r]:
            if g >= 0:
                state[r, g] = 1.0
    outputs, heads, stats = {}, {}, {}
    for k, chunk in enumerate(m.term_ids):
        grp = m.groups[k]
        w_max = grp.weight.shape[2]
        for pos, t in enumerate(chunk):
            width = m.widths[t]
            x = torch.cat([state[:, onto.direct[t]]] + [outputs[c] for c in onto.children[t]], 1)
            h = x @ grp.weight[pos, :x.shape[1], :width] + grp.bias[pos, :width]
            sl = slice(pos * w_max, pos * w_max + width)
            mean, var = grp.bn.running_mean[sl].clone(), grp.bn.running_var[sl].clone()
            h = torch.tanh(F.batch_norm(h, mean, var, grp.bn.weight[sl], grp.bn.bias[sl],
                                        training=m.training, momentum=grp.bn.momentum, eps=grp.bn.eps))
            outputs[t], stats[t] = h, (mean, var)
            heads[t] = h @ grp.head_w[pos, :width] + grp.head_b[pos]
    loss = None
    if target is not None:
        root_mse = ((heads[onto.root] - target) ** 2).mean()
        aux = sum(((heads[t] - target) ** 2).mean() for t in heads)
        loss = torch.sqrt(root_mse + 1e-12) + m.alpha * aux
    return heads[onto.root], heads, loss, stats, outputs


def _scrambled_dcell(precision: str = "fp32", group_size: int = 2) -> DCell:
    """A float64 DCell with several groups per level and non-trivial weights and statistics."""
    onto = build_ontology(GENES, TERMS, EDGES, ANN, min_genes=6)
    torch.manual_seed(0)
    m = DCell(len(GENES), onto, group_size=group_size, precision=precision).double()
    with torch.no_grad():
        for g in m.groups:
            g.weight.normal_(0, 0.3)
            g.head_w.normal_(0, 0.3)
            g.bn.weight.uniform_(0.5, 1.5)
            g.bn.bias.normal_(0, 0.2)
            g.bn.running_mean.normal_(0, 0.1)
            g.bn.running_var.uniform_(0.5, 2.0)
    return m


# wild type, a pair sharing a branch, a single, genes in no term (27, 28), a duplicate gene
DCELL_BATCH = torch.tensor([[0, 6], [12, 19], [29, PAD], [10, 11], [27, 28], [PAD, PAD], [0, 0],
                            [1, 2], [19, 25]])


def _heads_by_term(m: DCell, heads: list[torch.Tensor]) -> dict[int, torch.Tensor]:
    flat = torch.cat(heads, 1)
    return {t: flat[:, i] for i, t in enumerate(t for chunk in m.term_ids for t in chunk)}


@pytest.fixture(params=["groups", "delta"])
def layout(request, monkeypatch) -> Iterator[int]:
    """The group size of the model under test: groups of two terms (products over each strain's
    whole input), or one term a group with every term that has children in delta form
    (``DCell._delta``: products over the children's own rows)."""
    if request.param == "groups":
        yield 2
        return
    monkeypatch.setattr(dcell, "DELTA_SAVES", -1e9)
    runs = []
    real = dcell._DeltaProduct.forward
    monkeypatch.setattr(dcell._DeltaProduct, "forward", staticmethod(lambda *a: runs.append(1) or real(*a)))
    yield 1
    assert len(runs) >= 3                                 # A, ROOT1 and the synthetic root at least


def test_dcell_batched_forward_equals_per_term_reference(layout):
    m = _scrambled_dcell(group_size=layout).eval()
    root, heads = m.predict(DCELL_BATCH), m.strain_heads(DCELL_BATCH)
    ref_root, ref_heads, _, _, _ = _reference_dcell(m, DCELL_BATCH)
    assert torch.allclose(root, ref_root, atol=1e-10)
    mine = _heads_by_term(m, heads)
    assert set(mine) == set(ref_heads)
    for t in ref_heads:
        assert torch.allclose(mine[t], ref_heads[t], atol=1e-10), m.ontology.terms[t]
    # wild type and the unannotated pair see only the shared rows: the same prediction
    assert root[5] == root[4]


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_dcell_term_states_equal_per_term_reference(mode, layout):
    """Each term's subsystem output and head, one row per strain, in the ontology's term order."""
    m = _scrambled_dcell(group_size=layout).train(mode == "train")
    outputs, heads = m.term_states(DCELL_BATCH)
    _, ref_heads, _, _, ref_outputs = _reference_dcell(m, DCELL_BATCH)
    n_terms = len(m.ontology.terms)
    assert len(outputs) == n_terms and heads.shape == (len(DCELL_BATCH), n_terms)
    for t in range(n_terms):
        assert outputs[t].shape == (len(DCELL_BATCH), m.widths[t])
        assert torch.allclose(outputs[t], ref_outputs[t], atol=1e-10), m.ontology.terms[t]
        assert torch.allclose(heads[:, t], ref_heads[t], atol=1e-10), m.ontology.terms[t]
    if mode == "eval":
        assert torch.equal(heads[:, m.ontology.root], m.predict(DCELL_BATCH))
        # a deletion in A2 moves A2 and its ancestors only; the wild type (row 5) is the reference
        t = {name: i for i, name in enumerate(m.ontology.terms)}
        moved = {m.ontology.terms[i] for i in range(n_terms) if not torch.equal(outputs[i][3], outputs[i][5])}
        assert moved == {"A2", "A", "ROOT1", ROOT} and t["A2"] < t["A"] < t["ROOT1"] < t[ROOT]


def test_dcell_training_step_equals_per_term_reference(layout):
    """Train mode: batch statistics over every strain, loss, gradients and running statistics."""
    m = _scrambled_dcell(group_size=layout).train()
    target = torch.linspace(0.3, 1.1, len(DCELL_BATCH), dtype=torch.float64)
    before = {k: v.clone() for k, v in m.state_dict().items()}
    ref_root, _, ref_loss, ref_stats, _ = _reference_dcell(m, DCELL_BATCH, target)
    ref_loss.backward()
    ref_grads = {n: p.grad.clone() for n, p in m.named_parameters()}
    m.zero_grad()
    out = m(DCELL_BATCH, target)
    out["loss"].backward()
    # the loss is taken in float32 (as under bf16 autocast): compare to float32 precision
    assert out["loss"].item() == pytest.approx(ref_loss.item(), rel=1e-6)
    assert torch.allclose(out["pred"].double(), ref_root, atol=1e-6)
    for name, p in m.named_parameters():
        assert torch.allclose(p.grad, ref_grads[name], rtol=1e-5, atol=1e-7), name
    assert all(g.weight.grad.abs().max() > 1e-3 for g in m.groups)      # every term learns
    for k, chunk in enumerate(m.term_ids):
        bn, w_max = m.groups[k].bn, m.groups[k].weight.shape[2]
        for pos, t in enumerate(chunk):
            sl = slice(pos * w_max, pos * w_max + m.widths[t])
            assert torch.allclose(bn.running_mean[sl], ref_stats[t][0], atol=1e-12)
            assert torch.allclose(bn.running_var[sl], ref_stats[t][1], atol=1e-12)
            assert not torch.equal(bn.running_var[sl], before[f"groups.{k}.bn.running_var"][sl])


@pytest.fixture
def every_group_bf16(monkeypatch):
    """Precision bf16 on every group of the tiny ontology (it has no group of BF16_MIN weights)."""
    monkeypatch.setattr(dcell, "BF16_MIN", 0)


def test_dcell_bf16_products_stay_close_to_fp32(every_group_bf16, layout):
    """bf16 products (forward and backward) against the same model in fp32: within bf16's
    rounding (8 bits of mantissa), in train and eval mode."""
    exact = _scrambled_dcell(group_size=layout).float()
    fast = _scrambled_dcell("bf16", layout).float()
    assert all(g.bf16 for g in fast.groups) and not any(g.bf16 for g in exact.groups)
    target = torch.linspace(0.3, 1.1, len(DCELL_BATCH))
    out = {}
    for name, m in (("exact", exact), ("fast", fast)):
        m.train()
        loss = m(DCELL_BATCH, target)["loss"]
        loss.backward()
        m.eval()
        with torch.no_grad():
            out[name] = loss.item(), m.predict(DCELL_BATCH), [p.grad for p in m.parameters()]
    (loss_e, pred_e, grads_e), (loss_f, pred_f, grads_f) = out["exact"], out["fast"]
    assert loss_f == pytest.approx(loss_e, rel=0.02)
    assert torch.allclose(pred_f, pred_e, atol=0.03)
    assert not torch.equal(pred_f, pred_e)                            # the bf16 path did run
    for name, g_e, g_f in zip([n for n, _ in exact.named_parameters()], grads_e, grads_f):
        assert g_f.dtype == torch.float32                             # fp32 master gradients
        if name.endswith(".bias") and ".bn." not in name:             # before BatchNorm: no
            assert g_e.norm() < 1e-5 and g_f.norm() < 1e-5            # gradient, only rounding
        else:
            assert (g_f - g_e).norm() <= 0.05 * g_e.norm(), name      # measured ≤ 0.032


def test_dcell_bf16_training_lowers_the_loss(every_group_bf16):
    onto = build_ontology(GENES, TERMS, EDGES, ANN, min_genes=6)
    torch.manual_seed(0)
    m = DCell(len(GENES), onto, precision="bf16").train()
    m.init_output(0.8)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-2, fused=True)
    idx = torch.randint(0, len(GENES), (64, 2))
    y = 0.8 - 0.3 * (idx < 10).any(1).float()                           # genes 0-9 hurt
    losses = []
    for _ in range(40):
        loss = m(idx, y)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(math.isfinite(v) for v in losses)
    assert losses[-1] < 0.3 * losses[0]


def test_dcell_widths_init_and_loss():
    onto = build_ontology(GENES, TERMS, EDGES, ANN, min_genes=6)
    m = DCell(len(GENES), onto)
    assert m.widths == [max(20, math.ceil(0.3 * s)) for s in onto.size]
    for g in m.groups:
        assert g.weight.abs().max() <= 0.001
    m.init_output(0.8)
    y = torch.rand(5)
    out = m(torch.tensor([[0, 6], [12, 19], [29, PAD], [10, 11], [27, 28]]), y)
    n_terms = len(onto.terms)
    # every head starts at 0.8 (tiny weights): loss ≈ RMSE + α · n_terms · MSE
    mse = ((0.8 - y) ** 2).mean().item()
    assert out["loss"].item() == pytest.approx(math.sqrt(mse) + 0.3 * n_terms * mse, rel=0.02)


@pytest.mark.parametrize("name", specs.names())
def test_weights_alone_restore_a_model(name):
    """A model is its state_dict plus the feature table: what checkpoints and queries rely on."""
    trained = _model(name)
    with torch.no_grad():
        for p in trained.parameters():
            p.add_(torch.randn_like(p) * 0.1)                  # away from the initialisation
    fresh = _model(name)
    if trained.trainable:
        fresh.eval()
        trained.eval()
        assert not torch.allclose(fresh(SETS)["pred"], trained(SETS)["pred"])
    fresh.load_state_dict(trained.state_dict())
    fresh.eval()
    trained.eval()
    with torch.no_grad():
        assert torch.equal(fresh(SETS)["pred"], trained(SETS)["pred"])


def test_models_do_no_io():
    """Model modules read no files, stores or environment: data arrives as tensors."""
    import ast
    from pathlib import Path

    import cre_core.models

    banned_modules = {"duckdb", "pathlib", "os", "io", "shutil", "pandas", "pyarrow"}
    for path in Path(cre_core.models.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                assert not {a.name.split(".")[0] for a in node.names} & banned_modules, path.name
            elif isinstance(node, ast.ImportFrom) and node.module:
                assert node.module.split(".")[0] not in banned_modules, path.name
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id != "open", path.name
