"""Kuzmin et al. 2018 trigenic screens (Data S1; Kuzmin 2020 Tables S1/S3 share the layout).

A trigenic query strain is a double mutant, ``YAL015C+YDL227C_tm461`` (``ntg1Δ+hoΔ``): the genes
before the ``_`` joined by ``+``. HO (YDL227C) is Kuzmin's neutral marker, so a query ``X+HO``
is effectively the single mutant X: its rows are digenic measurements of (X, array gene).
"""

from __future__ import annotations

HO_MARKER = "YDL227C"

COLUMNS = (
    ("query_strain", "Query strain ID", "VARCHAR"),
    ("query_allele", "Query allele name", "VARCHAR"),
    ("array_strain", "Array strain ID", "VARCHAR"),
    ("array_allele", "Array allele name", "VARCHAR"),
    ("mutant_type", "Combined mutant type", "VARCHAR"),
    ("raw_score", "Raw genetic interaction score (epsilon)", "DOUBLE"),
    ("adjusted_score", "Adjusted genetic interaction score (epsilon or tau)", "DOUBLE"),
    ("pvalue", "P-value", "DOUBLE"),
    ("query_fitness", "Query single/double mutant fitness", "DOUBLE"),
    ("array_smf", "Array single mutant fitness", "DOUBLE"),
    ("fitness", "Double/triple mutant fitness", "DOUBLE"),
    ("fitness_std", "Double/triple mutant fitness standard deviation", "DOUBLE"),
)
