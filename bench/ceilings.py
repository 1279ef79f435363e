"""Noise ceilings of demo workspaces: replicate and gene-level (truth), fitness and ε / τ.

Builds the demo at each seed in a temporary folder (or reads ``--workspace``) and scores every
measured single, pair and triple, plus the test sets of a random split (20% of sets) and of a
gene split (20% of genes; sets made only of test genes), like ``train``'s defaults. Beside each
truth ceiling: the same with the measured values shuffled (a control that must be ~0).

    python bench/ceilings.py [--preset small] [--seeds 0 1] [--workspace DIR]

Prints one JSON line per seed and split, then a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cre_core.data.ceilings import replicate_ceiling
from cre_core.demo.ceiling import truth_ceiling
from cre_core.demo.commands import build_demo
from cre_core.train.data import load_sets
from cre_core.workspace import Workspace

TEST_FRAC = 0.2


def test_sets(idx: np.ndarray, n_genes: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng([seed, 2])
    random = rng.random(len(idx)) < TEST_FRAC
    test_gene = np.zeros(n_genes + 1, dtype=bool)           # last entry: the -1 padding
    test_gene[rng.permutation(n_genes)[: round(TEST_FRAC * n_genes)]] = True
    test_gene[-1] = True
    gene = test_gene[idx].all(axis=1)
    return {"all": np.ones(len(idx), dtype=bool), "random": random, "gene": gene}


def measure(ws: Workspace, seed: int) -> list[dict]:
    table = load_sets(ws)                                   # every measured set, as training sees it
    genes, idx, fitness, interaction = table.genes, table.idx, table.fitness, table.interaction
    replicate = replicate_ceiling(ws)
    shuffled = np.random.default_rng(seed).permutation(interaction)
    out = []
    for split, keep in test_sets(idx, len(genes), seed).items():
        truth = truth_ceiling(ws, genes, idx[keep], fitness[keep], interaction[keep])
        control = truth_ceiling(ws, genes, idx[keep], fitness[keep], shuffled[keep])
        for size in (1, 2, 3):
            t, c = truth["by_size"].get(size, {}), control["by_size"].get(size, {})
            r = replicate["by_size"].get(size, {})
            out.append({
                "seed": seed, "split": split, "size": size, "n": t.get("n", 0),
                "truth_fitness_r": t.get("fitness_r"), "truth_interaction_r": t.get("epsilon_r"),
                "shuffled_interaction_r": c.get("epsilon_r"),
                "replicate_fitness_r": r.get("fitness_r"), "replicate_interaction_r": r.get("epsilon_r"),
                "replicate_n": r.get("n_fitness", 0),
            })
    return out


def fmt(x) -> str:
    return "–" if x is None else f"{x:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="small")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--workspace", type=Path, help="an existing demo workspace instead")
    args = parser.parse_args()
    rows = []
    if args.workspace:
        rows += measure(Workspace(args.workspace), 0)
    else:
        for seed in args.seeds:
            with tempfile.TemporaryDirectory() as tmp:
                root = Path(tmp) / "ws"
                build_demo(root, args.preset, seed)
                rows += measure(Workspace(root), seed)
    for row in rows:
        print(json.dumps(row))
    print("\n| seed | split | set size | n | truth fitness r | truth ε/τ r | shuffled ε/τ r "
          "| replicate fitness r | replicate ε/τ r (genotypes) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['seed']} | {r['split']} | {r['size']} | {r['n']:,} | {fmt(r['truth_fitness_r'])} "
              f"| {fmt(r['truth_interaction_r'])} | {fmt(r['shuffled_interaction_r'])} "
              f"| {fmt(r['replicate_fitness_r'])} | {fmt(r['replicate_interaction_r'])} "
              f"({r['replicate_n']:,}) |")


if __name__ == "__main__":
    main()
