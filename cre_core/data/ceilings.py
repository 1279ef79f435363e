"""Noise ceilings: the best Pearson r any model can reach on a workspace's measurements.

A model's r means little without the best value reachable on the same data, so results are
reported beside two ceilings:

- :func:`replicate_ceiling` (any store): how well a genotype's measurements agree with each
  other. Genotypes measured more than once (a pair in both orientations, with several alleles,
  at two temperatures) are split at random into two halves of their repeats; the Pearson r
  between half-means, Spearman-Brown corrected to the full number of repeats, is the
  reliability of a genotype's mean.
- :func:`cre_core.demo.ceiling.truth_ceiling` (demo workspaces): how well the demo world's own
  expectation, given only per-gene facts, agrees with the measured values of a test set.

Both report a ceiling on Pearson r, not a reliability: a perfect predictor of the true value
correlates with a measurement of reliability R at r = sqrt(R) (classical test theory: the
measurement's variance is R true and 1 - R noise). Results carry ``by_size``, keyed by set
size (1, 2, 3; JSON turns the keys into strings), beside the pooled top-level values; for a
size-1 genotype there is no interaction (``epsilon_r`` None). ``epsilon`` means ε for pairs
and τ for triples.
"""

from __future__ import annotations

import math

from cre_core.data.store import existing_tables, get_meta
from cre_core.workspace import Workspace

MIN_GENOTYPES = 3          # fewer genotypes than this give no correlation (None)

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
