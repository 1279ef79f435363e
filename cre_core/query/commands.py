"""CLI: ``predict`` (one gene set with one run), ``scan`` (a gene's partners) and ``suggest``
(unmeasured pairs to screen next, ranked; ``--out`` writes every pair as CSV), JSON last."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cre_core.atomic import clean_json
from cre_core.query.format import fmt_interval, fmt_support, fmt_value
from cre_core.train.saved_split import NOT_SAVED
from cre_core.workspace import resolve_workspace


def _predict(args: argparse.Namespace) -> int:
    from cre_core.query.service import predict

    genes = [g for g in args.genes.split(",") if g.strip()]
    r = predict(resolve_workspace(args.workspace), args.run, genes)
    labels = [f"{n} ({g})" if n != g else g for g, n in zip(r["genes"], r["names"])]
    interval = "80%" if r["members"] > 1 else "single model:"
    print(f"{' + '.join(labels)}: predicted {fmt_value(r['predicted'])} "
          f"({interval} {fmt_interval(r['predicted_lo'], r['predicted_hi'])}), "
          f"multiplicative {fmt_value(r['multiplicative'])}, predicted ε {fmt_value(r['epsilon_pred'])} "
          f"({interval} {fmt_interval(r['epsilon_lo'], r['epsilon_hi'])}), "
          f"measured {fmt_value(r['measured_fitness'])}")
    for label, count in zip(labels, r["train_counts"]):
        print(f"  {label}: {fmt_support(count)}")
    if not r["size_in_training"]:
        print(f"  warning: run {r['run_id']} never trained on sets of {len(r['genes'])} gene(s)")
    if not r["split_saved"]:
        print(f"  warning: run {r['run_id']} {NOT_SAVED}")
    print(json.dumps(r))
    return 0


def _scan(args: argparse.Namespace) -> int:
    from cre_core.query.service import scan

    frame = scan(resolve_workspace(args.workspace), args.run, args.gene, top_k=args.top,
                 order=args.order, descending=args.descending)
    print(frame.to_string(index=False, float_format=fmt_value, na_rep="–"))
    rows = clean_json(frame.to_dict(orient="records"))
    print(json.dumps({"run": args.run, "gene": args.gene, "order": args.order, "partners": rows}))
    return 0


def _suggest(args: argparse.Namespace) -> int:
    from cre_core.atomic import atomic_path
    from cre_core.errors import CreError
    from cre_core.query.gene_sets import parse_names
    from cre_core.query.suggestions import suggest

    genes = None
    if args.genes_file:
        try:
            text = Path(args.genes_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CreError(f"cannot read gene list {args.genes_file}: {exc}") from exc
        genes = parse_names(text.replace("\n", " "))
    elif args.genes:
        genes = parse_names(args.genes)
    frame, info = suggest(resolve_workspace(args.workspace), args.run, genes=genes, gene=args.gene,
                          per_gene=args.per_gene, policy=args.policy)
    print(frame.head(args.top).to_string(index=False, float_format=fmt_value, na_rep="–"))
    if args.out:
        with atomic_path(args.out) as tmp:
            frame.to_csv(tmp, index=False)
        info["out"] = str(Path(args.out).resolve())
    top = clean_json(frame.head(args.top).to_dict(orient="records"))
    print(json.dumps({**info, "top": top}))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``predict``, ``scan`` and ``suggest``."""
    from cre_core.query.spread import PER_GENE, POLICIES, POLICY

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

    su = subparsers.add_parser("suggest", help="unmeasured pairs worth screening next: an ensemble run's "
                                               "predicted |ε| and its members' disagreement")
    su.add_argument("--workspace")
    su.add_argument("--run", required=True, help="run id or run folder of an ensemble run (train --ensemble K)")
    which = su.add_mutually_exclusive_group(required=True)
    which.add_argument("--genes", help="pairs among these genes: G1,G2,G3,... (systematic or standard names)")
    which.add_argument("--genes-file", help="pairs among the genes of this text file (names separated by "
                                            "commas, spaces or lines)")
    which.add_argument("--gene", help="this gene's pairs with every other gene of the run")
    su.add_argument("--policy", choices=POLICIES, default=POLICY,
                    help="the order to measure in: rank (default) = the mean of the |ε̂| and disagreement "
                         "ranks; first-interactions = first the pairs likeliest to give a gene without a strong "
                         "interaction (|ε| > 0.08) among the run's training pairs its first one, then as rank")
    su.add_argument("--per-gene", type=int, default=PER_GENE,
                    help=f"among a gene list, rank the combined-rank pairs in rounds of at most N pairs per gene "
                         f"so that a few genes do not fill the top (default {PER_GENE}; 0 = no cap)")
    su.add_argument("--top", type=int, default=20, help="pairs to show (default 20); --out has all")
    su.add_argument("--out", help="write every ranked pair to this CSV file")
    su.set_defaults(func=_suggest)
