"""CLI: ``profile``, ``similar``, ``enrich`` and ``network``; each prints a table, then its JSON line."""

from __future__ import annotations

import argparse
import json

from cre_core.atomic import clean_json
from cre_core.query.format import fmt_value
from cre_core.workspace import Workspace, resolve_workspace


def _table(frame, rows: int) -> None:
    if len(frame):
        print(frame.head(rows).to_string(index=False, float_format=fmt_value, na_rep="–"))


def _records(frame) -> list[dict]:
    return clean_json(frame.to_dict(orient="records"))


def _gene_list(ws: Workspace, args: argparse.Namespace) -> list[str]:
    """--genes / --genes-file, or a list made from one gene (--partners-of, --similar-to, --scan-of)."""
    from cre_core.errors import CreError
    from cre_core.explore.genelist import gene_list_arg, list_from

    made = [(s, g) for s, g in (("partners", args.partners_of), ("similar", args.similar_to),
                                ("scan", args.scan_of)) if g]
    if made and (args.genes or args.genes_file):
        raise CreError("give --genes/--genes-file or one of --partners-of/--similar-to/--scan-of, not both")
    if len(made) > 1:
        raise CreError("give only one of --partners-of, --similar-to and --scan-of")
    if made:
        genes = list_from(ws, made[0][0], made[0][1], top=args.list_size, run_id=args.run,
                          with_gene=args.func is _network)
        if not genes:
            raise CreError(f"the {made[0][0]} list of {made[0][1]} is empty")
        return genes
    con = ws.connect(read_only=True)
    try:
        return gene_list_arg(con, args.genes, args.genes_file)
    finally:
        con.close()


def _profile(args: argparse.Namespace) -> int:
    from cre_core.explore.profile import ProfileFilter, gene_profile

    filters = ProfileFilter(sign=args.sign, min_abs=args.min_abs, max_p=args.max_p, sort=args.sort,
                            descending=not args.ascending)
    p = gene_profile(resolve_workspace(args.workspace), args.gene, run_id=args.run, filters=filters)
    smf = p.detail.smf["fitness"] if p.detail.smf else None
    print(f"{p.name} ({p.gene}): SMF {fmt_value(smf)}, {p.n_measurements:,} measurements with "
          f"{len(p.partners):,} partners; {len(p.measurements):,} pass the filter")
    _table(p.measurements, args.top)
    out = {"gene": p.gene, "name": p.name, "smf": smf, "n_measurements": p.n_measurements,
           "n_partners": len(p.partners), "n_shown": len(p.measurements),
           "measurements": _records(p.measurements.head(args.top) if args.top else p.measurements),
           "go": _records(p.detail.go), "windows": _records(p.detail.windows.drop(columns="sequence"))}
    if p.comparison:
        c = p.comparison
        print(f"run {c.run_id}: r(measured ε, ε̂) = {fmt_value(c.r)} over {c.n:,} partners; "
              f"{len(c.missed)} strong partners missed")
        _table(c.missed, args.top)
        out.update(run=c.run_id, r=c.r, n_compared=c.n, missed=_records(c.missed))
    print(json.dumps(clean_json(out)))
    return 0


def _similar(args: argparse.Namespace) -> int:
    ws = resolve_workspace(args.workspace)
    if args.map:
        from cre_core.explore.similarity import profile_map

        frame = profile_map(ws, run_id=args.run, min_partners=args.min_partners, seed=args.seed)
        assert frame is not None
        frame.to_csv(args.map, index=False)
        print(json.dumps({"map": args.map, "genes": len(frame), "run": args.run}))
        return 0
    from cre_core.errors import CreError
    from cre_core.explore.similarity import similar

    if not args.gene:
        raise CreError("give --gene (or --map PATH for the map of all profiles)")
    frame = similar(ws, args.gene, top=args.top, min_overlap=args.min_overlap, run_id=args.run, by=args.by)
    _table(frame, args.top)
    print(json.dumps({"gene": args.gene, "run": args.run, "min_overlap": args.min_overlap, "by": args.by,
                      "similar": _records(frame)}))
    return 0


def _enrich(args: argparse.Namespace) -> int:
    from cre_core.explore.enrichment import enrich
    from cre_core.explore.genelist import read_gene_file

    ws = resolve_workspace(args.workspace)
    genes = _gene_list(ws, args)
    background = None
    if args.background_file:
        con = ws.connect(read_only=True)
        try:
            background = read_gene_file(con, args.background_file)
        finally:
            con.close()
    result = enrich(ws, genes, background=background, namespaces=tuple(args.namespace or ()) or
                    ("biological_process", "molecular_function", "cellular_component"),
                    min_size=args.min_size, max_size=args.max_size)
    table = result.table[result.table["qvalue"] <= args.max_q]
    print(f"{len(genes)} genes, {result.in_universe} annotated; universe {result.universe:,} genes, "
          f"{result.tested:,} terms tested; {len(table)} with q <= {args.max_q:g}")
    _table(table.drop(columns="genes"), args.top)
    if args.out:
        from cre_core.atomic import atomic_path

        with atomic_path(args.out) as tmp:
            table.to_csv(tmp, index=False)
    print(json.dumps(clean_json({"genes": genes, "in_universe": result.in_universe, "universe": result.universe,
                                 "tested": result.tested, "outside": result.outside,
                                 "terms": _records(table.head(args.top) if args.top else table)})))
    return 0


def _network(args: argparse.Namespace) -> int:
    from cre_core.errors import CreError
    from cre_core.explore.network import build_network, write_bulk_csv, write_graphml, write_sif

    ws = resolve_workspace(args.workspace)
    genes = _gene_list(ws, args)
    if not (args.graphml or args.sif or args.csv):
        raise CreError("give at least one of --graphml, --sif and --csv")
    out: dict = {"genes": len(genes), "run": args.run}
    if args.graphml or args.sif:
        net = build_network(ws, genes, run_id=args.run, min_abs=args.min_abs, seed=args.seed)
        if args.graphml:
            write_graphml(net, args.graphml)
        if args.sif:
            write_sif(net, args.sif)
        counts = net.edges["kind"].value_counts()
        out.update(nodes=len(net.nodes), measured_edges=int(counts.get("measured", 0)),
                   predicted_edges=int(counts.get("predicted", 0)), graphml=args.graphml, sif=args.sif,
                   not_in_run=net.not_in_run)
        print(f"{len(net.nodes)} genes, {out['measured_edges']:,} measured and {out['predicted_edges']:,} "
              f"predicted edges with |ε| >= {args.min_abs:g}")
    if args.csv:
        rows = write_bulk_csv(ws, genes, args.csv, run_id=args.run, within=args.within)
        out.update(csv=args.csv, csv_rows=rows)
        print(f"{rows:,} measured pairs written to {args.csv}")
    print(json.dumps(clean_json(out)))
    return 0


def _list_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--genes", help="gene names separated by commas or spaces")
    parser.add_argument("--genes-file", help="a file of gene names (one per line, or separated; # comments)")
    parser.add_argument("--partners-of", metavar="GENE", help="the list: GENE's significant measured partners")
    parser.add_argument("--similar-to", metavar="GENE", help="the list: the genes with profiles most like GENE's")
    parser.add_argument("--scan-of", metavar="GENE", help="the list: the run's most negative ε̂ partners of GENE")
    parser.add_argument("--list-size", type=int, default=50, help="genes in a list made from one gene")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``profile``, ``similar``, ``enrich`` and ``network``."""
    from cre_core.explore.network import MAX_GENES
    from cre_core.explore.profile import SIGNS, SORTS
    from cre_core.explore.similarity import MIN_OVERLAP, MIN_PARTNERS, SCORES
    from cre_core.query.browse import SIGNIFICANT_EPSILON

    pr = subparsers.add_parser("profile", help="a gene's measured interaction profile, with a run's ε̂ beside it")
    pr.add_argument("--workspace")
    pr.add_argument("--gene", required=True, help="systematic or standard name")
    pr.add_argument("--run", help="compare with this run's predicted ε̂")
    pr.add_argument("--sign", choices=SIGNS, default="any")
    pr.add_argument("--min-abs", type=float, default=0.0, help="smallest |ε| shown")
    pr.add_argument("--max-p", type=float, help="largest p-value shown (rows without one are kept)")
    pr.add_argument("--sort", choices=SORTS, default="abs_epsilon")
    pr.add_argument("--ascending", action="store_true", help="smallest first (default: largest first)")
    pr.add_argument("--top", type=int, default=30, help="rows printed and in the JSON (0 = all)")
    pr.set_defaults(func=_profile)

    si = subparsers.add_parser("similar", help="genes with the most similar ε profiles, or the map of all profiles")
    si.add_argument("--workspace")
    si.add_argument("--gene", help="systematic or standard name")
    si.add_argument("--run", help="use this run's predicted profiles instead of the measured ones")
    si.add_argument("--top", type=int, default=10)
    si.add_argument("--min-overlap", type=int, default=MIN_OVERLAP, help="fewest shared partners compared")
    si.add_argument("--by", choices=SCORES, default="r",
                    help="rank by Pearson r over shared partners, or by topological overlap (strong shared "
                         "partners and the direct link; the better guide in a sparse screen)")
    si.add_argument("--map", metavar="CSV", help="write the UMAP of all profiles to CSV instead")
    si.add_argument("--min-partners", type=int, default=MIN_PARTNERS, help="map: fewest values a profile needs")
    si.add_argument("--seed", type=int, default=0, help="map: UMAP seed")
    si.set_defaults(func=_similar)

    en = subparsers.add_parser("enrich", help="GO enrichment of a gene list (hypergeometric p, BH q)")
    en.add_argument("--workspace")
    _list_options(en)
    en.add_argument("--run", help="run for --scan-of or --similar-to on predicted profiles")
    en.add_argument("--background-file", help="the universe: a file of gene names (default: every annotated gene)")
    en.add_argument("--namespace", action="append",
                    choices=["biological_process", "molecular_function", "cellular_component"],
                    help="test this namespace (repeatable; default all three)")
    en.add_argument("--min-size", type=int, default=3)
    en.add_argument("--max-size", type=int, default=2000)
    en.add_argument("--max-q", type=float, default=1.0, help="report terms with q at most this")
    en.add_argument("--top", type=int, default=20, help="terms printed and in the JSON (0 = all)")
    en.add_argument("--out", help="write every reported term to this CSV")
    en.set_defaults(func=_enrich)

    ne = subparsers.add_parser("network", help=f"a gene list's interaction network (up to {MAX_GENES} genes) "
                               "as GraphML/SIF, or a bulk CSV of its ε (any size)")
    ne.add_argument("--workspace")
    _list_options(ne)
    ne.add_argument("--run", help="add this run's predicted edges (and ε̂ in the CSV)")
    ne.add_argument("--min-abs", type=float, default=SIGNIFICANT_EPSILON, help="smallest |ε| drawn as an edge")
    ne.add_argument("--seed", type=int, default=0, help="layout seed")
    ne.add_argument("--graphml", help="write Cytoscape-ready GraphML here")
    ne.add_argument("--sif", help="write SIF here")
    ne.add_argument("--csv", help="write every measured pair touching the genes (with ε̂ of --run) here")
    ne.add_argument("--within", action="store_true", help="CSV: only pairs of two listed genes")
    ne.set_defaults(func=_network)
