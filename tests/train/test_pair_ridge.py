"""The closed-form ε map: ridge recovers a planted bilinear form for genes it never saw, the
installed eigen-components reproduce it inside the model, a refit keeps whichever map fits
validation ε better, the solve over the genes with pairs is the solve over all genes, and a stop
check ends it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cre_core.models.base import PAD
from cre_core.models.bilinear_ridge import LAMBDAS, PairData, PairMap, Stopped, components, predict, solve
from cre_core.train.pair_ridge import FOLDS, best_fold_mse, choose_representation, cross_validate, folds, refit
from tests.models_support import build_model

N, D = 120, 6


def _world(seed: int = 0, noise: float = 0.05):
    """Features, a planted symmetric W over [x, 1], and every pair's ε (with noise)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, D))
    v = rng.normal(size=(D + 1, 2))
    w = v @ np.diag([1.0, -0.5]) @ v.T / 4
    xt = np.hstack([x, np.ones((N, 1))])
    a, b = np.triu_indices(N, 1)
    eps = np.einsum("ij,ij->i", xt[a] @ w, xt[b]) + noise * rng.normal(size=len(a))
    return torch.from_numpy(x), w, a, b, eps


def _sets(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.stack([a, b, np.full(len(a), PAD)], axis=1)


def test_ridge_recovers_a_planted_bilinear_form_for_unseen_genes():
    x, w_true, a, b, eps = _world()
    train = (a < 80) & (b < 80)
    unseen = (a >= 80) & (b >= 80)                  # both genes held out
    fit = solve(x, PairData.build(a[train], b[train], eps[train]), lam=1e-4)
    pred = predict(x, fit, float(eps[train].mean()), a[unseen], b[unseen])
    assert np.corrcoef(pred, eps[unseen])[0, 1] > 0.95
    w = fit.matrix()
    assert torch.allclose(w, w.T)
    assert np.abs(w.numpy() - w_true)[:D, :D].max() < 0.05     # the form itself, not only r


def test_installed_components_reproduce_the_ridge_prediction():
    x, _, a, b, eps = _world(seed=1)
    data = PairData.build(a, b, eps)
    w = solve(x, data, lam=1e-3)
    m = build_model("interaction", N, in_dim=D, hidden=8, rank=D + 1, pair_from="features")
    m.set_features(x.float())
    m.install_pair_map(*components(w, m.rank), data.mean)
    m.eval()
    with torch.no_grad():
        got = m.terms(torch.from_numpy(_sets(a[:500], b[:500])))["interaction"].numpy()
    assert np.allclose(got, predict(x, w, data.mean, a[:500], b[:500]), atol=1e-4)
    vectors, weights = components(w, 2)                       # truncation keeps the largest |λ|
    assert weights.abs().min() >= torch.linalg.eigvalsh(w.matrix()).abs().sort().values[-3]
    assert vectors.shape == (D + 1, 2)


def test_refit_installs_ridge_when_better_and_keeps_a_better_trained_map():
    x, w_true, a, b, eps = _world(seed=2, noise=0.0)
    idx = _sets(a, b)
    rows = np.arange(len(a))
    train, val = rows[(a < 80) & (b < 80)], rows[(a >= 80) & (b >= 80)]
    m = build_model("interaction", N, in_dim=D, hidden=8, rank=D + 1, pair_from="features")
    m.set_features(x.float())
    m.init_output(0.9)                                        # ε̂ = 0: ridge is better
    done = refit(m, idx, eps, train, val)
    assert done["used"] and done["chosen"]["val_eps_mse"] < done["trained_map"]["val_eps_mse"]
    assert done["chosen"]["lambda"] == done["cv"]["best"]["lambda"] == min(LAMBDAS)   # exact data: weakest λ
    assert done["cv"]["by"] == "genes" and len(done["cv"]["scores"][0]["r"]) == FOLDS
    assert done["n_pairs"] == len(train)
    # the exact form installed: every penalised ridge fit is worse on noiseless validation ε
    exact = PairMap(torch.eye(D + 1, dtype=torch.float64), torch.from_numpy(w_true))
    m.install_pair_map(*components(exact, m.rank), 0.0)
    kept = refit(m, idx, eps, train, val)
    assert not kept["used"] and kept["chosen"]["lambda"] is None
    assert kept["trained_map"]["val_eps_mse"] < 1e-10
    few = refit(m, idx, eps, train[:5], val)
    assert few == {"used": False, "reason": "too few measured ε pairs to fit and choose λ"}


def test_refit_standardises_columns_so_their_scale_does_not_change_the_map():
    x, _, a, b, eps = _world(seed=3)
    idx = _sets(a, b)
    rows = np.arange(len(a))
    train, val = rows[(a < 80) & (b < 80)], rows[(a >= 80) & (b >= 80)]
    preds = []
    # the same features, then columns at scales 0.3-30 and shifted (as a BatchNorm's running
    # statistics can leave them): one ridge solution, installed in each one's own units
    for scale, shift in ((torch.ones(D), torch.zeros(D)), (torch.logspace(-0.5, 1.5, D), torch.arange(D) - 2.0)):
        m = build_model("interaction", N, in_dim=D, hidden=8, rank=D + 1, pair_from="features")
        m.set_features((x * scale + shift).float())
        m.init_output(0.9)
        done = refit(m, idx, eps, train, val)
        assert done["used"]
        m.eval()
        with torch.no_grad():
            preds.append(m.terms(torch.from_numpy(idx[val]))["interaction"].numpy())
    assert np.allclose(preds[0], preds[1], atol=1e-4)
    assert np.corrcoef(preds[1], eps[val])[0, 1] > 0.9


def test_solve_over_genes_with_pairs_equals_the_dense_ridge_over_every_gene():
    """Genes 90-119 have windows but no measured pair: the solve skips them and still reaches
    the exact optimum of the ridge problem written over all 120 genes (dense normal equations
    over the ordered measured entries, penalty λ·2·pairs)."""
    x, _, a, b, eps = _world(seed=4, noise=0.1)
    keep = (a < 90) & (b < 90) & (np.arange(len(a)) % 3 == 0)
    a, b, eps = a[keep], b[keep], eps[keep]
    data = PairData.build(a, b, eps)
    assert data.genes.tolist() == np.unique(np.concatenate([a, b])).tolist() and len(data.genes) < 90
    lam = 0.01
    w = solve(x, data, lam).matrix()
    xt = np.hstack([x.numpy(), np.ones((N, 1))])
    rows = np.concatenate([np.einsum("pi,pj->pij", xt[a], xt[b]), np.einsum("pi,pj->pij", xt[b], xt[a])])
    design = rows.reshape(len(rows), -1)
    target = np.concatenate([eps, eps]) - eps.mean()
    exact = np.linalg.solve(design.T @ design + lam * 2 * len(eps) * np.eye(design.shape[1]),
                            design.T @ target).reshape(D + 1, D + 1)
    assert np.abs(w.numpy() - exact).max() < 1e-3 * np.abs(exact).max()
    # the same data laid out over every gene (zero rows for the genes without pairs)
    full = PairData(torch.zeros(N, N, dtype=torch.float64), torch.zeros(N, N, dtype=torch.float64),
                    data.mean, data.count, torch.arange(N))
    g = data.genes
    full.target[g[:, None], g], full.mask[g[:, None], g] = data.target, data.mask
    assert torch.allclose(solve(x, full, lam).matrix(), w, atol=1e-8)


def test_a_stop_check_ends_the_solve_and_the_refit():
    x, _, a, b, eps = _world(seed=5)
    data = PairData.build(a, b, eps)
    with pytest.raises(Stopped, match="λ 0.001, iteration 0"):
        solve(x, data, 1e-3, should_stop=lambda: True)
    m = build_model("interaction", N, in_dim=D, hidden=8, rank=D + 1, pair_from="features")
    m.set_features(x.float())
    rows = np.arange(len(a))
    with pytest.raises(Stopped, match="cross-validation at λ 300, fold 1"):
        refit(m, _sets(a, b), eps, rows[a < 80], rows[a >= 80], should_stop=lambda: True)


def test_gene_folds_hold_out_pairs_of_genes_the_fit_never_sees():
    _, _, a, b, _ = _world()
    parts = folds(a, b, "genes", seed=1)
    assert len(parts) == FOLDS
    for fit, out in parts:
        seen = set(a[fit]) | set(b[fit])
        assert out.sum() > 50 and not (set(a[out]) | set(b[out])) & seen
    by_pairs = folds(a, b, "pairs")
    assert sum(out.sum() for _, out in by_pairs) == len(a)          # every pair held out once


def test_cross_validation_picks_the_lambda_of_least_held_out_gene_error():
    """Noiseless data want the weakest penalty, ε of pure noise a stronger one; the choice is
    the λ whose folds, refitted by hand here, have the least mean MSE."""
    x, _, a, b, eps = _world(seed=6, noise=0.0)
    rng = np.random.default_rng(0)
    few = rng.random(len(a)) < 0.25
    clean = cross_validate(x, a[few], b[few], eps[few], "genes", (D + 1,))
    assert clean["best"]["lambda"] == min(LAMBDAS)
    noisy = rng.normal(0, eps.std(), len(eps))
    cv = cross_validate(x, a[few], b[few], noisy[few], "genes", (D + 1,))
    assert cv["best"]["lambda"] > clean["best"]["lambda"] and cv["folds"] == FOLDS
    by_hand = {}
    for lam in {s["lambda"] for s in cv["scores"]}:
        errors = []
        for fit, out in folds(a[few], b[few], "genes"):
            data = PairData.build(a[few][fit], b[few][fit], noisy[few][fit])
            pred = predict(x, solve(x, data, lam), data.mean, a[few][out], b[few][out])
            errors.append(np.mean((pred - noisy[few][out]) ** 2))
        by_hand[lam] = np.mean(errors)
    assert min(by_hand, key=by_hand.get) == cv["best"]["lambda"]
    assert np.isclose(by_hand[cv["best"]["lambda"]], cv["best"]["mean_mse"], rtol=1e-3)


def test_auto_representation_takes_the_table_whose_map_predicts_held_out_genes():
    x, _, a, b, eps = _world(seed=7)
    noise = torch.from_numpy(np.random.default_rng(1).normal(size=(N, D)))
    done = choose_representation({"noise": noise, "planted": x}, a, b, eps, "genes", (D + 1,))
    assert done["chosen"] == "planted"
    assert done["candidates"]["planted"]["best"]["mean_r"] > 0.9 > 0.2 > done["candidates"]["noise"]["best"]["mean_r"]


def test_auto_representation_is_weighed_against_the_random_control_fold_by_fold():
    x, _, a, b, eps = _world(seed=7)
    rng = np.random.default_rng(1)
    noise, control = (torch.from_numpy(rng.normal(size=(N, D))) for _ in range(2))
    done = choose_representation({"planted": x}, a, b, eps, "genes", (D + 1,), control=control)
    assert done["beats_control"] and done["control_fold_wins"] == FOLDS
    assert done["control"]["best"]["mean_r"] < 0.2
    # sequence that carries nothing: the least bad candidate is still chosen, but flagged
    lost = choose_representation({"noise": noise}, a, b, eps, "genes", (D + 1,), control=control)
    assert lost["chosen"] == "noise" and not lost["beats_control"]
    assert lost["control_fold_wins"] == sum(m < t for m, t in zip(best_fold_mse(lost["candidates"]["noise"]),
                                                                   best_fold_mse(lost["control"])))
    assert "control" not in choose_representation({"planted": x}, a, b, eps, "genes", (D + 1,))
