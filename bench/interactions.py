"""Interaction models on the demo: ε/τ r against the ceilings, training throughput, partner scans.

Three parts (``--part``; all by default):

- ``science``: for each demo workspace (``--workspace``, repeatable; build them first with
  ``python -m cre_core demo --preset small --seed S``) and each split (random, gene), trains the
  rows of ``ROWS`` with the same settings (``--epochs``, ``--batch``, ``--lr``) and prints one
  JSON line per run: fitness r of pairs, ε r of pairs, τ r of triples, their fractions of the
  gene-level (truth) ceiling, and the ceilings themselves; then a Markdown table.
- ``throughput``: training samples per second of the interaction model and of the DeepSet
  engine on the same data (the first workspace's set table and kmer features), same batch,
  same AdamW, alternating ``--rounds`` rounds (other jobs on a shared machine slow both alike).
- ``ridge``: the interaction model's default ε map (the pair ridge, λ and rank chosen by
  5-fold cross-validation over the training pairs, folds by genes on the gene split) for each
  representation (``RIDGE_REPRESENTATIONS``: auto = chosen the same way, and the random control)
  at every demo workspace and split: test ε r and its fraction of the gene-level ceiling, one
  JSON line each, then mean, sd and minimum per representation and split over the workspaces.
  The ridge stage alone (no gradient epochs): what a default run installs when the ridge beats
  its trained map on validation ε, as it does on the demo.
- ``scan``: a partner scan of 6,000 genes with an ensemble of K = 5 interaction models over
  1,536-d features (the width of kmer ``both``): the first scan (every gene's outputs computed)
  and the cached one the query service repeats, median of ``--rounds``.

    python bench/interactions.py --workspace /tmp/small0 --workspace /tmp/small1
    python bench/interactions.py --part scan
    python bench/interactions.py --part ridge --workspace /tmp/small2 ... --workspace /tmp/small7
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cre_core.train import data as D  # noqa: E402
from cre_core.train import pair_ridge as P  # noqa: E402
from cre_core.train.config import TrainConfig  # noqa: E402
from cre_core.train.loop import Engine, make_optimizer, train_run  # noqa: E402
from cre_core.workspace import Workspace  # noqa: E402

# (label, TrainConfig overrides): the interaction model on every representation, both ŝ modes,
# the DeepSet, and the baselines; the random-embedding control sits beside the kmer rows.
ROWS = (
    ("interaction words", dict(model="interaction", embedder="words")),
    ("interaction kmer", dict(model="interaction")),
    ("interaction random (control)", dict(model="interaction", embedder="random")),
    ("interaction gene-id", dict(model="interaction", embedder="id")),
    ("interaction kmer sequence-only", dict(model="interaction", smf_aware=False)),
    ("interaction kmer, trunk pair map", dict(model="interaction", pair_from="trunk",
                                              interaction_weight=1.0)),
    ("deepset kmer", dict(model="deepset")),
    ("multiplicative", dict(model="multiplicative")),
    ("mean", dict(model="mean")),
)


def _r(x):
    return None if x is None else round(float(x), 3)


def science(workspaces: list[str], splits: list[str], rows: list[str], args) -> list[dict]:
    results = []
    for root in workspaces:
        ws = Workspace(Path(root))
        for split in splits:
            for label, overrides in ROWS:
                if rows and label not in rows:
                    continue
                cfg = TrainConfig.of(**{"split": split, "epochs": args.epochs, "batch_size": args.batch,
                                     "lr": args.lr, "patience": args.patience, **overrides})
                s = train_run(ws, cfg, echo=lambda _m: None)
                pairs, triples = s["by_size"].get("2", {}), s["by_size"].get("3", {})
                row = {"workspace": root, "split": split, "row": label,
                       "pairs_fitness_r": _r(pairs.get("pearson")), "eps_r": _r(s["eps_pearson"]),
                       "tau_r": _r(s["tau_pearson"]), "triples_fitness_r": _r(triples.get("pearson")),
                       "triples_mse": triples.get("mse"),
                       "eps_fraction": _r(pairs.get("interaction_fraction")),
                       "tau_fraction": _r(triples.get("interaction_fraction")),
                       "fitness_ceiling": _r(pairs.get("fitness_ceiling")),
                       "eps_ceiling": _r(pairs.get("interaction_ceiling")),
                       "tau_ceiling": _r(triples.get("interaction_ceiling")),
                       "n_eps": s["n_eps"], "n_tau": s["n_tau"], "best_epoch": s["best_epoch"],
                       "epochs_run": s["epochs_run"], "seconds": s["seconds"]}
                print(json.dumps(row), flush=True)
                results.append(row)
    print("| workspace | split | model | pairs fitness r | ε r | ε / ceiling | triples fitness r | τ r | τ / ceiling "
          "| ceilings (fitness, ε, τ) | epochs |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {Path(r['workspace']).name} | {r['split']} | {r['row']} | {r['pairs_fitness_r']} | {r['eps_r']} "
              f"| {r['eps_fraction']} | {r['triples_fitness_r']} | {r['tau_r']} | {r['tau_fraction']} "
              f"| {r['fitness_ceiling']}, {r['eps_ceiling']}, {r['tau_ceiling']} "
              f"| {r['best_epoch']} / {r['epochs_run']} |")
    return results


def throughput(root: str, args) -> dict:
    """Samples/s of the interaction model and the DeepSet on the same set table and features."""
    ws = Workspace(Path(root))
    table = D.load_sets(ws)
    base = TrainConfig.of(model="deepset", batch_size=args.batch)
    features = torch.from_numpy(D.gene_features(ws, base, table.genes).table)
    idx, y = torch.from_numpy(table.idx), torch.from_numpy(table.fitness)
    inter = torch.from_numpy(table.interaction)
    rows = torch.arange(len(table))
    engines = {}
    for name in ("interaction", "deepset"):
        torch.manual_seed(0)
        cfg = TrainConfig.of(model=name, batch_size=args.batch)
        model = D.model_from_config(cfg, table.n_genes, features.shape[1], None, table.smf)
        model.set_features(features)
        model.init_output(float(y.mean()))
        engines[name] = Engine(model, make_optimizer(model, cfg, torch.device("cpu")), idx, y,
                               batch_size=args.batch, interaction=inter if model.uses_interaction else None)
    rates: dict[str, list[float]] = {k: [] for k in engines}
    for rnd in range(args.rounds):
        for name, engine in engines.items():
            batches = engine.epoch_batches(rows, rnd)[: args.steps + 2]
            for b in batches[:2]:                 # warm-up
                engine.train_step(b)
            t0 = time.perf_counter()
            n = 0
            for b in batches[2:]:
                engine.train_step(b)
                n += len(b)
            rates[name].append(n / (time.perf_counter() - t0))
    out = {"name": "train throughput", "batch": args.batch, "sets": len(table),
           "interaction": round(statistics.median(rates["interaction"])),
           "deepset": round(statistics.median(rates["deepset"])), "unit": "samples/s"}
    out["ratio"] = round(out["interaction"] / out["deepset"], 3)
    print(json.dumps(out), flush=True)
    return out


def scan(args) -> dict:
    """Ensemble of 5 over 6,000 genes: first (uncached) and repeated scans, seconds."""
    genes, dim, members = 6000, 1536, 5
    feats = torch.randn(genes, dim)
    smf = torch.rand(genes) * 0.5 + 0.5
    ensemble = []
    for k in range(members):
        torch.manual_seed(k)
        m = D.model_from_config(TrainConfig.of(model="interaction", hidden=128, rank=32), genes, dim, smf=smf)
        m.set_features(feats)
        ensemble.append(m.eval())
    cold, warm = [], []
    for rnd in range(args.rounds):
        for m in ensemble:
            m.train(False)                        # drops the cache: the first scan after a load
        t0 = time.perf_counter()
        first = torch.stack([m.scan(rnd, genes) for m in ensemble])
        cold.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        again = torch.stack([m.scan(rnd + 1, genes) for m in ensemble])
        warm.append(time.perf_counter() - t0)
        assert first.shape == again.shape == (members, genes)
    out = {"name": "partner scan", "genes": genes, "members": members, "dim": dim,
           "first_s": round(statistics.median(cold), 4), "cached_s": round(statistics.median(warm), 4)}
    print(json.dumps(out), flush=True)
    return out


RIDGE_REPRESENTATIONS = ("auto", "kmer", "words", "random")


def ridge(workspaces: list[str], splits: list[str], args) -> list[dict]:
    """Test ε r / gene-level ceiling of the cross-validated pair ridge per representation."""
    from cre_core.train.evaluate import ceiling_summary

    results = []
    for root in workspaces:
        ws = Workspace(Path(root))
        for split in splits:
            cfg = TrainConfig.of(model="interaction", split=split)
            table, sp = D.training_rows(ws, cfg)
            by = "genes" if split == "gene" else "pairs"
            tr = P.pairs_of(table.idx, table.interaction, sp.train)
            te = P.pairs_of(table.idx, table.interaction, sp.test)
            ceiling = ceiling_summary(ws, table, sp.test, {"2": {}})["ceilings"]["truth"]["by_size"][2]["epsilon_r"]
            tables = {name: torch.from_numpy(D.gene_features(ws, TrainConfig.of(model="interaction", embedder=name),
                                                             table.genes).table)
                      for name in RIDGE_REPRESENTATIONS if name != "auto"}
            t0 = time.perf_counter()
            ranks = P.ranks_for(cfg.interaction.rank)
            auto = P.choose_representation({n: tables[n] for n in P.AUTO_EMBEDDERS}, *tr, by, ranks, cfg.split_seed)
            choose_s = time.perf_counter() - t0
            for name in RIDGE_REPRESENTATIONS:
                t0 = time.perf_counter()
                source = auto["chosen"] if name == "auto" else name
                x = P.standardise(tables[source].double())[0]
                cv = auto["candidates"][source] if source in auto["candidates"] else \
                    P.cross_validate(x, *tr, by, ranks, cfg.split_seed)
                w = P.solve(x, P.PairData.build(*tr), cv["best"]["lambda"])
                pred = P.ranked_predict(x, w, float(tr[2].mean()), cv["best"]["rank"], te[0], te[1])
                r = float(np.corrcoef(pred, te[2])[0, 1])
                row = {"workspace": Path(root).name, "split": split, "representation": name, "source": source,
                       "lambda": cv["best"]["lambda"], "rank": cv["best"]["rank"], "cv_r": _r(cv["best"]["mean_r"]),
                       "eps_r": _r(r), "ceiling": _r(ceiling), "fraction": _r(r / ceiling), "n_test": len(te[2]),
                       "seconds": round(time.perf_counter() - t0 + (choose_s if name == "auto" else 0), 1)}
                print(json.dumps(row), flush=True)
                results.append(row)
    print("| split | representation | seeds | mean ε r / ceiling | sd | min | mean ε r |")
    print("|---|---|---|---|---|---|---|")
    for split in splits:
        for name in RIDGE_REPRESENTATIONS:
            fr = [r["fraction"] for r in results if r["split"] == split and r["representation"] == name]
            er = [r["eps_r"] for r in results if r["split"] == split and r["representation"] == name]
            if fr:
                sd = statistics.stdev(fr) if len(fr) > 1 else 0.0
                print(f"| {split} | {name} | {len(fr)} | {statistics.mean(fr):.3f} | {sd:.3f} | {min(fr):.3f} "
                      f"| {statistics.mean(er):.3f} |")
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--workspace", action="append", default=[], help="a demo workspace (repeatable)")
    p.add_argument("--part", choices=("all", "science", "throughput", "scan", "ridge"), default="all")
    p.add_argument("--split", action="append", choices=("random", "gene"), help="default: both")
    p.add_argument("--row", action="append", default=[], help="only these ROWS labels (repeatable)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--patience", type=int, default=3)
    p.add_argument("--batch", type=int, default=1024)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--steps", type=int, default=40, help="timed steps per side and round (throughput)")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    if args.part in ("all", "scan"):
        scan(args)
    if args.part in ("all", "throughput") and args.workspace:
        throughput(args.workspace[0], args)
    if args.part in ("all", "ridge") and args.workspace:
        ridge(args.workspace, args.split or ["gene", "random"], args)
    if args.part in ("all", "science") and args.workspace:
        science(args.workspace, args.split or ["random", "gene"], args.row, args)


if __name__ == "__main__":
    main()
