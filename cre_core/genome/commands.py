"""``python -m cre_core windows``: cut the CRE windows of a genome into a FASTA file."""

from __future__ import annotations

import argparse
from pathlib import Path

from cre_core.genome.gff import read_genome
from cre_core.genome.windows import cre_windows, write_windows_fasta


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "windows",
        help="write the upstream (1003 bp) and downstream (300 bp) window of every gene",
        description="Read an SGD GFF3 (genome after ##FASTA, or --fasta) and write each gene's "
        "upstream and downstream CRE window as '>GENE REGION' FASTA records.",
    )
    parser.add_argument("--gff", type=Path, required=True, help="SGD GFF3, may be gzipped")
    parser.add_argument("--fasta", type=Path, help="genome FASTA when the GFF has no ##FASTA")
    parser.add_argument("--out", type=Path, required=True, help="output FASTA")
    parser.set_defaults(func=run_windows)


def run_windows(args: argparse.Namespace) -> int:
    genome = read_genome(args.gff, args.fasta)
    windows = cre_windows(genome)
    count = write_windows_fasta(windows, args.out)
    skipped = ""
    if genome.no_cds:
        skipped = f"; gene features without CDS skipped: {len(genome.no_cds):,}"
    print(
        f"{len(genome.genes):,} genes, {count:,} windows "
        f"({int(windows['padded'].sum()):,} padded at a chromosome end) -> {args.out}{skipped}"
    )
    return 0
