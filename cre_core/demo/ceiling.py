"""The demo's truth ceiling: the best Pearson r a model of per-gene facts can reach on a test set.

Only a demo workspace knows the world behind its measurements; elsewhere the replicate ceiling
(:mod:`cre_core.data.ceilings`) is all there is. The caveats of a ceiling on r are there too.
"""

from __future__ import annotations

import numpy as np

from cre_core.data.ceilings import MIN_GENOTYPES
from cre_core.data.store import FACTS_NAME, demo_facts_json, demo_origin, existing_tables
from cre_core.demo.world import GeneFacts, expected_pair_epsilon, sample_triple
from cre_core.workspace import Workspace

TRIPLE_SAMPLES = 100       # sampled worlds behind the expected values of a triple


def truth_ceiling(ws: Workspace, genes: list[str], idx: np.ndarray, fitness: np.ndarray,
                  interaction: np.ndarray) -> dict | None:
    """Pearson r that the demo world's own expectations reach on a test set; None if ``ws``
    is not a demo workspace.

    ``idx`` is (n, K) indices into ``genes`` padded with -1 (sets of 1 to K genes);
    ``fitness`` and ``interaction`` (ε for pairs, τ for triples; NaN where unmeasured) are the
    measured values of those sets. The expectation uses per-gene facts only (modules, motif
    copies, noise-free single-mutant fitness, allele interaction scale) and averages out
    everything drawn per pair and per measurement: the best any model that sees genes one at a
    time can do. Returns ``fitness_r``, ``epsilon_r`` (None below 3 usable sets), ``n`` and
    ``n_epsilon`` (sets scored), pooled and under ``by_size``.
    """
    facts = load_gene_facts(ws)
    if facts is None:
        return None
    idx = np.asarray(idx, dtype=np.int64).reshape(len(fitness), -1)
    expected_f, expected_e = expected_values(facts, genes, idx)
    size = (idx >= 0).sum(axis=1)
    fitness, interaction = np.asarray(fitness, float), np.asarray(interaction, float)
    by_size = {int(k): _truth_entry(expected_f[size == k], fitness[size == k],
                                    expected_e[size == k], interaction[size == k])
               for k in np.unique(size) if k > 0}
    return {**_truth_entry(expected_f, fitness, expected_e, interaction), "by_size": by_size}


def load_gene_facts(ws: Workspace) -> GeneFacts | None:
    """The demo world's per-gene facts, kept in the store by the demo's ingest (and dropped when
    other data replaces the demo's); None elsewhere. A demo store made before the facts moved
    into the store reads them from raw/ while it still holds only the demo's files."""
    con = ws.connect(read_only=True)
    try:
        text = demo_facts_json(con)
        legacy = ("demo_facts" not in existing_tables(con)
                  and demo_origin(con) is not None)
    finally:
        con.close()
    path = ws.raw_dir / FACTS_NAME
    if text is None and legacy and path.is_file():
        text = path.read_text(encoding="utf-8")
    return GeneFacts.from_json(text) if text else None


def expected_values(facts: GeneFacts, genes: list[str],
                    idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Expected fitness and interaction of each set given per-gene facts (NaN where a gene is
    unknown to the world, or for a set size the world has no expectation for)."""
    where = {name: i for i, name in enumerate(facts.names)}
    lookup = np.array([where.get(g, -1) for g in genes] + [-1], dtype=np.int64)
    world_idx = lookup[idx]                          # -1 padding maps to -1 as well
    known = ((world_idx >= 0) | (idx < 0)).all(axis=1)
    size = (idx >= 0).sum(axis=1)
    n = len(idx)
    exp_f, exp_e = np.full(n, np.nan), np.full(n, np.nan)
    safe = np.maximum(world_idx, 0)
    f = facts.smf[safe]
    one = known & (size == 1)
    exp_f[one] = f[one, 0]
    two = known & (size == 2)
    gi, gj = safe[two, 0], safe[two, 1]
    eps = expected_pair_epsilon(facts, gi, gj) * facts.eps_scale[gi] * facts.eps_scale[gj]
    exp_e[two] = eps
    exp_f[two] = f[two, 0] * f[two, 1] + eps
    three = known & (size == 3)
    exp_f[three], exp_e[three] = _expected_triples(facts, np.sort(safe[three, :3], axis=1))
    return exp_f, exp_e


def _expected_triples(facts: GeneFacts, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Expected measured fitness and tau of sorted gene triples, averaged over sampled worlds.

    Triple fitness has a floor: f_i f_j f_k + the three eps terms + tau below 0 is measured as
    0 (about a third of the demo's all-same-module triples), and Kuzmin's adjusted tau then
    reads tau + (the part below 0). Both are nonlinear in the per-pair draws, so the
    expectation is a seeded average over TRIPLE_SAMPLES draws rather than a formula.
    """
    rng = np.random.default_rng(0)
    f = facts.smf[g]
    scale = facts.eps_scale[g]
    fitness, tau = np.zeros(len(g)), np.zeros(len(g))
    for _ in range(TRIPLE_SAMPLES):
        (e01, e02, e12), t = sample_triple(facts, g, rng)
        true = (f.prod(axis=1) + e01 * scale[:, 0] * scale[:, 1] * f[:, 2]
                + e02 * scale[:, 0] * scale[:, 2] * f[:, 1]
                + e12 * scale[:, 1] * scale[:, 2] * f[:, 0] + t)
        fitness += np.maximum(true, 0.0)
        tau += t + np.maximum(-true, 0.0)
    return fitness / TRIPLE_SAMPLES, tau / TRIPLE_SAMPLES


def _truth_entry(exp_f: np.ndarray, fitness: np.ndarray, exp_e: np.ndarray,
                 interaction: np.ndarray) -> dict:
    fitness_r, n = _pearson(exp_f, fitness)
    epsilon_r, n_epsilon = _pearson(exp_e, interaction)
    return {"fitness_r": fitness_r, "epsilon_r": epsilon_r, "n": n, "n_epsilon": n_epsilon}


def _pearson(x: np.ndarray, y: np.ndarray) -> tuple[float | None, int]:
    ok = np.isfinite(x) & np.isfinite(y)
    n = int(ok.sum())
    if n < MIN_GENOTYPES or np.std(x[ok]) == 0 or np.std(y[ok]) == 0:
        return None, n
    return float(np.corrcoef(x[ok], y[ok])[0, 1]), n
