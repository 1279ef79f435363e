"""Ingest of real-format SGA / SMF / GO / genome files into the workspace store."""

from __future__ import annotations

import shutil
from pathlib import Path

import openpyxl
import pytest

from cre_core.cli import main
from cre_core.data.ingest import IngestRequest, ingest
from cre_core.errors import CreError, InputError
from cre_core.workspace import Workspace

FILES = Path(__file__).resolve().parents[1] / "files"
GFF = FILES / "genome" / "mini.gff"
SGA = FILES / "sga" / "SGA_mini.txt"
SMF = FILES / "sga" / "strain_ids_and_single_mutant_fitness.csv"
OBO = FILES / "go" / "mini.obo"
GAF = FILES / "go" / "mini.gaf"


def full_request(**changes) -> IngestRequest:
    base = dict(gff=GFF, sga=[SGA], smf=SMF, obo=OBO, gaf=GAF)
    return IngestRequest(**(base | changes))


def rows(ws: Workspace, sql: str, params: list | None = None) -> list[tuple]:
    con = ws.connect()
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "ws")


def test_full_ingest_counts(ws: Workspace) -> None:
    result = ingest(ws, full_request())
    assert result["genes"] == 7  # one gene feature has no CDS
    assert result["windows"] == 14
    assert result["sga"] == 6
    # pairs: YAL001C-YAL040W (3 rows), YAL030W-YBR300C, YBL100W-YBR310W; the NaN row is skipped
    assert result["dmf"] == 3
    assert result["go_terms"] == 4
    assert result["go_annotations"] == 2  # the NOT annotation is dropped


def test_repeats_aggregate_to_canonical_pair(ws: Workspace) -> None:
    ingest(ws, full_request())
    (pair,) = rows(ws, "SELECT * FROM dmf WHERE gene_a = 'YAL001C'")
    gene_a, gene_b, fitness, std, n, epsilon = pair
    assert (gene_a, gene_b, n) == ("YAL001C", "YAL040W", 3)
    assert fitness == pytest.approx((0.62 + 0.64 + 0.66) / 3)
    assert std == pytest.approx(0.02)
    assert epsilon == pytest.approx(-0.09)
    (single,) = rows(ws, "SELECT std, n FROM dmf WHERE gene_a = 'YAL030W'")
    assert single == (pytest.approx(0.01), 1)  # one measurement: the reported std


def test_raw_rows_keep_allele_kind_and_temperature(ws: Workspace) -> None:
    ingest(ws, full_request())
    got = rows(
        ws,
        "SELECT query_gene, query_kind, array_gene, array_kind, temperature FROM sga "
        "WHERE query_strain LIKE 'YAL%' OR query_strain LIKE 'YBL%' ORDER BY temperature, query_kind",
    )
    assert ("YBL100W", "damp", "YBR310W", "deletion", 26) in got
    assert ("YAL040W", "deletion", "YAL001C", "ts", 26) in got
    assert ("YAL001C", "ts", "YAL040W", "deletion", 30) in got


def test_exclude_ts_and_damp(ws: Workspace) -> None:
    ingest(ws, full_request(exclude_kinds=("ts", "damp")))
    assert rows(ws, "SELECT gene_a, gene_b FROM dmf") == [("YAL030W", "YBR300C")]
    assert rows(ws, "SELECT count(*) FROM sga") == [(6,)]  # raw rows all stay queryable
    assert rows(ws, "SELECT value FROM meta WHERE key = 'alleles'") == [("deletion,other",)]


def test_smf_from_file_averages_temperatures(ws: Workspace) -> None:
    ingest(ws, full_request())
    smf = dict(rows(ws, "SELECT gene, fitness FROM smf"))
    assert smf["YAL001C"] == pytest.approx(0.80)
    assert smf["YAL040W"] == pytest.approx(0.90)
    assert rows(ws, "SELECT std FROM smf WHERE gene = 'YAL040W'") == [(pytest.approx(0.01),)]


def test_smf_from_sga_without_smf_file(ws: Workspace) -> None:
    ingest(ws, IngestRequest(sga=[SGA]))
    smf = dict(rows(ws, "SELECT gene, fitness FROM smf"))
    assert smf["YAL001C"] == pytest.approx(0.8)
    assert smf["YAL030W"] == pytest.approx(1.0)
    assert rows(ws, "SELECT value FROM meta WHERE key = 'smf_source'") == [("sga",)]


def test_smf_xlsx(ws: Workspace, tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    for line in SMF.read_text(encoding="utf-8").splitlines():
        sheet.append([float(c) if c[:1].isdigit() else (c or None) for c in line.split(",")])
    xlsx = tmp_path / "strain_ids_and_single_mutant_fitness.xlsx"
    book.save(xlsx)
    ingest(ws, IngestRequest(smf=xlsx))
    assert dict(rows(ws, "SELECT gene, n FROM smf")) == {
        "YAL001C": 2, "YAL040W": 1, "YAL030W": 2, "YBL100W": 1,
    }


@pytest.mark.parametrize("name", ["SGA_mini_crlf_bom.txt.gz", "SGA_mini_cp1253.txt"])
def test_sga_variants_read_the_same(ws: Workspace, name: str) -> None:
    ingest(ws, IngestRequest(sga=[FILES / "sga" / name]))
    assert rows(ws, "SELECT count(*), round(sum(fitness), 6) FROM dmf") == [(3, 0.64 + 0.97 + 0.65)]


def test_reingest_same_file_replaces_its_rows(ws: Workspace) -> None:
    ingest(ws, IngestRequest(sga=[SGA]))
    ingest(ws, IngestRequest(sga=[SGA]))
    assert rows(ws, "SELECT count(*) FROM sga") == [(6,)]
    assert rows(ws, "SELECT count(*) FROM sources WHERE kind = 'sga'") == [(1,)]


def test_gaf_maps_symbols_and_synonyms(ws: Workspace) -> None:
    ingest(ws, full_request())
    got = rows(ws, "SELECT gene, go_id FROM go_annotations ORDER BY gene")
    assert got == [("YAL001C", "GO:0000002"), ("YBR300C", "GO:0000001")]
    edges = rows(ws, "SELECT child, parent, relation FROM go_edges ORDER BY relation")
    assert ("GO:0000002", "GO:0000001", "part_of") in edges
    assert all(relation in ("is_a", "part_of") for _, _, relation in edges)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("SGA_bad_columns.txt", "SGA_bad_columns.txt line 4: 10 columns, expected 11"),
        ("SGA_bad_number.txt", "SGA_bad_number.txt line 3: column 'dmf'"),
    ],
)
def test_bad_sga_names_file_and_line(ws: Workspace, name: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        ingest(ws, IngestRequest(sga=[FILES / "sga" / name]))
    assert not ws.db_path.exists()  # a store that did not exist is not left behind


def test_bad_header(ws: Workspace, tmp_path: Path) -> None:
    bad = tmp_path / "SGA_x.txt"
    lines = SGA.read_text(encoding="utf-8").splitlines()
    bad.write_text("\n".join([lines[0].replace("Array SMF", "Array fitness")] + lines[1:]))
    with pytest.raises(InputError, match="SGA_x.txt line 1: column 9 is 'Array fitness'"):
        ingest(ws, IngestRequest(sga=[bad]))


def test_failed_ingest_leaves_store_unchanged(ws: Workspace) -> None:
    ingest(ws, full_request())
    before = {
        t: rows(ws, f"SELECT * FROM {t} ORDER BY ALL")
        for t in ("genes", "dmf", "sga", "smf", "sources", "meta")
    }
    with pytest.raises(InputError):
        # the good file loads first inside the transaction, then the bad one fails
        ingest(ws, IngestRequest(sga=[SGA, FILES / "sga" / "SGA_bad_number.txt"], smf=SMF))
    after = {t: rows(ws, f"SELECT * FROM {t} ORDER BY ALL") for t in before}
    assert after == before


def test_cli_ingest_and_info(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["ingest", "--workspace", str(ws.root), "--gff", str(GFF), "--sga", str(SGA)])
    assert code == 0
    assert '"dmf": 3' in capsys.readouterr().out
    assert main(["info", "--workspace", str(ws.root)]) == 0
    assert '"genes": 7' in capsys.readouterr().out


def test_cli_bad_input_is_one_line(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["ingest", "--workspace", str(ws.root), "--sga", str(FILES / "sga" / "SGA_bad_columns.txt")])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "line 4: 10 columns, expected 11" in err
    assert "Traceback" not in err


def test_info_on_missing_workspace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "--workspace", str(tmp_path / "nothing")]) == 2
    assert "no workspace at" in capsys.readouterr().err


def test_unknown_allele_kind(ws: Workspace) -> None:
    with pytest.raises(CreError, match="unknown allele kind"):
        ingest(ws, IngestRequest(sga=[SGA], exclude_kinds=("tsx",)))
