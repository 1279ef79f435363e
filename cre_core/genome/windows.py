"""CRE windows, SpeciesLM's input contract (docs/design.md section 2).

upstream: 1000 bp before the CDS start plus the start codon (1003 bp, ATG at [1000:1003]);
downstream: the stop codon plus 297 bp after the CDS end (300 bp, stop codon at [0:3]).
The codons are the first and last three bases of the *spliced* CDS: when the first CDS part is
shorter than three bases (RPL20A/YMR242C, NSP1/YJL041W... start with one base, then an intron),
the start codon is joined across the intron, and likewise a stop codon split by the last intron.
Both read 5'->3' in the gene's orientation (reverse complement on the - strand). A window that
runs off a chromosome end is padded with N on the side away from the gene (upstream: at its 5'
start; downstream: at its 3' end), so the codons keep their positions.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from cre_core.atomic import write_text_atomic
from cre_core.errors import CreError
from cre_core.genome.dna import reverse_complement
from cre_core.genome.gff import Genome

FLANK_5 = 1000
FLANK_3 = 297
CODON = 3
UPSTREAM_LEN = FLANK_5 + CODON  # 1003
DOWNSTREAM_LEN = CODON + FLANK_3  # 300
WINDOW_COLUMNS = ["gene", "region", "sequence", "padded", "pad_len"]

# a/c/g/t (soft-masked) and A/C/G/T -> upper case; every other letter (IUPAC codes, X...) -> N.
_NORMALIZE = bytes(
    ord(chr(b).upper()) if chr(b).upper() in "ACGT" else ord("N") for b in range(256)
)


def _cut(seq: bytes, start: int, end: int) -> tuple[str, int]:
    """``seq[start:end]`` with N for positions off either end; returns (window, Ns added)."""
    left, right = max(0, -start), max(0, end - len(seq))
    window = seq[max(start, 0) : min(end, len(seq))]
    if left or right:
        window = b"N" * left + window + b"N" * right
    return window.decode("ascii"), left + right


def _codons(seq: bytes, parts: list[tuple[int, int]]) -> tuple[bytes, bytes]:
    """First and last three bases of the spliced CDS; ``parts`` are 0-based half-open slices of
    the gene-oriented ``seq`` in transcript order. A CDS under three bases is N-padded."""
    head = b""
    for a, b in parts:
        head += seq[a : min(b, a + CODON - len(head))]
        if len(head) == CODON:
            break
    tail = b""
    for a, b in reversed(parts):
        tail = seq[max(a, b - (CODON - len(tail))) : b] + tail
        if len(tail) == CODON:
            break
    return head.ljust(CODON, b"N"), tail.rjust(CODON, b"N")


def cre_windows(genome: Genome) -> pd.DataFrame:
    """Upstream and downstream windows of every gene in ``genome.genes``, gene by gene.

    Returns columns gene, region ('upstream' | 'downstream'), sequence (upper-case ACGTN),
    padded (bool) and pad_len (number of N added at the chromosome end).
    """
    oriented: dict[tuple[str, str], bytes] = {}  # (chrom, strand) -> normalized sequence

    def strand_sequence(chrom: str, strand: str) -> bytes:
        if (chrom, strand) not in oriented:
            forward = genome.sequences[chrom].encode("ascii").translate(_NORMALIZE)
            if strand == "-":
                forward = reverse_complement(forward)
            oriented[chrom, strand] = forward
        return oriented[chrom, strand]

    rows = []
    genes = genome.genes
    for gene, chrom, strand, cds_start, cds_stop in zip(
        genes["gene"], genes["chrom"], genes["strand"], genes["cds_start"], genes["cds_stop"]
    ):
        seq = strand_sequence(chrom, strand)
        parts = genome.cds_parts.get(gene) or [(int(cds_start), int(cds_stop))]
        # the CDS parts as 0-based half-open slices of the gene-oriented sequence, 5'->3'
        if strand == "+":
            oriented_parts = [(start - 1, stop) for start, stop in parts]
        else:
            oriented_parts = [(len(seq) - stop, len(seq) - start + 1) for start, stop in parts]
            oriented_parts.reverse()
        start_codon, stop_codon = _codons(seq, oriented_parts)
        first, last = oriented_parts[0][0], oriented_parts[-1][1]
        flank, pad_5 = _cut(seq, first - FLANK_5, first)
        rows.append((gene, "upstream", flank + start_codon.decode("ascii"), pad_5 > 0, pad_5))
        flank, pad_3 = _cut(seq, last, last + FLANK_3)
        rows.append((gene, "downstream", stop_codon.decode("ascii") + flank, pad_3 > 0, pad_3))
    windows = pd.DataFrame(rows, columns=WINDOW_COLUMNS)
    return windows.astype({"padded": bool, "pad_len": "int64"})


def write_windows_fasta(windows: pd.DataFrame, out: str | Path) -> int:
    """Write ``>GENE REGION`` records, one sequence line each; atomic. Returns the record count."""
    out = Path(out)
    text = "".join(
        f">{gene} {region}\n{sequence}\n"
        for gene, region, sequence in zip(windows["gene"], windows["region"], windows["sequence"])
    )
    try:
        write_text_atomic(out, text, encoding="ascii")
    except OSError as exc:
        raise CreError(f"cannot write {out}: {exc.strerror or exc}") from exc
    return len(windows)
