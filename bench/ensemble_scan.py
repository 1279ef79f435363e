"""Partner scan of one gene against 6,000 partners with a K-member ensemble and its 80% interval.

Ours: ``cre_core.query.service.scan`` on a cached ensemble run (every member's DeepSet scan
computes φ of each gene once, then one batched ρ over all pairs; mean, spread and the calibrated
interval in numpy). Baseline, in the same process on the same models: a naive per-member loop
that runs each member's generic forward on every (gene, partner) pair in chunks (φ re-applied
to each pair's genes), then the same interval arithmetic.

    python bench/ensemble_scan.py [--genes 6000] [--members 5] [--repeats 20]

Builds a synthetic workspace (the tests' generator, fake 256-d features) in a temporary folder
and trains the K members for one epoch (the weights do not change the cost). Prints one JSON
line: ours and baseline median seconds, the ratio, and whether ours meets the 1 s target.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import pytest
import torch
from scan import timed
from train_support import build_workspace, install_fake_features

from cre_core.models.base import FitnessModel
from cre_core.query import service
from cre_core.train.config import TrainConfig
from cre_core.train.loop import train_run

TARGET_S = 1.0


def naive_scan(loaded: service.LoadedRun, gene: int) -> None:
    """Each member's generic pair-by-pair forward, then the interval (the baseline)."""
    n = len(loaded.genes)
    members = torch.stack([FitnessModel.scan(m, gene, n) for m in loaded.model.members]).double().numpy()
    loaded.values(members, loaded.smf[gene] * loaded.smf)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--genes", type=int, default=6000)
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(2)
    mp = pytest.MonkeyPatch()
    install_fake_features(mp, dim=256)
    with tempfile.TemporaryDirectory() as tmp:
        ws = build_workspace(Path(tmp) / "ws", n_genes=args.genes, pairs="random", n_pairs=4000)
        run = train_run(ws, TrainConfig.of(model="deepset", epochs=1, hidden=128, ensemble=args.members),
                        echo=lambda m: None)["run_id"]
        gene = "YAL003W"
        service.scan(ws, run, gene)                            # load and cache the run
        loaded = service.load_model(ws, run)
        ours = timed(lambda: service.scan(ws, run, gene, top_k=20), args.repeats)
        base = timed(lambda: naive_scan(loaded, loaded.index[gene]), max(3, args.repeats // 4))
    mp.undo()
    print(json.dumps({
        "name": "ensemble_partner_scan", "partners": args.genes - 1, "members": args.members,
        "ours_s": round(ours, 4), "baseline_s": round(base, 4), "ratio": round(base / ours, 1),
        "target_s": TARGET_S, "meets_target": ours < TARGET_S, "machine": platform.machine(),
        "threads": torch.get_num_threads(),
    }))


if __name__ == "__main__":
    main()
