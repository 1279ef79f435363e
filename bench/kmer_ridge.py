"""Do frozen features carry the planted motifs? A ridge from gene features to SMF on held-out genes.

Builds the demo workspace (preset and seeds on the command line), then for each feature set fits a
ridge regression from a gene's features (upstream + downstream concatenated, standardised on the
training genes) to its measured single-mutant fitness and reports Pearson r on held-out genes,
averaged over ``--repeats`` seeded 80/20 gene splits (alpha picked by 5-fold CV on the training
genes). Rows:

- ``kmer (before)``: the round-1 embedder, k = 1..6 frequencies projected to 768-d by a fixed
  Gaussian matrix, recomputed here so the comparison runs in one process;
- ``kmer``: the current embedder (composition + enriched 8-mer counts);
- ``random``: the control, a seeded Gaussian vector per gene (should be about 0);
- ``ceiling``: the demo world's own expected SMF, exp(-module weight x severity-motif copies),
  read from the world (what a perfect reader of the sequence could reach; noise excluded).

    python bench/kmer_ridge.py [--preset small] [--seeds 0 1] [--repeats 5]

One JSON line per (seed, row); a Markdown table at the end for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cre_core.demo.generate import PRESETS, demo_world  # noqa: E402
from cre_core.embed.base import read_windows  # noqa: E402
from cre_core.embed.features import load_features  # noqa: E402
from cre_core.embed.kmer import encode, spectrum  # noqa: E402
from cre_core.workspace import Workspace  # noqa: E402

ALPHAS = (0.1, 1.0, 10.0, 100.0, 1e3, 1e4, 1e5)


def old_kmer(ws: Workspace) -> tuple[list[str], np.ndarray]:
    """Round 1's kmer features: k = 1..6 scaled frequencies @ N(0, 1/768) projection (seed 0)."""
    ks = (1, 2, 3, 4, 5, 6)
    matrix = np.random.default_rng(0).standard_normal((5460, 768), dtype=np.float32)
    matrix /= np.float32(np.sqrt(768))
    windows = read_windows(ws, ["upstream", "downstream"])
    parts = []
    for region in ("upstream", "downstream"):
        rows = sorted(windows[region], key=lambda w: w.gene)
        parts.append(spectrum(encode([w.sequence for w in rows]), ks) @ matrix)
    return [w.gene for w in sorted(windows["upstream"], key=lambda w: w.gene)], np.hstack(parts)


def ridge_fit(x: np.ndarray, y: np.ndarray, alpha: float) -> np.ndarray:
    """Weights (with intercept last) of ridge regression, solved in the dual when n < d."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    if len(x) < x.shape[1]:
        return xb.T @ np.linalg.solve(xb @ xb.T + alpha * np.eye(len(x)), y)
    return np.linalg.solve(xb.T @ xb + alpha * np.eye(xb.shape[1]), xb.T @ y)


def ridge_predict(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    return x @ w[:-1] + w[-1]


def standardise(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    mean, std = train.mean(0), train.std(0)
    std = np.where(std > 1e-8, std, np.inf)
    return [(a - mean) / std for a in (train, *others)]


def held_out_r(x: np.ndarray, y: np.ndarray, seed: int, repeats: int) -> float:
    """Mean Pearson r on held-out genes over seeded 80/20 splits; alpha by 5-fold CV."""
    rs = []
    for rep in range(repeats):
        rng = np.random.default_rng([seed, rep])
        perm = rng.permutation(len(y))
        test, train = perm[: len(y) // 5], perm[len(y) // 5:]
        folds = np.array_split(train, 5)
        best, best_err = ALPHAS[0], np.inf
        for alpha in ALPHAS:
            err = 0.0
            for k in range(5):
                fit_rows = np.concatenate([f for j, f in enumerate(folds) if j != k])
                a, b = standardise(x[fit_rows], x[folds[k]])
                w = ridge_fit(a, y[fit_rows], alpha)
                err += float(((ridge_predict(w, b) - y[folds[k]]) ** 2).sum())
            if err < best_err:
                best, best_err = alpha, err
        a, b = standardise(x[train], x[test])
        pred = ridge_predict(ridge_fit(a, y[train], best), b)
        rs.append(float(np.corrcoef(pred, y[test])[0, 1]))
    return float(np.mean(rs))


def smf_table(ws: Workspace) -> dict[str, float]:
    con = ws.connect(read_only=True)
    try:
        rows = con.execute("SELECT gene, fitness FROM smf WHERE fitness IS NOT NULL").fetchall()
    finally:
        con.close()
    return {g: float(f) for g, f in rows}


def run(preset: str, seed: int, repeats: int, folder: Path) -> list[dict]:
    root = folder / f"{preset}-{seed}"
    subprocess.run([sys.executable, "-m", "cre_core", "demo", "--workspace", str(root),
                    "--preset", preset, "--seed", str(seed)], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)
    ws = Workspace(root)
    smf = smf_table(ws)
    world = demo_world(preset, seed)
    rows = []
    sources = {"kmer (before)": old_kmer(ws), "kmer": load_features(ws, "both", "kmer"),
               "random": load_features(ws, "both", "random")}
    for label, (genes, x) in sources.items():
        keep = [i for i, g in enumerate(genes) if g in smf]
        y = np.array([smf[genes[i]] for i in keep])
        r = held_out_r(x[keep], y, seed, repeats)
        rows.append({"preset": preset, "seed": seed, "features": label, "n_genes": len(keep),
                     "held_out_r": round(r, 3)})
    sigma = world.module_weight[np.maximum(world.module, 0)] * world.sev_copies
    expected = dict(zip(world.names, np.where(world.module >= 0, np.exp(-sigma), 1.0)))
    common = [g for g in smf if g in expected]
    r = float(np.corrcoef([expected[g] for g in common], [smf[g] for g in common])[0, 1])
    rows.append({"preset": preset, "seed": seed, "features": "ceiling (demo truth)",
                 "n_genes": len(common), "held_out_r": round(r, 3)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="small", choices=sorted(PRESETS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    table = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            for row in run(args.preset, seed, args.repeats, Path(tmp)):
                print(json.dumps(row), flush=True)
                table.append(row)
    print("\n| preset | seed | features | genes | ridge r on held-out genes |")
    print("|---|---|---|---|---|")
    for row in table:
        print(f"| {row['preset']} | {row['seed']} | {row['features']} | {row['n_genes']} | "
              f"{row['held_out_r']:.3f} |")


if __name__ == "__main__":
    main()
