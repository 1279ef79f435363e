"""Training engine and runs: metrics, splits, configs, run files, resume, divergence, CLI, jobs."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from cre_core.atomic import write_json_atomic
from cre_core.errors import CreError
from cre_core.metrics import interaction_metrics, null_expectation, pearson, r2, rankdata, regression_metrics, spearman
from cre_core.processes import process_identity
from cre_core.train import data as D
from cre_core.train import jobs
from cre_core.train import runs as R
from cre_core.train.checkpoint import load_checkpoint, save_checkpoint
from cre_core.train.config import TrainConfig, add_arguments, config_from_args, options
from cre_core.train.loop import train_run
from tests.train_support import install_fake_features

REPO = Path(__file__).resolve().parents[2]
QUICK = dict(epochs=3, batch_size=64, hidden=16, patience=10)




@pytest.fixture
def features(monkeypatch):
    return install_fake_features(monkeypatch)


def quiet(_msg: str) -> None:
    pass


# --- metrics -------------------------------------------------------------------------------

def _ref_pearson(x, y):
    n = len(x)
    mx, my = sum(x) / n, sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    return sxy / math.sqrt(sxx * syy)


def _ref_ranks(x):
    """Average ranks by counting: rank = 1 + #smaller + (#equal - 1) / 2."""
    return [1 + sum(b < a for b in x) + (sum(b == a for b in x) - 1) / 2 for a in x]


def test_metrics_match_reference_formulas():
    rng = np.random.default_rng(0)
    x = rng.normal(size=50)
    y = x * 0.5 + rng.normal(size=50)
    y[:10] = np.round(y[:10])                 # ties
    x[5:9] = 1.0
    assert pearson(x, y) == pytest.approx(_ref_pearson(list(x), list(y)), abs=1e-12)
    assert list(rankdata(y)) == _ref_ranks(list(y))
    assert spearman(x, y) == pytest.approx(_ref_pearson(_ref_ranks(list(x)), _ref_ranks(list(y))), abs=1e-12)
    ss_res = sum((a - b) ** 2 for a, b in zip(x, y))
    ss_tot = sum((a - x.mean()) ** 2 for a in x)
    assert r2(x, y) == pytest.approx(1 - ss_res / ss_tot, abs=1e-12)
    m = regression_metrics(x, y)
    assert m["mse"] == pytest.approx(ss_res / 50) and m["n"] == 50


def test_metrics_undefined_cases_are_nan():
    assert math.isnan(pearson([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]))
    assert math.isnan(spearman([1.0], [2.0]))
    assert math.isnan(r2([2.0, 2.0], [1.0, 3.0]))


def test_epsilon_metrics_use_pairs_with_both_smf():
    pred = np.array([0.5, 0.6, 0.2, 0.9, 0.3])
    a = np.array([0.9, 0.8, np.nan, 1.0, 0.7])
    b = np.array([0.8, 0.9, 0.5, 0.9, 0.6])
    eps = np.array([-0.2, -0.1, 0.0, 0.0, np.nan])
    expected = null_expectation(np.stack([np.arange(5), np.arange(5, 10)], 1), np.concatenate([a, b]),
                                np.zeros((0, 2), np.int64), np.zeros(0))
    m = interaction_metrics(pred, expected, eps)
    assert m["n"] == 3
    eps_pred = [0.5 - 0.72, 0.6 - 0.72, 0.9 - 0.9]
    assert m["pearson"] == pytest.approx(_ref_pearson(eps_pred, [-0.2, -0.1, 0.0]))


# --- data and splits ----------------------------------------------------------------------

def test_load_sets_indexes_the_vocabulary(ws):
    t = D.load_sets(ws)
    n_singles = int(np.isfinite(t.smf).sum())
    assert t.n_genes == 48 and len(t) == n_singles + 48 * 47 // 2
    assert list(np.unique(t.size)) == [1, 2] and (np.diff(t.size) >= 0).all()     # ordered by size
    singles, pairs = t.idx[t.size == 1], t.idx[t.size == 2]
    assert (singles[:, 1:] == -1).all() and (pairs[:, 2] == -1).all()
    assert (pairs[:, 0] < pairs[:, 1]).all()
    assert np.isnan(t.smf).sum() > 0 and n_singles > 30
    assert np.allclose(t.fitness[t.size == 1], t.smf[singles[:, 0]])
    assert np.isnan(t.interaction[t.size == 1]).all() and np.isfinite(t.interaction[t.size == 2]).all()
    row7 = n_singles + 7
    con = ws.connect()
    row = con.execute("SELECT fitness, epsilon FROM dmf WHERE gene_a = ? AND gene_b = ?",
                      [t.genes[t.idx[row7, 0]], t.genes[t.idx[row7, 1]]]).fetchone()
    con.close()
    assert t.fitness[row7] == pytest.approx(row[0], abs=1e-6)
    assert t.interaction[row7] == pytest.approx(row[1], abs=1e-6)


def test_random_split_partitions_the_rows():
    idx = np.stack(np.triu_indices(30, 1), 1)
    rows = np.arange(len(idx))
    s = D.make_split(idx, rows, "random", 0, 0.1, 0.2)
    allrows = np.concatenate([s.train, s.val, s.test])
    assert sorted(allrows) == list(rows)
    assert len(s.test) == round(0.2 * len(rows)) and len(s.val) == round(0.1 * len(rows))
    again = D.make_split(idx, rows, "random", 0, 0.1, 0.2)
    assert (again.test == s.test).all()
    assert not np.array_equal(D.make_split(idx, rows, "random", 1, 0.1, 0.2).test, s.test)


def test_gene_split_is_gene_disjoint():
    idx = np.stack(np.triu_indices(60, 1), 1)
    rows = np.arange(len(idx))
    s = D.make_split(idx, rows, "gene", 3, 0.1, 0.2)
    genes = {k: set(np.unique(idx[getattr(s, k)])) for k in ("train", "val", "test")}
    assert not genes["test"] & genes["train"] and not genes["test"] & genes["val"]
    assert not genes["val"] & genes["train"]
    assert len(genes["test"]) == 12 and len(genes["val"]) == 6
    # every pair is in exactly one part or dropped (mixed groups)
    assert len(s.train) + len(s.val) + len(s.test) + s.info["dropped"] == len(rows)
    assert len(s.test) == 12 * 11 // 2


def test_subset_is_seeded():
    a = D.subset_rows(1000, 100, 0)
    assert len(a) == 100 and (np.diff(a) > 0).all()
    assert (a == D.subset_rows(1000, 100, 0)).all()
    assert not (a == D.subset_rows(1000, 100, 1)).all()
    assert len(D.subset_rows(50, 100, 0)) == 50


def test_gene_features_align_and_standardise(ws, monkeypatch):
    names = ["YAL002W", "YAL000W", "NOT_IN_RUN"]
    x = np.array([[1.0, 5.0, 2.0], [3.0, 5.0, 4.0], [5.0, 5.0, 9.0]], np.float32)
    monkeypatch.setattr(D, "feature_source", lambda *a: (names, x))
    cfg = TrainConfig.of(model="deepset")
    f = D.gene_features(ws, cfg, ["YAL000W", "YAL001W", "YAL002W"])
    assert f.missing == 1
    assert np.allclose(f.table[1], 0)                                 # no features: the mean
    assert np.allclose(f.table[:, 1], 0)                              # constant column
    assert np.allclose(f.table[[0, 2], 0], (np.array([3.0, 1.0]) - 3.0) / x[:, 0].std())
    again = D.gene_features(ws, cfg, ["YAL002W"], stats=(f.mean, f.std))
    assert np.allclose(again.table[0], f.table[2])


# --- config ---------------------------------------------------------------------------------

def test_config_round_trips_through_the_command_line():
    import argparse

    cfg = TrainConfig.of(model="wt-diff", norm="batch", clip=1.5, wt_warmup=10, subset=500, amp=False)
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    back = config_from_args(parser.parse_args(cfg.to_cli_args()))
    assert back == cfg
    assert all(spec.help for spec in options())


def test_config_choices_match_the_models():
    from cre_core.models import base, dcell, interaction
    from cre_core.train import config, specs

    assert next(o for o in options() if o.name == "model").choices == specs.names()
    assert config.NORMS == base.NORMS and config.POOLINGS == base.POOLINGS
    assert specs.interaction.PAIR_FROM == interaction.PAIR_FROM
    assert specs.dcell.PRECISIONS == dcell.PRECISIONS


def test_cli_start_does_not_import_torch():
    code = "import sys, cre_core.cli as c; c.build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.stdout.strip() == "False", out.stderr


def test_config_rejects_bad_values():
    with pytest.raises(CreError, match="--norm"):
        TrainConfig.of(model="deepset", norm="group")
    with pytest.raises(CreError, match="--subset"):
        TrainConfig.of(model="deepset", subset=0)
    with pytest.raises(CreError, match="--model"):
        TrainConfig.of(model="transformer")


@pytest.mark.parametrize("name, value, message", [
    ("dropout", 1.5, "--dropout must be at least 0 and below 1; got 1.5"),
    ("dropout", -1, "--dropout must be at least 0 and below 1; got -1"),
    ("patience", 0, "--patience must be at least 1 and at most 10000; got 0"),
    ("weight_decay", -1.0, "--weight-decay must be at least 0; got -1.0"),
    ("log_every", -5, "--log-every must be at least 0; got -5"),
    ("lr", float("nan"), "--lr must be a finite number; got nan"),
    ("lr", 0.0, "--lr must be above 0; got 0.0"),
    ("seed", -1, "--seed must be at least 0; got -1"),
    ("epochs", 2.5, "--epochs must be a whole number; got 2.5"),
    ("amp", "yes", "--amp must be true or false; got 'yes'"),
    ("val_frac", 0.85, "--val-frac plus --test-frac must be below 1; got 0.85 + 0.2"),
])
def test_every_bad_option_value_is_one_line(name, value, message):
    with pytest.raises(CreError) as caught:
        TrainConfig.of(model="deepset", **{name: value})
    assert str(caught.value) == message


@pytest.mark.parametrize("argv, message", [
    (["--dropout", "1.5"], "error: --dropout must be at least 0 and below 1; got 1.5"),
    (["--patience", "0"], "error: --patience must be at least 1 and at most 10000; got 0"),
    (["--weight-decay", "-1"], "error: --weight-decay must be at least 0; got -1.0"),
    (["--log-every", "-5"], "error: --log-every must be at least 0; got -5"),
    (["--epochs", "abc"], "error: argument --epochs: invalid int value: 'abc' "
                          "(see python -m cre_core train --help)"),
])
def test_train_cli_refuses_bad_values_in_one_line(tmp_path, capsys, argv, message):
    from cre_core.cli import main

    ws = tmp_path / "ws"
    try:
        rc = main(["train", "--workspace", str(ws), "--model", "deepset", *argv])
    except SystemExit as exc:                                # argparse's own refusals
        rc = exc.code
    assert rc == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [message]
    assert not ws.exists()                                   # nothing created


def test_train_help_shows_model_as_required_and_the_bounds(capsys):
    from cre_core.cli import main

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    assert "train --model MODEL [options]" in text and "required (except with --resume)" in text
    assert "the seed" not in text
    assert "at least 0 and below 1" in " ".join(text.split())          # --dropout's bounds


# --- runs -----------------------------------------------------------------------------------

def test_deepset_run_writes_every_file(ws, features):
    s = train_run(ws, TrainConfig.of(model="deepset", features="both", **QUICK), echo=quiet)
    assert s["status"] == "done" and s["pearson"] > 0.5 and s["n_test"] > 100
    assert {"pearson", "spearman", "r2", "mse", "n_test", "eps_pearson", "n_eps", "wt_pred"} <= set(s)
    assert features and features[0] == ("both", "kmer")
    run_id = s["run_id"]
    folder = ws.runs_dir / run_id
    for name in ("config.json", "status.json", "summary.json", "epochs.jsonl", "predictions.parquet",
                 "checkpoints/last.pt", "checkpoints/best.pt"):
        assert (folder / name).exists(), name
    runs = R.list_runs(ws)
    assert list(runs.columns[:14]) == R.RUN_COLUMNS[:14]
    assert runs.loc[0, "run_id"] == run_id and runs.loc[0, "status"] == "done"
    assert runs.loc[0, "test_pearson"] == pytest.approx(s["pearson"])
    ep = R.read_epoch_metrics(ws, run_id)
    assert list(ep["epoch"]) == [1, 2, 3] and ep["val_pearson"].notna().all()
    assert R.read_step_metrics(ws, run_id).empty
    pred = R.read_predictions(ws, run_id)
    assert len(pred) == s["n_test"] and {"genes", "n_genes", "true", "predicted"} <= set(pred.columns)
    assert (pred["genes"].str.count(",") + 1).eq(pred["n_genes"]).all()
    assert set(pred["n_genes"]) == {1, 2} and set(s["by_size"]) == {"1", "2"}
    assert s["by_size"]["2"]["n"] + s["by_size"]["1"]["n"] == s["n_test"]
    assert s["by_size"]["2"]["n_interaction"] == s["n_eps"] > 0
    assert pearson(pred["true"], pred["predicted"]) == pytest.approx(s["pearson"])
    loaded = R.load_run(ws, run_id)
    assert loaded["config"]["model"] == "deepset" and loaded["summary"]["n_test"] == s["n_test"]
    ckpt = load_checkpoint(folder / "checkpoints" / "best.pt")        # weights_only=True
    assert ckpt["meta"]["genes"][:2] == ["YAL000W", "YAL001W"]


def test_readers_skip_a_partial_last_line(ws, features):
    s = train_run(ws, TrainConfig.of(model="wt-anchored", **QUICK), echo=quiet)
    folder = ws.runs_dir / s["run_id"]
    with open(folder / "epochs.jsonl", "a") as f:
        f.write('{"epoch": 4, "train_lo')                                # a writer mid-line
    with open(folder / "steps.jsonl", "a") as f:
        f.write('{"step": 99')
    assert list(R.read_epoch_metrics(ws, s["run_id"])["epoch"]) == [1, 2, 3]
    assert len(R.read_step_metrics(ws, s["run_id"])) > 0


def test_wt_anchored_tracks_wild_type_exactly(ws, features):
    s = train_run(ws, TrainConfig.of(model="wt-anchored", **QUICK), echo=quiet)
    assert s["wt_pred"] == 1.0
    steps = R.read_step_metrics(ws, s["run_id"])
    n_train = s["n_train"]
    assert len(steps) == QUICK["epochs"] * _steps_per_epoch(n_train)       # every step
    assert (steps["wt_mean"] == 1.0).all() and (steps["wt_loss"] == 0.0).all()
    assert steps["grad_norm"].notna().all()


def test_wt_diff_logs_warmup_and_clipping(ws, features):
    cfg = TrainConfig.of(model="wt-diff", norm="batch", clip=0.5, wt_warmup=4, **QUICK)
    s = train_run(ws, cfg, echo=quiet)
    steps = R.read_step_metrics(ws, s["run_id"])
    assert list(steps["phase"][:4]) == ["warmup"] * 4 and list(steps["epoch"][:4]) == [0] * 4
    assert (steps["phase"][4:] == "train").all()
    assert steps["wt_mean"].notna().all() and s["wt_pred"] is not None
    assert R.read_epoch_metrics(ws, s["run_id"])["wt_pred"].notna().all()


@pytest.mark.parametrize("model", ["dcell", "mean", "multiplicative", "deepset --embedder id"])
def test_other_models_train_on_both_splits(ws, model):
    model, _, embedder = model.partition(" --embedder ")
    for split in ("random", "gene"):
        cfg = TrainConfig.of(model=model, embedder=embedder or "auto", split=split, dcell_min_genes=4, **QUICK)
        s = train_run(ws, cfg, echo=quiet)
        assert s["status"] == "done" and s["n_test"] > 0 and s["mse"] is not None
    if model == "multiplicative":    # ε̂ = f̂ − f_i f_j is exactly 0: undefined correlation
        assert s["eps_pearson"] is None and s["pearson"] > 0.5


def test_dcell_bf16_run_is_rebuilt_in_bf16(ws, monkeypatch):
    """--dcell-precision reaches the model, is saved with the run and comes back with it; runs
    saved before the option existed come back in fp32."""
    from cre_core.models import dcell
    from cre_core.train.rebuild import rebuild_model

    monkeypatch.setattr(dcell, "BF16_MIN", 0)                # the tiny ontology's groups are small
    s = train_run(ws, TrainConfig.of(model="dcell", dcell_min_genes=4, dcell_precision="bf16", **QUICK),
                  echo=quiet)
    assert s["status"] == "done" and math.isfinite(s["mse"])
    checkpoint = load_checkpoint(Path(s["run_dir"]) / "checkpoints" / "best.pt")
    model = rebuild_model(ws, checkpoint)
    assert model.precision == "bf16" and all(g.bf16 for g in model.groups)
    saved = checkpoint["meta"]["config"]
    assert saved["dcell"]["precision"] == "bf16"                      # config.json's nested form
    old = {**saved, "dcell": {k: v for k, v in saved["dcell"].items() if k != "precision"}}
    assert TrainConfig.from_dict(old).dcell.precision == "fp32"


def _steps_per_epoch(n_train: int, batch: int = 64) -> int:
    return n_train // batch + (n_train % batch >= 2)


def _split_args(ws):
    t = D.load_sets(ws)
    return t.idx, np.arange(len(t)), "random", 0, 0.1, 0.2


def test_checkpoint_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "c.pt"
    save_checkpoint(path, {"a": torch.ones(2), "epoch": 1})

    def broken(obj, f, *a, **k):
        Path(f).write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken)
    with pytest.raises(OSError):
        save_checkpoint(path, {"a": torch.zeros(2), "epoch": 2})
    assert load_checkpoint(path)["epoch"] == 1                     # the old one, intact
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]         # no temp file left


def test_resume_continues_from_the_saved_epoch(ws, features):
    cfg = TrainConfig.of(model="deepset", **{**QUICK, "epochs": 2})
    first = train_run(ws, cfg, echo=quiet)
    folder = ws.runs_dir / first["run_id"]
    assert load_checkpoint(folder / "checkpoints" / "last.pt")["epoch"] == 2
    longer = TrainConfig.from_dict({**cfg.to_dict(), "epochs": 4})
    msgs = []
    second = train_run(ws, longer, folder, resume=True, echo=msgs.append)
    assert any("resumed from epoch 3" in m for m in msgs)
    assert list(R.read_epoch_metrics(ws, first["run_id"])["epoch"]) == [1, 2, 3, 4]
    assert second["status"] == "done" and second["epochs_run"] == 4


def test_interrupted_run_resumes_mid_epoch_like_an_uninterrupted_one(ws, features, monkeypatch):
    from cre_core.train import loop

    cfg = TrainConfig.of(model="deepset", **{**QUICK, "epochs": 2})
    straight = train_run(ws, cfg, echo=quiet)

    calls = {"n": 0}
    original = loop.Engine.train_step

    def counting(self, rows, wt_only=False):
        calls["n"] += 1
        if calls["n"] == 25:                                       # SIGTERM arrives mid-epoch 2
            os.kill(os.getpid(), __import__("signal").SIGTERM)
        return original(self, rows, wt_only)

    monkeypatch.setattr(loop.Engine, "train_step", counting)
    stopped = train_run(ws, cfg, echo=quiet)
    assert stopped["status"] == "interrupted"
    folder = ws.runs_dir / stopped["run_id"]
    last = load_checkpoint(folder / "checkpoints" / "last.pt")
    steps = _steps_per_epoch(straight["n_train"])
    assert (last["epoch"], last["epoch_step"]) == (1, 25 - steps)   # mid-epoch 2
    assert R.load_run(ws, stopped["run_id"])["status"] == "interrupted"
    monkeypatch.setattr(loop.Engine, "train_step", original)
    resumed = train_run(ws, cfg, folder, resume=True, echo=quiet)
    assert resumed["status"] == "done"
    assert resumed["mse"] == pytest.approx(straight["mse"], rel=1e-5)   # same batches, same result
    assert list(R.read_epoch_metrics(ws, stopped["run_id"])["epoch"]) == [1, 2]


def test_nan_loss_marks_diverged_and_keeps_last_good_checkpoint(ws, features, monkeypatch):
    from cre_core.models.deepset import DeepSet

    original = DeepSet.forward
    calls = {"n": 0}
    steps = _steps_per_epoch(D.make_split(*_split_args(ws)).info["n_train"])

    def poisoned(self, idx, target=None):
        out = original(self, idx, target)
        if target is not None:
            calls["n"] += 1
            if calls["n"] > steps + 5:                              # epoch 2, step 6
                out["loss"] = out["loss"] * float("nan")
        return out

    monkeypatch.setattr(DeepSet, "forward", poisoned)
    s = train_run(ws, TrainConfig.of(model="deepset", **QUICK), echo=quiet)
    assert s["status"] == "diverged" and "epoch 2" in s["diverged_at"]
    folder = ws.runs_dir / s["run_id"]
    last = load_checkpoint(folder / "checkpoints" / "last.pt")
    assert last["epoch"] == 1
    assert all(torch.isfinite(v).all() for v in last["model"].values())
    assert s["pearson"] is not None                                 # scored with the best model
    assert R.load_run(ws, s["run_id"])["status"] == "diverged"


def test_running_status_with_a_dead_pid_reads_interrupted(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    R.write_status(folder, "running", **process_identity(proc.pid))
    assert R.effective_status(R.read_json(folder / "status.json")) == "interrupted"
    R.write_status(folder, "running", **process_identity(os.getpid()))
    assert R.effective_status(R.read_json(folder / "status.json")) == "running"
    R.write_status(folder, "queued", pid=proc.pid, host=None)
    assert R.effective_status(R.read_json(folder / "status.json")) == "failed"


def test_two_runs_never_share_a_folder(ws):
    cfg = TrainConfig.of(model="mean")
    folders = {R.create_run_dir(ws, cfg) for _ in range(20)}
    assert len(folders) == 20


def test_existing_run_folder_needs_resume(ws):
    s = train_run(ws, TrainConfig.of(model="mean"), echo=quiet)
    with pytest.raises(CreError, match="--resume"):
        train_run(ws, TrainConfig.of(model="mean"), ws.runs_dir / s["run_id"], echo=quiet)


# --- CLI and jobs ---------------------------------------------------------------------------

def _cli(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "cre_core", *args], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=timeout)


def test_cli_train_predict_scan_end_with_json_lines(ws):
    out = _cli("train", "--workspace", str(ws.root), "--model", "deepset", "--embedder", "id", "--epochs", "2",
               "--batch-size", "64", "--hidden", "16")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[0].startswith("run folder: ")
    summary = json.loads(lines[-1])
    assert summary["status"] == "done" and summary["model"] == "deepset" and summary["embedder"] == "id"
    run = summary["run_id"]
    out = _cli("predict", "--workspace", str(ws.root), "--run", run, "--genes", "gen1,yal002w")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["genes"] == ["YAL001W", "YAL002W"] and result["measured_fitness"] is not None
    out = _cli("scan", "--workspace", str(ws.root), "--run", run, "--gene", "YAL003W", "--top", "5")
    assert out.returncode == 0, out.stderr
    scan = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(scan["partners"]) == 5
    out = _cli("predict", "--workspace", str(ws.root), "--run", run, "--genes", "YAL001X")
    assert out.returncode == 2 and "unknown gene 'YAL001X'; did you mean" in out.stderr
    assert "Traceback" not in out.stderr
    out = _cli("runs", "--workspace", str(ws.root))
    assert json.loads(out.stdout.strip().splitlines()[0])["run_id"] == run


def _wait(ws, run_id, states, timeout=90.0) -> str:
    end = time.time() + timeout
    while time.time() < end:
        state = R.load_run(ws, run_id)["status"]
        if state in states:
            return state
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} still {state}; log:\n{(ws.runs_dir / run_id / 'train.log').read_text()}")


def test_jobs_launch_stop_resume(ws):
    cfg = TrainConfig.of(model="deepset", embedder="id", epochs=400, batch_size=16, hidden=16, patience=1000)
    run_id = jobs.launch(ws, cfg)
    assert R.load_run(ws, run_id)["status"] in ("queued", "running")
    _wait(ws, run_id, {"running"})
    end = time.time() + 60
    while not R.read_epoch_metrics(ws, run_id).shape[0] and time.time() < end:
        time.sleep(0.2)
    jobs.stop(ws, run_id)
    assert _wait(ws, run_id, {"interrupted", "done", "failed"}) == "interrupted"
    done_epochs = R.load_run(ws, run_id)["status_info"]["epoch"]
    assert done_epochs >= 1
    longer = ws.runs_dir / run_id / "config.json"
    cfg_dict = json.loads(longer.read_text())
    cfg_dict["epochs"] = done_epochs + 1                          # finish quickly after resuming
    write_json_atomic(longer, cfg_dict)
    jobs.resume(ws, run_id)
    assert _wait(ws, run_id, {"done", "failed", "interrupted"}) == "done", (ws.runs_dir / run_id / "train.log").read_text()
    log = (ws.runs_dir / run_id / "train.log").read_text()
    assert "interrupted: checkpoint saved" in log and "resumed from epoch" in log
    assert R.read_epoch_metrics(ws, run_id)["epoch"].is_monotonic_increasing


# --- the real embeddings layer on the tiny demo -----------------------------------------------

@pytest.mark.parametrize("features, regions", [("both", 2), ("upstream", 1), ("downstream", 1)])
def test_training_on_demo_features_uses_every_part(workspace_copy, features, regions):
    """Through cre_core.embed.features: ``both`` is upstream and downstream, never one twice."""
    from cre_core.embed.features import load_features

    genes, up = load_features(workspace_copy, "upstream")
    cfg = TrainConfig.of(model="deepset", features=features, epochs=1, batch_size=256, hidden=16)
    s = train_run(workspace_copy, cfg, echo=quiet)
    assert s["status"] == "done"
    meta = load_checkpoint(Path(s["run_dir"]) / "checkpoints" / "best.pt")["meta"]
    assert meta["in_dim"] == regions * up.shape[1]
    if features == "both":
        table = D.gene_features(workspace_copy, cfg, meta["genes"]).table
        _, down = load_features(workspace_copy, "downstream")
        pos = {g: i for i, g in enumerate(genes)}
        row = meta["genes"].index(genes[0])
        std_up = (up[pos[genes[0]]] - up.mean(0)) / np.where(up.std(0) > 1e-8, up.std(0), np.inf)
        std_down = (down[pos[genes[0]]] - down.mean(0)) / np.where(down.std(0) > 1e-8, down.std(0), np.inf)
        assert np.allclose(table[row], np.concatenate([std_up, std_down]), atol=1e-4)


def test_random_embedder_control_runs(workspace_copy):
    cfg = TrainConfig.of(model="deepset", embedder="random", epochs=1, batch_size=256, hidden=16)
    s = train_run(workspace_copy, cfg, echo=quiet)
    assert s["status"] == "done" and s["embedder"] == "random"
    assert "-random-" in s["run_id"] or "both-random" in s["run_id"]


# --- one writer per run folder; failures leave a clean trail (issue 13: D5, D12) ------------

def test_resume_of_a_run_whose_process_is_alive_is_refused(ws, features, capsys):
    from cre_core.cli import main

    first = train_run(ws, TrainConfig.of(model="deepset", **{**QUICK, "epochs": 1}), echo=quiet)
    folder = ws.runs_dir / first["run_id"]
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        R.write_status(folder, "running", **process_identity(other.pid))
        before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
        rc = main(["train", "--workspace", str(ws.root), "--run-dir", str(folder), "--resume"])
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2 and len(err) == 1
        assert f"is still running in process {other.pid}" in err[0]
        assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before
    finally:
        other.kill()
        other.wait()
    resumed = train_run(ws, TrainConfig.load(folder / "config.json"), folder, resume=True, echo=quiet)
    assert resumed["status"] == "done"                        # once the process is gone: fine


def test_failed_checkpoint_write_marks_the_run_failed_and_resume_never_repeats_epochs(ws, features,
                                                                                    monkeypatch):
    from cre_core.train import checkpoint

    original = checkpoint.save_checkpoint

    def disk_full(path, state):
        if Path(path).name == "last.pt":
            raise OSError(28, "No space left on device")
        original(path, state)

    monkeypatch.setattr(checkpoint, "save_checkpoint", disk_full)
    cfg = TrainConfig.of(model="deepset", **QUICK)
    with pytest.raises(OSError):
        train_run(ws, cfg, ws.runs_dir / "full", echo=quiet)
    folder = ws.runs_dir / "full"
    status = R.read_json(folder / "status.json")
    assert status["status"] == "failed" and "No space left on device" in status["message"]
    assert [e["epoch"] for e in R.read_jsonl(folder / "epochs.jsonl")] == [1]   # logged, not saved

    monkeypatch.setattr(checkpoint, "save_checkpoint", original)
    msgs: list[str] = []
    resumed = train_run(ws, cfg, folder, resume=True, echo=msgs.append)
    assert "no checkpoint yet: starting from the beginning" in msgs
    assert resumed["status"] == "done"
    assert [e["epoch"] for e in R.read_jsonl(folder / "epochs.jsonl")] == [1, 2, 3]
