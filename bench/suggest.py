"""Does ``cre suggest`` pick pairs worth measuring? Hide, train, reveal, retrain, compare held-out ε r.

Per demo seed: the measured pairs are split at random (fixed seed) into test (20%), validation
(10%), a base training set and a hidden pool (the rest, ``--pool`` of it). A K-member ensemble
trains on the base set; each policy then reveals ``--k`` pool pairs (their measured values join
training), the same config retrains from scratch (``--retrain-members`` members), and the policies are compared on the
test pairs' ε r (predicted ε̂ = f̂ − f_a f_b against measured ε, member mean). Policies:

- ``first interactions``: ``cre suggest --policy first-interactions`` (``cre_core.query.
  first_interactions``): the pairs likeliest to give a gene without a strong interaction among
  the base pairs its first one, then the rest;
- ``suggested``: the combined rank (``rank_combined``: mean of the |ε̂| and disagreement ranks);
- ``largest abs ε̂``: its ``rank_epsilon`` alone;
- ``disagreement``: its ``rank_disagreement`` alone (for reading the combination);
- ``capped N``: the suggested rank with at most N pairs per gene (``cap_per_gene``, ``--caps``);
- ``random``: k pool pairs drawn at random (``--random-draws`` draws, each retrained).

Also: "no reveal" (the base run) and the share of picked pairs with a strong measured
interaction (|ε| > 0.08), the discovery side of a screen, how many genes without a strong
interaction among the base pairs the picks give one ("new genes"), and how concentrated the
picks are (the share of their gene slots held by the 10 commonest genes; distinct genes). Every
run is trained by the product's own ``train_run`` with a split file (``--split-file``), so the
product's code path is measured.

    python bench/suggest.py --preset tiny --seeds 0 1 [--k 1000] [--members 3] [--epochs 4] [--workdir DIR]

Prints one JSON line per seed and a markdown table at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

import numpy as np
import pandas as pd
import torch

from cre_core.demo.commands import build_demo
from cre_core.query import service
from cre_core.query.browse import SIGNIFICANT_EPSILON
from cre_core.query.first_interactions import order_pairs
from cre_core.query.spread import PER_GENE, cap_per_gene
from cre_core.query.suggestions import score_pairs, unexplored_genes
from cre_core.train.config import TrainConfig
from cre_core.train.loop import train_run
from cre_core.workspace import Workspace

STRONG = SIGNIFICANT_EPSILON      # the cut-off unexplored_genes reads


def write_split(path: Path, parts: dict[str, pd.DataFrame]) -> Path:
    frames = [f[["gene_a", "gene_b"]].assign(split=name) for name, f in parts.items()]
    pd.concat(frames).to_csv(path, index=False)
    return path


def pair_keys(frame: pd.DataFrame) -> pd.Series:
    return frame["gene_a"] + " " + frame["gene_b"]


def train(ws: Workspace, split: Path, args: argparse.Namespace, name: str, members: int) -> dict:
    """Train run ``name`` (or reuse it when it finished before: ``--workdir`` resumes a bench)."""
    folder = ws.runs_dir / name
    if (folder / "summary.json").exists():
        done = json.loads((folder / "summary.json").read_text())
        if done.get("status") in ("done", "diverged"):
            return {**done, "run_id": name}
    config = TrainConfig.of(model=args.model, embedder=args.embedder, split_file=str(split), epochs=args.epochs,
                         patience=args.patience, batch_size=args.batch, lr=args.lr, ensemble=members, seed=0)
    summary = train_run(ws, config, run_dir=folder, echo=lambda m: None)
    assert summary is not None and summary["status"] in ("done", "diverged"), summary
    return summary


def one_seed(seed: int, args: argparse.Namespace, tmp: Path) -> dict:
    ws = Workspace(tmp / f"ws{seed}")
    if not ws.exists():
        build_demo(ws.root, preset=args.preset, seed=seed)
    con = ws.connect(read_only=True)
    try:
        pairs = con.execute("SELECT gene_a, gene_b, epsilon FROM dmf ORDER BY gene_a, gene_b").df()
    finally:
        con.close()
    rng = np.random.default_rng(1000 + seed)
    pairs = pairs.iloc[rng.permutation(len(pairs))].reset_index(drop=True)
    n = len(pairs)
    n_test, n_val = int(0.2 * n), int(0.1 * n)
    test, val, rest = pairs[:n_test], pairs[n_test:n_test + n_val], pairs[n_test + n_val:]
    n_pool = int(args.pool * len(rest))
    pool, base = rest[:n_pool].reset_index(drop=True), rest[n_pool:]
    t0 = time.time()
    base_run = train(ws, write_split(tmp / f"base{seed}.csv", {"train": base, "val": val, "test": test}), args,
                     "base", args.members)
    loaded = service.load_model(ws, "base")
    idx = np.array([[loaded.index[a], loaded.index[b]] for a, b in zip(pool["gene_a"], pool["gene_b"])])
    ranked = score_pairs(loaded, idx)
    position = pd.Series(np.arange(len(pool)), index=pair_keys(pool))
    unexplored = unexplored_genes(ws, loaded)          # the store holds the pool too: read from the run's split

    def top(order: pd.DataFrame) -> np.ndarray:
        """The pool positions of an order's first k pairs."""
        return position[pair_keys(order)[:args.k]].to_numpy()

    picks = {                                          # ranked: best combined rank first
        "first interactions": top(order_pairs(ranked, "first-interactions", PER_GENE, unexplored)[0]),
        "suggested": top(ranked),
        **{f"capped {cap}": top(cap_per_gene(ranked, cap)[0]) for cap in args.caps},
        "largest abs ε̂": top(ranked.sort_values("rank_epsilon")),
        "disagreement": top(ranked.sort_values("rank_disagreement")),
    }
    for d in range(args.random_draws):
        picks[f"random {d + 1}"] = np.random.default_rng(seed * 100 + d).choice(len(pool), args.k, replace=False)
    rows = {"no reveal": {"eps_r": base_run["eps_pearson"], "fitness_r": base_run["pearson"],
                          "n_train": base_run["n_train"], "strong_share": None, "new_genes": None,
                          "top10_slots": None, "genes": None}}
    if args.policies:
        picks = {k: v for k, v in picks.items() if k.split(" ")[0] in args.policies}
    for name, chosen in picks.items():
        revealed = pool.iloc[chosen]
        slug = name.replace(" ", "-")
        run = train(ws, write_split(tmp / f"{seed}-{slug}.csv",
                                    {"train": pd.concat([base, revealed]), "val": val, "test": test}), args,
                    slug, args.retrain_members)
        eps = revealed["epsilon"].to_numpy(dtype=float)
        slots = pd.concat([revealed["gene_a"], revealed["gene_b"]]).value_counts()
        hits = revealed[np.abs(eps) > STRONG]
        rows[name] = {"eps_r": run["eps_pearson"], "fitness_r": run["pearson"], "n_train": run["n_train"],
                      "strong_share": float(np.mean(np.abs(eps[np.isfinite(eps)]) > STRONG)),
                      "new_genes": len((set(hits["gene_a"]) | set(hits["gene_b"])) & unexplored),
                      "top10_slots": float(slots.head(10).sum() / slots.sum()), "genes": len(slots)}
    random_r = [v["eps_r"] for k, v in rows.items() if k.startswith("random")]
    return {"seed": seed, "preset": args.preset, "pairs": n, "base": len(base), "pool": len(pool), "k": args.k,
            "unexplored": len(unexplored),
            "test": len(test), "pool_strong_share": float(np.mean(np.abs(pool["epsilon"].dropna()) > STRONG)),
            "random_mean_eps_r": float(np.mean(random_r)), "rows": rows, "seconds": round(time.time() - t0, 1)}


def table(results: list[dict]) -> str:
    lines = ["| demo seed | policy | test ε r | vs random (mean) | fitness r | training pairs "
             "| picked pairs with \\|ε\\| > 0.08 | new genes | gene slots in the 10 commonest genes | genes |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for res in results:
        for name, row in res["rows"].items():
            strong = "—" if row["strong_share"] is None else f"{row['strong_share']:.1%}"
            top10 = "—" if row["top10_slots"] is None else f"{row['top10_slots']:.0%}"
            new = "—" if row.get("new_genes") is None else row["new_genes"]
            diff = row["eps_r"] - res["random_mean_eps_r"]
            lines.append(f"| {res['seed']} | {name} | {row['eps_r']:.3f} | {diff:+.3f} | {row['fitness_r']:.3f} | "
                         f"{row['n_train']:,} | {strong} | {new} | {top10} | {row['genes'] or '—'} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--pool", type=float, default=0.75, help="share of the non-test, non-val pairs hidden")
    parser.add_argument("--k", type=int, default=1000, help="pairs each policy reveals")
    parser.add_argument("--members", type=int, default=3)
    parser.add_argument("--model", default="interaction")
    parser.add_argument("--embedder", default="id")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--patience", type=int, default=2)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--random-draws", type=int, default=2)
    parser.add_argument("--retrain-members", type=int, default=1,
                        help="members of each policy's retrained run (the picking run has --members)")
    parser.add_argument("--caps", type=int, nargs="*", default=[], help="capped policies: at most N pairs per gene")
    parser.add_argument("--policies", nargs="*",
                        choices=["first", "suggested", "capped", "largest", "disagreement", "random"],
                        help="train only these policies' runs (default all; with --workdir, resume the rest later)")
    parser.add_argument("--workdir", help="keep workspaces and runs here and reuse finished runs")
    args = parser.parse_args()
    torch.set_num_threads(2)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.workdir) if args.workdir else Path(tmp)
        for seed in args.seeds:
            res = one_seed(seed, args, work)
            print(json.dumps(res), flush=True)
            results.append(res)
    print(f"\n{platform.processor() or platform.machine()}, load {os.getloadavg()[0]:.1f}, "
          f"{vars(args)}\n")
    print(table(results))


if __name__ == "__main__":
    main()
