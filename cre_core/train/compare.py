"""Is one model better than another on the same test set? Paired bootstrap intervals and verdicts.

A difference of Pearson r between two models scored on the same test pairs is judged by a
paired bootstrap: each replicate resamples the test pairs (or, when the split holds genes out,
the test genes: a pair then counts as often as the product of its genes' draws, so pairs that
share a gene move together) and recomputes both models' r on the same draw. With several
seeds (each its own test set) a replicate draws within every seed and averages the seeds'
differences: the interval covers pairs and seeds. The 95% interval is the replicates'
2.5-97.5 percentiles (numpy; weighted r in closed form, so 2,000 replicates of a few thousand
pairs take well under a second).

The Results page asks this of every representation against the random-vector control
(``control_verdicts``): a representation earns a place only if it adds to what a fixed random
vector per gene gives through the same model (DESIGN.md §3, §6).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cre_core.train import runs as run_files
from cre_core.train.run_tables import FINISHED
from cre_core.workspace import Workspace

N_BOOT = 2000
# predictions spread less than this are a constant (e.g. identity's μ for genes without pairs, whose
# f̂ − Π SMF keeps only float32 rounding): their r is undefined, not the rounding's
CONSTANT_SD = 1e-6
CONTROL = "random"          # the control embedder
REFERENCE_MODEL = "deepset"  # DESIGN's control (a DeepSet on random vectors) for runs without a representation


@dataclass(frozen=True)
class Interval:
    """A statistic, its 95% bootstrap interval and what it rests on."""

    value: float
    lo: float
    hi: float
    n: int                   # test values (pairs), over all seeds

    def text(self, digits: int = 2) -> str:
        return f"{self.value:.{digits}f} [{self.lo:.{digits}f}, {self.hi:.{digits}f}]"


@dataclass(frozen=True)
class ScoredSet:
    """One seed's test values: truth, one or two models' predictions, and (gene split) the
    pairs' genes for resampling genes instead of pairs."""

    true: np.ndarray
    pred: np.ndarray
    other: np.ndarray | None = None
    genes: tuple[np.ndarray, np.ndarray] | None = None


def _weighted_r(w: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson r of ``x``, ``y`` under each row of weights ``w`` (B, n): (B,); NaN for a
    constant ``x`` (``CONSTANT_SD``)."""
    if np.std(x) <= CONSTANT_SD:
        return np.full(len(w), np.nan)
    total = w.sum(1, keepdims=True)
    mx, my = (w @ x)[:, None] / total, (w @ y)[:, None] / total
    dx, dy = x[None, :] - mx, y[None, :] - my
    cov = (w * dx * dy).sum(1)
    var = (w * dx * dx).sum(1) * (w * dy * dy).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(var > 0, cov / np.sqrt(var), np.nan)


def _weights(test: ScoredSet, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot, n) resampling weights: multinomial draws of pairs, or products of gene draws."""
    n = len(test.true)
    if test.genes is None:
        return rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(np.float64)
    a, b = test.genes
    genes, inverse = np.unique(np.concatenate([a, b]), return_inverse=True)
    ia, ib = inverse[:n], inverse[n:]
    draws = rng.multinomial(len(genes), np.full(len(genes), 1.0 / len(genes)), size=n_boot)
    return (draws[:, ia] * draws[:, ib]).astype(np.float64)


def bootstrap_r(tests: list[ScoredSet], n_boot: int = N_BOOT, seed: int = 0) -> Interval:
    """Mean over seeds of r(pred) − r(other) (or of r(pred) when ``other`` is None), with its
    paired 95% bootstrap interval (module docstring)."""
    tests = [t for t in tests if len(t.true) >= 3]
    if not tests:
        return Interval(math.nan, math.nan, math.nan, 0)
    rng = np.random.default_rng(seed)
    point, reps = [], []
    for t in tests:
        true, pred = np.asarray(t.true, np.float64), np.asarray(t.pred, np.float64)
        ones = np.ones((1, len(true)))
        w = _weights(t, n_boot, rng)
        stat = _weighted_r(w, pred, true)
        value = _weighted_r(ones, pred, true)[0]
        if t.other is not None:
            other = np.asarray(t.other, np.float64)
            stat = stat - _weighted_r(w, other, true)
            value -= _weighted_r(ones, other, true)[0]
        point.append(value)
        reps.append(stat)
    # a seed whose r is undefined (a constant prediction) drops out of the mean, not the whole
    keep = np.isfinite(point)
    if not keep.any():
        return Interval(math.nan, math.nan, math.nan, 0)
    mean = np.nanmean(np.stack(reps)[keep], axis=0)
    lo, hi = np.nanpercentile(mean, [2.5, 97.5]) if np.isfinite(mean).any() else (math.nan, math.nan)
    return Interval(float(np.mean(np.asarray(point)[keep])), float(lo), float(hi),
                    sum(len(t.true) for t, k in zip(tests, keep) if k))


def verdict(diff: Interval, against: str = "the random control") -> str:
    """A plain sentence: "adds 0.04 [0.01, 0.07] over …", "falls … below …", or "not
    distinguishable from …" when the interval spans 0."""
    if not math.isfinite(diff.value) or not math.isfinite(diff.lo):
        return f"cannot be compared with {against} (too few test values)"
    if diff.lo > 0:
        return f"adds {diff.text()} over {against}"
    if diff.hi < 0:
        return f"falls {Interval(-diff.value, -diff.hi, -diff.lo, diff.n).text()} below {against}"
    return f"not distinguishable from {against} ({diff.text()})"


# --- runs -------------------------------------------------------------------------------------

def paired_predictions(ws: Workspace, run_a: str, run_b: str, target: str = "epsilon") -> pd.DataFrame:
    """The test sets both runs scored, with ``true``, ``a``, ``b`` (ε where measured for
    ``target="epsilon"``, else fitness) and ``gene_a``, ``gene_b``; empty when either has none."""
    frames = []
    for run in (run_a, run_b):
        frame = run_files.read_predictions(ws, run_id=run)
        if frame.empty:
            return pd.DataFrame(columns=["genes", "true", "a", "b", "gene_a", "gene_b"])
        if target == "epsilon":
            frame = frame[np.isfinite(frame["epsilon_true"].astype(float))
                          & np.isfinite(frame["epsilon_pred"].astype(float))]
            frame = frame.assign(true=frame["epsilon_true"], value=frame["epsilon_pred"])
        else:
            frame = frame.assign(value=frame["predicted"])
        frames.append(frame[["genes", "gene_a", "gene_b", "true", "value"]])
    joined = frames[0].merge(frames[1][["genes", "value"]], on="genes", suffixes=("_a", "_b"))
    return joined.rename(columns={"value_a": "a", "value_b": "b"})


def compare_runs(ws: Workspace, run_a: str, run_b: str, by_gene: bool = False,
                 target: str = "epsilon", n_boot: int = N_BOOT) -> dict:
    """r of run ``a``, of run ``b`` and a − b with its paired interval on their shared test
    values (``by_gene``: resample genes: the split held genes out)."""
    frame = paired_predictions(ws, run_a, run_b, target)
    true = frame["true"].to_numpy(np.float64)
    genes = (frame["gene_a"].astype(str).to_numpy(), frame["gene_b"].astype(str).to_numpy()) if by_gene else None
    a, b = frame["a"].to_numpy(np.float64), frame["b"].to_numpy(np.float64)
    return {"r": bootstrap_r([ScoredSet(true, a, genes=genes)], n_boot),
            "control_r": bootstrap_r([ScoredSet(true, b, genes=genes)], n_boot),
            "diff": bootstrap_r([ScoredSet(true, a, b, genes)], n_boot), "n": len(frame)}


def control_verdicts(ws: Workspace, runs: pd.DataFrame, n_boot: int = N_BOOT) -> pd.DataFrame:
    """For each finished run among ``runs`` (one test set, as the Results page selects them)
    that is not itself a control: its ε r (fitness r where no ε is measured), the random
    control's r on the same test pairs, the difference with its 95% interval and a verdict.
    The control is the same model on ``--embedder random``; a run without a representation of
    its own (identity, DCell, the baselines) meets DESIGN's control, the DeepSet on
    random vectors. A run without a control beside it says how to get one."""
    rows = []
    done = runs[runs["status"].isin(FINISHED)] if len(runs) else runs
    for run in done.to_dict("records"):
        embedder = run.get("embedder") if isinstance(run.get("embedder"), str) and run.get("embedder") else None
        if embedder == CONTROL:
            continue
        model = run["model"] if embedder else REFERENCE_MODEL
        controls = done[(done["model"] == model) & (done["embedder"] == CONTROL)]
        row = {"run": run["label"], "model": run["model"], "representation": embedder or run["model"]}
        if controls.empty:
            row["verdict"] = (f"no random-control run on this test set: train --model {model} "
                              "--embedder random with the same split to judge it")
            rows.append(row)
            continue
        control = controls.iloc[0]
        by_gene = run.get("split") == "gene"
        target = "epsilon" if _given_float(run.get("eps_pearson")) else "fitness"
        result = compare_runs(ws, run["run_id"], control["run_id"], by_gene, target, n_boot)
        row.update({"target": "ε" if target == "epsilon" else "fitness", "r": result["r"].value,
                    "control r": result["control_r"].value, "difference": result["diff"].value,
                    "95% interval": f"[{result['diff'].lo:.2f}, {result['diff'].hi:.2f}]",
                    "n": result["n"], "control run": control["label"],
                    "verdict": verdict(result["diff"])})
        rows.append(row)
    return pd.DataFrame(rows)


def _given_float(value) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def ceiling_note(runs: pd.DataFrame) -> str | None:
    """What to say in place of the ε ceiling line when runs score ε but none has an ε ceiling:
    the store holds no pair measured twice (DCell's gene-level files hold one value per pair),
    so no replicate ceiling exists; None otherwise."""
    if runs.empty or "eps_pearson" not in runs or not pd.to_numeric(runs["eps_pearson"], errors="coerce").notna().any():
        return None
    if "ceiling_eps_r" in runs and pd.to_numeric(runs["ceiling_eps_r"], errors="coerce").notna().any():
        return None
    return ("No replicate ceiling for ε: this store holds no pair measured twice (DCell's gene-level "
            "files hold one value per pair), so the best ε r any model can reach on these pairs is "
            "unknown; judge each representation against the random control below.")
