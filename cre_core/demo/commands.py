"""The ``demo`` command: generate the demo world's raw files and ingest them with the real parsers."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from cre_core.data.ingest import IngestRequest, ingest
from cre_core.data.store import FACTS_NAME, demo_origin
from cre_core.errors import CreError
from cre_core.workspace import Workspace, resolve_workspace


def build_demo(root: Path, preset: str, seed: int, force: bool = False) -> dict[str, int]:
    """Generate the demo files and ingest them with the real parsers, atomically.

    The workspace is built in a temporary sibling folder. A new folder takes its place by one
    rename; with ``force`` an existing folder gets only the demo's own files replaced (its raw
    files and the store, each by a rename): runs, embeddings and anything else there stay.
    An interrupted build never leaves a half-made workspace behind.
    """
    from cre_core.demo.generate import generate_demo_files

    root = Path(root).resolve()
    if root.exists() and not root.is_dir():
        raise CreError(f"{root} is a file, not a folder")
    if root.exists() and any(root.iterdir()) and not force:
        raise CreError(f"{root} is not empty; pass --force to rebuild the demo's store and raw "
                       "files there (runs, embeddings and other files stay)")
    if root.exists():
        _check_demo_store(Workspace(root))
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=root.parent))
    try:
        ws = Workspace(staging)
        files = generate_demo_files(ws.raw_dir, preset=preset, seed=seed)
        request = IngestRequest(
            gff=files.gff, sga=list(files.sga), kuzmin=[files.kuzmin], smf=files.smf,
            obo=files.obo, gaf=files.gaf, truth=files.truth, facts=files.facts,
            meta={"demo_preset": preset, "demo_seed": str(seed)},
        )
        result = ingest(ws, request)
        if root.exists():
            _replace_demo_files(ws, Workspace(root))
        else:
            staging.rename(root)
        _repoint_sources(Workspace(root), staging)
        return result
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _check_demo_store(ws: Workspace) -> None:
    """--force replaces a demo's store, never one holding the user's own ingested data; a store
    that cannot be read counts as the demo's when raw/ holds the demo's facts file."""
    if not ws.db_path.exists():
        return
    try:
        con = ws.connect(read_only=True)
    except CreError:
        if (ws.raw_dir / FACTS_NAME).is_file():
            return
        raise CreError(f"{ws.db_path} cannot be read and is not a demo's store (no "
                       f"raw/{FACTS_NAME}); --force replaces only a demo's store: move it aside "
                       "or choose another folder") from None
    try:
        demo = demo_origin(con)
    finally:
        con.close()
    if demo is None:
        raise CreError(f"{ws.db_path} holds ingested data that is not the demo's; --force replaces "
                       "only a demo's store: choose another folder for the demo")


def _replace_demo_files(built: Workspace, ws: Workspace) -> None:
    """Move the new demo's raw files, then its store, over the old ones (each an atomic
    rename); a stale write-ahead log of the old store goes too (DuckDB would replay it)."""
    ws.raw_dir.mkdir(exist_ok=True)
    for path in built.raw_dir.iterdir():
        os.replace(path, ws.raw_dir / path.name)
    ws.db_path.with_name(ws.db_path.name + ".wal").unlink(missing_ok=True)
    os.replace(built.db_path, ws.db_path)


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


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add demo."""
    demo = subparsers.add_parser("demo", help="build the seeded demo workspace")
    demo.add_argument("--workspace", help="folder to create (default $CRE_WORKSPACE or workspace/demo)")
    demo.add_argument("--preset", default="small", choices=["tiny", "small", "full"])
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--force", action="store_true",
                      help="rebuild the demo's store and raw files in a folder that is not empty "
                           "(runs, embeddings and other files stay)")
    demo.set_defaults(func=_demo)
