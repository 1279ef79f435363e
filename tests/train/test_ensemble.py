"""Ensembles: K member runs in one folder, the calibrated 80% interval, resume, and the query side."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from cre_core.errors import CreError
from cre_core.query import service
from cre_core.train import data as D
from cre_core.train import runs as R
from cre_core.train.config import TrainConfig
from cre_core.train.ensemble import (
    Calibration,
    coverage,
    fit_calibration,
    member_dir,
    train_ensemble,
)
from cre_core.train.loop import train_run
from cre_core.train.runs import list_runs
from tests.train_support import build_workspace, install_fake_features

QUICK = dict(model="deepset", epochs=3, batch_size=64, hidden=16)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A synthetic workspace with a 3-member ensemble and a single model (fake features)."""
    mp = pytest.MonkeyPatch()
    install_fake_features(mp)
    ws = build_workspace(tmp_path_factory.mktemp("ensemble") / "ws", n_genes=64)
    ens = train_run(ws, TrainConfig.of(**QUICK, ensemble=3), echo=lambda m: None)
    single = train_run(ws, TrainConfig.of(**QUICK), echo=lambda m: None)
    yield ws, ens, single
    mp.undo()


@pytest.fixture(autouse=True)
def fake_features(monkeypatch):
    install_fake_features(monkeypatch)
    service.clear_cache()


def test_calibration_reaches_its_level_where_raw_member_spread_does_not():
    rng = np.random.default_rng(0)
    n = 20_000
    spread = rng.uniform(0.01, 0.05, 2 * n)                       # members agree too much
    center = rng.normal(0.7, 0.2, 2 * n)
    target = center + rng.normal(0, 1, 2 * n) * np.sqrt(spread ** 2 + 0.08 ** 2)
    cal = fit_calibration(center[:n], spread[:n], target[:n])
    assert cal.tau == pytest.approx(0.08, rel=0.05)
    lo, hi = cal.bounds(center[n:], spread[n:])
    assert coverage(lo, hi, target[n:]) == pytest.approx(0.80, abs=0.01)
    raw = Calibration(tau=0.0, scale=1.2816, n=n)                  # the members' Gaussian alone
    assert coverage(*raw.bounds(center[n:], spread[n:]), target[n:]) < 0.5
    assert coverage(center, center, target) == 0.0                 # a zero-width interval fails
    assert np.isnan(coverage(lo, hi, np.full(n, np.nan)))          # nothing measured: no number


def test_ensemble_run_folder_members_and_summary(trained):
    ws, ens, _ = trained
    folder = ws.runs_dir / ens["run_id"]
    seeds = [json.loads((member_dir(folder, k) / "config.json").read_text())["seed"] for k in range(3)]
    assert seeds == [0, 1, 2]
    assert [m["status"] for m in ens["members"]] == ["done"] * 3
    assert ens["ensemble"] == 3 and ens["n_test"] == 414           # 403 pairs, 11 single mutants
    fit, eps = ens["interval"]["fitness"], ens["interval"]["epsilon"]
    assert 0.65 <= fit["coverage"] <= 0.92 and 0.65 <= eps["coverage"] <= 0.92
    assert 0 < fit["mean_width"] < 0.5 and fit["tau"] > 0 and fit["scale"] > 0
    assert json.loads((folder / "summary.json").read_text())["coverage"] == pytest.approx(fit["coverage"])
    row = list_runs(ws).set_index("run_id").loc[ens["run_id"]]     # members are not listed as runs
    assert len(list_runs(ws)) == 2 and row["status"] == "done" and row["coverage"] == pytest.approx(fit["coverage"])

    frame = pd.read_parquet(folder / "predictions.parquet")
    inside = (frame["true"] >= frame["predicted_lo"]) & (frame["true"] <= frame["predicted_hi"])
    assert inside.mean() == pytest.approx(fit["coverage"])
    members = [pd.read_parquet(member_dir(folder, k) / "predictions.parquet")["predicted"] for k in range(3)]
    assert np.allclose(frame["predicted"], np.mean(members, axis=0), atol=1e-5)
    assert ens["pearson"] > min(m["pearson"] for m in ens["members"])


def test_an_ensemble_of_learned_gene_vectors_names_its_embedder(tmp_path):
    ws = build_workspace(tmp_path / "ws", n_genes=32)
    summary = train_run(ws, TrainConfig.of(**QUICK, embedder="id", ensemble=2), echo=lambda m: None)
    assert (summary["embedder"], summary["features"]) == ("id", None)
    assert summary["embedder"] == (R.read_json(member_dir(Path(summary["run_dir"]), 0) / "summary.json")
                                   or {})["embedder"]


def test_predict_and_scan_carry_the_interval(trained):
    ws, ens, single = trained
    got = service.predict(ws, ens["run_id"], ["YAL003W", "YAL010W"])
    loaded = service.load_model(ws, ens["run_id"])
    idx = torch.tensor([[loaded.index["YAL003W"], loaded.index["YAL010W"]]])
    members = [m.predict(idx).item() for m in loaded.model.members]
    assert got["members"] == 3 and got["predicted"] == pytest.approx(np.mean(members), abs=1e-6)
    assert got["predicted_lo"] < got["predicted"] < got["predicted_hi"]
    assert got["epsilon_lo"] == pytest.approx(got["predicted_lo"] - got["multiplicative"], abs=0.05)
    assert got["epsilon_lo"] < got["epsilon_pred"] < got["epsilon_hi"]
    plain = service.predict(ws, single["run_id"], ["YAL003W", "YAL010W"])
    assert plain["members"] == 1 and plain["predicted_lo"] is None and plain["epsilon_hi"] is None

    scan = service.scan(ws, ens["run_id"], "YAL003W", top_k=None)
    pair = scan.set_index("partner").loc["YAL010W"]
    assert pair["predicted"] == pytest.approx(got["predicted"], abs=1e-5)
    assert pair["predicted_lo"] == pytest.approx(got["predicted_lo"], abs=1e-5)
    assert (scan["predicted_lo"] < scan["predicted_hi"]).all()
    assert service.scan(ws, single["run_id"], "YAL003W")["predicted_lo"].isna().all()
    batch = service.predict_table(ws, [ens["run_id"], single["run_id"]], [["YAL003W", "YAL010W"]])
    assert {"predicted_lo", "predicted_hi", "epsilon_lo", "epsilon_hi", "members"} <= set(batch.columns)
    assert batch["predicted_lo"].notna().tolist() == [True, False]


def test_training_support_counts_the_runs_training_pairs(trained, tmp_path):
    ws, ens, _ = trained
    got = service.predict(ws, ens["run_id"], ["YAL003W", "YAL010W", "YAL020W"])
    table, split = D.training_rows(ws, TrainConfig.of(**QUICK))
    pairs = table.idx[split.train]
    expect = [int((pairs == table.genes.index(g)).any(1).sum()) for g in got["genes"]]
    assert got["train_counts"] == expect and min(expect) > 0
    assert got["size_in_training"] is False                         # trained on pairs only
    gene_run = train_run(ws, TrainConfig.of(**{**QUICK, "split": "gene"}), echo=lambda m: None)["run_id"]
    _, gsplit = D.training_rows(ws, TrainConfig.of(**{**QUICK, "split": "gene"}))
    test_gene = table.genes[int(table.idx[gsplit.test][0, 0])]
    one = service.predict(ws, gene_run, [test_gene, "YAL010W"])
    assert one["train_counts"][0] == 0 and one["size_in_training"] is True


def test_stopped_ensemble_resumes_where_it_stopped(tmp_path):
    ws = build_workspace(tmp_path / "ws", n_genes=40)
    config = TrainConfig.of(**QUICK, ensemble=3)
    calls = []

    def stop_second(ws_, cfg, folder, resume, echo):
        calls.append((cfg.seed, resume))
        if cfg.seed == 1:
            return {"status": "interrupted"}
        return train_run(ws_, cfg, folder, resume=resume, echo=echo)

    run_dir = tmp_path / "ws" / "runs" / "ens"
    first = train_ensemble(ws, config, run_dir, False, lambda m: None, stop_second)
    assert first["status"] == "interrupted" and calls == [(0, False), (1, False)]
    assert json.loads((run_dir / "status.json").read_text())["status"] == "interrupted"
    assert not (run_dir / "checkpoints" / "best.pt").exists()
    with pytest.raises(CreError, match="already holds"):
        train_run(ws, config, run_dir, echo=lambda m: None)
    done_before = (member_dir(run_dir, 0) / "checkpoints" / "best.pt").stat().st_mtime_ns
    summary = train_run(ws, config, run_dir, resume=True, echo=lambda m: None)
    assert summary["status"] == "done" and [m["seed"] for m in summary["members"]] == [0, 1, 2]
    assert (member_dir(run_dir, 0) / "checkpoints" / "best.pt").stat().st_mtime_ns == done_before
    assert 0.5 <= summary["coverage"] <= 0.97


def test_ensemble_option_is_validated():
    with pytest.raises(CreError, match="--ensemble must be at least 1"):
        TrainConfig.of(model="deepset", ensemble=0)
    assert "--ensemble" in TrainConfig.of(model="deepset", ensemble=5).to_cli_args()


def test_interval_coverage_on_the_tiny_demo(workspace_copy):
    """Coverage is measured on the demo's held-out pairs: near 80%, neither empty nor everything."""
    config = TrainConfig.of(model="deepset", embedder="id", epochs=2, batch_size=1024, hidden=16, gene_dim=16,
                            ensemble=3)
    summary = train_run(workspace_copy, config, echo=lambda m: None)
    fit, eps = summary["interval"]["fitness"], summary["interval"]["epsilon"]
    assert fit["n"] == summary["n_test"] > 2000 and eps["n"] > 1000
    assert 0.72 <= fit["coverage"] <= 0.88, fit
    assert 0.72 <= eps["coverage"] <= 0.88, eps
    assert 0.01 < fit["mean_width"] < 0.6


def test_cli_predict_and_scan_print_the_interval(trained, capsys):
    from cre_core.cli import main

    ws, ens, single = trained
    assert main(["predict", "--workspace", str(ws.root), "--run", ens["run_id"], "--genes", "YAL003W,YAL010W"]) == 0
    out = capsys.readouterr().out.splitlines()
    result = json.loads(out[-1])
    assert f"(80% [{result['predicted_lo']:.4f}, {result['predicted_hi']:.4f}])" in out[0]
    assert out[1].strip() == f"GEN3 (YAL003W): seen in training: {result['train_counts'][0]} strains"
    triple = "YAL003W,YAL010W,YAL012W"                             # the workspace has no triples
    assert main(["predict", "--workspace", str(ws.root), "--run", single["run_id"], "--genes", triple]) == 0
    out = capsys.readouterr().out
    assert "single model: no interval" in out and "never trained on sets of 3 gene(s)" in out
    assert main(["scan", "--workspace", str(ws.root), "--run", ens["run_id"], "--gene", "YAL003W", "--top", "0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "predicted_lo" in lines[0] and len(json.loads(lines[-1])["partners"]) == 63
    assert not any("-0.0000" in line for line in lines[:-1])
