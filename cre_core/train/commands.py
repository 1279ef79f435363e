"""CLI: ``train`` (one run, foreground) and ``runs`` (list a workspace's runs)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cre_core.atomic import clean_json
from cre_core.errors import CreError
from cre_core.train.config import add_arguments, config_from_args
from cre_core.workspace import Workspace, resolve_workspace


def _train(args: argparse.Namespace) -> int:
    from cre_core.train import runs as R
    from cre_core.train.loop import train_run

    ws = resolve_workspace(args.workspace)
    run_dir = Path(args.run_dir).resolve() if args.run_dir else None
    base = None
    if args.resume:
        if run_dir is None:
            raise CreError("--resume needs --run-dir (the folder of the run to continue)")
        if not (run_dir / "config.json").exists():
            raise CreError(f"{run_dir} has no config.json: nothing to resume")
        base = R.read_config(run_dir)
    config = config_from_args(args, base)
    ws.connect(read_only=True).close()    # a missing or corrupt store: one line, before any run folder
    if run_dir is None:
        run_dir = R.create_run_dir(ws, config)
    print(f"run folder: {run_dir}", flush=True)
    summary = train_run(ws, config, run_dir, resume=args.resume)
    if summary is not None:
        print(json.dumps(summary), flush=True)
        return 0 if summary.get("status") in ("done", "interrupted") else 1
    return 0


def export_split(ws: Workspace, run_id: str, out: Path) -> dict[str, int]:
    """Write the train/val/test strains of a run to a split file (``train --split-file``).

    The run's saved split (``saved_split``: the strains it trained on, whatever the store holds
    now). A run made before splits were saved has its split rebuilt from its config and the
    store (seeded), with a warning: the store must still hold the pairs it was trained on.
    """
    import sys

    from cre_core.data.split_file import write_split_file
    from cre_core.train import data as D
    from cre_core.train.runs import read_config, read_run_files, run_dir
    from cre_core.train.saved_split import NOT_SAVED, export_saved

    folder = run_dir(ws, run_id)
    read_run_files(folder)                # CreError (exit 2) for a run listed as unreadable
    config = read_config(folder)
    saved = export_saved(folder, out)
    if saved is not None:
        return saved
    print(f"warning: run {folder.name} {NOT_SAVED}", file=sys.stderr)
    table, split = D.training_rows(ws, config)
    parts = {"train": split.train, "val": split.val, "test": split.test}
    write_split_file(out, table.genes, table.idx, parts)
    return {part: len(rows) for part, rows in parts.items()}


def _runs(args: argparse.Namespace) -> int:
    from cre_core.train.runs import list_runs

    if args.export_split:
        if not args.out:
            raise CreError("--export-split needs --out (the split file to write)")
        ws = resolve_workspace(args.workspace)
        sizes = export_split(ws, args.export_split, Path(args.out))
        print(json.dumps({"split_file": str(args.out), **sizes}))
        return 0
    frame = list_runs(resolve_workspace(args.workspace))
    for row in frame.to_dict(orient="records"):
        print(json.dumps(clean_json(row), default=str))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``train`` and ``runs``."""
    train = subparsers.add_parser(
        "train", help="train one model (prints the run folder, then the summary JSON line)",
        usage="%(prog)s --model MODEL [options]\n       %(prog)s --resume --run-dir DIR [options]",
        description="Train one model on a workspace's double-mutant fitness. The last line "
                    "printed on stdout is the run's summary as JSON.")
    train.add_argument("--workspace", help="workspace folder (default $CRE_WORKSPACE or workspace/demo)")
    train.add_argument("--run-dir", help="run folder (default: a new folder under WORKSPACE/runs)")
    train.add_argument("--resume", action="store_true", help="continue the run in --run-dir from its last checkpoint")
    add_arguments(train)
    train.set_defaults(func=_train)

    runs = subparsers.add_parser("runs", help="list training runs (one JSON line each)")
    runs.add_argument("--workspace")
    runs.add_argument("--export-split", metavar="RUN_ID",
                      help="write this run's train/val/test pairs as a split file (see --out)")
    runs.add_argument("--out", type=Path, help="split file to write (TSV) for --export-split")
    runs.set_defaults(func=_runs)
