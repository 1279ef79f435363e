"""Genome parsing (GFF3, FASTA) and CRE windows."""

from cre_core.genome.gff import Genome, read_genome
from cre_core.genome.windows import (
    DOWNSTREAM_LEN,
    UPSTREAM_LEN,
    cre_windows,
    write_windows_fasta,
)

__all__ = [
    "DOWNSTREAM_LEN",
    "UPSTREAM_LEN",
    "Genome",
    "cre_windows",
    "read_genome",
    "write_windows_fasta",
]
