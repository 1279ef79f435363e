"""Latency of the DuckDB queries behind the Datasets and Query pages (p50/p95 per query).

Each timing includes opening and closing the read-only connection, as the app does per query.
Genes are drawn at random per repeat, so no answer is reused. Baseline: the same gene search
done the naive way (pull the pairs table into pandas, then filter), timed once.

    python bench/app_queries.py [--workspace /tmp/cre_full] [--preset full] [--repeats 30]

Builds the demo workspace first when the folder holds none. Prints one JSON line per query,
then ``{"name", "ours", "baseline", "unit", "ratio"}`` and a pass/fail line against the target
(p95 under 300 ms for every query).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cre_core.data.lookup import resolve_genes  # noqa: E402
from cre_core.query import browse  # noqa: E402
from cre_core.workspace import Workspace  # noqa: E402

TARGET_P95_MS = 300.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def queries(ws: Workspace, genes: list[tuple[str, str]], total_sga: int):
    """name -> function(con, rng) running one page's query with fresh random inputs."""
    def gene(rng):
        return rng.choice(genes)

    def deep_page(rng):
        return rng.randint(1, max(1, total_sga // 50))

    return {
        # Datasets · Browse
        "datasets.count_all_sga": lambda con, rng: browse.count_rows(con, "sga"),
        "datasets.page_sga_stored_order_deep": lambda con, rng: browse.browse(
            con, "sga", page=deep_page(rng), page_size=50),
        "datasets.page_dmf_search_standard_name": lambda con, rng: browse.browse(
            con, "dmf", browse.Filters(search=gene(rng)[1]), page=1, page_size=50),
        "datasets.page_sga_search_filtered": lambda con, rng: browse.browse(
            con, "sga", browse.Filters(search=gene(rng)[0], kinds=("deletion",),
                                       temperatures=(26, 30), significant=True),
            page=1, page_size=50),
        "datasets.page_sga_fitness_range": lambda con, rng: browse.browse(
            con, "sga", browse.Filters(fitness_min=0.2 + rng.random() * 0.1, fitness_max=0.5),
            page=rng.randint(1, 100), page_size=50),
        "datasets.page_dmf_sorted_by_epsilon": lambda con, rng: browse.browse(
            con, "dmf", browse.Filters(fitness_max=0.9 + rng.random() * 0.1), page=1,
            page_size=50, sort="epsilon"),
        "datasets.histogram_dmf_fitness_all": lambda con, rng: browse.histogram(con, "dmf", "fitness"),
        "datasets.histogram_sga_epsilon_all": lambda con, rng: browse.histogram(con, "sga", "epsilon"),
        "datasets.histogram_sga_epsilon_gene": lambda con, rng: browse.histogram(
            con, "sga", "epsilon", browse.Filters(search=gene(rng)[0])),
        "datasets.gene_detail": lambda con, rng: browse.gene_detail(con, gene(rng)[0]),
        # Query: name resolution, measured values of a pair, partner scan's measured values
        "query.resolve_two_names": lambda con, rng: resolve_genes(con, [gene(rng)[1], gene(rng)[0]]),
        "query.measured_pair": lambda con, rng: measured_pair(con, gene(rng)[0], gene(rng)[0]),
        "query.measured_partners_of_gene": lambda con, rng: measured_partners(con, gene(rng)[0]),
    }


def measured_pair(con, a: str, b: str):
    """What the Query page shows as measured for a pair: DMF, ε and both SMF."""
    a, b = sorted((a, b))
    dmf = con.execute("SELECT fitness, epsilon FROM dmf WHERE gene_a = ? AND gene_b = ?", [a, b]).fetchone()
    smf = con.execute("SELECT gene, fitness FROM smf WHERE gene IN (?, ?)", [a, b]).fetchall()
    return dmf, smf


def measured_partners(con, g: str):
    """The partner scan's measured column: every measured pair of one gene."""
    return con.execute(
        "SELECT CASE WHEN gene_a = ? THEN gene_b ELSE gene_a END AS partner, fitness, epsilon "
        "FROM dmf WHERE gene_a = ? OR gene_b = ?", [g, g, g]).df()


def naive_search(ws: Workspace, name: str) -> float:
    """Baseline for the gene search: the pairs table into pandas, then filter there."""
    started = time.perf_counter()
    con = ws.connect(read_only=True)
    try:
        genes = con.execute("SELECT gene, name FROM genes").df()
        frame = con.execute("SELECT * FROM dmf").df()
    finally:
        con.close()
    gene = genes.loc[genes["name"].str.upper() == name.upper(), "gene"].iloc[0]
    hits = frame[(frame["gene_a"] == gene) | (frame["gene_b"] == gene)]
    _ = hits.head(50).merge(genes, left_on="gene_a", right_on="gene", how="left")
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=Path("/tmp/cre_full"))
    parser.add_argument("--preset", default="full", choices=["tiny", "small", "full"])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()

    ws = Workspace(args.workspace.resolve())
    if not ws.exists():
        from cre_core.demo.commands import build_demo

        started = time.perf_counter()
        build_demo(ws.root, preset=args.preset, seed=0)
        print(f"built the {args.preset} demo at {ws.root} in {time.perf_counter() - started:.0f} s",
              file=sys.stderr)

    con = ws.connect(read_only=True)
    try:
        genes = con.execute(
            "SELECT gene, name FROM genes WHERE gene IN (SELECT gene_a FROM dmf) ORDER BY gene").fetchall()
        total_sga = con.execute("SELECT count(*) FROM sga").fetchone()[0]
        total_dmf = con.execute("SELECT count(*) FROM dmf").fetchone()[0]
    finally:
        con.close()
    print(json.dumps({"workspace": str(ws.root), "genes": len(genes), "sga_rows": total_sga,
                      "dmf_pairs": total_dmf, "machine": platform.processor() or platform.machine(),
                      "cpus": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2)}))

    rng = random.Random(args.seed)
    worst = 0.0
    p50s = {}
    for name, run in queries(ws, genes, total_sga).items():
        times = []
        for i in range(args.repeats + 1):
            started = time.perf_counter()
            con = ws.connect(read_only=True)
            try:
                run(con, rng)
            finally:
                con.close()
            if i:                                   # the first call warms the OS page cache
                times.append((time.perf_counter() - started) * 1000)
        p50, p95 = statistics.median(times), percentile(times, 0.95)
        p50s[name] = p50
        worst = max(worst, p95)
        print(json.dumps({"name": name, "p50_ms": round(p50, 1), "p95_ms": round(p95, 1),
                          "max_ms": round(max(times), 1), "n": len(times)}))

    if not args.no_baseline:
        name = rng.choice(genes)[1]
        base = naive_search(ws, name)
        ours = p50s["datasets.page_dmf_search_standard_name"]
        print(json.dumps({"name": "gene_search_page_dmf", "ours": round(ours, 1),
                          "baseline": round(base, 1), "unit": "ms (pandas: whole dmf table, then filter)",
                          "ratio": round(base / ours, 1)}))
    print(json.dumps({"name": "app_queries_worst_p95", "p95_ms": round(worst, 1),
                      "target_ms": TARGET_P95_MS, "pass": worst < TARGET_P95_MS,
                      "load_avg_1m": round(os.getloadavg()[0], 2)}))


if __name__ == "__main__":
    main()
