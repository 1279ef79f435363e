"""A gene's interaction profile: every measured partner with ε, p-value, allele and screen, and
beside it a trained run's ε̂ for the same partners (their r, and the strong partners it misses).

Measurements come from the raw SGA rows (one per query/array strain and temperature, with their
p-values and alleles) and from DCell pair files (gene-level ε without p-values); the partner
table compares the pair-level ε of ``dmf`` (the mean the models train on) with the run's ε̂
from :func:`cre_core.query.service.scan`. The gene's record, SMF, windows and GO terms are
:func:`cre_core.query.browse.gene_detail`'s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cre_core.data.lookup import resolve_genes
from cre_core.errors import CreError
from cre_core.query.browse import SIGNIFICANT_EPSILON, GeneDetail, gene_detail
from cre_core.workspace import Workspace

SIGNS = ("any", "negative", "positive")
SORTS = ("abs_epsilon", "epsilon", "pvalue", "partner", "epsilon_pred")
MEASUREMENT_COLUMNS = ["partner", "name", "epsilon", "pvalue", "allele", "partner_allele", "kind",
                       "partner_kind", "temperature", "screen", "epsilon_pred"]
MISSED_SHOWN = 10

# Each measurement seen from the gene: its partner, its own allele and the partner's. Four
# pushed-down scans (gene as query / array; DCell pair as a / b), never an OR across columns.
_MEASUREMENTS = """
SELECT array_gene AS partner, epsilon, pvalue, query_allele AS allele, array_allele AS partner_allele,
       query_kind AS kind, array_kind AS partner_kind, temperature, source AS screen
FROM sga WHERE query_gene = ? AND array_gene <> query_gene
UNION ALL
SELECT query_gene, epsilon, pvalue, array_allele, query_allele, array_kind, query_kind, temperature, source
FROM sga WHERE array_gene = ? AND query_gene <> array_gene
UNION ALL
SELECT gene_b, epsilon, NULL, NULL, NULL, NULL, NULL, NULL, 'DCell ' || source
FROM dcell_pairs WHERE gene_a = ? AND gene_b <> gene_a
UNION ALL
SELECT gene_a, epsilon, NULL, NULL, NULL, NULL, NULL, NULL, 'DCell ' || source
FROM dcell_pairs WHERE gene_b = ? AND gene_a <> gene_b
"""


@dataclass(frozen=True)
class ProfileFilter:
    """Which measurements to show: interaction sign, smallest |ε|, largest p-value (rows
    without a p-value, such as DCell's, pass a p filter only when ``keep_no_p``)."""

    sign: str = "any"
    min_abs: float = 0.0
    max_p: float | None = None
    keep_no_p: bool = True
    sort: str = "abs_epsilon"
    descending: bool = True

    def __post_init__(self) -> None:
        if self.sign not in SIGNS:
            raise CreError(f"sign must be one of {', '.join(SIGNS)}; got '{self.sign}'")
        if self.sort not in SORTS:
            raise CreError(f"cannot sort a profile by '{self.sort}'; choose one of {', '.join(SORTS)}")
        if self.min_abs < 0 or (self.max_p is not None and not 0 < self.max_p <= 1):
            raise CreError("|ε| must be at least 0 and the p-value cut-off in (0, 1]")


@dataclass
class Comparison:
    """A run's ε̂ against the measured pair-level ε over the gene's measured partners."""

    run_id: str
    r: float | None              # Pearson r over ``n`` partners (None under 3 partners or no spread)
    n: int
    missed: pd.DataFrame         # strongest measured partners the run does not call (see ``missed``)


@dataclass
class GeneProfile:
    gene: str
    name: str
    detail: GeneDetail            # record, SMF, windows, GO terms (browse.gene_detail)
    measurements: pd.DataFrame    # filtered and sorted, MEASUREMENT_COLUMNS
    n_measurements: int           # before the filter
    partners: pd.DataFrame        # partner, name, epsilon (dmf mean), n, fitness, epsilon_pred
    comparison: Comparison | None


def measurements(ws: Workspace, gene: str) -> pd.DataFrame:
    """Every measurement of ``gene`` (systematic name) with any partner, unfiltered."""
    con = ws.connect(read_only=True)
    try:
        frame = con.execute(_MEASUREMENTS, [gene] * 4).df()
        names = dict(con.execute(
            "SELECT gene, coalesce(name, gene) FROM genes WHERE gene IN (SELECT unnest(?::VARCHAR[]))",
            [sorted(frame["partner"].unique().tolist())]).fetchall())
    finally:
        con.close()
    frame.insert(1, "name", frame["partner"].map(names).fillna(frame["partner"]))
    frame["temperature"] = frame["temperature"].astype("Int64")
    return frame


def pair_partners(ws: Workspace, gene: str) -> pd.DataFrame:
    """The gene's partners in ``dmf``: partner, name, epsilon, n, fitness (pair-level means)."""
    con = ws.connect(read_only=True)
    try:
        frame = con.execute(
            "SELECT p.partner, coalesce(g.name, p.partner) AS name, p.epsilon, p.n, p.fitness FROM ("
            "SELECT gene_b AS partner, epsilon, n, fitness FROM dmf WHERE gene_a = ? UNION ALL "
            "SELECT gene_a, epsilon, n, fitness FROM dmf WHERE gene_b = ?) p "
            "LEFT JOIN genes g ON g.gene = p.partner ORDER BY abs(p.epsilon) DESC NULLS LAST, p.partner",
            [gene, gene]).df()
    finally:
        con.close()
    return frame


def apply_filter(frame: pd.DataFrame, f: ProfileFilter) -> pd.DataFrame:
    """Rows of a measurement table passing ``f``, sorted (missing values last)."""
    eps = frame["epsilon"]
    keep = eps.notna() & (eps.abs() >= f.min_abs)
    if f.sign == "negative":
        keep &= eps < 0
    elif f.sign == "positive":
        keep &= eps > 0
    if f.max_p is not None:
        p = frame["pvalue"]
        keep &= (p <= f.max_p) | (p.isna() & f.keep_no_p)
    out = frame[keep]
    key = out["epsilon"].abs() if f.sort == "abs_epsilon" else out[f.sort]
    order = key.sort_values(ascending=not f.descending, na_position="last", kind="stable").index
    return out.loc[order].reset_index(drop=True)


def missed(partners: pd.DataFrame, threshold: float = SIGNIFICANT_EPSILON, top: int = MISSED_SHOWN) -> pd.DataFrame:
    """Partners with a strong measured ε (|ε| > ``threshold``) whose ε̂ is not as strong with the
    same sign: the interactions the run misses, strongest first."""
    eps, pred = partners["epsilon"], partners["epsilon_pred"]
    strong = eps.abs() > threshold
    called = (np.sign(pred) == np.sign(eps)) & (pred.abs() > threshold)
    out = partners[strong & ~called & pred.notna()]
    return out.reindex(out["epsilon"].abs().sort_values(ascending=False).index).head(top).reset_index(drop=True)


def pearson(x: np.ndarray, y: np.ndarray) -> float | None:
    """Pearson r of the finite pairs; None with fewer than 3 or no spread."""
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3 or np.std(x[ok]) == 0 or np.std(y[ok]) == 0:
        return None
    return float(np.corrcoef(x[ok], y[ok])[0, 1])


def gene_profile(ws: Workspace, gene: str, run_id: str | None = None,
                 filters: ProfileFilter = ProfileFilter()) -> GeneProfile:
    """A gene's measured profile, filtered and sorted, with ``run_id``'s ε̂ beside it."""
    con = ws.connect(read_only=True)
    try:
        g = resolve_genes(con, [gene])[0]
        detail = gene_detail(con, g, top_k=0)
    finally:
        con.close()
    rows = measurements(ws, g)
    partners = pair_partners(ws, g)
    comparison = None
    if run_id:
        from cre_core.query.service import scan

        predicted = scan(ws, run_id, g, top_k=None, order="epsilon")
        by_partner = dict(zip(predicted["partner"], predicted["epsilon_pred"]))
        partners["epsilon_pred"] = partners["partner"].map(by_partner).astype(float)
        rows["epsilon_pred"] = rows["partner"].map(by_partner).astype(float)
        values = partners[["epsilon", "epsilon_pred"]].to_numpy(dtype=float)
        comparison = Comparison(run_id, pearson(values[:, 0], values[:, 1]),
                                int(np.isfinite(values).all(1).sum()), missed(partners))
    else:
        partners["epsilon_pred"] = np.nan
        rows["epsilon_pred"] = np.nan
    name = str(detail.info.get("name") or g)
    return GeneProfile(g, name, detail, apply_filter(rows, filters)[MEASUREMENT_COLUMNS], len(rows),
                       partners, comparison)

