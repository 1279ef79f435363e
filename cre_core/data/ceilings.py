"""Noise ceilings: the best Pearson r any model can reach on a workspace's measurements.

A model's r means little without the best value reachable on the same data, so results are
reported beside two ceilings:

- :func:`replicate_ceiling` (any store): how well a genotype's measurements agree with each
  other. Genotypes measured more than once (a pair in both orientations, with several alleles,
  at two temperatures) are split at random into two halves of their repeats; the Pearson r
  between half-means, Spearman-Brown corrected to the full number of repeats, is the
  reliability of a genotype's mean.
- :func:`truth_ceiling` (demo workspaces): how well the demo world's own expectation, given
  only per-gene facts, agrees with the measured values of a test set.

Both report a ceiling on Pearson r, not a reliability: a perfect predictor of the true value
correlates with a measurement of reliability R at r = sqrt(R) (classical test theory: the
measurement's variance is R true and 1 - R noise). Results carry ``by_size``, keyed by set
size (1, 2, 3; JSON turns the keys into strings), beside the pooled top-level values; for a
size-1 genotype there is no interaction (``epsilon_r`` None). ``epsilon`` means ε for pairs
and τ for triples.
"""

from __future__ import annotations

import math

import numpy as np

from cre_core.data.demo import FACTS_NAME
from cre_core.data.demo_world import GeneFacts, expected_pair_epsilon, sample_triple
from cre_core.data.store import demo_facts_json, demo_origin, existing_tables, get_meta
from cre_core.workspace import Workspace

MIN_GENOTYPES = 3          # fewer genotypes than this give no correlation (None)
TRIPLE_SAMPLES = 100       # sampled worlds behind the expected values of a triple

# One row per repeat: a genotype key, its set size, the measured fitness and interaction, and
# the columns that identify the repeat (hashed with the seed to split repeats at random).
_PAIR_REPEATS = """
    SELECT least(query_gene, array_gene) || '+' || greatest(query_gene, array_gene) AS key,
           2 AS size, dmf AS fitness, epsilon,
           hash(?, source, query_strain, array_strain, arraytype_temp) AS h
    FROM sga
    WHERE query_gene <> array_gene AND query_kind IN ({marks}) AND array_kind IN ({marks})"""
_TRIPLE_REPEATS = """
    SELECT gene_a || '+' || gene_b || '+' || gene_c AS key, 3 AS size, fitness,
           adjusted_score AS epsilon, hash(?, source, query_strain, array_strain) AS h
    FROM trigenic_raw WHERE gene_c IS NOT NULL AND array_kind IN ({marks})"""
_NO_REPEATS = """
    SELECT NULL::VARCHAR AS key, 1 AS size, NULL::DOUBLE AS fitness, NULL::DOUBLE AS epsilon,
           0::UBIGINT AS h WHERE false"""
_SINGLE_REPEATS = """
    SELECT gene AS key, 1 AS size, fitness, NULL::DOUBLE AS epsilon,
           hash(?, source, strain, temperature) AS h
    FROM smf_raw WHERE allele_kind IN ({marks})"""


def replicate_ceiling(ws: Workspace, seed: int = 0) -> dict:
    """Split-half ceilings of fitness and ε from genotypes measured more than once.

    Repeats come from ``smf_raw`` (singles), ``sga`` (pairs) and the three-gene rows of
    ``trigenic_raw`` (triples; their interaction is τ); a table an older store lacks is
    skipped. Returns ``fitness_r`` / ``epsilon_r`` (ceilings on Pearson r = sqrt of the
    corrected reliability, None when fewer than 3 genotypes repeat), ``fitness_reliability`` /
    ``epsilon_reliability`` (Spearman-Brown corrected split-half r, which may be negative),
    ``n_fitness`` / ``n_epsilon`` (genotypes the value rests on), pooled over all set sizes,
    and the same per size under ``by_size``. Repeats are the raw rows of the allele kinds that
    feed ``dmf`` / ``smf`` (meta ``alleles``); alleles and temperatures of a gene count as
    repeats, so their real differences lower the ceiling, as they do for any model of the
    aggregated table. Odd repeat counts give halves one repeat apart; the correction assumes
    equal halves, a small approximation.
    """
    con = ws.connect(read_only=True)
    try:
        kinds = [k for k in get_meta(con).get("alleles", "").split(",") if k]
        marks = ", ".join("?" for _ in kinds) or "NULL"
        present = existing_tables(con)
        sources = [(sql.format(marks=marks), [seed] + kinds * uses)
                   for table, sql, uses in (("sga", _PAIR_REPEATS, 2), ("trigenic_raw", _TRIPLE_REPEATS, 1),
                                            ("smf_raw", _SINGLE_REPEATS, 1)) if table in present]
        if not sources:
            sources = [(_NO_REPEATS, [])]
        repeats = " UNION ALL ".join(sql for sql, _ in sources)
        params = [p for _, ps in sources for p in ps]
        rows = con.execute(_split_half_sql(repeats), params).fetchall()
    finally:
        con.close()
    found = {(size, target): (r, int(n)) for size, target, r, n in rows}

    def entry(size: int | None) -> dict:
        out: dict = {}
        for target in ("fitness", "epsilon"):
            out.update(_reliability_entry(target, *found.get((size, target), (None, 0))))
        return out

    sizes = sorted({int(size) for size, _ in found if size is not None})
    return {**entry(None), "by_size": {size: entry(size) for size in sizes}}


def _split_half_sql(repeats: str) -> str:
    """Half-means per genotype with at least two repeats, then r per size and pooled."""
    halves = """
        SELECT key, size, '{t}' AS target, {t} AS value,
               row_number() OVER (PARTITION BY key ORDER BY h) % 2 AS half,
               count(*) OVER (PARTITION BY key) AS reps
        FROM repeats WHERE {t} IS NOT NULL"""
    return f"""
    WITH repeats AS ({repeats}),
    halves AS ({halves.format(t='fitness')} UNION ALL {halves.format(t='epsilon')}),
    means AS (
        SELECT key, size, target, avg(value) FILTER (WHERE half = 0) AS x,
               avg(value) FILTER (WHERE half = 1) AS y
        FROM halves WHERE reps >= 2 GROUP BY key, size, target)
    SELECT size, target, corr(x, y), count(*) FROM means
    GROUP BY GROUPING SETS ((size, target), (target)) ORDER BY size NULLS FIRST, target"""


def _reliability_entry(target: str, r: float | None, n: int) -> dict:
    """Rounded to 6 decimals: DuckDB's parallel sums differ in the last bits between runs."""
    usable = n >= MIN_GENOTYPES and r is not None and math.isfinite(r) and r > -1
    reliability = round(2 * r / (1 + r), 6) if usable and r is not None else None  # narrows r
    ceiling = round(math.sqrt(max(reliability, 0.0)), 6) if reliability is not None else None
    return {f"{target}_r": ceiling, f"{target}_reliability": reliability, f"n_{target}": n}


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
