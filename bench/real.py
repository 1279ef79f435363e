"""Every model × representation × split on the real workspace (``../shared/realdata``), over seeds.

Rows (``ROWS``): the DeepSet on kmer / words / encoder / the random-vector control, gene-id, the
interaction model on kmer / words / id / the control, identity (the ridge-solved factorisation of
ε), identity-seq on kmer / words / the control, DCell, and the two baselines; each with the
product defaults. SpeciesLM rows need its weights, which this machine lacks (no download: the
rows are listed as skipped). Splits (``SPLITS``): ``random`` pairs; ``dcell``, DCell's own
train/test files (a seeded tenth of their training pairs validates, every single mutant trains);
``gene``, gene-disjoint. Seed s sets both ``--seed`` and ``--split-seed`` (DCell's split keeps its
test pairs at every seed).

Each run appends one JSON line to ``--out`` as it ends (the bench resumes: a line already there
is not run again), with its ε r on the test pairs, broken down by how many of the pair's genes
occur in a training pair (``both seen``, ``one unseen``, ``both unseen``), and its seconds.
``--report`` reads the lines and prints the Markdown: mean ± sd over seeds per row and split,
and the paired bootstrap intervals (cre_core.train.compare) of identity-seq over identity, of
each representation over its control, and the unseen-gene ε r.

    python bench/real.py --seeds 0 1 2 --rows identity "identity-seq kmer" --splits random
    python bench/real.py --report
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from realdata import REALDATA, build_real_workspace  # noqa: E402

from cre_core.data.dcell_pairs import read_dcell_pairs  # noqa: E402
from cre_core.train import data as D  # noqa: E402
from cre_core.train.compare import CONSTANT_SD, ScoredSet, bootstrap_r  # noqa: E402
from cre_core.train.config import TrainConfig  # noqa: E402
from cre_core.train.loop import train_run  # noqa: E402
from cre_core.workspace import Workspace  # noqa: E402

ROWS: dict[str, dict] = {
    "identity": dict(model="identity"),
    "identity-seq kmer": dict(model="identity-seq", embedder="kmer"),
    "identity-seq words": dict(model="identity-seq", embedder="words"),
    "identity-seq random (control)": dict(model="identity-seq", embedder="random"),
    "deepset kmer": dict(model="deepset", embedder="kmer"),
    "deepset words": dict(model="deepset", embedder="words"),
    "deepset random (control)": dict(model="deepset", embedder="random"),
    "deepset encoder": dict(model="deepset", embedder="encoder"),
    "gene-id": dict(model="deepset", embedder="id"),
    "interaction kmer": dict(model="interaction", embedder="kmer"),
    "interaction words": dict(model="interaction", embedder="words"),
    "interaction random (control)": dict(model="interaction", embedder="random"),
    "interaction id": dict(model="interaction", embedder="id"),
    "interaction encoder": dict(model="interaction", embedder="encoder"),
    "dcell": dict(model="dcell"),
    "multiplicative": dict(model="multiplicative"),
    "mean": dict(model="mean"),
}
SKIPPED = {"specieslm": "no SpeciesLM weights on this machine (nothing is downloaded)"}
SPLITS = ("random", "dcell", "gene")
# (representation row, its control row) for the verdicts; (sequence row, identity row) for the gain
CONTROLS = [(r, r.rsplit(" ", 1)[0] + " random (control)") for r in ROWS
            if r.split(" ")[-1] in ("kmer", "words", "encoder", "id") and r.split(" ")[0] != "gene-id"]
GAINS = [("identity-seq kmer", "identity"), ("identity-seq words", "identity"),
         ("identity", "deepset random (control)"), ("identity", "interaction random (control)")]


def dcell_split_file(ws: Workspace, folder: Path, seed: int) -> Path:
    """DCell's train/test files as a split file: its test pairs test; a seeded tenth of its
    training pairs validate, the rest and every single mutant train."""
    out = folder / f"dcell_split_seed{seed}.tsv"
    if out.exists():
        return out
    rng = np.random.default_rng([seed, 3])
    lines = ["gene_a\tgene_b\tsplit"]
    seen: set[tuple[str, str]] = set()
    for part, name in (("test", "GO_0000790_testing_data_2016_0"), ("train", "GO_0000790_training_data_2016_0")):
        pairs = read_dcell_pairs(REALDATA / "dcell" / name)
        for a, b in zip(pairs["gene_a"], pairs["gene_b"]):
            key = (min(a, b), max(a, b))
            if key in seen:
                continue
            seen.add(key)
            label = part if part == "test" or rng.random() >= 0.1 else "val"
            lines.append(f"{key[0]}\t{key[1]}\t{label}")
    con = ws.connect(read_only=True)
    try:
        singles = [r[0] for r in con.execute("SELECT gene FROM smf").fetchall()]
    finally:
        con.close()
    lines += [f"{g}\t\ttrain" for g in singles]
    out.write_text("\n".join(lines) + "\n")
    return out


def seen_breakdown(table: D.SetTable, split: D.Split, frame: pd.DataFrame) -> pd.Series:
    """For each test prediction row: 0, 1 or 2 genes unseen (without a training pair)."""
    train = table.idx[split.train]
    paired = np.unique(train[train[:, 1] >= 0][:, :2])
    known = {table.genes[i] for i in paired}
    unseen = (~frame["gene_a"].isin(known)).astype(int) + (~frame["gene_b"].isin(known)).astype(int)
    return unseen


def run_one(ws: Workspace, runs: Path, row: str, split: str, seed: int) -> dict:
    overrides = dict(ROWS[row])
    folder = runs / f"{row.split(' (')[0].replace(' ', '-')}_{split}_s{seed}"
    if split == "dcell":
        overrides["split_file"] = str(dcell_split_file(ws, runs, seed))
    else:
        overrides["split"] = split
    cfg = TrainConfig.of(seed=seed, split_seed=seed, **overrides)
    if folder.exists():                   # a run cut short earlier: start it again
        shutil.rmtree(folder)
    t0 = time.perf_counter()
    summary = train_run(ws, cfg, run_dir=folder, echo=lambda m: print(f"  [{row} {split} {seed}] {m}", flush=True))
    seconds = time.perf_counter() - t0
    table, sp = D.training_rows(ws, cfg)
    pred = pd.read_parquet(folder / "predictions.parquet")
    pred = _eps_frame(str(folder))
    unseen = seen_breakdown(table, sp, pred)
    out = {"row": row, "split": split, "seed": seed, "eps_r": _r(pred["epsilon_pred"], pred["epsilon_true"]),
           "summary_eps_r": summary.get("eps_pearson"),
           "n_eps": summary.get("n_eps"), "seconds": round(seconds, 1), "run_dir": str(folder)}
    for k, name in enumerate(("both_seen", "one_unseen", "both_unseen")):
        part = pred[unseen.to_numpy() == k]
        r = _r(part["epsilon_pred"], part["epsilon_true"])
        out[f"r_{name}"], out[f"n_{name}"] = r, len(part)
    return out


def _r(x, y) -> float | None:
    x, y = np.asarray(x, float), np.asarray(y, float)
    # a constant prediction (identity for genes without pairs: μ) leaves float32 rounding in
    # f̂ − Π SMF, whose r is noise: undefined, not a number
    if len(x) < 3 or x.std() <= CONSTANT_SD or y.std() == 0:
        return None
    r = float(np.corrcoef(x, y)[0, 1])
    return r if np.isfinite(r) else None


def load_lines(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _test_sets(lines: list[dict], row: str, split: str, other: str | None = None,
               unseen_only: bool = False) -> list[ScoredSet]:
    """Per seed: the row's (and ``other``'s) ε predictions on the shared test pairs."""
    mine = {ln["seed"]: ln for ln in lines if ln["row"] == row and ln["split"] == split}
    theirs = {ln["seed"]: ln for ln in lines if ln["row"] == other and ln["split"] == split} if other else {}
    tests = []
    for seed, line in sorted(mine.items()):
        if other and seed not in theirs:
            continue
        a = _eps_frame(line["run_dir"])
        if other:
            a = a.merge(_eps_frame(theirs[seed]["run_dir"])[["genes", "epsilon_pred"]], on="genes",
                        suffixes=("", "_other"))
        genes = (a["gene_a"].astype(str).to_numpy(), a["gene_b"].astype(str).to_numpy())
        tests.append(ScoredSet(a["epsilon_true"].to_numpy(float), a["epsilon_pred"].to_numpy(float),
                             a["epsilon_pred_other"].to_numpy(float) if other else None,
                             genes if split == "gene" else None))
    return tests


def _eps_frame(run_dir: str) -> pd.DataFrame:
    pred = pd.read_parquet(Path(run_dir) / "predictions.parquet")
    pred = pred[(pred["n_genes"] == 2)]
    return pred[np.isfinite(pred["epsilon_true"].astype(float)) & np.isfinite(pred["epsilon_pred"].astype(float))]


def report(lines: list[dict]) -> str:
    """Markdown: mean ± sd per row × split, the seen/unseen breakdown, and the intervals."""
    out = ["| row | split | seeds | ε r (mean ± sd) | both seen | one unseen | both unseen | seconds (mean) |",
           "|---|---|---|---|---|---|---|---|"]

    def ms(values):
        values = [v for v in values if v is not None and np.isfinite(v)]
        if not values:
            return "–"
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{statistics.mean(values):.3f} ± {sd:.3f}"

    for ln in lines:                      # r from the predictions (lines written before _r's tolerance)
        frame = _eps_frame(ln["run_dir"])
        ln["eps_r"] = _r(frame["epsilon_pred"], frame["epsilon_true"])
        if ln["eps_r"] is None:           # a constant prediction: no r in any part either
            ln.update({f"r_{k}": None for k in ("both_seen", "one_unseen", "both_unseen")})
    for split in SPLITS:
        for row in ROWS:
            got = [ln for ln in lines if ln["row"] == row and ln["split"] == split]
            if not got:
                continue
            parts = [ms([g[f"r_{k}"] for g in got]) + f" (n {round(statistics.mean(g[f'n_{k}'] for g in got))})"
                     for k in ("both_seen", "one_unseen", "both_unseen")]
            out.append(f"| {row} | {split} | {len(got)} | {ms([g['eps_r'] for g in got])} | "
                       + " | ".join(parts) + f" | {statistics.mean(g['seconds'] for g in got):.0f} |")
    out += ["", "Paired bootstrap (2,000 draws of test pairs within each seed, genes on the gene split; "
            "difference of ε r averaged over seeds), 95% intervals:", "",
            "| comparison | split | seeds | difference [95%] |", "|---|---|---|---|"]
    for split in SPLITS:
        for a, b in GAINS + CONTROLS:
            tests = _test_sets(lines, a, split, b)
            if tests:
                diff = bootstrap_r(tests)
                # identity predicts one constant for genes it never saw: no r to compare
                text = diff.text(3) if np.isfinite(diff.value) else "– (a constant prediction has no r)"
                out.append(f"| {a} − {b} | {split} | {len(tests)} | {text} |")
    out += ["", "ε r with its 95% interval (bootstrap over test pairs / genes and seeds):", "",
            "| row | split | seeds | ε r [95%] |", "|---|---|---|---|"]
    for split in SPLITS:
        for row in ROWS:
            tests = _test_sets(lines, row, split)
            if tests and any(np.std(t.pred) > CONSTANT_SD for t in tests):
                out.append(f"| {row} | {split} | {len(tests)} | {bootstrap_r(tests).text(3)} |")
    out += ["", "Skipped: " + "; ".join(f"{k}: {v}" for k, v in SKIPPED.items())]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspace", default="/tmp/cre_real_bench/ws", help="built from realdata when absent")
    parser.add_argument("--out", default=str(ROOT / "bench" / "real_runs.jsonl"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    parser.add_argument("--splits", nargs="+", default=list(SPLITS), choices=SPLITS)
    parser.add_argument("--report", action="store_true", help="print the Markdown of --out and exit")
    args = parser.parse_args()
    out = Path(args.out)
    if args.report:
        print(report(load_lines(out)))
        return
    root = Path(args.workspace)
    if not (root / "cre.duckdb").exists():
        build_real_workspace(root)
        from cre_core.cli import main as cre_main
        for embedder in ("kmer", "words", "random"):
            cre_main(["embed", "--workspace", str(root), "--embedder", embedder])
    ws = Workspace(root)
    runs = root / "bench_runs"
    runs.mkdir(exist_ok=True)
    for seed in args.seeds:
        for split in args.splits:
            for row in args.rows:
                if (row, split, seed) in {(ln["row"], ln["split"], ln["seed"]) for ln in load_lines(out)}:
                    continue
                lock = runs / f"{row.split(' (')[0].replace(' ', '-')}_{split}_s{seed}.lock"
                try:                      # two bench processes never run one row at once
                    fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                except FileExistsError:
                    continue
                try:
                    line = run_one(ws, runs, row, split, seed)
                    print(json.dumps(line), flush=True)
                    with out.open("a") as fh:
                        fh.write(json.dumps(line) + "\n")
                finally:
                    os.close(fd)
                    lock.unlink()


if __name__ == "__main__":
    main()
