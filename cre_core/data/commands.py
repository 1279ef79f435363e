"""CLI commands of the data layer: ``demo`` and ``ingest``."""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from cre_core.data.alleles import KINDS
from cre_core.data.ingest import IngestRequest, ingest
from cre_core.errors import CreError
from cre_core.workspace import Workspace, resolve_workspace


def build_demo(root: Path, preset: str, seed: int, force: bool = False) -> dict[str, int]:
    """Generate the demo files and ingest them with the real parsers, atomically.

    The workspace is built in a temporary sibling folder and renamed into place, so an
    interrupted build never leaves a half-made workspace behind.
    """
    from cre_core.data.demo import generate_demo_files

    root = Path(root).resolve()
    if root.exists() and any(root.iterdir()) and not force:
        raise CreError(f"{root} is not empty; pass --force to rebuild the demo there")
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=root.parent))
    try:
        ws = Workspace(staging)
        files = generate_demo_files(ws.raw_dir, preset=preset, seed=seed)
        request = IngestRequest(
            gff=files.gff, sga=list(files.sga), smf=files.smf, obo=files.obo, gaf=files.gaf,
            truth=files.truth, meta={"demo_preset": preset, "demo_seed": str(seed)},
        )
        result = ingest(ws, request)
        if root.exists():
            shutil.rmtree(root)
        staging.rename(root)
        _repoint_sources(Workspace(root), staging)
        return result
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _repoint_sources(ws: Workspace, staging: Path) -> None:
    """Source paths were recorded under the staging folder; point them at the final one."""
    con = ws.connect(read_only=False)
    try:
        con.execute(
            "UPDATE sources SET path = replace(path, ?, ?)", [str(staging), str(ws.root)]
        )
    finally:
        con.close()


def _demo(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    ws = resolve_workspace(args.workspace)
    result = build_demo(ws.root, args.preset, args.seed, force=args.force)
    seconds = round(time.perf_counter() - started, 1)
    print(f"demo workspace ({args.preset}, seed {args.seed}) built at {ws.root} in {seconds} s")
    print(json.dumps({"workspace": str(ws.root), "seconds": seconds, **result}))
    return 0


def _ingest(args: argparse.Namespace) -> int:
    request = IngestRequest(
        gff=args.gff, fasta=args.fasta, sga=args.sga or [], smf=args.smf, obo=args.obo,
        gaf=args.gaf, exclude_kinds=tuple(k for k in (args.exclude_alleles or "").split(",") if k),
    )
    if not any([request.gff, request.sga, request.smf, request.obo, request.gaf]):
        raise CreError("nothing to ingest: give at least one of --gff, --sga, --smf, --obo, --gaf")
    ws = resolve_workspace(args.workspace)
    started = time.perf_counter()
    result = ingest(ws, request)
    seconds = round(time.perf_counter() - started, 1)
    print(json.dumps({"workspace": str(ws.root), "seconds": seconds, **result}))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add demo and ingest (``info`` is in cre_core.overview)."""
    demo = subparsers.add_parser("demo", help="build the seeded demo workspace")
    demo.add_argument("--workspace", help="folder to create (default $CRE_WORKSPACE or workspace/demo)")
    demo.add_argument("--preset", default="small", choices=["tiny", "small", "full"])
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--force", action="store_true", help="replace an existing workspace")
    demo.set_defaults(func=_demo)

    ing = subparsers.add_parser("ingest", help="load real-format files into a workspace")
    ing.add_argument("--workspace")
    ing.add_argument("--gff", type=Path, help="SGD GFF3 (genome after ##FASTA, or give --fasta)")
    ing.add_argument("--fasta", type=Path, help="genome FASTA when the GFF has none")
    ing.add_argument("--sga", type=Path, action="append", help="Costanzo SGA file (repeatable)")
    ing.add_argument("--smf", type=Path, help="strain_ids_and_single_mutant_fitness .csv/.xlsx")
    ing.add_argument("--obo", type=Path, help="go-basic.obo")
    ing.add_argument("--gaf", type=Path, help="SGD GAF (sgd.gaf)")
    ing.add_argument(
        "--exclude-alleles", metavar="KINDS",
        help=f"comma list of allele kinds left out of dmf/smf ({', '.join(KINDS)}), e.g. ts,damp",
    )
    ing.set_defaults(func=_ingest)
