"""CLI commands of the data layer: ``ingest`` and ``dcell-split``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from cre_core.data.alleles import KINDS
from cre_core.data.ingest import IngestRequest, ingest
from cre_core.errors import CreError
from cre_core.genome.commands import add_genome_arguments
from cre_core.workspace import resolve_workspace


def _ingest(args: argparse.Namespace) -> int:
    request = IngestRequest(
        gff=args.gff, fasta=args.fasta, genbank=args.genbank or [],
        skip_missing_chromosomes=args.skip_missing_chromosomes,
        sga=args.sga or [], kuzmin=args.kuzmin or [], dcell_pairs=args.dcell_pairs or [],
        smf=args.smf, obo=args.obo,
        gaf=args.gaf, exclude_kinds=tuple(k for k in (args.exclude_alleles or "").split(",") if k),
    )
    if not any([request.gff, request.fasta, request.genbank, request.sga, request.kuzmin,
                request.dcell_pairs, request.smf, request.obo, request.gaf]):
        raise CreError("nothing to ingest: give at least one of --gff, --genbank, --sga, "
                       "--kuzmin, --dcell-pairs, --smf, --obo, --gaf")
    ws = resolve_workspace(args.workspace)
    started = time.perf_counter()
    result = ingest(ws, request, warn=lambda note: print(f"warning: {note}", file=sys.stderr))
    seconds = round(time.perf_counter() - started, 1)
    print(json.dumps({"workspace": str(ws.root), "seconds": seconds, **result}))
    return 0


def _dcell_split(args: argparse.Namespace) -> int:
    from cre_core.data.dcell_pairs import dcell_split

    sizes = dcell_split({"train": args.train, "val": args.val, "test": args.test}, args.out)
    print(json.dumps({"split_file": str(args.out), **sizes}))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ingest and dcell-split (``demo`` is in cre_core.demo.commands, ``info`` in cre_core.overview)."""
    ing = subparsers.add_parser("ingest", help="load real-format files into a workspace")
    ing.add_argument("--workspace")
    add_genome_arguments(ing)
    ing.add_argument("--sga", type=Path, action="append", help="Costanzo SGA file (repeatable)")
    ing.add_argument(
        "--dcell-pairs", type=Path, nargs="+", metavar="F",
        help="DCell training files ('2 ORF1 ORF2 epsilon' lines); DMF = ε + SMF_a·SMF_b",
    )
    ing.add_argument("--kuzmin", type=Path, action="append",
                     help="Kuzmin 2018 trigenic file, Data S1 layout (.tsv[.gz]/.xlsx; repeatable)")
    ing.add_argument("--smf", type=Path, help="strain_ids_and_single_mutant_fitness .csv/.xlsx")
    ing.add_argument("--obo", type=Path, help="go-basic.obo")
    ing.add_argument("--gaf", type=Path, help="SGD GAF (sgd.gaf)")
    ing.add_argument(
        "--exclude-alleles", metavar="KINDS",
        help=f"comma list of allele kinds left out of dmf/smf ({', '.join(KINDS)}), e.g. ts,damp",
    )
    ing.set_defaults(func=_ingest)

    split = subparsers.add_parser(
        "dcell-split", help="turn DCell's train/val/test pair files into a split file",
        description="Write a split file (gene_a, gene_b, split) for train --split-file from "
        "DCell pair files ('2 ORF1 ORF2 value' lines), one list of files per part.",
    )
    split.add_argument("--train", type=Path, nargs="+", required=True, metavar="F")
    split.add_argument("--val", type=Path, nargs="+", default=[], metavar="F")
    split.add_argument("--test", type=Path, nargs="+", required=True, metavar="F")
    split.add_argument("--out", type=Path, required=True, help="split file to write (TSV)")
    split.set_defaults(func=_dcell_split)
