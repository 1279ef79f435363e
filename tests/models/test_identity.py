"""The identity model (ridge-solved factorisation of ε) and identity-seq (a sequence term beneath it)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cre_core.errors import CreError
from cre_core.metrics import pearson
from cre_core.models import identity
from cre_core.models.base import PAD
from cre_core.models.identity import IdentityModel, Pairs, fit_factors
from cre_core.train import specs
from cre_core.train.config import TrainConfig
from tests.models_support import build_model


def planted(n_genes: int = 40, rank: int = 2, seed: int = 0, features: np.ndarray | None = None):
    """A set table of every single and every pair of ``n_genes`` with ε = propensity + low-rank
    partner structure (or, given ``features``, a bilinear form of them) plus small noise."""
    rng = np.random.default_rng(seed)
    if features is None:
        u = rng.normal(0, 0.2, (n_genes, rank))
        prop = rng.normal(0, 0.02, n_genes)
        eps_of = lambda a, b: prop[a] + prop[b] + (u[a] * u[b]).sum(1)          # noqa: E731
    else:
        eps_of = lambda a, b: 0.05 * (features[a, 0] * features[b, 0])          # noqa: E731
    a, b = np.triu_indices(n_genes, 1)
    eps = eps_of(a, b) + rng.normal(0, 0.002, len(a))
    smf = rng.uniform(0.6, 1.0, n_genes).astype(np.float32)
    singles = np.full((n_genes, 3), PAD)
    singles[:, 0] = np.arange(n_genes)
    doubles = np.full((len(a), 3), PAD)
    doubles[:, 0], doubles[:, 1] = a, b
    idx = np.concatenate([singles, doubles])
    interaction = np.concatenate([np.full(n_genes, np.nan), eps]).astype(np.float32)
    fitness = np.concatenate([smf, smf[a] * smf[b] + eps]).astype(np.float32)
    return idx, interaction, fitness, smf


def test_registered_everywhere():
    assert {"identity", "identity-seq"} <= set(specs.names())
    assert specs.get("identity-seq").reads_embeddings and specs.get("identity-seq").table_only
    assert TrainConfig.of(model="identity").uses_features is False
    assert TrainConfig.of(model="identity-seq", embedder="words").uses_table
    with pytest.raises(CreError, match="closed form over a feature table"):
        TrainConfig.of(model="identity-seq", embedder="encoder")


def test_factors_recover_a_planted_low_rank_matrix():
    idx, interaction, _, _ = planted()
    rows = np.arange(len(idx))
    rng = np.random.default_rng(1)
    train = rows[rng.random(len(rows)) < 0.7]
    test = np.setdiff1d(rows, train)
    tr, te = Pairs.of_rows(idx, interaction, train), Pairs.of_rows(idx, interaction, test)
    genes = np.unique(np.concatenate([tr.a, tr.b]))
    scale = tr.eps.std()
    factors = fit_factors(Pairs(tr.a, tr.b, (tr.eps - tr.eps.mean()) / scale), genes, rank=2, lam=0.01)
    local = np.full(40, -1)
    local[genes] = np.arange(len(genes))
    assert pearson(factors.predict(local[te.a], local[te.b]), te.eps) > 0.95
    # the additive (rank 0) model sees only the propensities
    additive = fit_factors(Pairs(tr.a, tr.b, (tr.eps - tr.eps.mean()) / scale), genes, rank=0, lam=0.01)
    assert pearson(additive.predict(local[te.a], local[te.b]), te.eps) < 0.9


def test_fit_chooses_by_validation_and_predicts_sets(monkeypatch):
    monkeypatch.setattr(identity, "RANKS", (0, 2, 4))        # a small grid keeps the test short
    idx, interaction, _, smf = planted()
    rows = np.arange(len(idx))
    rng = np.random.default_rng(2)
    part = rng.random(len(rows))
    train, val = rows[part < 0.7], rows[(part >= 0.7) & (part < 0.85)]
    model = IdentityModel(41, torch.from_numpy(np.append(smf, np.nan)))      # gene 40: no SMF, no pairs
    messages: list[str] = []
    report = model.fit(idx, interaction, train, val, messages.append)
    assert report["chosen"]["rank"] >= 2 and report["chosen"]["val_eps_r"] > 0.95
    assert len(messages) == 3                       # one progress line per rank tried
    model.eval()
    with torch.no_grad():
        single, pair = model.predict(torch.tensor([[3, PAD, PAD], [3, 7, PAD]]))
        eps = float(model.pair_epsilon(torch.tensor(3), torch.tensor(7)))
        assert float(single) == pytest.approx(float(smf[3]))
        assert float(pair) == pytest.approx(float(smf[3] * smf[7]) + eps, abs=1e-6)
        # a gene never screened adds nothing: ε̂ is the training mean plus its partner's propensity
        half = model.factors.shape[1] // 2
        partner = 0.5 * float(model.factors[5, half - 1] + model.factors[5, -1])
        assert float(model.pair_epsilon(torch.tensor(40), torch.tensor(5))) == pytest.approx(
            float(model.mu) + float(model.scale) * partner, abs=1e-6)
        assert float(model.smf[40]) == pytest.approx(float(smf.mean()), rel=1e-5)


def test_identity_seq_speaks_for_unseen_genes():
    """A sequence-carried ε: on genes held out of training only the sequence term can predict."""
    n = 60
    features = np.random.default_rng(3).normal(size=(n, 5)).astype(np.float32)
    idx, interaction, _, smf = planted(n, features=features)
    held = np.arange(n) >= 45                                       # genes 45.. never trained on
    touches = held[idx[:, 0]] | (held[idx[:, 1]] & (idx[:, 1] >= 0))
    rows = np.arange(len(idx))
    rng = np.random.default_rng(4)
    seen = rows[~touches]
    val = seen[rng.random(len(seen)) < 0.15]
    train = np.setdiff1d(seen, val)
    test = rows[touches & (idx[:, 1] >= 0)]
    model = build_model("identity-seq", n, in_dim=5, smf=torch.from_numpy(smf))
    model.set_features(torch.from_numpy(features))
    report = model.fit(idx, interaction, train, val)
    assert report["sequence"]["used"]
    te = Pairs.of_rows(idx, interaction, test)
    with torch.no_grad():
        pred = model.pair_epsilon(torch.from_numpy(te.a), torch.from_numpy(te.b)).numpy()
    assert pearson(pred, te.eps) > 0.8
    # the weights alone (buffers) restore it, as checkpoints and queries need
    fresh = build_model("identity-seq", n, in_dim=5)
    fresh.set_features(torch.from_numpy(features))
    fresh.load_state_dict(model.state_dict())
    with torch.no_grad():
        assert torch.equal(fresh.predict(torch.from_numpy(idx[test])), model.predict(torch.from_numpy(idx[test])))


def test_train_run_fits_the_identity_model(workspace_copy, monkeypatch):
    from cre_core.train.loop import train_run

    monkeypatch.setattr(identity, "RANKS", (0, 4))

    summary = train_run(workspace_copy, TrainConfig.of(model="identity"), echo=lambda _m: None)
    assert summary["status"] == "done" and summary["closed_form"]["used"]
    assert summary["eps_pearson"] > 0.2
    assert summary["by_size"]["1"]["smf_input"]
