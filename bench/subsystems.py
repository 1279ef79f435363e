"""Does ``cre explain-dcell`` point at the planted module? Within-module pairs on demo DCell runs.

For each demo seed: a DCell run (trained here, or the newest finished DCell run of a given
workspace), then for every planted module whose GO term the run's ontology kept, up to
``--pairs`` random pairs of its genes that the GAF annotates to that term (a gene the GAF misses
is invisible to the term, so no explanation could name it). For each pair: the rank of the
module's term among all terms under each score (interaction change, state change, |head
change|), and the share of pairs where it is in the top 3 / top 1.

    python bench/subsystems.py --preset tiny --seeds 0 1 [--epochs 20]
    python bench/subsystems.py --workspace WS0 --workspace WS1    # reuse trained runs (seeds from the stores)

Prints one JSON line per seed and a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

import numpy as np
import torch

from cre_core.demo.commands import build_demo
from cre_core.interpret.subsystems import SCORES, explain_genotype
from cre_core.query import service
from cre_core.train.config import TrainConfig
from cre_core.train.loop import train_run
from cre_core.train.run_tables import runs_with_configs
from cre_core.workspace import Workspace


def module_pairs(ws: Workspace, run_id: str, per_module: int, seed: int) -> list[tuple[str, str, str]]:
    """(gene_a, gene_b, module GO term) for within-module pairs annotated to their module's term."""
    from cre_core.demo import files as demo_files
    from cre_core.demo.generate import demo_world

    con = ws.connect(read_only=True)
    try:
        meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
    finally:
        con.close()
    world = demo_world(meta["demo_preset"], int(meta["demo_seed"]))
    terms = demo_files.Ontology(world).module
    loaded = service.load_model(ws, run_id)
    onto = loaded.model.ontology
    position = {t: i for i, t in enumerate(onto.terms)}
    gene_sets = onto.gene_sets()
    where = {g: i for i, g in enumerate(world.names)}
    rng = np.random.default_rng(seed)
    out = []
    for module, term in enumerate(terms):
        if term not in position:
            continue
        members = [g for g in loaded.genes if world.module[where[g]] == module
                   and loaded.index[g] in gene_sets[position[term]]]
        pairs = [(a, b) for i, a in enumerate(members) for b in members[i + 1:]]
        for k in rng.permutation(len(pairs))[:per_module]:
            out.append((*pairs[k], term))
    return out


def ranks(ws: Workspace, run_id: str, pairs: list[tuple[str, str, str]]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {by: [] for by in SCORES}
    for a, b, term in pairs:
        for by in SCORES:
            frame = explain_genotype(ws, run_id, [a, b], by=by).terms
            out[by].append(int(frame.loc[frame["term"] == term, "rank"].iloc[0]))
    return out


def trained(seed: int, args: argparse.Namespace, tmp: Path) -> tuple[Workspace, str]:
    ws = Workspace(tmp / f"ws{seed}")
    build_demo(ws.root, preset=args.preset, seed=seed)
    summary = train_run(ws, TrainConfig.of(model="dcell", epochs=args.epochs, patience=4), echo=lambda m: None)
    assert summary is not None
    return ws, summary["run_id"]


def newest_dcell(ws: Workspace) -> str:
    """The newest DCell run with a best checkpoint (a stopped run counts: its best epoch is saved)."""
    runs = runs_with_configs(ws)
    trained = np.array([(ws.runs_dir / r / "checkpoints" / "best.pt").exists() for r in runs["run_id"]])
    runs = runs[(runs["model"] == "dcell").to_numpy() & trained].sort_values("created")
    if runs.empty:
        raise SystemExit(f"{ws.root}: no trained DCell run")
    return str(runs["run_id"].iloc[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1])
    parser.add_argument("--workspace", action="append", default=[], help="reuse this workspace's DCell run")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--pairs", type=int, default=4, help="pairs per module")
    args = parser.parse_args()
    torch.set_num_threads(2)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        jobs = [(Workspace(Path(w)), None) for w in args.workspace] or [(None, s) for s in args.seeds]
        for ws, seed in jobs:
            if ws is None:
                ws, run = trained(seed, args, Path(tmp))
            else:
                run = newest_dcell(ws)
            con = ws.connect(read_only=True)
            try:
                seed = int(dict(con.execute("SELECT key, value FROM meta").fetchall())["demo_seed"])
            finally:
                con.close()
            done = ws.runs_dir / run / "summary.json"
            summary = json.loads(done.read_text()) if done.exists() else {}
            pairs = module_pairs(ws, run, args.pairs, seed)
            found = ranks(ws, run, pairs)
            row = {"seed": seed, "run": run, "test_r": summary.get("pearson"), "eps_r": summary.get("eps_pearson"),
                   "epochs": summary.get("epochs_run"), "best_epoch": summary.get("best_epoch"),
                   "pairs": len(pairs), "modules": len({t for _, _, t in pairs}),
                   **{f"{by}_top3": float(np.mean(np.array(r) <= 3)) for by, r in found.items()},
                   **{f"{by}_top1": float(np.mean(np.array(r) == 1)) for by, r in found.items()},
                   **{f"{by}_median_rank": float(np.median(r)) for by, r in found.items()}}
            print(json.dumps(row), flush=True)
            rows.append(row)
    print(f"\n{platform.machine()}, load {os.getloadavg()[0]:.1f}\n")
    print("| demo seed | DCell test r / ε r | pairs (modules) | " + " | ".join(
        f"{by}: top 3 / top 1 / median rank" for by in SCORES) + " |")
    print("|---|---|---|" + "---|" * len(SCORES))
    for r in rows:
        scores = "—" if r["test_r"] is None else f"{r['test_r']:.3f} / {r['eps_r']:.3f}"
        print(f"| {r['seed']} | {scores} | {r['pairs']} ({r['modules']}) | " + " | ".join(
            f"{r[f'{by}_top3']:.0%} / {r[f'{by}_top1']:.0%} / {r[f'{by}_median_rank']:.0f}" for by in SCORES) + " |")


if __name__ == "__main__":
    main()
