"""Training throughput: our engine vs a naive per-sample Dataset + DataLoader loop.

Same process, same model (the perturbation DeepSet: φ 2 layers, sum, ρ 2 layers), same data
(a synthetic genome of ``--genes`` genes with ``--dim``-d features, the width of the kmer/
SpeciesLM ``both`` features, and ``--pairs`` random gene pairs), same batch size, same AdamW.

- naive: a ``torch.utils.data.Dataset`` whose ``__getitem__`` returns a dict per sample (the two
  genes' feature rows stacked, a mask, the target); ``DataLoader(shuffle=True)`` collates the
  dicts; φ runs on every gene slot of the batch (``DeepSet.predict_features``).
- ours: ``cre_core.train.loop.Engine``: the feature table on the device once, batches are slices
  of a permuted index tensor, φ once per unique gene of the batch.

Both sides train for the same number of samples after a short warm-up, alternating over
``--rounds`` rounds (other processes on a shared machine then slow both sides alike); the
figures are the medians of training samples per second. Prints one JSON line per side, then the final line
``{"name", "ours", "baseline", "unit": "samples/s", "ratio", ...}``.

The default batch (4,096) is the one for the 1.3e6-1.3e7 pairs this engine is built for; pass
``--batch`` for the others (bench/RESULTS.md has the grid, small batches included).

    python bench/train.py                      # CPU defaults: 6,000 genes, 1,536-d, batch 4,096
    python bench/train.py --device cuda --pairs 13000000 --batch 32768 --epoch   # H100 row
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cre_core.models import DeepSet  # noqa: E402
from cre_core.train.loop import Engine  # noqa: E402


def machine(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpu = platform.processor() or "cpu"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{os.cpu_count()} vCPU {cpu}"


def make_data(genes: int, dim: int, pairs: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((genes, dim), dtype=np.float32)
    a = rng.integers(0, genes, pairs)
    b = (a + rng.integers(1, genes, pairs)) % genes
    idx = np.stack([np.minimum(a, b), np.maximum(a, b)], 1).astype(np.int64)
    w = rng.standard_normal(dim).astype(np.float32) / np.sqrt(dim)
    f = 1 / (1 + np.exp(-(x @ w)))
    y = (f[idx[:, 0]] * f[idx[:, 1]]).astype(np.float32)
    return x, idx, y


def new_model(genes: int, dim: int, hidden: int, x: np.ndarray, device) -> DeepSet:
    torch.manual_seed(0)
    m = DeepSet(genes, dim, hidden=hidden).to(device)
    m.set_features(torch.from_numpy(x))
    return m


class PairDataset(torch.utils.data.Dataset):
    """The naive way: one dict of tensors per sample."""

    def __init__(self, x: np.ndarray, idx: np.ndarray, y: np.ndarray) -> None:
        self.x, self.idx, self.y = x, idx, y

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> dict:
        a, b = self.idx[i]
        return {"x": torch.from_numpy(np.stack([self.x[a], self.x[b]])),
                "mask": torch.ones(2, dtype=torch.bool), "y": torch.tensor(self.y[i])}


def sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def run_naive(model, x, idx, y, batch, samples, warmup, device, workers) -> float:
    loader = torch.utils.data.DataLoader(PairDataset(x, idx, y), batch_size=batch, shuffle=True,
                                         num_workers=workers, drop_last=True)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    done, t0 = 0, None
    for step, item in enumerate(loader):
        if step == warmup:
            sync(device)
            t0, done = time.perf_counter(), 0
        xb, mb, yb = (item[k].to(device, non_blocking=True) for k in ("x", "mask", "y"))
        pred = model.predict_features(xb, mb)
        loss = torch.nn.functional.mse_loss(pred, yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        done += len(yb)
        if t0 is not None and done >= samples:
            break
    sync(device)
    return done / (time.perf_counter() - t0)


def run_ours(model, idx_t, y_t, batch, samples, warmup, device, amp, epoch_rows=None) -> tuple[float, float]:
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=device.type == "cuda")
    engine = Engine(model, opt, idx_t, y_t, batch_size=batch, amp=amp)
    rows = torch.arange(len(y_t), device=device)
    batches = engine.epoch_batches(rows, 0)
    for b in batches[:warmup]:
        engine.train_step(b)
    sync(device)
    t0, done = time.perf_counter(), 0
    for b in batches[warmup:]:
        engine.train_step(b)
        done += len(b)
        if epoch_rows is None and done >= samples:
            break
    sync(device)
    seconds = time.perf_counter() - t0
    return done / seconds, seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--genes", type=int, default=6000)
    p.add_argument("--dim", type=int, default=1536)
    p.add_argument("--pairs", type=int, default=200_000)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--batch", type=int, default=4096)
    p.add_argument("--samples", type=int, default=40_000, help="samples timed per side")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps per side")
    p.add_argument("--workers", type=int, default=0, help="DataLoader workers of the naive side")
    p.add_argument("--device", default="auto")
    p.add_argument("--no-amp", action="store_true", help="no bf16 autocast on CUDA")
    p.add_argument("--epoch", action="store_true",
                   help="also time one full epoch over all --pairs with our engine (the H100 row)")
    p.add_argument("--skip-naive", action="store_true")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians are reported")
    args = p.parse_args()
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available()
                          else ("cpu" if args.device == "auto" else args.device))
    amp = device.type == "cuda" and not args.no_amp
    x, idx, y = make_data(args.genes, args.dim, args.pairs)
    info = {"machine": machine(device), "device": str(device), "genes": args.genes, "dim": args.dim,
            "pairs": args.pairs, "batch": args.batch, "hidden": args.hidden, "threads": torch.get_num_threads(),
            "amp": amp}

    idx_t, y_t = torch.from_numpy(idx).to(device), torch.from_numpy(y).to(device)
    naive_rates, our_rates = [], []
    for round_ in range(args.rounds):          # alternate the sides: load from other processes hits both
        if not args.skip_naive:
            model = new_model(args.genes, args.dim, args.hidden, x, device)
            naive_rates.append(run_naive(model, x, idx, y, args.batch, args.samples, args.warmup, device, args.workers))
            print(json.dumps({"side": "naive Dataset+DataLoader", "round": round_,
                              "samples_per_s": round(naive_rates[-1]), **info}), flush=True)
        model = new_model(args.genes, args.dim, args.hidden, x, device)
        our_rates.append(run_ours(model, idx_t, y_t, args.batch, args.samples, args.warmup, device, amp)[0])
        print(json.dumps({"side": "engine", "round": round_, "samples_per_s": round(our_rates[-1]), **info}), flush=True)
    baseline = float(np.median(naive_rates)) if naive_rates else None
    ours = float(np.median(our_rates))
    extra = {}
    if args.epoch:
        model = new_model(args.genes, args.dim, args.hidden, x, device)
        rate, seconds = run_ours(model, idx_t, y_t, args.batch, 0, args.warmup, device, amp, epoch_rows=True)
        extra = {"epoch_seconds": round(seconds * args.pairs / (args.pairs - args.warmup * args.batch), 2),
                 "epoch_pairs": args.pairs}
        print(json.dumps({"side": "engine, one epoch", "samples_per_s": round(rate), **extra, **info}), flush=True)
    print(json.dumps({"name": "train_throughput", "ours": round(ours), "baseline": round(baseline) if baseline else None,
                      "load_avg_1m": os.getloadavg()[0],
                      "unit": "samples/s", "ratio": round(ours / baseline, 2) if baseline else None,
                      **extra, **info}))


if __name__ == "__main__":
    main()
