"""DCell at full Gene Ontology scale: training pairs/s, step time and peak memory, ours vs before.

The ontology is synthetic but GO-shaped (``go_shaped``): 6,000 genes, a synthetic root over three
namespace roots that each cover 75-90% of the genes, then recursive splits with heavy-tailed
child counts and Dirichlet-sized children that overlap (a gene sits in several branches), 15%
of each term's genes annotated at the term itself, extra parents for ~1 in 3 terms, leaves of
6 or more genes (DCell's size filter). Seed 0 gives ≈ 2,950 terms over 15 levels, sizes from 6
to 6,000 (median ≈ 14), as the real GO keeps by the paper's rules for ≈ 6,600 yeast genes.

Sides, each in its own process so the peak memory (ru_maxrss, or CUDA max allocated) is its own:

- ``old``: the DCell of commit 65c8e0b (every term computes every strain over one dense state
  of all genes and units), loaded from git history; measured on fewer steps (it is slow).
- ``prev`` / ``prev-bf16``: the DCell of commit 4f033db (session 3: compact rows, autograd
  BatchNorm, rows compacted by masks, a (batch, terms) table of heads for the loss), fp32 / bf16.
- ``new``: ``cre_core.models.dcell.DCell`` (compact rows: a term computes only the strains that
  delete one of its genes, plus one row shared by the rest).
- ``new-bf16``: the same with ``precision="bf16"`` (``--dcell-precision bf16``): the big groups'
  products, forward and backward, in bf16 (AMX on this CPU), the rest fp32.
- ``new-amp``: ``new`` under bf16 autocast, the engine's ``--amp`` on CUDA (on the 2-core CPU it
  is 5x slower than fp32, so CPU runs leave it out unless ``--sides`` names it).

Every side trains AdamW on random gene pairs (targets uniform) for ``--warmup`` + ``--steps``
steps at ``--batch`` (default 512, the training default); the new sides use the fused AdamW the
trainer uses (``make_optimizer``), the old side the plain one it had. Prints one JSON line per
side; with ``--record`` appends a table to bench/RESULTS.md. Besides wall-clock pairs/s (the
target's figure) it gives pairs per CPU-second (process time): with ``--threads 1`` that one
moves little when other jobs share the machine, while two threads' steps can become many
times slower (OpenMP threads wait for a core another job holds).

    python bench/dcell.py                       # old, new and new-bf16 on CPU
    python bench/dcell.py --sides new --device cuda --batch 4096 --steps 20
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT_DIR))

from cre_core.data.go import Ontology

OLD_COMMIT = "65c8e0b"          # the last commit with the dense-state DCell
PREV_COMMIT = "4f033db"         # compact rows, before the fused BatchNorm and the padded store
SIDES = ("old", "prev", "prev-bf16", "new", "new-bf16", "new-amp")
DEFAULT_CPU_SIDES = ("old", "new", "new-bf16")


def go_shaped(n_genes: int = 6000, seed: int = 0) -> Ontology:
    """A GO-shaped hierarchy (see the module docstring) in DCell's run order."""
    rng = np.random.default_rng(seed)
    sets: list[np.ndarray] = []
    kids: list[list[int]] = []

    def node(genes: np.ndarray, depth: int) -> int:
        t = len(sets)
        sets.append(genes)
        kids.append([])
        n = len(genes)
        if depth >= 14 or n < 12 or (n < 30 and rng.random() < 0.3):
            return t
        k = max(2, int(min(n // 6, 2 + rng.pareto(1.0) * 3, 50)))
        share = rng.dirichlet(np.full(k, 0.8))
        split = rng.random(n) < 0.85                  # the rest stay at this term
        branch = rng.choice(k, size=n, p=share)
        for j in range(k):
            sub = genes[split & (branch == j)]
            if len(sub) >= 6:
                if len(sub) >= 10:                    # genes in several branches
                    sub = np.union1d(sub, rng.choice(genes, size=len(sub) // 2, replace=False))
                kids[t].append(node(sub, depth + 1))
        return t

    everything = np.arange(n_genes)
    sets.append(everything)
    kids.append([])
    for cover in (0.85, 0.9, 0.75):                   # three namespace roots
        kids[0].append(node(everything[rng.random(n_genes) < cover], 1))
    n_terms = len(sets)
    for t in range(1, n_terms):                       # extra parents
        p = int(rng.integers(1, n_terms))
        if rng.random() < 0.35 and p != t and len(sets[p]) > 2 * len(sets[t]):
            kids[p].append(t)
    order = _post_order(kids)
    rank = {t: i for i, t in enumerate(order)}
    kids = [sorted({c for c in ks if rank[c] < rank[t]}) for t, ks in enumerate(kids)]  # no cycles
    genes: dict[int, np.ndarray] = {}
    level: dict[int, int] = {}
    for t in order:
        genes[t] = np.unique(np.concatenate([sets[t]] + [genes[c] for c in kids[t]]))
        level[t] = 1 + max((level[c] for c in kids[t]), default=-1)
    run = sorted(order, key=lambda t: (level[t], t == 0, t))
    pos = {t: i for i, t in enumerate(run)}
    direct, children = [], []
    for t in run:
        covered = np.unique(np.concatenate([genes[c] for c in kids[t]])) if kids[t] else []
        direct.append(np.setdiff1d(genes[t], covered).tolist())
        children.append(sorted(pos[c] for c in kids[t]))
    return Ontology([f"T{t:05d}" for t in run], direct, children,
                    [len(genes[t]) for t in run], [level[t] for t in run])


def _post_order(kids: list[list[int]]) -> list[int]:
    """Children before parents from term 0, iteratively (the extra edges may make cycles)."""
    order, done, on_path = [], set(), set()
    stack = [(0, iter(kids[0]))]
    on_path.add(0)
    while stack:
        t, it = stack[-1]
        c = next(it, None)
        if c is None:
            stack.pop()
            on_path.discard(t)
            done.add(t)
            order.append(t)
        elif c not in done and c not in on_path:
            on_path.add(c)
            stack.append((c, iter(kids[c])))
    return order


def describe(onto: Ontology) -> dict:
    widths = [max(20, math.ceil(0.3 * s)) for s in onto.size]
    in_dims = [len(onto.direct[t]) + sum(widths[c] for c in onto.children[t]) for t in range(len(widths))]
    parents = np.bincount([c for ch in onto.children for c in ch], minlength=len(widths))
    return {"terms": len(onto.terms), "levels": max(onto.level) + 1, "units": sum(widths),
            "size_median": int(np.median(onto.size)), "size_p99": int(np.percentile(onto.size, 99)),
            "multi_parent_terms": int((parents > 1).sum()),
            "weights_M": round(sum(i * w for i, w in zip(in_dims, widths)) / 1e6, 1)}


def past_dcell_class(commit: str):
    """DCell as of ``commit``, from git history (needs the repository's history)."""
    src = subprocess.run(["git", "show", f"{commit}:cre_core/models/dcell.py"], cwd=ROOT_DIR,
                         capture_output=True, text=True, check=True).stdout
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(src)
    spec = importlib.util.spec_from_file_location("dcell_old", f.name)
    module = importlib.util.module_from_spec(spec)
    sys.modules["dcell_old"] = module          # dataclasses look their module up by name
    spec.loader.exec_module(module)
    os.unlink(f.name)
    return module.DCell


def run_side(side: str, args) -> dict:
    """Train one side for warmup + steps on random pairs; returns its figures."""
    from cre_core.models.dcell import DCell

    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    onto = go_shaped(args.genes, args.seed)
    commit = {"old": OLD_COMMIT, "prev": PREV_COMMIT}.get(side.removesuffix("-bf16"))
    cls = past_dcell_class(commit) if commit else DCell
    torch.manual_seed(0)
    t0 = time.perf_counter()
    kwargs = {"precision": "bf16"} if side.endswith("-bf16") else {}
    model = cls(args.genes, onto, **kwargs).to(device).train()
    build_s = time.perf_counter() - t0
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=side != "old")
    rng = np.random.default_rng(args.seed)
    amp = side == "new-amp"
    ctx = torch.autocast(device.type, dtype=torch.bfloat16) if amp else contextlib.nullcontext()
    steps = max(2, args.steps // 8) if side == "old" else args.steps
    times, cpu = [], []
    for step in range(args.warmup + steps):
        a = rng.integers(0, args.genes, args.batch)
        b = (a + rng.integers(1, args.genes, args.batch)) % args.genes
        idx = torch.from_numpy(np.stack([a, b], 1)).to(device)
        y = torch.from_numpy(rng.random(args.batch, dtype=np.float32)).to(device)
        _sync(device)
        t0, c0 = time.perf_counter(), time.process_time()
        with ctx:
            loss = model(idx, y)["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        _sync(device)
        if step >= args.warmup:
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    step_s = float(np.median(times))
    peak = (torch.cuda.max_memory_allocated(device) if device.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return {"side": side, "device": machine(device), "threads": torch.get_num_threads(),
            "batch": args.batch, "steps": len(times),
            "step_s": round(step_s, 4), "pairs_per_s": round(args.batch / step_s, 1),
            "pairs_per_cpu_s": round(args.batch / float(np.median(cpu)), 1),
            "peak_gb": round(peak / 1e9, 2), "build_s": round(build_s, 1),
            "load_avg": round(os.getloadavg()[0], 1), **describe(onto)}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def machine(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{os.cpu_count()}-core CPU, shared with other jobs"


def record(rows: list[dict]) -> None:
    """Append the rows to bench/RESULTS.md as a table."""
    lines = ["", f"### DCell at full GO scale ({time.strftime('%Y-%m-%d')}, {rows[0]['device']})", "",
             (f"Synthetic GO-shaped ontology (`bench/dcell.py`, seed 0): {rows[0]['terms']:,} terms, "
             f"{rows[0]['levels']} levels, {rows[0]['weights_M']}M term weights, "
             f"6,000 genes; batch {rows[0]['batch']}, AdamW, median step."), "",
             "| side | threads | pairs/s | pairs per CPU-s | step (s) | peak memory (GB) | steps | load avg |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['side']} | {r['threads']} | {r['pairs_per_s']:,.0f} | {r['pairs_per_cpu_s']:,.0f} | "
                     f"{r['step_s']} | {r['peak_gb']} | {r['steps']} | {r['load_avg']} |")
    with open(ROOT_DIR / "bench" / "RESULTS.md", "a") as f:
        f.write("\n".join(lines) + "\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sides", nargs="+", choices=SIDES,
                   help=f"default on CPU: {' '.join(DEFAULT_CPU_SIDES)}; on CUDA: all")
    p.add_argument("--genes", type=int, default=6000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch", type=int, default=512)
    p.add_argument("--steps", type=int, default=16, help="timed steps (the old side runs 1/8)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    p.add_argument("--record", action="store_true", help="append the table to bench/RESULTS.md")
    p.add_argument("--describe", action="store_true", help="print the ontology's shape and exit")
    p.add_argument("--one", choices=SIDES, help=argparse.SUPPRESS)   # child process: one side
    args = p.parse_args()
    if args.describe:
        print(json.dumps(describe(go_shaped(args.genes, args.seed))))
        return
    if args.one:
        print(json.dumps(run_side(args.one, args)))
        return
    sides = args.sides or (DEFAULT_CPU_SIDES if args.device == "cpu" else SIDES)
    rows = []
    for side in sides:                       # one process per side: separate peaks
        cmd = [sys.executable, __file__, "--one", side]
        for name in ("genes", "seed", "batch", "steps", "warmup", "device", "threads"):
            cmd += [f"--{name}", str(getattr(args, name))]
        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if out.returncode:                        # say so and measure the other sides
            why = out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"
            print(json.dumps({"side": side, "failed": why}), flush=True)
            continue
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), flush=True)
    if args.record and rows:
        record(rows)


if __name__ == "__main__":
    main()
