"""SGD GFF3 reading: genes with their CDS span, and the genome after ``##FASTA``.

SGD writes a gene, then its CDS parts (``Parent=YAL001C_mRNA``), then the mRNA
(``ID=YAL001C_mRNA;Parent=YAL001C``), so CDS parents are resolved after the whole file is read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from urllib.parse import unquote

import pandas as pd

from cre_core.errors import InputError
from cre_core.genome.fasta import parse_fasta, read_fasta
from cre_core.genome.names import canonical_chrom
from cre_core.textio import iter_lines

GENE_COLUMNS = [
    "gene", "name", "chrom", "start", "stop", "strand", "orf_class", "cds_start", "cds_stop",
]


@dataclass
class Genome:
    """Protein-coding genes and chromosome sequences.

    ``genes``: one row per ``gene`` feature that has CDS parts, in file order; coordinates are
    1-based inclusive, ``cds_start``..``cds_stop`` spans all CDS parts (introns included).
    ``sequences``: chromosome -> sequence as in the file (case kept).
    ``no_cds``: IDs of ``gene`` features without any CDS (no windows can be cut for them).
    ``cds_parts``: gene -> its CDS parts (1-based inclusive, sorted, overlaps merged), so windows
    can take codons across an intron; a gene missing here is one part, cds_start..cds_stop.
    ``missing_chromosomes``: chromosome -> genes skipped because the sequences lack it (only
    with ``skip_missing_chromosomes``; otherwise such a gene is an error).
    """

    genes: pd.DataFrame
    sequences: dict[str, str]
    no_cds: list[str] = field(default_factory=list)
    cds_parts: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    missing_chromosomes: dict[str, int] = field(default_factory=dict)


@dataclass
class GeneRecord:
    """One gene as a parser found it (GFF3 or GenBank); ``line`` is where errors point."""

    line: int
    chrom: str
    start: int
    stop: int
    strand: str
    name: str
    orf_class: str | None
    parts: list[tuple[int, int]] = field(default_factory=list)  # CDS parts, 1-based inclusive

    def merged_parts(self) -> list[tuple[int, int]]:
        """CDS parts sorted by start, overlapping ones (several mRNAs, slippage) merged."""
        merged: list[tuple[int, int]] = []
        for start, stop in sorted(self.parts):
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], stop))
            else:
                merged.append((start, stop))
        return merged


@dataclass
class _Cds:
    line: int
    chrom: str
    start: int
    stop: int
    parents: list[str]


@dataclass
class _GffContent:
    genes: dict[str, GeneRecord]
    no_cds: list[str]
    sequences: dict[str, str] | None  # None: the file has no FASTA section


def parse_attributes(text: str) -> dict[str, list[str]]:
    """GFF3 column 9: ``key=value,value;...`` with %-escapes (``%3B`` ``%2C``) decoded."""
    attributes: dict[str, list[str]] = {}
    for piece in text.split(";"):
        key, sep, value = piece.partition("=")
        if sep:
            attributes[unquote(key.strip())] = [unquote(v) for v in value.split(",")]
    return attributes


def _coordinate(path: Path, number: int, text: str, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise InputError(path, number, f"{what} {text!r} is not an integer") from None
    if value < 1:
        raise InputError(path, number, f"{what} {value} is below 1 (GFF coordinates start at 1)")
    return value


def _feature(path: Path, number: int, text: str) -> tuple[str, str, int, int, str, dict]:
    """One feature line: (chrom, type, start, end, strand, attributes), checked."""
    cols = text.split("\t")
    if len(cols) != 9:
        raise InputError(path, number, f"{len(cols)} columns, expected 9")
    seqid, _, ftype, start_text, stop_text, _, strand, _, attributes = cols
    start = _coordinate(path, number, start_text, "start")
    stop = _coordinate(path, number, stop_text, "end")
    if start > stop:
        raise InputError(path, number, f"start {start:,} is after end {stop:,}")
    if strand not in ("+", "-", ".", "?"):
        raise InputError(path, number, f"strand {strand!r}, expected +, -, . or ?")
    return canonical_chrom(seqid), ftype, start, stop, strand, parse_attributes(attributes)


def _parse_gff(path: Path, want_fasta: bool) -> _GffContent:
    """Genes with CDS spans; the ##FASTA sequences too when ``want_fasta`` (else stop there)."""
    genes: dict[str, GeneRecord] = {}
    parents: dict[str, tuple[str, list[str], int]] = {}  # feature ID -> (type, Parent IDs, line)
    cds_parts: list[_Cds] = []
    sequences = None
    lines = iter_lines(path)
    for number, text in lines:
        if text.startswith("##FASTA") or text.startswith(">"):
            if want_fasta:
                rest = lines if text.startswith("##") else chain([(number, text)], lines)
                sequences = parse_fasta(path, rest)
            break
        if text.startswith("#") or not text.strip():
            continue
        chrom, ftype, start, stop, strand, attributes = _feature(path, number, text)
        feature_id = (attributes.get("ID") or [None])[0]
        if ftype == "gene":
            if not feature_id:
                raise InputError(path, number, "gene without an ID attribute")
            if feature_id in genes:
                problem = f"gene {feature_id} already defined at line {genes[feature_id].line:,}"
                raise InputError(path, number, problem)
            if strand not in ("+", "-"):
                problem = f"gene {feature_id} has strand {strand!r}, not + or -"
                raise InputError(path, number, problem)
            name = (attributes.get("gene") or [""])[0] or feature_id
            orf_class = (attributes.get("orf_classification") or [None])[0]
            genes[feature_id] = GeneRecord(number, chrom, start, stop, strand, name, orf_class)
        elif ftype == "CDS":
            cds_parts.append(_Cds(number, chrom, start, stop, attributes.get("Parent", [])))
        if feature_id and feature_id not in parents:
            parents[feature_id] = (ftype, attributes.get("Parent", []), number)

    for cds in cds_parts:
        for gene_id in _owning_genes(path, cds, parents):
            gene = genes[gene_id]
            if cds.chrom != gene.chrom:
                problem = f"CDS on {cds.chrom}, but its gene {gene_id} is on {gene.chrom}"
                raise InputError(path, cds.line, problem)
            gene.parts.append((cds.start, cds.stop))
    no_cds = [gene_id for gene_id, gene in genes.items() if not gene.parts]
    coding = {gene_id: gene for gene_id, gene in genes.items() if gene.parts}
    return _GffContent(coding, no_cds, sequences)


def _owning_genes(
    path: Path, cds: _Cds, parents: dict[str, tuple[str, list[str], int]]
) -> set[str]:
    """The ``gene`` features above a CDS, directly or via an mRNA.

    A CDS under another kind of feature (``transposable_element_gene``...) belongs to no gene.
    Raises InputError for a Parent ID that no feature in the file has.
    """
    found: set[str] = set()
    seen: set[str] = set()
    todo = [(parent, "CDS", cds.line) for parent in cds.parents]
    while todo:
        parent, child, line = todo.pop()
        if parent in seen:
            continue
        seen.add(parent)
        if parent not in parents:
            problem = f"{child} has Parent {parent!r}, but no feature in the file has that ID"
            raise InputError(path, line, problem)
        ftype, grandparents, parent_line = parents[parent]
        if ftype == "gene":
            found.add(parent)
        else:
            todo.extend((grandparent, parent, parent_line) for grandparent in grandparents)
    return found


def read_genome(
    gff: str | Path, fasta: str | Path | None = None, skip_missing_chromosomes: bool = False
) -> Genome:
    """Genes from an SGD GFF3 and the chromosome sequences.

    Sequences come from ``fasta`` when given, else from the GFF's ``##FASTA`` section. Raises
    InputError (file, line, problem) for malformed lines, CDS parents that do not exist, genes on
    chromosomes the sequences lack (unless ``skip_missing_chromosomes``: then they are left out
    and counted) or CDS beyond a chromosome end, and a missing genome.
    """
    gff = Path(gff)
    content = _parse_gff(gff, want_fasta=fasta is None)
    if fasta is not None:
        sequences = read_fasta(fasta)
    elif content.sequences:
        sequences = content.sequences
    else:
        problem = "no genome sequence: no ##FASTA section, and no separate FASTA was given"
        raise InputError(gff, None, problem)
    source = fasta if fasta is not None else f"{gff.name}'s ##FASTA section"
    return build_genome(
        gff, content.genes, sequences, content.no_cds, source, skip_missing_chromosomes
    )


def build_genome(
    path: Path,
    genes: dict[str, GeneRecord],
    sequences: dict[str, str],
    no_cds: list[str],
    source: str | Path,
    skip_missing_chromosomes: bool = False,
) -> Genome:
    """Check parsed genes against the sequences and assemble the Genome (GFF3 and GenBank).

    ``source`` names where the sequences came from, for the missing-chromosome error.
    """
    kept: dict[str, GeneRecord] = {}
    missing: dict[str, int] = {}
    for gene_id, gene in genes.items():
        if gene.chrom not in sequences:
            if skip_missing_chromosomes:
                missing[gene.chrom] = missing.get(gene.chrom, 0) + 1
                continue
            known = ", ".join(sorted(sequences)[:20])
            problem = (
                f"gene {gene_id} is on {gene.chrom}, which {source} lacks (it has {known}); "
                "--skip-missing-chromosomes leaves such genes out"
            )
            raise InputError(path, gene.line, problem)
        length = len(sequences[gene.chrom])
        cds_stop = max(stop for _, stop in gene.parts)
        if cds_stop > length:
            problem = (
                f"gene {gene_id}: CDS ends at {cds_stop:,}, "
                f"past the end of {gene.chrom} ({length:,} bp)"
            )
            raise InputError(path, gene.line, problem)
        kept[gene_id] = gene
    parts = {gene_id: gene.merged_parts() for gene_id, gene in kept.items()}
    rows = [
        (gene_id, g.name, g.chrom, g.start, g.stop, g.strand, g.orf_class,
         parts[gene_id][0][0], parts[gene_id][-1][1])
        for gene_id, g in kept.items()
    ]
    frame = pd.DataFrame(rows, columns=GENE_COLUMNS)
    for column in ("start", "stop", "cds_start", "cds_stop"):
        frame[column] = frame[column].astype("int64")
    return Genome(frame, sequences, no_cds, parts, missing)
