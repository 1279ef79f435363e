"""The train command under torchrun: 2 gloo processes on CPU give the one-process result."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cre_core.train import runs as R
from tests.train_support import build_workspace

REPO = Path(__file__).resolve().parents[2]
ARGS = ["--model", "deepset", "--embedder", "id", "--epochs", "3", "--batch-size", "64", "--hidden", "16",
        "--gene-dim", "8"]


def _run(cmd: list[str]) -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env, timeout=240)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_two_process_gloo_run_matches_one_process(tmp_path):
    ws = build_workspace(tmp_path / "ws", n_genes=40)
    one = _run([sys.executable, "-m", "cre_core", "train", "--workspace", str(ws.root),
                "--run-dir", str(tmp_path / "one"), *ARGS])
    two = _run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                "-m", "cre_core", "train", "--workspace", str(ws.root), "--run-dir", str(tmp_path / "two"), *ARGS])
    assert two["world_size"] == 2 and one["world_size"] == 1
    assert two["status"] == "done" and two["n_test"] == one["n_test"]
    # each global batch is split between the two processes and the gradients averaged:
    # the same optimisation up to float rounding (measured: equal to 1e-7)
    assert two["pearson"] == pytest.approx(one["pearson"], abs=1e-3)
    assert two["mse"] == pytest.approx(one["mse"], rel=1e-3)
    epochs = R.read_jsonl(tmp_path / "two" / "epochs.jsonl")
    assert [e["epoch"] for e in epochs] == [1, 2, 3]                     # rank 0 writes, once
    assert (tmp_path / "two" / "checkpoints" / "best.pt").exists()
