"""Transactional ingest of real-format files into a workspace's DuckDB store.

Every input is parsed and checked before the store changes; the load itself runs in one DuckDB
transaction, so a bad file leaves the workspace exactly as it was (a store that did not exist
before is removed again).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from cre_core.data import kuzmin as kuzmin_files
from cre_core.data import sga as sga_files
from cre_core.data.alleles import KINDS
from cre_core.data.go import read_gaf, read_obo
from cre_core.data.smf import read_smf, rebuild_smf
from cre_core.data.store import counts, create_schema
from cre_core.errors import CreError, InputError
from cre_core.genome import cre_windows, read_genome
from cre_core.workspace import Workspace


@dataclass
class IngestRequest:
    """Which files to load; any subset. ``exclude_kinds`` drops ts/DAmP alleles from dmf/smf."""

    gff: Path | None = None
    fasta: Path | None = None
    sga: list[Path] = field(default_factory=list)
    kuzmin: list[Path] = field(default_factory=list)
    smf: Path | None = None
    obo: Path | None = None
    gaf: Path | None = None
    truth: Path | None = None
    exclude_kinds: tuple[str, ...] = ()
    meta: dict[str, str] = field(default_factory=dict)

    def kinds(self) -> tuple[str, ...]:
        unknown = set(self.exclude_kinds) - set(KINDS)
        if unknown:
            raise CreError(f"unknown allele kind(s) {sorted(unknown)}; choose from {KINDS}")
        return tuple(k for k in KINDS if k not in self.exclude_kinds)


@dataclass
class _Parsed:
    """Inputs parsed in Python (small files); SGA files are read by DuckDB inside the load."""

    genes: pd.DataFrame | None = None
    windows: pd.DataFrame | None = None
    smf_raw: pd.DataFrame | None = None
    go_terms: pd.DataFrame | None = None
    go_edges: pd.DataFrame | None = None
    gaf: pd.DataFrame | None = None
    truth: pd.DataFrame | None = None


def _parse(request: IngestRequest) -> _Parsed:
    parsed = _Parsed()
    if request.fasta and not request.gff:
        raise CreError("--fasta needs --gff (the FASTA holds sequences, the GFF the genes)")
    if request.gff:
        genome = read_genome(Path(request.gff), Path(request.fasta) if request.fasta else None)
        parsed.genes = genome.genes
        parsed.windows = cre_windows(genome)
    for path in request.sga:
        sga_files.check_header(Path(path))
    for path in request.kuzmin:
        kuzmin_files.check_header(Path(path))
    if request.smf:
        parsed.smf_raw = read_smf(request.smf)
    if request.obo:
        parsed.go_terms, parsed.go_edges = read_obo(request.obo)
    if request.gaf:
        parsed.gaf = read_gaf(request.gaf)
    if request.truth:
        parsed.truth = pd.read_csv(request.truth, sep="\t")
        if list(parsed.truth.columns) != ["gene", "module", "severity"]:
            raise InputError(request.truth, 1, "expected header 'gene, module, severity'")
    return parsed


def _replace(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    con.execute(f"DELETE FROM {table}")
    con.register("incoming", frame)
    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming")
    con.unregister("incoming")


def _source(con: duckdb.DuckDBPyConnection, kind: str, path: Path, rows: int) -> None:
    path_text = str(Path(path).resolve())
    con.execute("DELETE FROM sources WHERE kind = ? AND path = ?", [kind, path_text])
    con.execute("INSERT INTO sources VALUES (?, ?, ?, now())", [kind, path_text, rows])


def _load(con: duckdb.DuckDBPyConnection, request: IngestRequest, parsed: _Parsed) -> None:
    kinds = request.kinds()
    if parsed.genes is not None:
        _replace(con, "genes", parsed.genes)
        _replace(con, "windows", parsed.windows)
        _source(con, "genome", request.gff, len(parsed.genes))
        if request.fasta:
            _source(con, "fasta", request.fasta, len(parsed.windows))
    for path in request.sga:
        _source(con, "sga", path, sga_files.load_sga(con, Path(path)))
    if parsed.smf_raw is not None:
        frame = parsed.smf_raw.assign(source=Path(request.smf).name)
        _replace(con, "smf_raw", frame)
        _source(con, "smf", request.smf, len(frame))
    if request.sga or request.exclude_kinds:
        sga_files.rebuild_dmf(con, kinds)
    for path in request.kuzmin:
        _source(con, "kuzmin", path, kuzmin_files.load_kuzmin(con, Path(path)))
    if request.kuzmin or request.exclude_kinds:
        kuzmin_files.rebuild_tmf(con, kinds)
    has_smf_file = con.execute("SELECT count(*) FROM smf_raw").fetchall()[0][0] > 0
    if has_smf_file:
        rebuild_smf(con, kinds)
    elif request.sga:
        sga_files.smf_from_sga(con, kinds)
    if parsed.go_terms is not None:
        _replace(con, "go_terms", parsed.go_terms)
        _replace(con, "go_edges", parsed.go_edges)
        _source(con, "obo", request.obo, len(parsed.go_terms))
    if parsed.gaf is not None:
        _load_gaf(con, parsed.gaf)
        _source(con, "gaf", request.gaf, len(parsed.gaf))
    if parsed.truth is not None:
        _replace(con, "demo_truth", parsed.truth)
    meta = dict(request.meta, alleles=",".join(kinds), smf_source="file" if has_smf_file else "sga")
    for key, value in meta.items():
        con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, str(value)])


def _load_gaf(con: duckdb.DuckDBPyConnection, gaf: pd.DataFrame) -> None:
    """Annotations keyed by systematic name: from the synonyms, else the symbol via genes."""
    con.execute("DELETE FROM go_annotations")
    con.register("incoming", gaf)
    con.execute(
        """INSERT INTO go_annotations
        SELECT DISTINCT coalesce(i.gene, g.gene) AS gene, i.go_id, i.aspect, i.evidence
        FROM incoming i LEFT JOIN genes g ON upper(g.name) = upper(i.symbol)
        WHERE coalesce(i.gene, g.gene) IS NOT NULL"""
    )
    con.unregister("incoming")


def ingest(ws: Workspace, request: IngestRequest) -> dict[str, int]:
    """Load the requested files into ``ws``; returns the store's counts afterwards."""
    parsed = _parse(request)
    created = not ws.db_path.exists()
    con = ws.connect(read_only=False)
    # Raw rows need no particular order; dropping it lets DuckDB insert in parallel, with less memory.
    con.execute("SET preserve_insertion_order = false")
    try:
        con.begin()
        try:
            create_schema(con)
            _load(con, request, parsed)
            con.commit()
        except BaseException:
            con.rollback()
            raise
        return counts(con)
    except BaseException:
        con.close()
        if created:
            for path in (ws.db_path, ws.db_path.with_name(ws.db_path.name + ".wal")):
                path.unlink(missing_ok=True)
        raise
    finally:
        con.close()
