"""CRE windows, SpeciesLM's input contract (docs/design.md section 2).

upstream: 1000 bp before the CDS start plus the start codon (1003 bp, ATG at [1000:1003]);
downstream: the stop codon plus 297 bp after the CDS end (300 bp, stop codon at [0:3]).
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
        # the CDS as a 0-based half-open slice of the gene-oriented sequence
        if strand == "+":
            first, last = cds_start - 1, cds_stop
        else:
            first, last = len(seq) - cds_stop, len(seq) - cds_start + 1
        for region, start, end in (
            ("upstream", first - FLANK_5, first + CODON),
            ("downstream", last - CODON, last + FLANK_3),
        ):
            window, pad_len = _cut(seq, int(start), int(end))
            rows.append((gene, region, window, pad_len > 0, pad_len))
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
