"""``python -m cre_core windows``: cut the CRE windows of a genome into a FASTA file."""

from __future__ import annotations

import argparse
from pathlib import Path

from cre_core.genome.sources import genome_summary, load_genome
from cre_core.genome.windows import cre_windows, write_windows_fasta


def add_genome_arguments(parser: argparse.ArgumentParser) -> None:
    """--gff/--fasta, --genbank and --skip-missing-chromosomes (windows and ingest)."""
    parser.add_argument("--gff", type=Path, help="SGD GFF3, may be gzipped (genome after "
                        "##FASTA, or give --fasta)")
    parser.add_argument("--fasta", type=Path, help="genome FASTA when the GFF has no ##FASTA")
    parser.add_argument(
        "--genbank", type=Path, nargs="+", metavar="F",
        help="GenBank files instead of --gff (e.g. NCBI's chr01.gb ... chr16.gb)",
    )
    parser.add_argument(
        "--skip-missing-chromosomes", action="store_true",
        help="leave out genes on chromosomes the sequences lack (e.g. chrmt), and count them",
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "windows",
        help="write the upstream (1003 bp) and downstream (300 bp) window of every gene",
        description="Read an SGD GFF3 (genome after ##FASTA, or --fasta) or GenBank files and "
        "write each gene's upstream and downstream CRE window as '>GENE REGION' FASTA records.",
    )
    add_genome_arguments(parser)
    parser.add_argument("--out", type=Path, required=True, help="output FASTA")
    parser.set_defaults(func=run_windows)


def run_windows(args: argparse.Namespace) -> int:
    genome = load_genome(args.gff, args.fasta, args.genbank or (), args.skip_missing_chromosomes)
    windows = cre_windows(genome)
    count = write_windows_fasta(windows, args.out)
    summary = genome_summary(genome)
    print(
        f"{len(genome.genes):,} genes, {count:,} windows "
        f"({int(windows['padded'].sum()):,} padded at a chromosome end) -> {args.out}"
        + (f"; {summary}" if summary else "")
    )
    return 0
