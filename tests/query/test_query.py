"""Query service: predictions equal the model's forward, scans, measured values, cache, errors."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
import torch

from cre_core.data.lookup import UnknownGeneError
from cre_core.errors import CreError
from cre_core.query import service
from cre_core.train.config import TrainConfig
from cre_core.train.loop import train_run
from tests.train_support import build_workspace, install_fake_features

QUICK = dict(epochs=2, batch_size=64, hidden=16)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A synthetic workspace with deepset, wt-diff, dcell, multiplicative and interaction runs (fake features)."""
    mp = pytest.MonkeyPatch()
    install_fake_features(mp)
    root = tmp_path_factory.mktemp("query") / "ws"
    ws = build_workspace(root, n_genes=48)
    runs = {}
    for model, extra in (("deepset", {}), ("wt-diff", {"norm": "batch"}), ("dcell", {"dcell_min_genes": 4}),
                         ("multiplicative", {}), ("interaction", {"rank": 4})):
        runs[model] = train_run(ws, TrainConfig.of(model=model, **QUICK, **extra), echo=lambda m: None)["run_id"]
    yield ws, runs
    mp.undo()


@pytest.fixture(autouse=True)
def fake_features(monkeypatch):
    install_fake_features(monkeypatch)
    service.clear_cache()


def test_predict_equals_the_models_forward(trained):
    ws, runs = trained
    for model, run in runs.items():
        loaded = service.load_model(ws, run)
        for genes in (["YAL003W"], ["YAL003W", "YAL010W"], ["YAL003W", "YAL010W", "YAL020W"]):
            got = service.predict(ws, run, genes)
            idx = torch.tensor([[loaded.index[g] for g in genes]])
            with torch.no_grad():
                expect = loaded.model(idx)["pred"].item()
            assert got["predicted"] == pytest.approx(expect, abs=1e-6), model
            assert got["genes"] == genes


def test_predict_values_multiplicative_and_measured(trained):
    ws, runs = trained
    con = ws.connect()
    a, b, fit, eps = con.execute("SELECT gene_a, gene_b, fitness, epsilon FROM dmf "
                                 "WHERE gene_a IN (SELECT gene FROM smf) AND gene_b IN (SELECT gene FROM smf) "
                                 "LIMIT 1").fetchone()
    fa = con.execute("SELECT fitness FROM smf WHERE gene = ?", [a]).fetchone()[0]
    fb = con.execute("SELECT fitness FROM smf WHERE gene = ?", [b]).fetchone()[0]
    con.close()
    got = service.predict(ws, runs["deepset"], [b.lower(), a])          # any order, any case
    assert got["genes"] == [b, a]
    assert got["multiplicative"] == pytest.approx(fa * fb)
    assert got["epsilon_pred"] == pytest.approx(got["predicted"] - fa * fb)
    assert got["measured_fitness"] == pytest.approx(fit) and got["measured_epsilon"] == pytest.approx(eps)
    single = service.predict(ws, runs["deepset"], [a])
    assert single["measured_fitness"] == pytest.approx(fa) and single["measured_epsilon"] is None
    triple = service.predict(ws, runs["deepset"], [a, b, "YAL040W"])
    assert triple["measured_fitness"] is None
    mult = service.predict(ws, runs["multiplicative"], [a, b])
    assert mult["predicted"] == pytest.approx(fa * fb, rel=1e-6)


def test_unknown_gene_gives_suggestions(trained):
    ws, runs = trained
    with pytest.raises(UnknownGeneError) as err:
        service.predict(ws, runs["deepset"], ["YAL003W", "GEN12X"])
    assert "GEN12" in " ".join(err.value.suggestions)
    assert "unknown gene 'GEN12X'; did you mean" in str(err.value)
    with pytest.raises(CreError, match="listed twice"):
        service.predict(ws, runs["deepset"], ["gen1", "YAL001W"])
    with pytest.raises(CreError, match="no run 'nope'"):
        service.predict(ws, "nope", ["YAL001W"])


@pytest.mark.parametrize("model", ["deepset", "wt-diff", "dcell", "interaction"])
def test_scan_equals_forward_on_every_pair(trained, model):
    ws, runs = trained
    frame = service.scan(ws, runs[model], "gen3", top_k=None)
    loaded = service.load_model(ws, runs[model])
    g = loaded.index["YAL003W"]
    assert len(frame) == len(loaded.genes) - 1 and "YAL003W" not in set(frame["partner"])
    idx = torch.tensor([[g, loaded.index[p]] for p in frame["partner"]])
    with torch.no_grad():
        expect = loaded.model(idx)["pred"].numpy()
    assert np.allclose(frame["predicted"], expect, atol=1e-5)
    assert frame["predicted"].is_monotonic_increasing
    smf = dict(zip(loaded.genes, loaded.smf))
    mult = np.array([smf["YAL003W"] * smf[p] for p in frame["partner"]])
    assert np.allclose(frame["multiplicative"], mult, equal_nan=True)
    measured = frame.dropna(subset=["measured"])
    assert len(measured) > 0 and measured["measured_epsilon"].notna().all()


def test_scan_orders_and_top_k(trained):
    ws, runs = trained
    top = service.scan(ws, runs["deepset"], "YAL003W", top_k=5, order="epsilon")
    assert len(top) == 5 and top["epsilon_pred"].is_monotonic_increasing
    assert list(top.columns[:6]) == ["partner", "name", "predicted", "multiplicative", "epsilon_pred", "measured"]
    high = service.scan(ws, runs["deepset"], "YAL003W", top_k=5, descending=True)
    assert high["predicted"].is_monotonic_decreasing
    with pytest.raises(CreError, match="order"):
        service.scan(ws, runs["deepset"], "YAL003W", order="size")


def test_predict_table_batches_runs_and_sets(trained):
    ws, runs = trained
    sets = [["YAL001W", "YAL002W"], ["gen3"], ["YAL004W", "YAL005W", "YAL006W"]]
    frame = service.predict_table(ws, [runs["deepset"], runs["dcell"]], sets)
    assert len(frame) == 6 and list(frame["run_id"][:3]) == [runs["deepset"]] * 3
    for row in frame.itertuples():
        one = service.predict(ws, row.run_id, row.genes.split(","))
        assert one["predicted"] == pytest.approx(row.predicted)


def test_models_are_cached_and_reloaded_when_the_checkpoint_changes(trained):
    ws, runs = trained
    first = service.load_model(ws, runs["deepset"])
    assert service.load_model(ws, runs["deepset"]) is first
    path = ws.runs_dir / runs["deepset"] / "checkpoints" / "best.pt"
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert service.load_model(ws, runs["deepset"]) is not first


def test_loading_a_model_never_computes_embeddings(trained, monkeypatch):
    from cre_core.train import data as D

    ws, runs = trained
    asked = []
    source = D.feature_source
    monkeypatch.setattr(D, "feature_source", lambda *a: asked.append(a[4]) or source(*a))
    service.load_model(ws, runs["deepset"])
    assert asked == [False]                                    # compute=False: a read path


def test_run_without_model_is_a_clear_error(trained, tmp_path):
    ws, runs = trained
    folder = ws.runs_dir / "empty-run"
    folder.mkdir(exist_ok=True)
    shutil.copy(ws.runs_dir / runs["deepset"] / "config.json", folder / "config.json")
    with pytest.raises(CreError, match="no trained model yet"):
        service.predict(ws, "empty-run", ["YAL001W"])
    shutil.rmtree(folder)
