"""CLI: ``predict`` (one gene set with one run) and ``scan`` (a gene's partners), JSON last."""

from __future__ import annotations

import argparse
import json

from cre_core.atomic import clean_json, is_missing
from cre_core.workspace import resolve_workspace


def _fmt(x) -> str:
    return "-" if is_missing(x) else f"{x:.4f}"


def _predict(args: argparse.Namespace) -> int:
    from cre_core.query.service import predict

    genes = [g for g in args.genes.split(",") if g.strip()]
    result = predict(resolve_workspace(args.workspace), args.run, genes)
    print(f"{' + '.join(f'{n} ({g})' if n != g else g for g, n in zip(result['genes'], result['names']))}: "
          f"predicted {_fmt(result['predicted'])}, multiplicative {_fmt(result['multiplicative'])}, "
          f"predicted ε {_fmt(result['epsilon_pred'])}, measured {_fmt(result['measured_fitness'])}")
    print(json.dumps(result))
    return 0


def _scan(args: argparse.Namespace) -> int:
    from cre_core.query.service import scan

    frame = scan(resolve_workspace(args.workspace), args.run, args.gene, top_k=args.top,
                 order=args.order, descending=args.descending)
    print(frame.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    rows = clean_json(frame.to_dict(orient="records"))
    print(json.dumps({"run": args.run, "gene": args.gene, "order": args.order, "partners": rows}))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``predict`` and ``scan``."""
    pred = subparsers.add_parser("predict", help="predicted fitness of a gene set with a trained run")
    pred.add_argument("--workspace")
    pred.add_argument("--run", required=True, help="run id (folder name under WORKSPACE/runs) or run folder")
    pred.add_argument("--genes", required=True, help="G1[,G2[,G3]]: systematic or standard names, any case")
    pred.set_defaults(func=_predict)

    sc = subparsers.add_parser("scan", help="predicted pair fitness of a gene with every other gene")
    sc.add_argument("--workspace")
    sc.add_argument("--run", required=True, help="run id or run folder")
    sc.add_argument("--gene", required=True, help="systematic or standard name")
    sc.add_argument("--top", type=int, default=20, help="rows to show (0 = all)")
    sc.add_argument("--order", choices=["fitness", "epsilon"], default="fitness",
                    help="sort by predicted pair fitness or by predicted ε (lowest first)")
    sc.add_argument("--descending", action="store_true", help="highest first")
    sc.set_defaults(func=_scan)
