"""Paired bootstrap intervals and verdicts (cre_core.train.compare), and the Results page's verdicts."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cre_core.atomic import atomic_path, write_json_atomic
from cre_core.train.compare import Interval, ScoredSet, bootstrap_r, ceiling_note, control_verdicts, verdict
from cre_core.train.config import TrainConfig
from cre_core.train.runs import write_status


def _pairs(n: int = 400, seed: int = 0):
    rng = np.random.default_rng(seed)
    true = rng.normal(0, 1, n)
    good = true + rng.normal(0, 0.5, n)          # r ≈ 0.89
    poor = true + rng.normal(0, 2.0, n)          # r ≈ 0.45
    return true, good, poor


def test_a_clearly_better_model_adds_with_an_interval_above_zero():
    true, good, poor = _pairs()
    diff = bootstrap_r([ScoredSet(true, good, poor)])
    assert diff.value == pytest.approx(np.corrcoef(true, good)[0, 1] - np.corrcoef(true, poor)[0, 1])
    assert 0 < diff.lo < diff.value < diff.hi
    assert verdict(diff).startswith(f"adds {diff.value:.2f} [")
    assert verdict(bootstrap_r([ScoredSet(true, poor, good)])).startswith("falls ")


def test_identical_models_are_not_distinguishable():
    true, good, _ = _pairs()
    same = bootstrap_r([ScoredSet(true, good, good.copy())])
    assert (same.value, same.lo, same.hi) == (0.0, 0.0, 0.0)
    text = verdict(Interval(0.01, -0.02, 0.04, 100))
    assert text == "not distinguishable from the random control (0.01 [-0.02, 0.04])"


def test_seeds_pool_and_gene_resampling_widens_the_interval():
    tests = [ScoredSet(*_pairs(seed=s)) for s in range(3)]
    pooled = bootstrap_r(tests)
    one = bootstrap_r(tests[:1])
    assert pooled.hi - pooled.lo < one.hi - one.lo          # three test sets pin it down better
    assert pooled.n == 1200
    # pairs over 20 genes: resampling genes moves each gene's pairs together (wider interval)
    rng = np.random.default_rng(5)
    a, b = np.triu_indices(20, 1)
    effect = rng.normal(0, 1, 20)
    true = effect[a] + effect[b] + rng.normal(0, 0.5, len(a))
    pred = true + rng.normal(0, 1.0, len(a))
    by_pair = bootstrap_r([ScoredSet(true, pred)])
    by_gene = bootstrap_r([ScoredSet(true, pred, genes=(a.astype(str), b.astype(str)))])
    assert by_gene.value == pytest.approx(by_pair.value)
    assert by_gene.hi - by_gene.lo > by_pair.hi - by_pair.lo


def _run(ws, run_id: str, embedder: str, pred: np.ndarray, true: np.ndarray, model: str = "deepset") -> None:
    folder = ws.runs_dir / run_id
    folder.mkdir(parents=True)
    write_json_atomic(folder / "config.json", TrainConfig.of(model=model, embedder=embedder).to_dict())
    write_status(folder, "done", created=time.time(), epoch=1, step=1)
    genes = [f"YAL{i:03d}W,YBR{i:03d}C" for i in range(len(true))]
    with atomic_path(folder / "predictions.parquet") as tmp:
        pd.DataFrame({"genes": genes, "n_genes": 2, "true": 0.8 + true, "predicted": 0.8 + pred,
                      "gene_a": [g.split(",")[0] for g in genes], "gene_b": [g.split(",")[1] for g in genes],
                      "epsilon_pred": pred, "epsilon_true": true}).to_parquet(tmp, index=False)
    write_json_atomic(folder / "summary.json", {
        "pearson": 0.9, "n_test": len(true), "eps_pearson": float(np.corrcoef(true, pred)[0, 1]),
        "n_eps": len(true), "ceilings": {"truth": None, "replicate": {"fitness_r": 0.98, "epsilon_r": None}}})


@pytest.fixture
def verdict_runs(workspace_copy):
    true, good, poor = _pairs()
    _run(workspace_copy, "kmer-run", "kmer", good, true)
    _run(workspace_copy, "control-run", "random", poor, true)
    _run(workspace_copy, "words-run", "words", poor + 0.001, true)
    _run(workspace_copy, "identity-run", "kmer", good, true, model="identity")
    return workspace_copy, true, good, poor


def test_control_verdicts_of_runs(verdict_runs):
    from cre_core.train.run_tables import runs_with_configs

    ws, true, good, poor = verdict_runs
    runs = runs_with_configs(ws)
    table = control_verdicts(ws, runs).set_index("representation")
    assert set(table.index) == {"kmer", "words", "identity"}
    # a model without a representation of its own meets the DeepSet's random control
    assert table.loc["identity", "control run"].startswith("control-run")
    assert table.loc["identity", "verdict"].startswith("adds ")
    assert table.loc["kmer", "r"] == pytest.approx(np.corrcoef(true, good)[0, 1])
    assert table.loc["kmer", "control r"] == pytest.approx(np.corrcoef(true, poor)[0, 1])
    assert table.loc["kmer", "verdict"].startswith("adds ")
    assert table.loc["words", "verdict"].startswith("not distinguishable from the random control")
    assert "DCell" in ceiling_note(runs)


def test_results_page_shows_the_verdicts(verdict_runs, monkeypatch):
    from streamlit.testing.v1 import AppTest

    ws, true, good, poor = verdict_runs
    monkeypatch.setenv("CRE_WORKSPACE", str(ws.root))
    page = Path(__file__).resolve().parents[2] / "pages" / "results.py"
    at = AppTest.from_file(str(page), default_timeout=30).run(timeout=30)
    assert not at.exception
    frames = [df.value for df in at.dataframe if "verdict" in df.value.columns]
    assert frames, "no verdict table"
    table = frames[0].set_index("representation")
    diff = np.corrcoef(true, good)[0, 1] - np.corrcoef(true, poor)[0, 1]
    assert table.loc["kmer", "difference"] == pytest.approx(diff)
    assert table.loc["kmer", "verdict"].startswith(f"adds {diff:.2f} [")
    assert any("No replicate ceiling for ε" in c.value for c in at.caption)
