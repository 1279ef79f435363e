"""The Genes page's numbers on the small demo: network drawing time, similar-profile module
recovery and GO enrichment calibration (issue 22 items 2-4).

- ``network``: 500 genes of the demo, measured edges with |ε| >= 0.08, the whole path the page
  runs (store queries, node fields, networkx layout, the Altair spec as the browser gets it),
  beside the baseline of calling ``nx.spring_layout`` on the whole 500-gene graph (isolated
  genes included: networkx then takes its sparse path), and with a run's predicted edges
  (124,750 pairs predicted) when ``--run`` is given.
- ``similarity``: for every gene of a planted module, its top-10 most similar measured profiles
  (at least 10 shared partners) by each score (Pearson r; topological overlap): the share of
  genes whose top 10 holds a module mate, and the mean share of module mates, beside the same
  numbers for a random top 10.
- ``enrichment``: each module's genes (modules of 5+ genes): the q of its module term and of
  its planted parent term; 100 random lists (10-59 genes): how many have any q < 0.05.

    python bench/explore.py --seeds 2 3 [--workdir W]      # builds small demos in W if absent

Prints one JSON line per part and seed. Times are wall-clock and this process's CPU time (all
its threads): on a shared, oversubscribed machine the CPU time is the closer estimate of an idle
machine's wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cre_core.workspace import Workspace  # noqa: E402


def workspace(workdir: Path, seed: int) -> Workspace:
    from cre_core.demo.commands import build_demo

    root = workdir / f"small{seed}"
    if not (root / "cre.duckdb").exists():
        build_demo(root, preset="small", seed=seed)
    return Workspace(root)


def load() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


def bench_network(ws: Workspace, seed: int, run_id: str | None, repeats: int = 3) -> dict:
    import networkx as nx

    from cre_core.explore import build_network
    from cre_core.explore.enrichment import go_index
    from dashboard.explore_charts import network_chart

    con = ws.connect(read_only=True)
    genes = [g for (g,) in con.execute("SELECT gene FROM genes ORDER BY hash(gene) LIMIT 500").fetchall()]
    con.close()
    go_index(ws)                          # the page's process has it cached after its first view
    ours, cpu, spec_bytes = [], [], 0
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        net = build_network(ws, genes, seed=seed)
        spec = network_chart(net.nodes, net.edges).to_dict()
        ours.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
        spec_bytes = len(json.dumps(spec))
    g = net.graph()
    t, c = time.perf_counter(), time.process_time()
    nx.spring_layout(g, seed=seed, weight="abs_epsilon")
    whole, whole_cpu = time.perf_counter() - t, time.process_time() - c
    out = {"part": "network", "seed": seed, "genes": len(net.nodes), "edges": len(net.edges),
           "isolated": int((net.nodes["degree"] == 0).sum()), "ours_s": min(ours), "ours_all_s": ours,
           "ours_cpu_s": min(cpu), "baseline_whole_graph_layout_s": whole, "baseline_cpu_s": whole_cpu, "spec_kb": round(spec_bytes / 1024), "load": load()}
    if run_id:
        t = time.perf_counter()
        pred = build_network(ws, genes, run_id=run_id, seed=seed)
        network_chart(pred.nodes, pred.edges).to_dict()
        out.update(with_predicted_s=time.perf_counter() - t,
                   predicted_edges=int((pred.edges["kind"] == "predicted").sum()))
    return out


def bench_similarity(ws: Workspace, seed: int) -> dict:
    from cre_core.explore.similarity import SCORES, correlations, measured_profiles

    con = ws.connect(read_only=True)
    modules = dict(con.execute("SELECT gene, module FROM demo_truth WHERE module >= 0").fetchall())
    con.close()
    t = time.perf_counter()
    p = measured_profiles(ws)
    hit: dict[str, list] = {by: [] for by in SCORES}
    share: dict[str, list] = {by: [] for by in SCORES}
    rand_hit, rand_share = [], []
    rng = np.random.default_rng(seed)
    others = np.array(p.genes)
    for gene in p.genes:
        if gene not in modules:
            continue
        scored = correlations(p, gene)
        for by in SCORES:
            best = scored.dropna(subset=[by]).sort_values(by, ascending=False).head(10)["gene"]
            same = np.array([modules.get(h, -1) == modules[gene] for h in best])
            hit[by].append(same.any())
            share[by].append(same.mean())
        pick = rng.choice(others[others != gene], 10, replace=False)
        same = np.array([modules.get(h, -1) == modules[gene] for h in pick])
        rand_hit.append(same.any())
        rand_share.append(same.mean())
    return {"part": "similarity", "seed": seed, "module_genes": len(rand_hit),
            **{f"top10_has_mate_{by}": float(np.mean(hit[by])) for by in SCORES},
            **{f"top10_mate_share_{by}": float(np.mean(share[by])) for by in SCORES},
            "random_has_mate": float(np.mean(rand_hit)), "random_mate_share": float(np.mean(rand_share)),
            "mean_partners": float(p.counts.mean()), "seconds": time.perf_counter() - t, "load": load()}


def bench_enrichment(ws: Workspace, seed: int) -> dict:
    from cre_core.demo import files as demo_files
    from cre_core.demo.generate import PRESETS
    from cre_core.demo.world import build_world
    from cre_core.explore import enrich, go_index

    world = build_world(PRESETS["small"], seed)
    onto = demo_files.Ontology(world)
    con = ws.connect(read_only=True)
    truth = con.execute("SELECT gene, module FROM demo_truth WHERE module >= 0").df()
    con.close()
    module_q, parent_q = [], []
    for m, group in truth.groupby("module"):
        if len(group) < 5:
            continue
        table = enrich(ws, group["gene"].tolist()).table.set_index("go_id")
        module_q.append(float(table.loc[onto.module[m], "qvalue"]))
        parent_q.append(float(table.loc[onto.parent[int(world.module_parent[m])], "qvalue"]))
    universe = sorted(go_index(ws).universe())
    rng = np.random.default_rng(seed)
    flagged = 0
    for _ in range(100):
        genes = rng.choice(universe, size=int(rng.integers(10, 60)), replace=False).tolist()
        flagged += bool((enrich(ws, genes).table["qvalue"] < 0.05).any())
    return {"part": "enrichment", "seed": seed, "modules": len(module_q), "max_module_q": max(module_q),
            "max_parent_q": max(parent_q), "parents_q_below_0.01": int(np.sum(np.array(parent_q) < 0.01)),
            "random_lists_with_q_below_0.05": flagged, "of": 100}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[2, 3])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/cre_explore_bench"))
    parser.add_argument("--parts", nargs="+", default=["network", "similarity", "enrichment"])
    parser.add_argument("--run", help="a run in the first seed's workspace: adds predicted edges")
    args = parser.parse_args()
    for i, seed in enumerate(args.seeds):
        ws = workspace(args.workdir, seed)
        if "network" in args.parts:
            print(json.dumps(bench_network(ws, seed, args.run if i == 0 else None)), flush=True)
        if "similarity" in args.parts:
            print(json.dumps(bench_similarity(ws, seed)), flush=True)
        if "enrichment" in args.parts:
            print(json.dumps(bench_enrichment(ws, seed)), flush=True)


if __name__ == "__main__":
    main()
