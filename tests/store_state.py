"""The state of a workspace store as one comparable value: rows and a content hash per table."""

from __future__ import annotations

import duckdb

from cre_core.workspace import Workspace


def store_state(ws: Workspace) -> dict[str, tuple[int, int]]:
    """``{table: (rows, order-free content hash)}`` for every table in the store.

    The hash is the sum of DuckDB's row hashes, so it sees every value and every duplicate row
    but not the physical order (which a rollback may change without changing the data).
    """
    con = duckdb.connect(str(ws.db_path), read_only=True)
    try:
        tables = [t for (t,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1"
        ).fetchall()]
        return {t: tuple(con.execute(f"SELECT count(*), coalesce(sum(hash(t)), 0) FROM {t} t").fetchall()[0])
                for t in tables}
    finally:
        con.close()
