"""CLI: ``motifs`` (a sequence-encoder run's filters as PWMs), ``explain`` (one gene's
attribution map), each one JSON document on stdout (``explain --tsv``: one row per position),
``export-encoder`` (the run's gene vectors as an embedding) and ``explain-dcell`` (a DCell
run's GO terms ranked by how a genotype moves them; ``--tsv``: every term)."""

from __future__ import annotations

import argparse
import json
import sys

from cre_core.atomic import clean_json
from cre_core.workspace import resolve_workspace


def _motifs(args: argparse.Namespace) -> int:
    from cre_core.interpret.motifs import motif_report

    options = {} if args.threshold is None else {"threshold": args.threshold}
    report = motif_report(resolve_workspace(args.workspace), args.run, top=args.top, **options)
    if "fraction_recovered" in report:
        print(f"{report['recovered']}/{report['n_planted']} planted motifs recovered "
              f"(match score ≥ {report['threshold']}; {report['recovered_by_listed']} by the "
              f"{len(report['filters'])} listed filters)", file=sys.stderr)
    print(json.dumps(report))
    return 0


def _explain(args: argparse.Namespace) -> int:
    from cre_core.interpret.attribution import explain, explain_frame

    result = explain(resolve_workspace(args.workspace), args.run, args.gene, top_filters=args.filters)
    if args.tsv:
        explain_frame(result).to_csv(sys.stdout, sep="\t", index=False)
    else:
        print(json.dumps(result))
    return 0


def _export(args: argparse.Namespace) -> int:
    from cre_core.interpret.export import export_encoder

    written = export_encoder(resolve_workspace(args.workspace), args.run)
    print(json.dumps({"run": args.run, "files": written}))
    return 0


def _explain_dcell(args: argparse.Namespace) -> int:
    from cre_core.interpret.subsystems import explain_genotype
    from cre_core.query.format import fmt_value
    from cre_core.query.gene_sets import parse_names

    result = explain_genotype(resolve_workspace(args.workspace), args.run, parse_names(args.genes), by=args.by)
    if args.tsv:
        result.terms.to_csv(sys.stdout, sep="\t", index=False, float_format="%.6g")
        return 0
    summary = result.summary(args.top)
    print(f"{' + '.join(result.names)}: predicted {fmt_value(result.predicted)} (wild type "
          f"{fmt_value(result.wild_type)}); {summary['n_moved']} of {summary['n_terms']} terms move; "
          f"ranked by {result.by} change")
    shown = result.terms[result.terms["moved"]].head(args.top)
    print(shown.drop(columns=["moved"]).to_string(index=False, float_format=fmt_value, na_rep="–"))
    print(json.dumps(clean_json(summary)))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``motifs``, ``explain``, ``export-encoder`` and ``explain-dcell`` (torch is imported
    when they run)."""
    mo = subparsers.add_parser("motifs", help="a sequence-encoder run's most used filters as PWMs, "
                                              "matched to the demo's planted motifs")
    mo.add_argument("--workspace")
    mo.add_argument("--run", required=True, help="run id or run folder (trained with --embedder encoder)")
    mo.add_argument("--top", type=int, default=20, help="filters to list, most used first")
    mo.add_argument("--threshold", type=float,
                    help="match score for a planted motif to count as recovered (default 0.75)")
    mo.set_defaults(func=_motifs)

    ex = subparsers.add_parser("explain", help="per-base attribution of a gene's predicted deletion "
                                               "fitness over its CRE windows, with motif hits")
    ex.add_argument("--workspace")
    ex.add_argument("--run", required=True, help="run id or run folder (trained with --embedder encoder)")
    ex.add_argument("--gene", required=True, help="systematic or standard name")
    ex.add_argument("--filters", type=int, default=10, help="most used filters whose sites are listed")
    ex.add_argument("--tsv", action="store_true", help="one row per position (region, position, base, score)")
    ex.set_defaults(func=_explain)

    xp = subparsers.add_parser("export-encoder", help="write a sequence-encoder run's gene vectors as an "
                                                      "embedding (embedder encoder, model = the run id)")
    xp.add_argument("--workspace")
    xp.add_argument("--run", required=True, help="run id or run folder (trained with --embedder encoder)")
    xp.set_defaults(func=_export)

    dc = subparsers.add_parser("explain-dcell", help="a DCell run's GO subsystems ranked by how deleting "
                                                     "1-3 genes moves them from wild type")
    dc.add_argument("--workspace")
    dc.add_argument("--run", required=True, help="run id or run folder (trained with --model dcell)")
    dc.add_argument("--genes", required=True, help="G1[,G2[,G3]]: systematic or standard names")
    dc.add_argument("--top", type=int, default=15, help="moved terms to list and draw (default 15)")
    dc.add_argument("--by", choices=["interaction", "state", "head"],
                    help="rank by interaction change (default for 2-3 genes), state change (default "
                         "for one gene) or |head change|")
    dc.add_argument("--tsv", action="store_true", help="every term of the ontology, one row each")
    dc.set_defaults(func=_explain_dcell)
