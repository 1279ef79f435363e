"""Full scale end to end: generate → ingest → kmer → one DeepSet epoch (all pairs, then a seeded
1.3e6 subset) → a partner scan, each step timed with its own peak memory.

Every step is the CLI a user runs (``python -m cre_core ...``), in its own child process, so the
wall time includes imports and data loading, and the peak RSS (``wait4``) is that step's alone.
The epoch rows also give the training loop's own epoch time (``epochs.jsonl``, without the
validation pass). The DeepSet trains on the kmer ``both`` features, one epoch, batch ``--batch``.

    flock /tmp/cre-heavy.lock python bench/full_scale.py --record     # full preset, ~10 min
    python bench/full_scale.py --preset small                         # a quick check
    python bench/full_scale.py --device cuda --steps epoch-all        # the GPU row (bench/gpu.sh)

Prints one JSON line per step; ``--record`` appends the table to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT_DIR))

STEPS = ("generate", "ingest", "kmer", "epoch-all", "epoch-subset", "scan")
SUBSET = 1_300_000


def run_step(name: str, argv: list[str], ws: Path) -> dict:
    """One CLI call in a child process: wall seconds, peak RSS, its last output line."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen([sys.executable, "-m", "cre_core", *argv], cwd=ROOT_DIR,
                                stdout=out, stderr=subprocess.STDOUT, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        out.seek(0)
        lines = out.read().strip().splitlines()
    if proc.returncode:
        sys.exit(f"{name} failed ({proc.returncode}): {' '.join(argv)}\n" + "\n".join(lines[-5:]))
    return {"step": name, "seconds": round(seconds, 1), "peak_gb": round(usage.ru_maxrss * 1024 / 1e9, 2),
            "last": lines[-1] if lines else ""}


def epoch_row(name: str, ws: Path, extra: list[str], args) -> dict:
    run_dir = ws / "runs" / name
    row = run_step(name, ["train", "--workspace", str(ws), "--run-dir", str(run_dir), "--model", "deepset",
                          "--embedder", "kmer", "--epochs", "1", "--batch-size", str(args.batch),
                          "--device", args.device, *extra], ws)
    epoch = json.loads((run_dir / "epochs.jsonl").read_text().splitlines()[-1])
    summary = json.loads(row.pop("last"))
    row["epoch_seconds"] = round(epoch["seconds"], 1)
    row.update(train_pairs=summary["n_train"], test_pearson=round(summary["pearson"], 4))
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", default="full", choices=("tiny", "small", "full"))
    p.add_argument("--workspace", type=Path, help="reuse (or keep) this workspace; default a temporary one")
    p.add_argument("--steps", nargs="+", choices=STEPS, default=list(STEPS))
    p.add_argument("--batch", type=int, default=4096, help="training batch (the engine's scale default)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--record", action="store_true", help="append the table to bench/RESULTS.md")
    args = p.parse_args()
    ws = args.workspace or Path(tempfile.mkdtemp(prefix="cre-full-"))
    raw = ws / "raw-src"
    rows = []
    try:
        for step in args.steps:
            if step == "generate":
                from cre_core.demo.generate import generate_demo_files

                t0 = time.perf_counter()
                generate_demo_files(raw, preset=args.preset, seed=0)
                row = {"step": step, "seconds": round(time.perf_counter() - t0, 1), "peak_gb": None}
            elif step == "ingest":
                from cre_core.demo import generate as demo

                files = ["--gff", str(raw / demo.GFF_NAME), "--smf", str(raw / demo.SMF_NAME),
                         "--obo", str(raw / demo.OBO_NAME), "--gaf", str(raw / demo.GAF_NAME)]
                for sga in demo.demo_files.SGA_FILES:
                    files += ["--sga", str(raw / sga)]
                row = run_step(step, ["ingest", "--workspace", str(ws), *files], ws)
            elif step == "kmer":
                row = run_step(step, ["embed", "--workspace", str(ws), "--embedder", "kmer"], ws)
            elif step == "epoch-all":
                row = epoch_row(step, ws, [], args)
            elif step == "epoch-subset":
                row = epoch_row(step, ws, ["--subset", str(SUBSET)], args)
            else:
                run = ws / "runs" / "epoch-all"
                if not run.exists():
                    run = ws / "runs" / "epoch-subset"
                gene = _first_gene(ws)
                row = run_step(step, ["scan", "--workspace", str(ws), "--run", str(run), "--gene", gene], ws)
                row["last"] = f"partner scan of {gene}"
            row.update(preset=args.preset, load_avg=round(os.getloadavg()[0], 1))
            rows.append(row)
            print(json.dumps(row), flush=True)
    finally:
        if args.workspace is None:
            shutil.rmtree(ws, ignore_errors=True)
    if args.record:
        record(rows, args)


def _first_gene(ws: Path) -> str:
    from cre_core.workspace import Workspace

    con = Workspace(ws).connect(read_only=True)
    try:
        return con.execute("SELECT gene_a FROM dmf ORDER BY gene_a LIMIT 1").fetchall()[0][0]
    finally:
        con.close()


def record(rows: list[dict], args) -> None:
    import torch

    from bench.dcell import machine

    lines = ["", f"### Full scale end to end ({time.strftime('%Y-%m-%d')}, {machine(torch.device(args.device))})",
             "", (f"`bench/full_scale.py`, preset `{args.preset}`, DeepSet on kmer `both`, batch {args.batch}; "
             "each step is the CLI in its own process (wall time with imports and loading; peak RSS)."), "",
             "| step | wall (s) | epoch (s) | training pairs | peak memory (GB) | load avg |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['step']} | {r['seconds']} | {r.get('epoch_seconds', '')} | {r.get('train_pairs', '')} | "
                     f"{'' if r['peak_gb'] is None else r['peak_gb']} | {r['load_avg']} |")
    with open(ROOT_DIR / "bench" / "RESULTS.md", "a") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
