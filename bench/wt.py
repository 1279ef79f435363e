"""Step time of ``wt-anchored`` (ours) vs ``wt-diff`` (the seed's) as the genome grows.

Same process, same synthetic data per genome size (``--dim``-d features, random gene pairs),
same width, batch and AdamW; one training step = forward, backward, optimiser step. wt-diff
encodes the whole genome minus each strain's genes as a set every step, so its step time grows
linearly with the genome; wt-anchored subtracts the deleted genes' φ from a learned wild-type
sum, so its step time does not depend on the genome at all.

Prints one JSON line per (model, genome size) and the final line
``{"name", "ours", "baseline", "unit": "ms/step", "ratio", ...}`` for the largest genome.

    python bench/wt.py                      # 1,000 / 3,000 / 6,000 genes on CPU
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cre_core.train.config import TrainConfig  # noqa: E402
from cre_core.train.data import model_from_config  # noqa: E402
from cre_core.train.loop import Engine  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train import machine  # noqa: E402


def step_ms(name: str, genes: int, args, device) -> float:
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.standard_normal((genes, args.dim), dtype=np.float32))
    pairs = 20 * args.batch
    a = rng.integers(0, genes, pairs)
    b = (a + rng.integers(1, genes, pairs)) % genes
    idx = torch.from_numpy(np.stack([a, b], 1)).to(device)
    y = torch.from_numpy(rng.uniform(0.3, 1.0, pairs).astype(np.float32)).to(device)
    torch.manual_seed(0)
    config = TrainConfig.of(model=name, hidden=args.hidden, norm=args.norm)
    model = model_from_config(config, genes, args.dim).to(device)
    model.set_features(x)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    engine = Engine(model, opt, idx, y, batch_size=args.batch, amp=False)
    batches = engine.epoch_batches(torch.arange(pairs, device=device), 0)
    for bt in batches[:args.warmup]:
        engine.train_step(bt)
    times = []
    for bt in batches[args.warmup:args.warmup + args.steps]:
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        engine.train_step(bt)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)) * 1e3


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--genes", default="1000,3000,6000")
    p.add_argument("--dim", type=int, default=1536)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--norm", default="none")
    p.add_argument("--steps", type=int, default=8, help="timed steps (median reported)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    device = torch.device(args.device)
    sizes = [int(g) for g in args.genes.split(",")]
    results: dict[str, dict[int, float]] = {"wt-anchored": {}, "wt-diff": {}}
    for genes in sizes:
        for name in results:
            ms = step_ms(name, genes, args, device)
            results[name][genes] = ms
            print(json.dumps({"model": name, "genes": genes, "ms_per_step": round(ms, 2), "batch": args.batch,
                              "dim": args.dim, "hidden": args.hidden, "machine": machine(device)}), flush=True)
    big = sizes[-1]
    ours, theirs = results["wt-anchored"][big], results["wt-diff"][big]
    print(json.dumps({
        "name": "wt_step_time", "ours": round(ours, 2), "baseline": round(theirs, 2), "unit": "ms/step",
        "ratio": round(theirs / ours, 1), "genes": big,
        "ours_by_genes": {g: round(v, 2) for g, v in results["wt-anchored"].items()},
        "baseline_by_genes": {g: round(v, 2) for g, v in results["wt-diff"].items()},
        "machine": machine(device), "load_avg_1m": os.getloadavg()[0],
    }))


if __name__ == "__main__":
    main()
