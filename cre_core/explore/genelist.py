"""Gene lists as users paste or upload them: names separated by commas, semicolons, spaces or
lines, ``#`` starting a comment. Names resolve like everywhere else (systematic or standard,
any case). A pasted list keeps what resolves and reports the rest with suggestions; a file read
from the command line is refused at its first unknown name (file, line and problem).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from cre_core.data.lookup import UnknownGeneError, gene_names, suggest
from cre_core.errors import CreError, InputError
from cre_core.textio import iter_lines

SEPARATORS = re.compile(r"[\s,;+]+")


@dataclass
class GeneList:
    """Resolved systematic names (first occurrence order) and what did not resolve."""

    genes: list[str]
    unknown: list[str] = field(default_factory=list)     # "NAME: did you mean ..." per unknown name
    repeated: int = 0                                    # names that resolved to a gene already listed


def _tokens(text: str) -> list[tuple[int, str]]:
    """(line number, name) for every name of ``text``."""
    out: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        body = line.split("#", 1)[0]
        out.extend((number, name) for name in SEPARATORS.split(body) if name)
    return out


def _collect(pairs: list[tuple[int, str]], names: dict[str, str], strict: Path | None) -> GeneList:
    genes: list[str] = []
    seen: set[str] = set()
    result = GeneList(genes)
    for number, name in pairs:
        gene = names.get(name.upper())
        if gene is None:
            error = UnknownGeneError(name, suggest(name, names, 3))
            if strict is not None:
                raise InputError(strict, number, str(error))
            result.unknown.append(str(error))
        elif gene in seen:
            result.repeated += 1
        else:
            seen.add(gene)
            genes.append(gene)
    return result


def parse_gene_list(con: duckdb.DuckDBPyConnection, text: str) -> GeneList:
    """A pasted list: every name that resolves, and the unknown ones reported (not fatal)."""
    return _collect(_tokens(text), gene_names(con), None)


def read_gene_file(con: duckdb.DuckDBPyConnection, path: str | Path) -> list[str]:
    """A gene-list file (names per line or separated as in a pasted list); InputError naming the
    line of the first unknown name, or when the file lists no gene."""
    path = Path(path)
    if not path.is_file():
        raise CreError(f"{path}: no such file")
    pairs = [(number, name) for number, line in iter_lines(path)
             for name in SEPARATORS.split(line.split("#", 1)[0]) if name]
    genes = _collect(pairs, gene_names(con), path).genes
    if not genes:
        raise InputError(path, None, "no gene names in the file")
    return genes


def gene_list_arg(con: duckdb.DuckDBPyConnection, names: str | None, path: str | None) -> list[str]:
    """The CLI's ``--genes A,B,C`` or ``--genes-file PATH`` (exactly one), resolved strictly."""
    if bool(names) == bool(path):
        raise CreError("give the genes with exactly one of --genes and --genes-file")
    if path:
        return read_gene_file(con, path)
    result = parse_gene_list(con, names or "")
    if result.unknown:
        raise CreError(result.unknown[0])
    if not result.genes:
        raise CreError("--genes lists no gene")
    return result.genes


LIST_SOURCES = ("partners", "similar", "scan")


def list_from(ws, source: str, gene: str, top: int = 50, run_id: str | None = None,
              with_gene: bool = False) -> list[str]:
    """A gene list made from one gene: its significant measured partners (|ε| > 0.08, strongest
    first), its most similar profiles, or a run's scan top hits (most negative ε̂); at most ``top``,
    after the gene itself when ``with_gene`` (a network around the gene)."""
    from cre_core.data.lookup import resolve_genes

    if source not in LIST_SOURCES:
        raise CreError(f"list source must be one of {', '.join(LIST_SOURCES)}; got '{source}'")
    if source == "scan" and not run_id:
        raise CreError("a scan's top hits need a run")
    con = ws.connect(read_only=True)
    try:
        g = resolve_genes(con, [gene])[0]
    finally:
        con.close()
    if source == "partners":
        from cre_core.explore.profile import pair_partners
        from cre_core.query.browse import SIGNIFICANT_EPSILON

        frame = pair_partners(ws, g)
        genes = frame.loc[frame["epsilon"].abs() > SIGNIFICANT_EPSILON, "partner"].head(top).tolist()
    elif source == "similar":
        from cre_core.explore.similarity import similar

        genes = similar(ws, g, top=top, run_id=run_id)["gene"].tolist()
    else:
        from cre_core.query.service import scan

        genes = scan(ws, str(run_id), g, top_k=top, order="epsilon")["partner"].tolist()
    return [g, *genes] if with_gene else genes
