"""DCell at full Gene Ontology scale, on the real GO beside a synthetic one: sets/s, parameters, peak memory.

Two ontologies, side by side in one run (``--ontology``, default both):

- ``real``: what ``train --model dcell`` builds on the real workspace of ``../shared/realdata``
  (the 2019 GO and SGD's annotations; built into a temporary folder, ~10 s, or ``--workspace``):
  the paper's filters (cre_core.data.go; docs/dcell.md) over the genes that the training split
  deletes; batches are that split's gene sets (about half single mutants, half pairs) with their
  fitness.
- ``synthetic``: ``go_shaped``, the GO-shaped stand-in of earlier rounds: 6,000 genes, a synthetic
  root over three namespace roots that each cover 75-90% of the genes, then recursive splits with
  heavy-tailed child counts and Dirichlet-sized children that overlap (a gene sits in several
  branches), 15% of each term's genes annotated at the term itself, extra parents for ~1 in 3
  terms, leaves of 6 or more genes. Seed 0 gives ≈ 2,950 terms over 15 levels; batches are random
  gene pairs with uniform targets. Its near-root terms are far smaller than the real GO's (the
  real GO's chain of nearly equal terms under the namespace roots: cell part, intracellular
  part, organelle, ...), which is why its figures did not carry over (RESULTS, "DCell on the real
  Gene Ontology").

Sides, each ontology × side in its own process so the peak memory (ru_maxrss, or CUDA max
allocated) is its own:

- ``new``: ``cre_core.models.dcell.DCell`` (compact rows: a term computes only the strains that
  delete one of its genes, plus one row shared by the rest), fp32, the default.
- ``new-bf16``: the same with ``precision="bf16"`` (``--dcell-precision bf16``).
- ``new-amp``: ``new`` under bf16 autocast, the engine's ``--amp`` on CUDA.
- ``old`` / ``prev`` / ``prev-bf16`` / ``whole``: the DCell of commit 65c8e0b (dense state) / 4f033db
  (session 3) / a3066ee (round 3, before the near-root terms multiplied their children's own rows:
  every row multiplied its whole input), loaded from git history, for the tables in RESULTS; not
  run by default.

Each trains AdamW (fused, as the trainer's ``make_optimizer``) for ``--warmup`` + ``--steps``
steps at ``--batch`` (default 512, the training default) and reports the median step as sets/s
(the target's figure) and sets per CPU-second (with ``--threads 1`` that one moves little when
other jobs share the machine). ``--interleave`` also trains both ontologies' ``new`` models in
one process, alternating steps, for a ratio that shares the machine's load. With ``--record``
appends the tables to bench/RESULTS.md.

``--profile`` says where a ``new`` side's step goes instead: forward, backward and AdamW (median
wall seconds), then torch.profiler's self time binned by kind of op (products, gathers and
scatters, fills and copies, other tensor ops, AdamW, Python and autograd bookkeeping), per step.

    python bench/dcell.py --ontology real --profile --threads 2
    python bench/dcell.py                                  # real and synthetic, new and new-bf16
    python bench/dcell.py --threads 1 --interleave --record
    python bench/dcell.py --ontology real --sides new --device cuda --batch 4096 --steps 20
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

ROOT_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT_DIR))

from cre_core.data.go import Ontology

OLD_COMMIT = "65c8e0b"          # the last commit with the dense-state DCell
PREV_COMMIT = "4f033db"         # compact rows, before the fused BatchNorm and the padded store
WHOLE_COMMIT = "a3066ee"        # every row of a term multiplies its whole input (before _DeltaProduct)
SIDES = ("old", "prev", "prev-bf16", "whole", "new", "new-bf16", "new-amp")
DEFAULT_CPU_SIDES = ("new", "new-bf16")
DEFAULT_CUDA_SIDES = ("new", "new-amp", "new-bf16")
ONTOLOGIES = ("real", "synthetic")


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


@dataclass
class Workload:
    """An ontology and the gene sets a step trains on."""

    name: str
    onto: Ontology
    n_genes: int
    idx: np.ndarray | None = None          # real: the training split's gene sets (n, 3) ...
    fitness: np.ndarray | None = None      # ... and their fitness

    def batch(self, rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
        if self.idx is None:                # random gene pairs, uniform targets
            a = rng.integers(0, self.n_genes, size)
            b = (a + rng.integers(1, self.n_genes, size)) % self.n_genes
            return np.stack([a, b], 1), rng.random(size, dtype=np.float32)
        assert self.fitness is not None
        rows = rng.choice(len(self.idx), size, replace=False)
        return self.idx[rows], self.fitness[rows].astype(np.float32)


def real_workspace(folder: Path) -> Path:
    """The real workspace of ../shared/realdata at ``folder`` (built there unless it exists)."""
    if not (folder / "cre.duckdb").exists():
        sys.path.insert(0, str(ROOT_DIR / "tests"))
        from realdata import REALDATA, build_real_workspace
        if not REALDATA.is_dir():
            sys.exit(f"bench/dcell.py: {REALDATA} is absent (../shared beside the checkout); "
                     f"use --ontology synthetic or --workspace")
        build_real_workspace(folder)
    return folder


def workload(name: str, args) -> Workload:
    """The ontology ``name`` as training builds it, with its gene sets."""
    if name == "synthetic":
        return Workload(name, go_shaped(args.genes, args.seed), args.genes)
    from cre_core.train import data as D
    from cre_core.train.config import TrainConfig
    from cre_core.workspace import Workspace

    ws = Workspace(Path(args.workspace))
    table, split = D.training_rows(ws, TrainConfig.of(model="dcell"))
    onto = D.load_ontology(ws, table.genes, args.min_genes, D.deleted_genes(table, split.train))
    return Workload(name, onto, table.n_genes, table.idx[split.train], table.fitness[split.train])


def describe(onto: Ontology, precision: str = "fp32") -> dict:
    from cre_core.models.dcell import _in_dim, plan, term_widths

    widths = term_widths(onto)
    parents = np.bincount([c for ch in onto.children for c in ch], minlength=len(widths))
    top = sorted(range(len(widths)), key=lambda t: -_in_dim(onto, widths, t) * widths[t])[:6]
    shape = plan(onto, 512, precision)
    return {"terms": len(onto.terms), "levels": max(onto.level) + 1, "units": sum(widths),
            "size_median": int(np.median(onto.size)), "size_p99": int(np.percentile(onto.size, 99)),
            "multi_parent_terms": int((parents > 1).sum()),
            "direct_inputs": sum(map(len, onto.direct)),
            "weights_M": round(sum(_in_dim(onto, widths, t) * widths[t] for t in range(len(widths))) / 1e6, 1),
            "top6_weights_M": round(sum(_in_dim(onto, widths, t) * widths[t] for t in top) / 1e6, 1),
            "parameters": shape.parameters, "estimate_gb": round(shape.train_bytes / 1e9, 2)}


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


def build(side: str, work: Workload, device: torch.device):
    """Side ``side``'s model over ``work``'s ontology and its optimiser."""
    from cre_core.models.dcell import DCell

    commit = {"old": OLD_COMMIT, "prev": PREV_COMMIT, "whole": WHOLE_COMMIT}.get(side.removesuffix("-bf16"))
    cls = past_dcell_class(commit) if commit else DCell
    torch.manual_seed(0)
    kwargs = {"precision": "bf16"} if side.endswith("-bf16") else {}
    model = cls(work.n_genes, work.onto, **kwargs).to(device).train()
    return model, torch.optim.AdamW(model.parameters(), lr=1e-3, fused=side != "old")


def step(model, opt, idx: np.ndarray, y: np.ndarray, device: torch.device,
         amp: bool) -> tuple[float, float, float, float]:
    """One training step: its forward, backward and AdamW wall seconds, and its CPU seconds."""
    idx_t, y_t = torch.from_numpy(idx).long().to(device), torch.from_numpy(y).to(device)
    ctx = torch.autocast(device.type, dtype=torch.bfloat16) if amp else contextlib.nullcontext()
    _sync(device)
    t0, c0 = time.perf_counter(), time.process_time()
    with ctx:
        loss = model(idx_t, y_t)["loss"]
    _sync(device)
    t1 = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    _sync(device)
    t2 = time.perf_counter()
    opt.step()
    _sync(device)
    return t1 - t0, t2 - t1, time.perf_counter() - t2, time.process_time() - c0


def run_side(side: str, name: str, args) -> dict:
    """Train one side over ontology ``name`` for warmup + steps; returns its figures."""
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    work = workload(name, args)
    t0 = time.perf_counter()
    model, opt = build(side, work, device)
    build_s = time.perf_counter() - t0
    rng = np.random.default_rng(args.seed)
    steps = max(2, args.steps // 8) if side == "old" else args.steps
    times, cpu = [], []
    for i in range(args.warmup + steps):
        *phases, proc = step(model, opt, *work.batch(rng, args.batch), device, side == "new-amp")
        if i >= args.warmup:
            times.append(sum(phases))
            cpu.append(proc)
    step_s = float(np.median(times))
    peak = (torch.cuda.max_memory_allocated(device) if device.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return {"ontology": name, "side": side, "device": machine(device), "threads": torch.get_num_threads(),
            "batch": args.batch, "steps": len(times),
            "step_s": round(step_s, 4), "sets_per_s": round(args.batch / step_s, 1),
            "sets_per_cpu_s": round(args.batch / float(np.median(cpu)), 1),
            "peak_gb": round(peak / 1e9, 2), "build_s": round(build_s, 1),
            "load_avg": round(os.getloadavg()[0], 1),
            **describe(work.onto, "bf16" if side.endswith("-bf16") else "fp32")}


def interleave(args) -> dict:
    """Both ontologies' ``new`` models in one process, alternating steps (one load for both)."""
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    works = [workload(name, args) for name in ONTOLOGIES]
    models = [build("new", w, device) for w in works]
    rng = np.random.default_rng(args.seed)
    times: list[list[float]] = [[] for _ in works]
    loads = [os.getloadavg()[0]]
    for i in range(args.warmup + args.steps):
        for k, (work, (model, opt)) in enumerate(zip(works, models)):
            *phases, _ = step(model, opt, *work.batch(rng, args.batch), device, False)
            if i >= args.warmup:
                times[k].append(sum(phases))
    loads.append(os.getloadavg()[0])
    rates = [args.batch / float(np.median(t)) for t in times]
    return {"interleaved": True, "threads": torch.get_num_threads(), "batch": args.batch, "steps": args.steps,
            **{f"{w.name}_sets_per_s": round(r, 1) for w, r in zip(works, rates)},
            "real_over_synthetic": round(rates[0] / rates[1], 3),
            "load_avg": f"{min(loads):.1f}-{max(loads):.1f}"}


OP_KINDS = {        # torch.profiler op name -> kind of work (--profile)
    "products": {"aten::mm", "aten::bmm", "aten::baddbmm", "aten::addmm", "aten::addmv", "aten::addmv_",
                 "aten::mv", "aten::matmul"},
    "gathers and scatters": {"aten::index_select", "aten::index_add_", "aten::gather", "aten::scatter_add_",
                             "aten::scatter_", "aten::index", "aten::index_put_", "aten::_index_put_impl_"},
    "fills and copies": {"aten::fill_", "aten::zero_", "aten::copy_", "aten::cat", "aten::clone"},
    "AdamW": {"aten::_fused_adamw_"},
}


def profile(name: str, args) -> dict:
    """Where one ``new`` step over ontology ``name`` goes: phases (median wall s) and op kinds
    (torch.profiler's CPU self time per step; its own cost inflates the small ops). CPU only: on
    CUDA the kinds would count launches, not the device's work."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    work = workload(name, args)
    model, opt = build("new", work, device)
    rng = np.random.default_rng(args.seed)

    def phases() -> tuple[float, ...]:
        return step(model, opt, *work.batch(rng, args.batch), device, False)[:3]

    for _ in range(args.warmup):
        phases()
    wall = np.median([phases() for _ in range(args.steps)], 0)
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(args.steps):
            phases()
    kinds = dict.fromkeys([*OP_KINDS, "other tensor ops", "Python and autograd"], 0.0)
    for e in prof.key_averages():
        kind = next((k for k, ops in OP_KINDS.items() if e.key in ops),
                    "other tensor ops" if e.key.startswith("aten::") else "Python and autograd")
        kinds[kind] += e.self_cpu_time_total / 1e6 / args.steps
    total = sum(kinds.values())
    return {"ontology": name, "threads": torch.get_num_threads(), "batch": args.batch, "steps": args.steps,
            "forward_s": round(float(wall[0]), 3), "backward_s": round(float(wall[1]), 3),
            "adamw_s": round(float(wall[2]), 3), "sets_per_s": round(args.batch / float(wall.sum()), 1),
            "profiled_s_per_step": round(total, 3),
            "kinds": {k: f"{v:.3f} s ({v / total:.0%})" for k, v in kinds.items()},
            "load_avg": round(os.getloadavg()[0], 1)}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def machine(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{os.cpu_count()}-core CPU, shared with other jobs"


def record(rows: list[dict], mixed: dict | None) -> None:
    """Append the rows (and the interleaved ratio) to bench/RESULTS.md as a table."""
    lines = ["", f"### DCell, real and synthetic GO ({time.strftime('%Y-%m-%d %H:%M')}, {rows[0]['device']})", "",
             f"`bench/dcell.py`, batch {rows[0]['batch']}, AdamW, median step; each row its own process.", "",
             "| ontology | side | terms | levels | parameters | sets/s | sets per CPU-s | peak GB | "
             "estimate GB | threads | steps | load avg |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['ontology']} | {r['side']} | {r['terms']:,} | {r['levels']} | {r['parameters']:,} | "
                     f"{r['sets_per_s']:,.0f} | {r['sets_per_cpu_s']:,.0f} | {r['peak_gb']} | {r['estimate_gb']} | "
                     f"{r['threads']} | {r['steps']} | {r['load_avg']} |")
    if mixed:
        lines += ["", f"Interleaved in one process ({mixed['threads']} threads, load {mixed['load_avg']}): real "
                      f"{mixed['real_sets_per_s']:,.0f} sets/s, synthetic {mixed['synthetic_sets_per_s']:,.0f} "
                      f"(real / synthetic {mixed['real_over_synthetic']})."]
    with open(ROOT_DIR / "bench" / "RESULTS.md", "a") as f:
        f.write("\n".join(lines) + "\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ontology", nargs="+", choices=ONTOLOGIES, default=list(ONTOLOGIES))
    p.add_argument("--sides", nargs="+", choices=SIDES,
                   help=f"default on CPU: {' '.join(DEFAULT_CPU_SIDES)}; on CUDA: {' '.join(DEFAULT_CUDA_SIDES)}")
    p.add_argument("--workspace", help="the real workspace (default: built from ../shared/realdata into a "
                                       "temporary folder)")
    p.add_argument("--genes", type=int, default=6000, help="genes of the synthetic ontology")
    p.add_argument("--min-genes", type=int, default=6,
                   help="the real ontology's --dcell-min-genes (6, the paper's and training's default)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch", type=int, default=512)
    p.add_argument("--steps", type=int, default=16, help="timed steps (the old side runs 1/8)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    p.add_argument("--interleave", action="store_true",
                   help="also train both ontologies' new models in one process, alternating steps")
    p.add_argument("--record", action="store_true", help="append the table to bench/RESULTS.md")
    p.add_argument("--describe", action="store_true", help="print the ontologies' shapes and exit")
    p.add_argument("--profile", action="store_true",
                   help="where the new side's step goes (phases, kinds of op), per ontology, and exit")
    p.add_argument("--one", nargs=2, metavar=("SIDE", "ONTOLOGY"), help=argparse.SUPPRESS)   # child process
    p.add_argument("--mixed", action="store_true", help=argparse.SUPPRESS)                   # child process
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="dcell-bench-") as tmp:
        if args.workspace is None and "real" in args.ontology:
            args.workspace = str(real_workspace(Path(tmp) / "real"))
        if args.describe:
            for name in args.ontology:
                print(json.dumps({"ontology": name, **describe(workload(name, args).onto)}))
            return
        if args.profile:
            for name in args.ontology:
                print(json.dumps(profile(name, args)), flush=True)
            return
        if args.one:
            print(json.dumps(run_side(args.one[0], args.one[1], args)))
            return
        if args.mixed:
            print(json.dumps(interleave(args)))
            return
        sides = args.sides or (DEFAULT_CPU_SIDES if args.device == "cpu" else DEFAULT_CUDA_SIDES)
        rows = []
        base = [sys.executable, __file__]
        for name in ("genes", "min_genes", "seed", "batch", "steps", "warmup", "device", "threads", "workspace"):
            if getattr(args, name) is not None:
                base += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
        for name in args.ontology:
            for side in sides:                       # one process per side: separate peaks
                row = _child(base + ["--one", side, name], {"ontology": name, "side": side})
                if row is not None:
                    rows.append(row)
        mixed = _child(base + ["--mixed"], {"interleaved": True}) if args.interleave else None
        if args.record and rows:
            record(rows, mixed)


def _child(cmd: list[str], label: dict) -> dict | None:
    """Run one measurement in its own process; its JSON line, or None (said) when it failed."""
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode:                        # say so and measure the others
        why = out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"
        print(json.dumps({**label, "failed": why}), flush=True)
        return None
    row = json.loads(out.stdout.strip().splitlines()[-1])
    print(json.dumps(row), flush=True)
    return row


if __name__ == "__main__":
    main()
