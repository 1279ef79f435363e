"""Regenerate the genome fixtures: ``python tests/files/genome/make_fixtures.py``.

Tiny chromosomes (chrI 4 kb, chrII 3 kb, chrmt 2 kb) of seeded random bases with planted start
and stop codons, soft-masked (lower-case) stretches and IUPAC codes, and an SGD-style GFF3 whose
genes sit where the tests need them (chromosome starts and ends, an intron, both strands).
Writes mini.gff (genome after ##FASTA), mini_features.gff (no FASTA), mini_ncbi.fsa (SGD's
separate-FASTA headers), mini.gff.gz and mini_crlf_bom.gff.
"""

from __future__ import annotations

import gzip
import random
from pathlib import Path

HERE = Path(__file__).parent
LENGTHS = {"chrI": 4000, "chrII": 3000, "chrmt": 2000}
PLANTS = {  # chrom -> [(1-based start, text)]
    "chrI": [
        (101, "TTA"), (398, "CAT"),  # YAL068C stop, start (- strand)
        (1101, "acgtacgtac" * 6),  # soft-masked, inside YAL040W upstream
        (1201, "RYKMSWBDHVN"),  # IUPAC codes, inside YAL040W upstream
        (1501, "ATG"), (1798, "TAG"),  # YAL040W
        (2401, "TCA"), (2898, "CAT"),  # YAL001C (- strand, intron 2601..2700)
        (3001, "ggccttaagg" * 4),  # soft-masked, inside YAL001C upstream
    ],
    "chrII": [
        (151, "ATG"), (448, "TGA"),  # YBL100W
        (2101, "TTA"), (2398, "CAT"),  # YBR300C (- strand)
        (2551, "ATG"), (2848, "TAA"),  # YBR310W
        (2950, "nry"),  # soft-masked IUPAC
    ],
    "chrmt": [(1101, "ATG"), (1398, "TAA")],  # Q0010
}

HEADER = """\
##gff-version 3
#date Mon Jan 01 00:00:00 2024
#
# Saccharomyces cerevisiae S288C genome (version=R64-test), a tiny hand-made fixture
# in the layout of SGD's saccharomyces_cerevisiae.gff
#
"""
NOTE = "Note=Made-up%20note%3B%20escaped%20semicolon%2C%20comma%20and%20%3D%20sign"
FEATURES = [
    ("chrI", "chromosome", 1, 4000, ".", "ID=chrI;dbxref=NCBI:BK006935.2;Name=chrI"),
    ("chrI", "telomere", 1, 60, "-", "ID=TEL01L;Name=TEL01L;" + NOTE),
    ("chrI", "gene", 101, 400, "-",
     "ID=YAL068C;Name=YAL068C;" + NOTE + ";orf_classification=Dubious;curie=SGD:S000002142"),
    ("chrI", "CDS", 101, 400, "-", "Parent=YAL068C_mRNA;Name=YAL068C_CDS"),
    ("chrI", "mRNA", 101, 400, "-", "ID=YAL068C_mRNA;Name=YAL068C_mRNA;Parent=YAL068C"),
    ("chrI", "ARS", 900, 1000, ".", "ID=ARS102;Name=ARS102;Alias=ARSI-1%2C ARS102;" + NOTE),
    ("chrI", "gene", 1501, 1800, "+",
     "ID=YAL040W;Name=YAL040W;gene=CLN3;Alias=CLN3,DAF1,FUN10,WHI1;orf_classification=Verified"),
    ("chrI", "CDS", 1501, 1800, "+", "Parent=YAL040W;Name=YAL040W_CDS"),
    ("chrI", "gene", 2401, 2900, "-",
     "ID=YAL001C;Name=YAL001C;gene=TFC3;Alias=TFC3,FUN24,TSV115;" + NOTE
     + ";orf_classification=Verified;curie=SGD:S000000001"),
    ("chrI", "CDS", 2401, 2600, "-", "Parent=YAL001C_mRNA;Name=YAL001C_CDS"),
    ("chrI", "CDS", 2701, 2900, "-", "Parent=YAL001C_mRNA;Name=YAL001C_CDS"),
    ("chrI", "intron", 2601, 2700, "-", "Parent=YAL001C_mRNA;Name=YAL001C_intron"),
    ("chrI", "mRNA", 2401, 2900, "-", "ID=YAL001C_mRNA;Name=YAL001C_mRNA;Parent=YAL001C"),
    ("chrI", "gene", 3101, 3400, "+", "ID=YAL030W;Name=YAL030W;gene=SNC1"),
    ("chrI", "tRNA_gene", 3500, 3572, "+", "ID=tA(UGC)A;Name=tA(UGC)A;gene=tA%28UGC%29A"),
    ("chrI", "noncoding_exon", 3500, 3572, "+", "Parent=tA(UGC)A_tRNA;Name=tA(UGC)A_exon"),
    ("chrI", "tRNA", 3500, 3572, "+", "ID=tA(UGC)A_tRNA;Name=tA(UGC)A_tRNA;Parent=tA(UGC)A"),
    ("chrI", "transposable_element_gene", 3600, 3900, "+", "ID=YARCTy1-1;Name=YARCTy1-1"),
    ("chrI", "CDS", 3600, 3900, "+", "Parent=YARCTy1-1_mRNA;Name=YARCTy1-1_CDS"),
    ("chrI", "mRNA", 3600, 3900, "+", "ID=YARCTy1-1_mRNA;Name=YARCTy1-1_mRNA;Parent=YARCTy1-1"),
    ("chrII", "chromosome", 1, 3000, ".", "ID=chrII;dbxref=NCBI:BK006936.2;Name=chrII"),
    ("chrII", "gene", 151, 450, "+", "ID=YBL100W;Name=YBL100W;orf_classification=Uncharacterized"),
    ("chrII", "CDS", 151, 450, "+", "Parent=YBL100W_mRNA;Name=YBL100W_CDS"),
    ("chrII", "mRNA", 151, 450, "+", "ID=YBL100W_mRNA;Name=YBL100W_mRNA;Parent=YBL100W"),
    ("chrII", "gene", 2101, 2400, "-", "ID=YBR300C;Name=YBR300C;gene=ABC1"),
    ("chrII", "CDS", 2101, 2400, "-", "Parent=YBR300C_mRNA;Name=YBR300C_CDS"),
    ("chrII", "mRNA", 2101, 2400, "-", "ID=YBR300C_mRNA;Name=YBR300C_mRNA;Parent=YBR300C"),
    ("chrII", "gene", 2551, 2850, "+", "ID=YBR310W;Name=YBR310W;orf_classification=Dubious"),
    ("chrII", "CDS", 2551, 2850, "+", "Parent=YBR310W_mRNA;Name=YBR310W_CDS"),
    ("chrII", "mRNA", 2551, 2850, "+", "ID=YBR310W_mRNA;Name=YBR310W_mRNA;Parent=YBR310W"),
    ("chrmt", "chromosome", 1, 2000, ".", "ID=chrmt;dbxref=NCBI:KP263414.1;Name=chrmt"),
    ("chrmt", "gene", 1101, 1400, "+", "ID=Q0010;Name=Q0010;orf_classification=Dubious"),
    ("chrmt", "CDS", 1101, 1400, "+", "Parent=Q0010_mRNA;Name=Q0010_CDS"),
    ("chrmt", "mRNA", 1101, 1400, "+", "ID=Q0010_mRNA;Name=Q0010_mRNA;Parent=Q0010"),
]
NCBI_HEADERS = {
    "chrI": "ref|NC_001133| [org=Saccharomyces cerevisiae] [strain=S288C] [moltype=genomic] "
    "[chromosome=I]",
    "chrII": "ref|NC_001134| [org=Saccharomyces cerevisiae] [strain=S288C] [moltype=genomic] "
    "[chromosome=II]",
    "chrmt": "ref|NC_001224| [org=Saccharomyces cerevisiae] [strain=S288C] [moltype=genomic] "
    "[location=mitochondrion] [top=circular]",
}


def chromosomes() -> dict[str, str]:
    rng = random.Random(20240101)
    sequences = {}
    for chrom, length in LENGTHS.items():
        bases = [rng.choice("ACGT") for _ in range(length)]
        for start, text in PLANTS[chrom]:
            bases[start - 1 : start - 1 + len(text)] = text
        assert len(bases) == length
        sequences[chrom] = "".join(bases)
    return sequences


def fasta(sequences: dict[str, str], headers: dict[str, str], width: int) -> str:
    return "".join(
        f">{headers[chrom]}\n"
        + "".join(seq[i : i + width] + "\n" for i in range(0, len(seq), width))
        for chrom, seq in sequences.items()
    )


def phase(ftype: str) -> str:
    return "0" if ftype == "CDS" else "."


def main() -> None:
    sequences = chromosomes()
    rows = [
        (chrom, "SGD", ftype, str(start), str(stop), ".", strand, phase(ftype), attrs)
        for chrom, ftype, start, stop, strand, attrs in FEATURES
    ]
    features = HEADER + "".join("\t".join(row) + "\n" for row in rows) + "###\n"
    gff = features + "##FASTA\n" + fasta(sequences, {c: c for c in sequences}, 80)
    (HERE / "mini.gff").write_text(gff)
    (HERE / "mini_features.gff").write_text(features)
    (HERE / "mini_ncbi.fsa").write_text(fasta(sequences, NCBI_HEADERS, 70))
    (HERE / "mini.gff.gz").write_bytes(gzip.compress(gff.encode(), mtime=0))
    (HERE / "mini_crlf_bom.gff").write_bytes(b"\xef\xbb\xbf" + gff.replace("\n", "\r\n").encode())


if __name__ == "__main__":
    main()
