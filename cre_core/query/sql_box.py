"""The Datasets page's SQL box: one read-only statement a visitor types, run on the store.

It runs on a private connection without file-system access, under row, memory, byte and time
limits, and refuses statements that would show the server's paths or settings.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from cre_core.errors import CreError

ALLOWED_STATEMENTS = ("SELECT", "EXPLAIN", "PRAGMA")
MAX_RESULT_MB = 64        # a page of results, not a download: 1,000 rows of 64 KB each
FETCH_ROWS = 16           # rows per fetch: the byte cap is checked this often


# Catalog functions, views and pragmas that show the server's paths (the store's file, home,
# secret and extension folders) or its settings: a visitor of a shared app learns nothing of
# the machine. Matched as words anywhere in the statement (quoted or not, any case).
REVEALING = frozenset({
    "duckdb_settings", "duckdb_databases", "database_list", "pragma_database_list", "current_setting",
    "duckdb_extensions", "duckdb_temporary_files", "duckdb_secrets", "which_secret", "getenv",
    "duckdb_external_file_cache", "duckdb_logs", "duckdb_log_contexts", "duckdb_variables",
    "getvariable", "pragma_metadata_info", "metadata_info",
})
_WORD = re.compile(r"[a-z_][a-z0-9_$]*")
# current_setting of a named limit is fine (the box's own caps); any other use is refused
_SAFE_SETTING = re.compile(r"current_setting\s*\(\s*'(?:memory_limit|threads|max_memory|worker_threads)'\s*\)")


@dataclass
class SqlResult:
    """Result of the SQL box."""

    frame: pd.DataFrame
    truncated: bool             # more rows than the limit existed
    seconds: float


class SqlBoxError(CreError):
    """A statement the SQL box refuses or that failed; the message is shown as is."""


def _check_not_revealing(sql: str) -> None:
    found = sorted(REVEALING & set(_WORD.findall(_SAFE_SETTING.sub("", sql.lower()))))
    if found:
        raise SqlBoxError(f"{', '.join(found)} is not available here: the SQL box shows the "
                          "store's tables, not the server's settings or paths")


def run_readonly_sql(
    db_path: str,
    sql: str,
    row_limit: int = 1000,
    time_limit_s: float = 10.0,
    memory_limit_mb: int = 2048,
    max_result_mb: int = MAX_RESULT_MB,
) -> SqlResult:
    """Run exactly one read-only statement (SELECT, EXPLAIN or PRAGMA) on the store.

    The store is attached read-only to a private in-memory connection whose file-system access
    is then disabled and configuration locked (no COPY TO, ATTACH, read_csv of other files,
    INSTALL/LOAD, SET), with a memory limit. At most ``row_limit`` rows come back, fetched a
    few at a time so a result over ``max_result_mb`` is refused before it fills the server's
    memory (DuckDB's memory limit does not cover results handed to Python); a timer thread
    interrupts the query after ``time_limit_s`` seconds, and the fetch loop checks it too.
    """
    sql = sql.strip()
    if not sql:
        raise SqlBoxError("type a query, e.g. SELECT * FROM dmf ORDER BY epsilon LIMIT 20")
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise SqlBoxError(f"syntax error: {exc}") from None
    if len(statements) != 1:
        raise SqlBoxError(f"exactly one statement please (got {len(statements)})")
    kind = statements[0].type.name
    if kind not in ALLOWED_STATEMENTS:
        raise SqlBoxError(f"{kind} statements are not allowed here: the SQL box is read-only "
                          f"({', '.join(ALLOWED_STATEMENTS)} only)")
    _check_not_revealing(sql)
    con = duckdb.connect(":memory:")
    try:
        # Attach rather than connect to the file: a plain read-only connection elsewhere in
        # this process (the pages') must not clash with this connection's stricter settings.
        con.execute("ATTACH ? AS store (READ_ONLY)", [str(db_path)])
        con.execute("USE store")
        con.execute(f"SET memory_limit = '{int(memory_limit_mb)}MB'")
        con.execute("SET temp_directory = ''")        # nothing spills to disk past the limit
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except duckdb.Error as exc:
        con.close()
        raise SqlBoxError(f"cannot open the store: {_hide_path(str(exc), db_path)}") from None
    timer = threading.Timer(time_limit_s, con.interrupt)
    started = time.perf_counter()
    timer.start()
    try:
        relation = con.sql(sql)
        if relation is None:
            frame = pd.DataFrame()
        else:
            frame = _fetch_capped(relation.limit(int(row_limit) + 1), max_result_mb, started, time_limit_s)
        truncated = len(frame) > row_limit
        frame = frame.head(row_limit)
    except duckdb.InterruptException:
        raise SqlBoxError(f"query stopped after the {time_limit_s:g} s time limit") from None
    except duckdb.OutOfMemoryException:
        raise SqlBoxError(f"query stopped at the {int(memory_limit_mb):,} MB memory limit: "
                          "aggregate, filter or select fewer columns") from None
    except duckdb.Error as exc:
        raise SqlBoxError(_hide_path(str(exc), db_path)) from None
    finally:
        timer.cancel()
        con.close()
    return SqlResult(frame, truncated, time.perf_counter() - started)


def _hide_path(message: str, db_path: str) -> str:
    """An error message without the store's location."""
    return message.replace(str(Path(db_path).parent), "<workspace>")


def _fetch_capped(relation: duckdb.DuckDBPyRelation, max_mb: int, started: float,
                  time_limit_s: float) -> pd.DataFrame:
    """The relation's rows, streamed a few at a time and refused once they pass ``max_mb``
    megabytes or the time limit (the query may be stuck in Python-side conversion)."""
    reader = relation.to_arrow_reader(FETCH_ROWS)
    batches, rows, size = [], 0, 0
    try:
        for batch in reader:
            batches.append(batch)
            rows += batch.num_rows
            size += batch.nbytes
            if size > max_mb * 1e6:
                raise SqlBoxError(f"the result passed {max_mb:,} MB after {rows:,} rows: "
                                  "select fewer or shorter columns, or aggregate")
            if time.perf_counter() - started > time_limit_s:
                raise duckdb.InterruptException("time limit")
    except OSError as exc:      # the Arrow stream hands DuckDB's errors on as OSError
        if "INTERRUPT" in str(exc):
            raise duckdb.InterruptException(str(exc)) from None
        if "Out of Memory" in str(exc):
            raise duckdb.OutOfMemoryException(str(exc)) from None
        raise SqlBoxError(str(exc).splitlines()[0]) from None
    return pa.Table.from_batches(batches, schema=reader.schema).to_pandas()
