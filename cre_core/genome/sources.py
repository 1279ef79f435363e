"""One entry for the genome inputs a user can give: SGD GFF3 (+ FASTA) or GenBank files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cre_core.errors import CreError
from cre_core.genome.genbank import read_genbank
from cre_core.genome.gff import Genome, read_genome


def load_genome(
    gff: Path | None = None,
    fasta: Path | None = None,
    genbank: Sequence[Path] = (),
    skip_missing_chromosomes: bool = False,
) -> Genome:
    """The genome from ``--gff`` (+ ``--fasta``) or from ``--genbank`` files, never both."""
    if genbank and (gff or fasta):
        raise CreError("give either --genbank or --gff/--fasta, not both (both hold the genes)")
    if fasta and not gff:
        raise CreError("--fasta needs --gff (the FASTA holds sequences, the GFF the genes)")
    if genbank:
        return read_genbank(genbank, skip_missing_chromosomes)
    if not gff:
        raise CreError("no genome given: pass --gff (SGD GFF3) or --genbank")
    return read_genome(gff, fasta, skip_missing_chromosomes)


def genome_summary(genome: Genome) -> str:
    """What was left out of a genome, for the command's report ('' when nothing was)."""
    notes = []
    if genome.no_cds:
        notes.append(f"gene features without CDS skipped: {len(genome.no_cds):,}")
    if genome.missing_chromosomes:
        skipped = sum(genome.missing_chromosomes.values())
        chroms = ", ".join(sorted(genome.missing_chromosomes))
        notes.append(f"genes on chromosomes without sequence skipped: {skipped:,} ({chroms})")
    return "; ".join(notes)
