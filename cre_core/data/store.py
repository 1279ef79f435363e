"""The DuckDB schema of a workspace and small read helpers shared by CLI and app.

Users may query these tables from their own DuckDB shell (README: "Schema").
"""

from __future__ import annotations

import duckdb

SCHEMA = """
CREATE TABLE IF NOT EXISTS genes(
    gene VARCHAR PRIMARY KEY,      -- systematic name, e.g. YAL001C
    name VARCHAR,                  -- standard name (TFC3), else the systematic name
    chrom VARCHAR, start INTEGER, stop INTEGER, strand VARCHAR,   -- gene feature, 1-based inclusive
    orf_class VARCHAR,             -- Verified / Uncharacterized / Dubious / NULL
    cds_start INTEGER, cds_stop INTEGER                           -- span of the CDS parts
);
CREATE TABLE IF NOT EXISTS windows(
    gene VARCHAR, region VARCHAR,  -- region: upstream (1003 bp) | downstream (300 bp)
    sequence VARCHAR,              -- 5'->3' in the gene's orientation, upper case
    padded BOOLEAN,                -- true when the window hit a chromosome end
    pad_len INTEGER,               -- N bases added: at the 5' start (upstream) or 3' end (downstream)
    PRIMARY KEY(gene, region)
);
CREATE TABLE IF NOT EXISTS sga(    -- raw Costanzo 2016 rows, one per measurement
    source VARCHAR,                -- file name, e.g. SGA_ExE.txt
    query_strain VARCHAR, query_allele VARCHAR, array_strain VARCHAR, array_allele VARCHAR,
    arraytype_temp VARCHAR,
    query_gene VARCHAR, array_gene VARCHAR,        -- systematic names from the strain IDs
    query_kind VARCHAR, array_kind VARCHAR,        -- deletion | ts | damp | other
    temperature INTEGER,
    epsilon DOUBLE, pvalue DOUBLE, query_smf DOUBLE, array_smf DOUBLE,
    dmf DOUBLE, dmf_std DOUBLE
);
CREATE TABLE IF NOT EXISTS dmf(    -- one row per canonical pair (gene_a < gene_b), sorted by pair
    gene_a VARCHAR, gene_b VARCHAR,    -- unique by construction (GROUP BY); no index: see rebuild_dmf
    fitness DOUBLE,                -- mean double-mutant fitness over repeated measurements
    std DOUBLE,                    -- std over repeats; the reported std when measured once
    n INTEGER,                     -- number of measurements aggregated
    epsilon DOUBLE                 -- mean measured interaction score
);
CREATE TABLE IF NOT EXISTS dcell_pairs(   -- raw DCell pair files: '2 ORF1 ORF2 epsilon' lines
    source VARCHAR, gene_a VARCHAR, gene_b VARCHAR, epsilon DOUBLE
);
CREATE TABLE IF NOT EXISTS trigenic_raw(   -- raw Kuzmin 2018 rows, one per measurement
    source VARCHAR,                -- file name
    query_strain VARCHAR, query_allele VARCHAR, array_strain VARCHAR, array_allele VARCHAR,
    mutant_type VARCHAR,           -- digenic | trigenic, as the file says
    raw_score DOUBLE, adjusted_score DOUBLE,       -- adjusted: epsilon (pairs) or tau (triples)
    pvalue DOUBLE, query_fitness DOUBLE, array_smf DOUBLE, fitness DOUBLE, fitness_std DOUBLE,
    query_gene1 VARCHAR, query_gene2 VARCHAR,      -- the query strain's genes as written (HO too)
    array_gene VARCHAR, array_kind VARCHAR,
    gene_a VARCHAR, gene_b VARCHAR, gene_c VARCHAR -- the genotype: distinct genes but HO, sorted;
);                                                 -- gene_c NULL for a pair, all NULL if a gene repeats
CREATE TABLE IF NOT EXISTS tmf(    -- one row per canonical triple (gene_a < gene_b < gene_c)
    gene_a VARCHAR, gene_b VARCHAR, gene_c VARCHAR,
    fitness DOUBLE,                -- mean triple-mutant fitness over repeats
    std DOUBLE,                    -- std over repeats; the reported std when measured once
    n INTEGER,                     -- number of measurements aggregated
    tau DOUBLE                     -- mean adjusted trigenic interaction score
);
CREATE TABLE IF NOT EXISTS smf_raw(
    source VARCHAR, strain VARCHAR, gene VARCHAR, allele VARCHAR, allele_kind VARCHAR,
    temperature INTEGER, fitness DOUBLE, std DOUBLE
);
CREATE TABLE IF NOT EXISTS smf(gene VARCHAR PRIMARY KEY, fitness DOUBLE, std DOUBLE, n INTEGER);
CREATE TABLE IF NOT EXISTS go_terms(
    go_id VARCHAR PRIMARY KEY, name VARCHAR, namespace VARCHAR, is_obsolete BOOLEAN
);
CREATE TABLE IF NOT EXISTS go_edges(child VARCHAR, parent VARCHAR, relation VARCHAR);
CREATE TABLE IF NOT EXISTS go_annotations(
    gene VARCHAR, go_id VARCHAR, aspect VARCHAR, evidence VARCHAR
);
CREATE TABLE IF NOT EXISTS demo_truth(   -- demo workspaces only: what the generator planted
    gene VARCHAR PRIMARY KEY, module INTEGER, severity DOUBLE
);
CREATE TABLE IF NOT EXISTS demo_facts(   -- demo workspaces only: the world's per-gene facts
    facts VARCHAR                  -- GeneFacts as JSON (one row); the truth ceiling's input
);
CREATE TABLE IF NOT EXISTS sources(kind VARCHAR, path VARCHAR, rows BIGINT, ingested_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS meta(key VARCHAR PRIMARY KEY, value VARCHAR);
"""

COUNTED_TABLES = ("genes", "windows", "smf", "dmf", "sga", "tmf", "trigenic_raw", "go_terms",
                  "go_annotations")


def create_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create every table that does not exist yet."""
    con.execute(SCHEMA)


def counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Row counts of the main tables, for `info` and the home page (0 for a table that a store
    built by an older version lacks)."""
    present = existing_tables(con)
    return {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] if t in present else 0
            for t in COUNTED_TABLES}


def existing_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Names of the store's tables (older stores lack the newer ones until the next ingest)."""
    return {name for (name,) in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()}


def get_meta(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The workspace's key/value notes (demo preset and seed, allele filter...)."""
    if "meta" not in existing_tables(con):
        return {}
    return dict(con.execute("SELECT key, value FROM meta ORDER BY key").fetchall())


def list_sources(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """Which files were ingested, when, and how many rows each gave."""
    if "sources" not in existing_tables(con):
        return []
    return con.execute(
        "SELECT kind, path, rows, ingested_at FROM sources ORDER BY ingested_at, kind"
    ).fetchall()


DEMO_META = ("demo_preset", "demo_seed")
DEMO_TABLES = ("demo_truth", "demo_facts")
FACTS_NAME = "demo_gene_facts.json"   # the demo's per-gene facts file in raw/ (cre_core.demo)


def demo_origin(con: duckdb.DuckDBPyConnection) -> dict[str, str] | None:
    """``{demo_preset, demo_seed}`` when the store still holds the demo's data, else None.

    Ingesting other genes or fitness data into a demo store drops these notes (and the demo's
    planted truth, ``ingest``). A store made before that rule counts as a demo only while it
    holds nothing but the demo's own load: every source was ingested in that one transaction
    (one timestamp), so any later ingest, of whatever file, ends its demo status.
    """
    meta = get_meta(con)
    if not meta.get("demo_preset"):
        return None
    if "demo_facts" not in existing_tables(con):     # an older demo store
        if len({ingested_at for _, _, _, ingested_at in list_sources(con)}) > 1:
            return None
    return {key: meta[key] for key in DEMO_META if key in meta}


def demo_facts_json(con: duckdb.DuckDBPyConnection) -> str | None:
    """The demo world's per-gene facts (JSON) stored by the demo's ingest; None elsewhere."""
    if "demo_facts" not in existing_tables(con):
        return None
    rows = con.execute("SELECT facts FROM demo_facts LIMIT 1").fetchall()
    return rows[0][0] if rows else None
