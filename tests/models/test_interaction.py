"""The interaction model and the all-sizes training set: planted ε recovered (and not from noise
features), triples no worse than multiplicative, exact scans, per-size metrics, the null
expectation of a triple."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from cre_core.embed.genes import FeatureTable
from cre_core.errors import CreError
from cre_core.metrics import null_expectation
from cre_core.models import InteractionModel
from cre_core.models.base import PAD
from cre_core.train import data as D
from cre_core.train.config import TrainConfig
from cre_core.train.loop import train_run
from cre_core.train.run_tables import cross_validation_table, unseen_gene_warnings
from cre_core.workspace import Workspace
from tests.models_support import build_model
from tests.train_support import MODULE_SIZE, install_fake_features

QUICK = dict(epochs=30, batch_size=32, hidden=32, rank=8, patience=8, lr=3e-3)


def quiet(_msg: str) -> None:
    pass




def add_triples(ws: Workspace, seed: int = 0) -> pd.DataFrame:
    """Triples with a planted τ in the store's ``tmf`` table.

    Fitness follows Kuzmin's definition with the store's own SMF and ε: f_abc = f_a f_b f_c +
    ε_ab f_c + ε_ac f_b + ε_bc f_a + τ, τ = −0.1 when all three genes share a module.
    """
    con = ws.connect(read_only=False)
    try:
        smf = dict(con.execute("SELECT gene, fitness FROM smf").fetchall())
        eps = {(a, b): e for a, b, e in con.execute("SELECT gene_a, gene_b, epsilon FROM dmf").fetchall()}
        genes = [r[0] for r in con.execute("SELECT gene FROM genes ORDER BY gene").fetchall()]
        rng = np.random.default_rng(seed)
        rows = []
        for _ in range(1500):
            trio = sorted(rng.choice(len(genes), 3, replace=False))
            if len(trio) < 3 or any(genes[i] not in smf for i in trio):
                continue
            a, b, c = (genes[i] for i in trio)
            same = len({i // MODULE_SIZE for i in trio}) == 1
            tau = (-0.1 if same else 0.0) + rng.normal(0, 0.005)
            f = (smf[a] * smf[b] * smf[c] + eps[(a, b)] * smf[c] + eps[(a, c)] * smf[b]
                 + eps[(b, c)] * smf[a] + tau)
            rows.append((a, b, c, f, 0.02, 1, tau))
        # triples within one module are rare at random: plant some on purpose
        for m in range(len(genes) // MODULE_SIZE):
            for off in range(0, MODULE_SIZE - 2):
                trio = [m * MODULE_SIZE + off + k for k in range(3)]
                if any(genes[i] not in smf for i in trio):
                    continue
                a, b, c = (genes[i] for i in trio)
                tau = -0.1 + rng.normal(0, 0.005)
                f = (smf[a] * smf[b] * smf[c] + eps[(a, b)] * smf[c] + eps[(a, c)] * smf[b]
                     + eps[(b, c)] * smf[a] + tau)
                rows.append((a, b, c, f, 0.02, 1, tau))
        frame = pd.DataFrame(rows, columns=["gene_a", "gene_b", "gene_c", "fitness", "std", "n", "tau"])
        frame = frame.drop_duplicates(["gene_a", "gene_b", "gene_c"])
        con.register("t", frame)
        con.execute("INSERT INTO tmf(gene_a, gene_b, gene_c, fitness, std, n, tau) SELECT * FROM t")
    finally:
        con.close()
    return frame


# --- the model -------------------------------------------------------------------------------

def _model(smf_aware: bool = True) -> InteractionModel:
    torch.manual_seed(0)
    smf = torch.linspace(0.5, 1.0, 30)
    smf[::4] = float("nan")
    m = build_model("interaction", 30, in_dim=6, hidden=16, rank=4, smf=smf, smf_aware=smf_aware)
    m.set_features(torch.randn(30, 6))
    m.init_output(0.9)
    with torch.no_grad():
        m.pair_w.normal_()
        m.triple_w.normal_()
    return m


def test_prediction_is_the_product_plus_explicit_terms():
    m = _model()
    m.eval()
    sets = torch.tensor([[1, 2, PAD], [5, 6, 7], [3, PAD, PAD], [0, PAD, PAD]])
    with torch.no_grad():
        out = m(sets)
        genes = m.cached_outputs()                    # ŝ resolved, u, t per gene
    s, u, t = genes[:, 0], genes[:, 1:5], genes[:, 5:9]

    def eps(a, b):
        return float((u[a] * u[b]) @ m.pair_w.detach() + m.pair_b.detach())

    assert s[1] == pytest.approx(m.smf[1].item()) and s[0] != m.smf[0]          # measured / head (NaN)
    assert out["pred"][0].item() == pytest.approx(float(s[1] * s[2]) + eps(1, 2), abs=1e-5)
    tau = float((t[5] * t[6] * t[7]) @ m.triple_w.detach() + m.triple_b.detach())
    kuzmin = (s[5] * s[6] * s[7] + eps(5, 6) * s[7] + eps(5, 7) * s[6] + eps(6, 7) * s[5]).item() + tau
    assert out["pred"][1].item() == pytest.approx(kuzmin, abs=1e-5)
    assert out["interaction"][0].item() == pytest.approx(eps(1, 2), abs=1e-5)
    assert out["interaction"][1].item() == pytest.approx(tau, abs=1e-5)
    assert out["pred"][2].item() == pytest.approx(float(s[3])) and out["interaction"][2] == 0
    # the order of the genes in a set does not matter
    perm = torch.tensor([[2, 1, PAD], [7, 5, 6]])
    assert torch.allclose(m.predict(perm), out["pred"][:2], atol=1e-6)


def test_sequence_only_ignores_measured_smf():
    aware, blind = _model(True), _model(False)
    blind.load_state_dict(aware.state_dict())
    aware.eval(), blind.eval()
    single = torch.tensor([[1], [4]])                  # gene 1 measured, gene 4 not (NaN)
    with torch.no_grad():
        a, b = aware.predict(single), blind.predict(single)
    assert a[0].item() == pytest.approx(aware.smf[1].item()) and b[0] != a[0]
    assert a[1] == b[1]


def test_scan_equals_forward_on_pairs():
    m = _model()
    m.eval()
    pairs = torch.stack([torch.full((30,), 9), torch.arange(30)], 1)
    with torch.no_grad():
        assert torch.allclose(m.scan(9, 30), m.predict(pairs), atol=1e-5)


def test_losses_use_the_measured_interaction_and_singles():
    m = _model()
    sets = torch.tensor([[1, 2, PAD], [5, 6, 7], [3, PAD, PAD]])
    y = torch.tensor([0.7, 0.5, 0.8])
    inter = torch.tensor([-0.1, float("nan"), float("nan")])
    plain = m(sets, y)["loss"]
    with_eps = m(sets, y, interaction=inter)
    expected_extra = (with_eps["interaction"][0] - inter[0]) ** 2
    assert m.interaction_weight == 5.0
    assert with_eps["loss"].item() == pytest.approx(plain.item() + 5.0 * expected_extra.item(), rel=1e-5)
    with_eps["loss"].backward()
    assert m.pair_w.grad.abs().sum() > 0 and m.heads.weight.grad[0].abs().sum() > 0   # the ŝ head learns


def test_id_representation_and_config_rules():
    m = build_model("interaction", 12, gene_dim=5, embedder="id", hidden=8, rank=3)
    assert m.genes.out_dim == 5 and m.predict(torch.tensor([[0, 1]])).shape == (1,)
    with pytest.raises(ValueError, match="no feature table"):
        m.set_features(torch.zeros(12, 5))
    assert not TrainConfig.of(model="interaction", embedder="id").uses_features
    assert TrainConfig.of(model="interaction").uses_features
    with pytest.raises(CreError, match="--embedder id is for --model deepset, interaction"):
        TrainConfig.of(model="wt-diff", embedder="id")
    with pytest.raises(CreError, match="interaction-weight"):
        TrainConfig.of(model="interaction", interaction_weight=-1)


def test_feature_table_is_the_only_table():
    genes = FeatureTable(10, 4)
    m = InteractionModel(genes, hidden=8, rank=2)
    assert "genes.table" not in m.state_dict() and "smf" in m.state_dict()


# --- metrics ---------------------------------------------------------------------------------

def test_null_expectation_of_doubles_and_triples():
    smf = np.array([0.9, 0.8, 0.5, np.nan], np.float32)
    pairs = np.array([[0, 1], [0, 2], [1, 2], [0, 3]])
    eps = np.array([-0.1, 0.05, 0.02, 0.0])
    idx = np.array([[0, PAD, PAD], [0, 1, PAD], [2, 1, 0], [0, 3, PAD], [0, 1, 3]])
    got = null_expectation(idx, smf, pairs, eps)
    f0, f1, f2 = 0.9, 0.8, 0.5
    assert np.isnan(got[0]) and np.isnan(got[3]) and np.isnan(got[4])      # single; NaN SMF
    assert got[1] == pytest.approx(f0 * f1, abs=1e-6)
    assert got[2] == pytest.approx(f0 * f1 * f2 - 0.1 * f2 + 0.05 * f1 + 0.02 * f0, abs=1e-6)


# --- training on the store -------------------------------------------------------------------

@pytest.mark.slow          # three training runs (~100 s on 2 shared cores)
def test_planted_interaction_is_recovered_and_not_from_noise(ws, monkeypatch):
    """Features that carry each gene's module recover ε (−0.15 within modules, random split):
    well above the DeepSet on the same features and the same model on noise features. The
    module is an angle (sin, cos) in these features, a nonlinear reading: the trunk's."""
    install_fake_features(monkeypatch)
    cfg = TrainConfig.of(model="interaction", pair_from="trunk", interaction_weight=1.0, **QUICK)
    real = train_run(ws, cfg, echo=quiet)
    deepset = train_run(ws, TrainConfig.of(model="deepset", **{k: v for k, v in QUICK.items() if k != "rank"}),
                        echo=quiet)

    def noise(ws_, features, embedder, model, compute=True):
        con = ws_.connect(read_only=True)
        genes = [r[0] for r in con.execute("SELECT gene FROM genes ORDER BY gene").fetchall()]
        con.close()
        return genes, np.random.default_rng(5).normal(size=(len(genes), 12)).astype(np.float32)

    monkeypatch.setattr(D, "feature_source", noise)
    control = train_run(ws, cfg, echo=quiet)
    assert real["by_size"]["2"]["n_interaction"] == real["n_eps"] > 100
    assert real["eps_pearson"] > 0.6, real["eps_pearson"]                  # 0.76 when written
    assert real["eps_pearson"] > deepset["eps_pearson"] + 0.2               # 0.31
    assert real["eps_pearson"] > control["eps_pearson"] + 0.2               # 0.28
    assert real["by_size"]["1"]["smf_input"] is True


@pytest.mark.slow          # two training runs with triples (~60 s)
def test_triples_are_loaded_split_and_no_worse_than_multiplicative(ws, monkeypatch):
    install_fake_features(monkeypatch)
    planted = add_triples(ws)
    table = D.load_sets(ws)
    assert list(np.unique(table.size)) == [1, 2, 3] and (table.size == 3).sum() == len(planted)
    tri = table.idx[table.size == 3]
    assert (tri[:, 0] < tri[:, 1]).all() and (tri[:, 1] < tri[:, 2]).all()
    assert np.allclose(np.sort(table.interaction[table.size == 3]), np.sort(planted["tau"]), atol=1e-6)
    split = D.make_split(table.idx, np.arange(len(table)), "gene", 0, 0.1, 0.2)
    part = np.full(table.n_genes, -1)
    for k, name in enumerate(("train", "val", "test")):
        genes = np.unique(table.idx[getattr(split, name)])
        part[genes[genes >= 0]] = k
        assert (table.size[getattr(split, name)] == 3).any() or name == "val"
    for name in ("train", "test"):
        sets = table.idx[getattr(split, name)]
        assert (np.where(sets >= 0, part[sets], part[sets[:, :1]]) == part[sets[:, :1]]).all()

    # the fake features hold the module as an angle (sin, cos): the trunk reads it
    cfg = TrainConfig.of(model="interaction", pair_from="trunk", interaction_weight=1.0, **QUICK)
    model = train_run(ws, cfg, echo=quiet)
    mult = train_run(ws, TrainConfig.of(model="multiplicative"), echo=quiet)
    assert set(model["by_size"]) == {"1", "2", "3"} and model["n_tau"] > 50
    ours, base = model["by_size"]["3"], mult["by_size"]["3"]
    # when written: MSE 0.0008 vs 0.0132, r 0.99 vs 0.89, τ r 0.37 vs −0.53 (Π SMF misses
    # the three ε, which the planted τ follows)
    assert ours["mse"] < 0.5 * base["mse"] and ours["pearson"] > base["pearson"]
    assert model["tau_pearson"] > mult["tau_pearson"] + 0.5
    preds = pd.read_parquet(f"{model['run_dir']}/predictions.parquet")
    triples = preds[preds["n_genes"] == 3]
    assert triples["genes"].str.count(",").eq(2).all() and triples["gene_c"].notna().all()


def test_demo_run_reports_every_size_beside_its_ceilings(workspace_copy):
    """The tiny demo (singles, pairs, the trigenic screen's triples): per-size r, ceilings, fractions."""
    cfg = TrainConfig.of(model="interaction", embedder="id", epochs=1, batch_size=512, hidden=16, rank=4)
    s = train_run(workspace_copy, cfg, echo=quiet)
    assert s["status"] == "done" and set(s["by_size"]) == {"1", "2", "3"} and s["n_tau"] > 0
    assert s["ceiling_source"] == "truth"
    truth = s["ceilings"]["truth"]
    assert 0 < truth["by_size"]["2"]["epsilon_r"] < 1 and s["ceilings"]["replicate"]["n_fitness"] > 0
    pairs = s["by_size"]["2"]
    assert pairs["interaction_ceiling"] == truth["by_size"]["2"]["epsilon_r"]
    assert pairs["interaction_fraction"] == pytest.approx(pairs["interaction_pearson"] / pairs["interaction_ceiling"])
    assert s["ceiling_fraction"]["epsilon"] == pairs["interaction_fraction"]
    assert s["ceiling_fraction"]["fitness"] == pytest.approx(pairs["pearson"] / truth["by_size"]["2"]["fitness_r"])
    from cre_core.train.runs import list_runs

    row = list_runs(workspace_copy).iloc[0]
    assert row["eps_ceiling_fraction"] == pytest.approx(pairs["interaction_fraction"])
    assert row["n_tau"] == s["n_tau"] and "-interaction-id-" in row["run_id"]


def test_features_pair_map_carries_interactions_to_unseen_genes(tmp_path, monkeypatch):
    """Gene split: module words (a count per module motif) plus noise columns. The bilinear
    form of the features (``pair_from="features"``) finds "same module → ε −0.15" for genes it
    never saw; the same model on the noise columns alone cannot."""
    from tests.train_support import build_workspace

    ws = build_workspace(tmp_path / "wsg", n_genes=96, seed=3)
    con = ws.connect(read_only=True)
    genes = [r[0] for r in con.execute("SELECT gene FROM genes ORDER BY gene").fetchall()]
    con.close()
    rng = np.random.default_rng(0)
    words = np.zeros((len(genes), 96 // MODULE_SIZE), np.float32)
    words[np.arange(len(genes)), np.arange(len(genes)) // MODULE_SIZE] = rng.integers(1, 4, len(genes))
    noise = rng.normal(0, 1, (len(genes), 24)).astype(np.float32)
    table = {"words": np.hstack([words, noise]), "random": noise, "kmer": noise}
    monkeypatch.setattr(D, "feature_source",
                        lambda ws_, features, embedder, model, compute=True: (genes, table[embedder]))
    base = dict(QUICK, model="interaction", split="gene", pair_from="features", weight_decay=1.0,
                rank=16, epochs=20, patience=20, batch_size=64)
    seen = train_run(ws, TrainConfig.of(embedder="words", **base), echo=quiet)
    blind = train_run(ws, TrainConfig.of(embedder="random", **base), echo=quiet)
    assert seen["n_eps"] > 100
    assert seen["pair_ridge"]["n_pairs"] > 100 and len(seen["pair_ridge"]["cv"]["scores"]) >= 2
    assert seen["pair_ridge"]["cv"]["by"] == "genes"
    assert seen["eps_pearson"] > 0.6, seen["eps_pearson"]
    assert blind["eps_pearson"] < 0.3, blind["eps_pearson"]
    assert seen["eps_pearson"] > blind["eps_pearson"] + 0.4
    # --embedder auto (the default) weighs kmer (here the noise) against words by held-out genes
    auto = train_run(ws, TrainConfig.of(**dict(base, epochs=2)), echo=quiet)
    choice = auto["embedder_choice"]
    assert choice["chosen"] == "words" == auto["embedder"] and set(choice["candidates"]) == {"kmer", "words"}
    assert all(c["by"] == "genes" and c["folds"] == 5 for c in choice["candidates"].values())
    assert json.loads((Path(auto["run_dir"]) / "config.json").read_text())["embedder"] == "words"
    shown = cross_validation_table(ws, pd.DataFrame({"run_id": [auto["run_id"]], "label": ["auto run"]}))
    assert shown["choice"].tolist()[:2] == ["representation: kmer", "representation: words"]
    assert shown["chosen"].tolist()[:2] == [False, True]
    assert len(shown.iloc[1]["held-out ε r per fold"].split(", ")) == 5
    assert shown.iloc[1]["held-out ε r (mean)"] > 0.3 > shown.iloc[0]["held-out ε r (mean)"]
    # the random control (here the same noise as kmer) goes through the same folds, never chosen
    assert choice["beats_control"] and choice["control_fold_wins"] == 5
    assert shown["choice"].tolist()[2] == "representation: random (control)" and not shown["chosen"].iloc[2]
    assert unseen_gene_warnings(ws, pd.DataFrame({"run_id": [auto["run_id"]], "label": ["auto run"]})) == []
    # no representation that knows the modules: the least bad is used, and the run says so
    table["words"] = rng.normal(0, 1, (len(genes), 24)).astype(np.float32)
    blind_auto = train_run(ws, TrainConfig.of(**dict(base, epochs=2)), echo=quiet)
    assert blind_auto["embedder_choice"]["beats_control"] is False
    said = unseen_gene_warnings(ws, pd.DataFrame({"run_id": [blind_auto["run_id"]], "label": ["blind"]}))
    assert len(said) == 1 and said[0].startswith(f"blind: {blind_auto['embedder']} did not beat the random control")


def test_features_pair_map_is_linear_in_the_representation():
    """With ``pair_from="features"`` u and t are one linear map of the features (no φ)."""
    torch.manual_seed(0)
    m = build_model("interaction", 10, in_dim=5, hidden=8, rank=3, pair_from="features")
    x = torch.randn(10, 5)
    m.set_features(x)
    out = m.all_outputs()
    assert out.shape == (10, 1 + 2 * 3)
    assert torch.allclose(out[:, 1:], m.pair_map(x), atol=1e-6)
    assert m.heads.out_features == 1
    with pytest.raises(ValueError, match="pair_from"):
        InteractionModel(FeatureTable(10, 5), pair_from="both")


def test_configs_saved_before_pair_from_and_pair_ridge_load_as_they_trained():
    old = {k: v for k, v in TrainConfig.of(model="interaction").flat().items()     # saved flat, as then
           if k not in ("pair_from", "pair_ridge")}
    cfg = TrainConfig.from_dict(old)
    assert (cfg.interaction.pair_from, cfg.interaction.pair_ridge) == ("trunk", False)
    assert TrainConfig.of(model="interaction").interaction.pair_ridge is True


def test_sigterm_in_the_pair_ridge_stops_the_run_and_a_resume_refits(ws, monkeypatch, tmp_path):
    """SIGTERM (the Train page's Stop) during the ridge refit ends it between CG iterations:
    the run is interrupted, not left running; --resume skips the finished epochs and refits."""
    import os
    import signal

    from cre_core.train import pair_ridge

    install_fake_features(monkeypatch)
    solve = pair_ridge.solve

    def signalled(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        return solve(*args, **kwargs)

    monkeypatch.setattr(pair_ridge, "solve", signalled)
    cfg = TrainConfig.of(model="interaction", embedder="kmer", **dict(QUICK, epochs=3))
    lines: list[str] = []
    out = train_run(ws, cfg, run_dir=tmp_path / "run", echo=lines.append)
    assert out is not None and out["status"] == "interrupted"
    assert any("stopped in the ridge solve at λ 300, iteration 0" in line for line in lines)
    monkeypatch.setattr(pair_ridge, "solve", solve)
    lines.clear()
    done = train_run(ws, cfg, run_dir=tmp_path / "run", resume=True, echo=lines.append)
    assert done is not None and done["status"] == "done" and done["epochs_run"] == 3
    assert not any(line.startswith("epoch ") for line in lines)
    assert done["pair_ridge"]["cv"]["scores"] and any(line.startswith("pair ridge: λ 300") for line in lines)
