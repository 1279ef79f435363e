"""Latency of the Query page's partner scan: one gene against every other gene of the genome.

Ours: ``service.scan`` (a DeepSet computes φ of every gene once, then one batched ρ over all
pairs). Baseline: the same pairs through the model's ordinary forward (``predict_sets``), as a
per-set query would. Both on a loaded, cached model; a synthetic 6,000-gene workspace with
256-d random features (the tests' fixtures), CPU.

    python bench/scan.py [--genes 6000] [--repeats 5]

Prints ``{"name", "ours", "baseline", "unit", "ratio"}`` and a pass/fail line against the
target (a scan under 1 s, interactive).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from train_support import build_workspace, install_fake_features  # noqa: E402

from cre_core.query import service  # noqa: E402
from cre_core.train.config import TrainConfig  # noqa: E402
from cre_core.train.loop import train_run  # noqa: E402

TARGET_S = 1.0


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--genes", type=int, default=6000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    patch = pytest.MonkeyPatch()
    install_fake_features(patch, dim=256)
    with tempfile.TemporaryDirectory() as tmp:
        ws = build_workspace(Path(tmp) / "ws", n_genes=args.genes, pairs="random", n_pairs=4000)
        run = train_run(ws, TrainConfig.of(model="deepset", epochs=1, hidden=128), echo=lambda m: None)["run_id"]
        gene = "YAL003W"
        service.scan(ws, run, gene)                              # load and cache the model
        loaded = service.load_model(ws, run)
        g = loaded.index[gene]
        pairs = [[g, p] for p in range(len(loaded.genes)) if p != g]
        ours = timed(lambda: service.scan(ws, run, gene, top_k=20), args.repeats)
        base = timed(lambda: loaded.predict_sets(pairs), args.repeats)
        expected = np.sort(loaded.predict_sets(pairs))[:20]
        got = service.scan(ws, run, gene, top_k=20)["predicted"].to_numpy()
        assert np.allclose(got, expected, atol=1e-5), "scan and forward disagree"
    patch.undo()
    print(json.dumps({"name": f"scan_{args.genes}_partners", "ours": round(ours * 1000, 1),
                      "baseline": round(base * 1000, 1), "unit": "ms (median)",
                      "ratio": round(base / ours, 2), "machine": platform.processor() or platform.machine()}))
    print(f"{'PASS' if ours < TARGET_S else 'FAIL'}: scan of {args.genes:,} partners in "
          f"{ours:.3f} s (target < {TARGET_S} s)")


if __name__ == "__main__":
    main()
