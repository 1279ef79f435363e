"""Costanzo strain IDs -> systematic name and allele kind.

``YAL001C_tsq508``: the systematic name precedes the first ``_``; the suffix's letters say the
allele kind: ``dma`` (array) / ``sn`` (query) deletions, ``tsa`` / ``tsq`` temperature-sensitive
alleles of essential genes, ``damp`` DAmP (decreased abundance by mRNA perturbation).
"""

from __future__ import annotations

import re

KINDS = ("deletion", "ts", "damp", "other")

_PREFIXES = (("damp", "damp"), ("dma", "deletion"), ("sn", "deletion"), ("ts", "ts"))


def gene_sql(column: str) -> str:
    """SQL expression: the upper-cased systematic name in a strain ID column."""
    return f"upper(trim(split_part({column}, '_', 1)))"


def kind_sql(column: str) -> str:
    """SQL expression: the allele kind of a strain ID column (one of KINDS)."""
    suffix = f"lower(split_part({column}, '_', 2))"
    cases = " ".join(f"WHEN starts_with({suffix}, '{p}') THEN '{k}'" for p, k in _PREFIXES)
    return f"CASE {cases} ELSE 'other' END"


def allele_kind(strain_id: str) -> str:
    """Python twin of kind_sql for small tables (SMF file)."""
    _, _, suffix = strain_id.partition("_")
    suffix = suffix.lower()
    return next((k for p, k in _PREFIXES if suffix.startswith(p)), "other")


def strain_gene(strain_id: str) -> str:
    """Python twin of gene_sql."""
    return strain_id.split("_", 1)[0].strip().upper()


def temperature_of(text: str) -> int | None:
    """The trailing number of ``DMA30`` / ``TSA26`` / ``Single mutant fitness (26°)``."""
    found = re.search(r"(\d+)\D*$", text)
    return int(found.group(1)) if found else None
