"""GenBank flat-file reading (NCBI's S288C chromosomes, ``chr01.gb``...): genes, CDS and sequence.

A file holds one or more records (``LOCUS`` ... ``FEATURES`` ... ``ORIGIN`` ... ``//``). Genes
are keyed by ``/locus_tag`` (the systematic name, YAL001C), named by ``/gene`` (the standard
name, TFC3); their CDS features give the CDS parts, so the windows are cut by the same code as
for a GFF3 (``windows.cre_windows``). Locations may nest ``complement()``, ``join()`` and
``order()``; ``<``/``>`` partial ends are read as the bases given. The chromosome is the source
feature's ``/chromosome`` (``/organelle="mitochondrion"`` -> chrmt), else the DEFINITION line's
"chromosome I", else the LOCUS name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cre_core.errors import InputError
from cre_core.genome.gff import GeneRecord, Genome, build_genome
from cre_core.genome.names import MITO, canonical_chrom, fasta_header_chrom
from cre_core.textio import iter_lines

_WANTED = {"source", "gene", "CDS"}  # feature keys whose qualifiers are read
_RANGE = re.compile(r"<?(\d+)(?:\.\.>?(\d+))?")
_SEQUENCE_JUNK = str.maketrans("", "", "0123456789 \t")


@dataclass
class _Feature:
    key: str
    line: int
    location: str
    qualifiers: list[tuple[str, str]] = field(default_factory=list)  # in file order, raw

    def value(self, name: str) -> str | None:
        """The first value of qualifier ``name``, quotes removed (None when absent)."""
        for key, value in self.qualifiers:
            if key == name:
                return value.strip('"').replace('""', '"')
        return None


@dataclass
class _Record:
    line: int
    locus: str
    length: int | None
    definition: str = ""
    features: list[_Feature] = field(default_factory=list)
    sequence: str = ""


def parse_location(path: Path, line: int, text: str) -> tuple[str, list[tuple[int, int]]]:
    """A location as (strand, parts): parts are 1-based inclusive, in transcript order.

    ``complement(join(1..5,9..20))`` -> ('-', [(9, 20), (1, 5)]). Raises InputError for
    references to other records (``J01234.1:1..10``), mixed strands and bad syntax.
    """
    compact = "".join(text.split())
    pos = 0

    def fail(problem: str) -> InputError:
        return InputError(path, line, f"location {text.strip()!r}: {problem}")

    def parse(flip: bool) -> list[tuple[str, int, int]]:
        nonlocal pos
        for op in ("complement(", "join(", "order("):
            if compact.startswith(op, pos):
                pos += len(op)
                items = parse(flip != (op == "complement("))
                while op != "complement(" and pos < len(compact) and compact[pos] == ",":
                    pos += 1
                    items += parse(flip)
                if pos >= len(compact) or compact[pos] != ")":
                    raise fail(f"expected ')' at character {pos + 1}")
                pos += 1
                return items[::-1] if op == "complement(" else items
        match = _RANGE.match(compact, pos)
        if not match:
            if ":" in compact:
                raise fail("refers to another record, which this reader does not follow")
            raise fail(f"cannot read it at character {pos + 1}")
        pos = match.end()
        start = int(match.group(1))
        stop = int(match.group(2) or start)
        if start < 1 or start > stop:
            raise fail(f"range {start}..{stop} is empty or starts below 1")
        return [("-" if flip else "+", start, stop)]

    parts = parse(False)
    if pos != len(compact):
        raise fail(f"unexpected {compact[pos:]!r}")
    strands = {strand for strand, _, _ in parts}
    if len(strands) > 1:
        raise fail("parts on both strands")
    return strands.pop(), [(start, stop) for _, start, stop in parts]


def _records(path: Path, lines: Iterable[tuple[int, str]]) -> Iterator[_Record]:
    """The records of one file, features with their qualifiers, sequence as in ORIGIN."""
    record: _Record | None = None
    section = ""  # header | features | origin
    feature: _Feature | None = None
    chunks: list[str] = []
    for number, text in lines:
        if text.startswith("LOCUS"):
            if record is not None:
                raise InputError(path, number, f"LOCUS before the '//' ending {record.locus}")
            words = text.split()
            if len(words) < 2:
                raise InputError(path, number, "LOCUS line without a name")
            length = int(words[2]) if len(words) > 3 and words[2].isdigit() else None
            record, section, feature, chunks = _Record(number, words[1], length), "header", None, []
            continue
        if not text.strip():
            continue
        if record is None:
            raise InputError(path, number, "text before the first LOCUS line")
        if text.startswith("//"):
            record.sequence = "".join(chunks)
            if record.length is not None and len(record.sequence) != record.length:
                problem = (
                    f"{record.locus}: ORIGIN has {len(record.sequence):,} bases, "
                    f"LOCUS says {record.length:,}"
                )
                raise InputError(path, number, problem)
            yield record
            record = None
            continue
        if section == "origin":
            bases = text.translate(_SEQUENCE_JUNK)
            if not (bases.isascii() and bases.isalpha()):
                bad = next(c for c in bases if not (c.isascii() and c.isalpha()))
                raise InputError(path, number, f"character {bad!r} in ORIGIN is not a base letter")
            chunks.append(bases)
        elif text.startswith("ORIGIN"):
            section = "origin"
        elif text.startswith("FEATURES"):
            section = "features"
        elif section == "header":
            if text.startswith("DEFINITION"):
                record.definition = text[10:].strip()
        elif not text.startswith(" "):  # BASE COUNT, CONTIG...: top-level keywords we skip
            section = "skip"
        elif section == "features":
            if text[5:6] not in (" ", "") and not text.startswith("      "):
                key, _, location = text[5:].partition(" ")
                feature = _Feature(key, number, location.strip())
                if key in _WANTED:
                    record.features.append(feature)
                continue
            if feature is None:
                raise InputError(path, number, "qualifier line before the first feature")
            body = text.strip()
            if feature.qualifiers and feature.qualifiers[-1][1].count('"') % 2:
                name, value = feature.qualifiers[-1]  # a quoted value running over lines
                feature.qualifiers[-1] = (name, value + " " + body)
            elif body.startswith("/"):
                name, _, value = body[1:].partition("=")
                feature.qualifiers.append((name, value))
            elif not feature.qualifiers:
                feature.location += body
            else:
                problem = f"line in {feature.key} is neither a qualifier nor its continuation"
                raise InputError(path, number, problem)
    if record is not None:
        raise InputError(path, None, f"record {record.locus} has no closing '//' line")


def _chromosome(record: _Record) -> str:
    for feature in record.features:
        if feature.key != "source":
            continue
        chromosome = feature.value("chromosome")
        if chromosome:
            return canonical_chrom(chromosome)
        if feature.value("organelle") == "mitochondrion":
            return MITO
    named = fasta_header_chrom(record.definition) if record.definition else ""
    return named if named.startswith("chr") else canonical_chrom(record.locus)


def read_genbank(
    paths: Iterable[str | Path], skip_missing_chromosomes: bool = False
) -> Genome:
    """Genes with CDS parts and the sequences of GenBank files (gzip, CRLF fine).

    A gene is a ``gene`` feature keyed by ``/locus_tag`` (else ``/gene``); its CDS features
    (same tag) give the CDS parts; a CDS without a gene feature makes its own gene. Genes without
    a CDS (tRNA, pseudogenes) are listed in ``no_cds``. Raises InputError (file, line, problem)
    for bad locations, a gene tag defined twice, a chromosome in two records, a record whose
    ORIGIN length disagrees with LOCUS, or no sequence at all.
    """
    genes: dict[str, GeneRecord] = {}
    sequences: dict[str, str] = {}
    last_path: Path | None = None
    for path in map(Path, paths):
        last_path = path
        for record in _records(path, iter_lines(path)):
            chrom = _chromosome(record)
            if chrom in sequences:
                problem = f"chromosome {chrom} (record {record.locus}) appears twice"
                raise InputError(path, record.line, problem)
            sequences[chrom] = record.sequence
            _add_features(path, chrom, record, genes)
    if last_path is None:
        raise InputError("--genbank", None, "no GenBank file given")
    if not sequences:
        raise InputError(last_path, None, "no GenBank records (no LOCUS line)")
    no_cds = [gene_id for gene_id, gene in genes.items() if not gene.parts]
    coding = {gene_id: gene for gene_id, gene in genes.items() if gene.parts}
    return build_genome(last_path, coding, sequences, no_cds, "the GenBank records",
                        skip_missing_chromosomes)


def _add_features(
    path: Path, chrom: str, record: _Record, genes: dict[str, GeneRecord]
) -> None:
    """Add the record's gene and CDS features to ``genes`` (CDS after all genes are known)."""
    for feature in record.features:
        if feature.key != "gene":
            continue
        gene_id = feature.value("locus_tag") or feature.value("gene")
        if not gene_id:
            raise InputError(path, feature.line, "gene without /locus_tag or /gene")
        if gene_id in genes:
            problem = f"gene {gene_id} already defined at line {genes[gene_id].line:,}"
            raise InputError(path, feature.line, problem)
        strand, parts = parse_location(path, feature.line, feature.location)
        name = feature.value("gene") or gene_id
        start, stop = min(a for a, _ in parts), max(b for _, b in parts)
        genes[gene_id] = GeneRecord(feature.line, chrom, start, stop, strand, name, None)
    for feature in record.features:
        if feature.key != "CDS":
            continue
        gene_id = feature.value("locus_tag") or feature.value("gene")
        if not gene_id:
            raise InputError(path, feature.line, "CDS without /locus_tag or /gene")
        strand, parts = parse_location(path, feature.line, feature.location)
        gene = genes.get(gene_id)
        if gene is None:
            start, stop = min(a for a, _ in parts), max(b for _, b in parts)
            name = feature.value("gene") or gene_id
            gene = genes[gene_id] = GeneRecord(feature.line, chrom, start, stop, strand, name, None)
        if gene.chrom != chrom or gene.strand != strand:
            problem = (
                f"CDS of {gene_id} on {chrom} {strand}, its gene on {gene.chrom} {gene.strand}"
            )
            raise InputError(path, feature.line, problem)
        gene.parts.extend(parts)
