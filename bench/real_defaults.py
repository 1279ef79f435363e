"""Every model's default run on the real workspace (``../shared/realdata``): wall seconds, each
in its own ``cre train`` process, one after another, so that no run shares the CPU with another.

Issue 21 asks for every default run under 2 minutes on the 2-core CPU. A default run is
``cre train --model M`` with nothing else (random split, seed 0, the model's default
representation), exactly what a user types first. Each row records the epochs run, the run's
own ``seconds`` (after loading), the process's wall time (with Python and torch imports) and
the load average before and after, because on a shared machine the wall time says little without
it. The table goes to stdout as Markdown (``--record`` appends it to bench/RESULTS.md).

    python bench/real_defaults.py                       # every model
    python bench/real_defaults.py --models dcell wt-diff
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from realdata import build_real_workspace  # noqa: E402

from cre_core.train import specs  # noqa: E402


def run_default(root: Path, model: str, runs: Path) -> dict:
    """``cre train --model MODEL`` in a fresh process; its summary and timings."""
    folder = runs / f"default_{model}"
    shutil.rmtree(folder, ignore_errors=True)
    before = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "cre_core", "train", "--workspace", str(root), "--model", model,
                           "--run-dir", str(folder)], capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"model": model, "error": proc.stderr.strip().splitlines()[-1:], "wall_s": round(wall, 1)}
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"model": model, "wall_s": round(wall, 1), "run_s": summary.get("seconds"),
            "epochs": summary.get("epochs_run"), "embedder": summary.get("embedder"),
            "fitness_r": summary.get("pearson"), "eps_r": summary.get("eps_pearson"),
            "load_before": round(before, 1), "load_after": round(os.getloadavg()[0], 1)}


def table(rows: list[dict]) -> str:
    def num(x, fmt):
        return "–" if x is None else format(x, fmt)

    out = ["| model | representation | epochs run | run seconds | process wall s | under 2 min | fitness r | ε r | load before / after |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            out.append(f"| {r['model']} | failed: {' '.join(r['error'])} | | | {r['wall_s']} | | | | |")
            continue
        out.append(f"| {r['model']} | {r['embedder'] or '–'} | {num(r['epochs'], 'd')} | {num(r['run_s'], '.1f')} | "
                   f"{r['wall_s']:.1f} | {'yes' if r['wall_s'] < 120 else '**no**'} | {num(r['fitness_r'], '.3f')} | "
                   f"{num(r['eps_r'], '.3f')} | {r['load_before']} / {r['load_after']} |")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspace", default="/tmp/cre_real_defaults/ws", help="built from realdata when absent")
    parser.add_argument("--models", nargs="+", default=list(specs.names()), choices=specs.names())
    parser.add_argument("--record", action="store_true", help="append the table to bench/RESULTS.md")
    args = parser.parse_args()
    root = Path(args.workspace)
    if not (root / "cre.duckdb").exists():
        build_real_workspace(root)
    runs = root / "default_runs"
    runs.mkdir(exist_ok=True)
    rows = []
    for model in args.models:
        rows.append(run_default(root, model, runs))
        print(json.dumps(rows[-1]), flush=True)
    text = table(rows)
    print(text)
    if args.record:
        with (ROOT / "bench" / "RESULTS.md").open("a") as fh:
            fh.write(f"\n### Default runs on the real workspace ({time.strftime('%Y-%m-%d %H:%M')} UTC, "
                     f"`bench/real_defaults.py`)\n\n{text}\n")


if __name__ == "__main__":
    main()
