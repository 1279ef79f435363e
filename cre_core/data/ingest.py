"""Transactional ingest of real-format files into a workspace's DuckDB store.

Every input is parsed and checked before the store changes; the load itself runs in one DuckDB
transaction, so a bad file leaves the workspace exactly as it was. A store that did not exist
before is built under a temporary name (``.cre.duckdb.PID.building``) and takes its name only
when complete, so an ingest killed at any moment leaves no store rather than a half-made one.
Loading other genes or fitness data into a demo store drops the demo's planted truth (it no
longer describes the data). What a load replaces (an earlier SMF, GAF, genome...) and what it
absorbs (duplicate raw rows, gene IDs the genome lacks) comes back as warning lines.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from cre_core.data import dcell_pairs as dcell
from cre_core.data import kuzmin as kuzmin_files
from cre_core.data import sga as sga_files
from cre_core.data.alleles import KINDS
from cre_core.data.go import read_gaf, read_obo
from cre_core.data.smf import read_smf, rebuild_smf
from cre_core.data.store import DEMO_META, DEMO_TABLES, FACTS_NAME, counts, create_schema, demo_origin, existing_tables
from cre_core.errors import CreError, InputError
from cre_core.genome import cre_windows
from cre_core.genome.sources import load_genome
from cre_core.processes import alive
from cre_core.textio import check_readable
from cre_core.workspace import BUILDING_SUFFIX, Workspace

# DuckDB's buffer pool on the ingest's connection (its default is 80% of the RAM): the full
# preset's 1.3e7 SGA rows peaked at 1.9-2.0 GiB with the default and 1.1 GiB with this limit,
# in about the same time (written row groups are evicted, not kept; bench/RESULTS.md)
INGEST_MEMORY = "1GB"


@dataclass
class IngestRequest:
    """Which files to load; any subset. ``exclude_kinds`` drops ts/DAmP alleles from dmf/smf."""

    gff: Path | None = None
    fasta: Path | None = None
    genbank: list[Path] = field(default_factory=list)
    skip_missing_chromosomes: bool = False
    sga: list[Path] = field(default_factory=list)
    dcell_pairs: list[Path] = field(default_factory=list)
    kuzmin: list[Path] = field(default_factory=list)
    smf: Path | None = None
    obo: Path | None = None
    gaf: Path | None = None
    truth: Path | None = None
    facts: Path | None = None          # the demo world's per-gene facts (JSON)
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
    dcell_pairs: list[pd.DataFrame] = field(default_factory=list)  # one per request.dcell_pairs
    skipped_genes: int = 0  # genes on chromosomes the sequences lack (--skip-missing-chromosomes)
    smf_raw: pd.DataFrame | None = None
    go_terms: pd.DataFrame | None = None
    go_edges: pd.DataFrame | None = None
    gaf: pd.DataFrame | None = None
    truth: pd.DataFrame | None = None
    facts: str | None = None


def _check_paths(request: IngestRequest) -> None:
    """Every named input is a readable file, and no two SGA files share a name (raw rows are
    keyed by file name: the second would silently replace the first)."""
    if request.fasta and not request.gff:
        raise CreError("--fasta needs --gff (the FASTA holds sequences, the GFF the genes)")
    single = [request.gff, request.fasta, request.smf, request.obo, request.gaf, request.truth,
              request.facts]
    for path in [*single, *request.genbank, *request.sga, *request.kuzmin, *request.dcell_pairs]:
        if path is not None:
            check_readable(path)
    by_name: dict[str, Path] = {}
    for path in map(Path, request.sga):
        other = by_name.setdefault(path.name, path)
        if other.resolve() != path.resolve():
            raise CreError(
                f"two SGA files are named {path.name} ({other.parent} and {path.parent}): raw rows "
                "are kept per file name, so rename one before ingesting both"
            )


def _parse(request: IngestRequest) -> _Parsed:
    _check_paths(request)
    parsed = _Parsed()
    if request.gff or request.genbank:
        genome = load_genome(
            request.gff, request.fasta, request.genbank, request.skip_missing_chromosomes
        )
        parsed.genes = genome.genes
        if parsed.genes.empty:
            raise InputError(request.gff or request.genbank[0], None,
                             f"no genes: the {'GFF' if request.gff else 'GenBank file'} has no gene with a CDS")
        parsed.windows = cre_windows(genome)
        parsed.skipped_genes = sum(genome.missing_chromosomes.values())
    for path in request.sga:
        sga_files.check_header(Path(path))
    parsed.dcell_pairs = [dcell.read_dcell_pairs(path) for path in request.dcell_pairs]
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
    if request.facts:
        parsed.facts = Path(request.facts).read_text(encoding="utf-8")
    return parsed


def _replace(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    con.execute(f"DELETE FROM {table}")
    con.register("incoming", frame)
    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming")
    con.unregister("incoming")


PER_FILE_KINDS = ("sga", "kuzmin", "dcell_pairs")   # kinds that hold one file per file name


def _source(con: duckdb.DuckDBPyConnection, kind: str, path: Path, rows: int,
            replaces: tuple[str, ...] = (), append: bool = False) -> list[str]:
    """Credit ``path`` for ``rows`` rows of ``kind``; returns what it replaced, as notes.

    A kind holds one file (the genome, the SMF table, the OBO, the GAF), except the
    ``PER_FILE_KINDS``, which hold one file per name: the entries it replaces are dropped, so
    ``sources`` never credits a file whose rows are gone. ``replaces`` names further kinds the
    load invalidates; ``append`` adds a further file of the same load (a genome in several
    GenBank files) without replacing anything.
    """
    path = Path(path)
    path_text = str(path.resolve())
    if append:
        con.execute("INSERT INTO sources VALUES (?, ?, ?, now())", [kind, path_text, rows])
        return []
    if kind in PER_FILE_KINDS:
        where, params = f"kind = '{kind}' AND regexp_extract(path, '[^/]*$') = ?", [path.name]
    else:
        marks = ", ".join("?" for _ in (kind, *replaces))
        where, params = f"kind IN ({marks})", [kind, *replaces]
    old = con.execute(f"SELECT kind, path, rows FROM sources WHERE {where} ORDER BY kind", params).fetchall()
    con.execute(f"DELETE FROM sources WHERE {where}", params)
    con.execute("INSERT INTO sources VALUES (?, ?, ?, now())", [kind, path_text, rows])
    return [f"{kind} {path_text}: reloaded, replacing its {old_rows:,} earlier rows" if old_path == path_text
            else f"{kind} {path_text} replaced {old_kind} {old_path} ({old_rows:,} rows)"
            for old_kind, old_path, old_rows in old]


def _load(con: duckdb.DuckDBPyConnection, request: IngestRequest, parsed: _Parsed) -> list[str]:
    """Load everything parsed, in the caller's transaction; returns the warning lines."""
    kinds = request.kinds()
    notes: list[str] = []
    if parsed.genes is not None and parsed.windows is not None:  # parsed together
        _replace(con, "genes", parsed.genes)
        _replace(con, "windows", parsed.windows)
        for i, path in enumerate([request.gff] if request.gff else request.genbank):
            notes += _source(con, "genome", path, len(parsed.genes), replaces=("fasta",),
                             append=i > 0)
        if request.fasta:
            _source(con, "fasta", request.fasta, len(parsed.windows))
    for path in request.sga:
        notes += _source(con, "sga", path, sga_files.load_sga(con, Path(path)))
    for path, pairs in zip(request.dcell_pairs, parsed.dcell_pairs):
        notes += _source(con, "dcell_pairs", path, dcell.load_dcell_pairs(con, Path(path), pairs))
    # DCell pairs join dmf after it is rebuilt from SGA and smf is final (DMF = ε + SMF·SMF)
    has_dcell = con.execute("SELECT count(*) FROM dcell_pairs").fetchall()[0][0] > 0
    refresh_dcell = has_dcell and bool(
        request.dcell_pairs or request.sga or request.smf or request.exclude_kinds
    )
    if parsed.smf_raw is not None and request.smf is not None:  # parsed only when requested
        frame = parsed.smf_raw.assign(source=Path(request.smf).name)
        _replace(con, "smf_raw", frame)
        notes += _source(con, "smf", request.smf, len(frame))
    if request.sga or request.exclude_kinds or refresh_dcell:
        sga_files.rebuild_dmf(con, kinds)
    for path in request.kuzmin:
        notes += _source(con, "kuzmin", path, kuzmin_files.load_kuzmin(con, Path(path)))
    if request.kuzmin or request.exclude_kinds:
        kuzmin_files.rebuild_tmf(con, kinds)
    has_smf_file = con.execute("SELECT count(*) FROM smf_raw").fetchall()[0][0] > 0
    if has_smf_file:
        rebuild_smf(con, kinds)
    elif request.sga:
        sga_files.smf_from_sga(con, kinds)
    if refresh_dcell:
        dcell.add_dcell_dmf(con)
    if parsed.go_terms is not None and request.obo is not None:
        _replace(con, "go_terms", parsed.go_terms)
        _replace(con, "go_edges", parsed.go_edges)
        notes += _source(con, "obo", request.obo, len(parsed.go_terms))
    if parsed.gaf is not None and request.gaf is not None:
        _load_gaf(con, parsed.gaf)
        notes += _source(con, "gaf", request.gaf, len(parsed.gaf))
    notes += _drop_demo_truth(con, request)
    if parsed.truth is not None:
        _replace(con, "demo_truth", parsed.truth)
    if parsed.facts is not None:
        _replace(con, "demo_facts", pd.DataFrame({"facts": [parsed.facts]}))
    meta = dict(request.meta, alleles=",".join(kinds), smf_source="file" if has_smf_file else "sga")
    for key, value in meta.items():
        con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, str(value)])
    return notes + _absorbed(con, request)


def _replaces_data(request: IngestRequest) -> bool:
    """Whether the load brings genes or fitness data other than the demo generator's own."""
    return not request.meta.get("demo_preset") and bool(
        request.gff or request.genbank or request.sga or request.dcell_pairs or request.kuzmin
        or request.smf)


def _drop_demo_truth(con: duckdb.DuckDBPyConnection, request: IngestRequest) -> list[str]:
    """Other data in a demo store: its planted truth, gene facts and preset/seed no longer
    describe the store (a truth ceiling or module colours from them would be wrong), so they go."""
    if not _replaces_data(request):
        return []
    marks = ", ".join("?" for _ in DEMO_META)
    had = con.execute(f"SELECT count(*) FROM meta WHERE key IN ({marks})", list(DEMO_META)).fetchall()[0][0]
    had += sum(con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in DEMO_TABLES)
    if not had:
        return []
    for table in DEMO_TABLES:
        con.execute(f"DELETE FROM {table}")
    con.execute(f"DELETE FROM meta WHERE key IN ({marks})", list(DEMO_META))
    return ["the demo's planted truth (demo_truth, its gene facts, preset and seed) no longer "
            "describes this store's data: removed"]


def _migrate_demo_facts(con: duckdb.DuckDBPyConnection, ws: Workspace) -> None:
    """A demo store made before the facts moved into the store: take them in from raw/ while
    the store still holds only the demo's files (call before create_schema)."""
    path = ws.raw_dir / FACTS_NAME
    if ("demo_facts" in existing_tables(con) or not path.is_file()
            or demo_origin(con) is None):
        return
    create_schema(con)
    _replace(con, "demo_facts", pd.DataFrame({"facts": [path.read_text(encoding="utf-8")]}))


def _absorbed(con: duckdb.DuckDBPyConnection, request: IngestRequest) -> list[str]:
    """Counted warnings for what the aggregation would otherwise absorb silently: raw rows
    measured twice (same strains, array type and temperature) and gene IDs the genome lacks.
    Each check runs only when its tables changed (a scan of 1.3e7 SGA rows is not free)."""
    notes: list[str] = []
    if not (request.sga or request.smf or request.gff):
        return notes
    # Distinct hashes, not strings: on 3e6 rows 1.1 s either way but 170 MB instead of 460 MB of
    # hash table (2-core CPU); a 64-bit collision (p ~ 1e-5 at 1.3e7 rows) would add one false repeat.
    (sga_dupes,) = con.execute(
        "SELECT count(*) - count(DISTINCT hash(query_strain, array_strain, arraytype_temp)) FROM sga"
    ).fetchall()[0] if request.sga else (0,)
    if sga_dupes:
        notes.append(f"{sga_dupes:,} SGA rows repeat a measurement already loaded (same query strain, "
                     "array strain and array type/temperature); they are averaged in as repeats")
    (smf_dupes,) = con.execute(
        "SELECT count(*) - count(DISTINCT (strain, temperature)) FROM smf_raw"
    ).fetchall()[0] if request.smf else (0,)
    if smf_dupes:
        notes.append(f"{smf_dupes:,} SMF rows repeat a strain and temperature already loaded; "
                     "they are averaged in as repeats")
    if con.execute("SELECT count(*) FROM genes").fetchall()[0][0]:
        absent = con.execute(
            """SELECT count(*), list(gene ORDER BY gene)[1:3] FROM (
                SELECT query_gene AS gene FROM sga UNION SELECT array_gene FROM sga
                UNION SELECT gene FROM smf_raw) WHERE gene NOT IN (SELECT gene FROM genes)"""
        ).fetchall()[0]
        if absent[0]:
            notes.append(f"{absent[0]:,} gene IDs in the fitness data are not in the genome "
                         f"(e.g. {', '.join(absent[1])}): they have no CRE windows, so no model uses them")
    return notes


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


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back; a commit that failed half-way may have ended the transaction already."""
    try:
        con.rollback()
    except duckdb.TransactionException:
        pass


def ingest(ws: Workspace, request: IngestRequest,
           warn: Callable[[str], None] | None = None) -> dict[str, int]:
    """Load the requested files into ``ws``; returns the store's counts afterwards, plus
    ``genes_skipped_missing_chromosome`` when --skip-missing-chromosomes left genes out.

    ``warn`` receives one line per replaced source and per absorbed oddity (see _absorbed).
    A failed write (disk full) rolls back and is a CreError: the store stays as it was.
    """
    parsed = _parse(request)
    created = not ws.db_path.exists()
    _remove_abandoned_builds(ws)
    target = ws.db_path.with_name(f".{ws.db_path.name}.{os.getpid()}{BUILDING_SUFFIX}") if created else ws.db_path
    con = ws.connect(read_only=False, path=target)
    notes: list[str] = []
    try:
        # Raw rows need no particular order; dropping it lets DuckDB insert in parallel, with less memory.
        con.execute("SET preserve_insertion_order = false")
        con.execute(f"SET memory_limit = '{INGEST_MEMORY}'")
        con.begin()
        try:
            _migrate_demo_facts(con, ws)
            create_schema(con)
            notes = _load(con, request, parsed)
            con.commit()
        except (OSError, duckdb.IOException) as exc:
            _rollback(con)
            raise CreError(f"cannot write {ws.db_path} ({exc}); nothing was changed") from exc
        except BaseException:
            _rollback(con)
            raise
        result = counts(con)
        con.close()
        if created:
            _publish(target, ws.db_path)
    except BaseException:
        con.close()
        if created:
            _remove_store(target)
        raise
    if warn is not None:
        for note in notes:
            warn(note)
    if parsed.skipped_genes:
        result["genes_skipped_missing_chromosome"] = parsed.skipped_genes
    return result


def _publish(built: Path, db_path: Path) -> None:
    """Give the complete new store its name, unless another ingest made one meanwhile (a hard
    link never replaces a file; a file system without links falls back to a rename)."""
    try:
        os.link(built, db_path)
    except FileExistsError:
        raise CreError(f"another process created {db_path} while this ingest ran; nothing was "
                       "changed: ingest again to add the files to that store") from None
    except OSError:
        os.replace(built, db_path)
        return
    built.unlink()


def _remove_store(path: Path) -> None:
    for part in (path, path.with_name(path.name + ".wal")):
        part.unlink(missing_ok=True)


def _remove_abandoned_builds(ws: Workspace) -> None:
    """New stores left by an ingest that was killed (its process is gone): never a store."""
    for path in ws.root.glob(f".{ws.db_path.name}.*{BUILDING_SUFFIX}"):
        pid = path.name.removesuffix(BUILDING_SUFFIX).rsplit(".", 1)[-1]
        if pid.isdigit() and not alive({"pid": int(pid)}):
            _remove_store(path)
