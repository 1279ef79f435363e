"""The real workspace of ../shared/realdata builds, and holds what its README says."""

from __future__ import annotations

from cre_core.workspace import Workspace


def test_real_workspace_holds_the_real_shapes(real_workspace: Workspace) -> None:
    import duckdb

    con = duckdb.connect(str(real_workspace.db_path), read_only=True)
    try:
        genes = con.execute("SELECT count(*) FROM genes").fetchall()[0][0]
        smf = con.execute("SELECT count(*) FROM smf").fetchall()[0][0]
        dmf = con.execute("SELECT count(*) FROM dmf").fetchall()[0][0]
    finally:
        con.close()
    assert genes == 6579 and smf == 5493 and dmf == 6866
