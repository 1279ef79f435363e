"""Ingest benchmark: DuckDB's reader + SQL (ours) vs plain pandas and a bare DuckDB scan.

Both sides do the same work (docs/design.md section 5): read the SGA files, take systematic names
and allele kinds from the strain IDs, build canonical pairs, aggregate repeats, and store the
raw rows and the pairs in a DuckDB file. ``scan`` is the floor: DuckDB parsing every column of
the same files with the same reader options and storing nothing. Each side runs in its own
child process of this script so its peak RSS is its own; all run back to back on one machine.

    python bench/ingest.py [--raw DIR] [--preset full|small] [--sides ours scan pandas]

Prints one JSON line per side, then ``{"name", "ours", "baseline", "unit": "rows/s", "ratio"}``
against pandas and ``{"name": ..._vs_scan, "ours", "baseline": scan seconds, "ratio"}``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def sga_files(raw: Path, preset: str) -> list[Path]:
    """The demo's SGA files, generated once into ``raw`` (reused by later runs)."""
    files = sorted(raw.glob("SGA_*.txt"))
    if not files:
        from cre_core.demo.generate import generate_demo_files

        started = time.perf_counter()
        files = generate_demo_files(raw, preset=preset, seed=0).sga
        print(f"generated {preset} demo files in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return list(files)


def run_ours(files: list[Path], db: Path) -> int:
    from cre_core.data.ingest import IngestRequest, ingest
    from cre_core.workspace import Workspace

    return ingest(Workspace(db.parent), IngestRequest(sga=files))["sga"]


def run_pandas(files: list[Path], db: Path) -> int:
    """The naive pipeline a user would write first."""
    import duckdb
    import numpy as np
    import pandas as pd

    from cre_core.data.sga import COLUMNS

    names = [name for name, _, _ in COLUMNS]
    frames = []
    for path in files:
        frame = pd.read_csv(path, sep="\t", header=0, names=names)
        frame.insert(0, "source", path.name)
        frames.append(frame)
    raw = pd.concat(frames, ignore_index=True)
    for side in ("query", "array"):
        parts = raw[f"{side}_strain"].str.split("_", n=1, expand=True)
        raw[f"{side}_gene"] = parts[0].str.upper()
        suffix = parts[1].str.lower()
        raw[f"{side}_kind"] = np.select(
            [suffix.str.startswith("damp"), suffix.str.startswith(("dma", "sn")), suffix.str.startswith("ts")],
            ["damp", "deletion", "ts"], default="other",
        )
    raw["temperature"] = pd.to_numeric(raw["arraytype_temp"].str.extract(r"(\d+)\D*$")[0])
    pairs = raw[raw["dmf"].notna() & (raw["query_gene"] != raw["array_gene"])].copy()
    pairs["gene_a"] = np.minimum(pairs["query_gene"], pairs["array_gene"])
    pairs["gene_b"] = np.maximum(pairs["query_gene"], pairs["array_gene"])
    dmf = pairs.groupby(["gene_a", "gene_b"], sort=True).agg(
        fitness=("dmf", "mean"), std=("dmf", "std"), n=("dmf", "size"), epsilon=("epsilon", "mean"),
    ).reset_index()
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE sga AS SELECT * FROM raw")
    con.execute("CREATE TABLE dmf AS SELECT * FROM dmf")
    con.close()
    return len(raw)


def run_scan(files: list[Path], db: Path) -> int:
    """Parse every column of every file (min() of each keeps all of them), store nothing."""
    import duckdb

    from cre_core.data.sga import COLUMNS, _reader

    every = ", ".join(f"min({name})" for name, _, _ in COLUMNS)
    rows = 0
    with duckdb.connect() as con:
        for path in files:
            rows += con.execute(f"SELECT count(*), {every} FROM {_reader(path)}",
                                [str(path)]).fetchall()[0][0]
    return rows


SIDES = {"ours": run_ours, "pandas": run_pandas, "scan": run_scan}


def child(side: str, files: list[Path]) -> None:
    import cre_core.data.ingest  # noqa: F401 - imports (pandas, duckdb) are not the ingest's time

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "ws" / "cre.duckdb"
        db.parent.mkdir()
        started = time.perf_counter()
        rows = SIDES[side](files, db)
        seconds = time.perf_counter() - started
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(json.dumps({"side": side, "rows": rows, "seconds": round(seconds, 2),
                      "rows_per_s": round(rows / seconds), "peak_rss_gib": round(peak_gib, 2)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", type=Path, default=Path(tempfile.gettempdir()) / "cre_bench_raw")
    parser.add_argument("--preset", default="full", choices=["tiny", "small", "full"])
    parser.add_argument("--sides", nargs="+", choices=list(SIDES), default=["ours", "scan", "pandas"])
    parser.add_argument("--side", choices=list(SIDES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    files = sga_files(args.raw / args.preset, args.preset)
    if args.side:
        child(args.side, files)
        return
    results = {}
    for side in args.sides:
        out = subprocess.run(
            [sys.executable, __file__, "--raw", str(args.raw), "--preset", args.preset, "--side", side],
            check=True, capture_output=True, text=True,
        ).stdout.strip().splitlines()[-1]
        print(out)
        results[side] = json.loads(out)
    if "ours" in results and "pandas" in results:
        ours, base = results["ours"]["rows_per_s"], results["pandas"]["rows_per_s"]
        print(json.dumps({"name": f"ingest_sga_{args.preset}", "ours": ours, "baseline": base,
                          "unit": "rows/s", "ratio": round(ours / base, 2)}))
    if "ours" in results and "scan" in results:
        ours, scan = results["ours"]["seconds"], results["scan"]["seconds"]
        print(json.dumps({"name": f"ingest_sga_{args.preset}_vs_scan", "ours": ours, "baseline": scan,
                          "unit": "s", "ratio": round(ours / scan, 2)}))


if __name__ == "__main__":
    main()
