"""Kuzmin 2018 trigenic files: raw rows, canonical triples, the HO marker, file:line errors."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import openpyxl
import pytest

from cre_core.cli import main
from cre_core.data.ingest import IngestRequest, ingest
from cre_core.data.kuzmin import COLUMNS
from cre_core.errors import InputError
from cre_core.workspace import Workspace

HEADER = "\t".join(header for _, header, _ in COLUMNS)
# query, query allele, array, array allele, type, raw, adjusted, p, query f, array f, f, std
ROWS = [
    "YCL010W+YDL227C_tm11\tcla1Δ+hoΔ\tYAL002W_dma2\tvps8Δ\tdigenic\t-0.1\t-0.1\t0.001\t0.9\t0.8\t0.62\t0.02",
    "YBL010C+YCL010W_tm12\tblb1Δ+cla1Δ\tYAL002W_dma2\tvps8Δ\ttrigenic\t-0.2\t-0.12\t0.002\t0.7\t0.8\t0.36\t0.03",
    # the same triple from the double mutant built twice (genes in the other order)
    "YCL010W+YBL010C_tm13\tcla1Δ+blb1Δ\tYAL002W_dma2\tvps8Δ\ttrigenic\t-0.1\t-0.08\t0.01\t0.7\t0.8\t0.40\t0.01",
    # and from another query pair: YAL002W x YCL010W with YBL010C on the array
    "YAL002W+YCL010W_tm14\tvps8Δ+cla1Δ\tYBL010C_dma7\tblb1Δ\ttrigenic\t-0.1\t-0.10\t0.01\t0.6\t0.9\t0.38\t0.02",
    # a "trigenic" row whose query carries HO: a digenic measurement of YCL010W x YDR001C
    "YCL010W+YDL227C_tm11\tcla1Δ+hoΔ\tYDR001C_dma9\tnth1Δ\ttrigenic\t0.05\t0.05\t0.3\t0.9\t1.0\t0.95\t0.02",
    # the array gene is also in the query: kept raw, no genotype
    "YBL010C+YCL010W_tm12\tblb1Δ+cla1Δ\tYCL010W_dma3\tcla1Δ\ttrigenic\t0.0\t0.0\t0.9\t0.7\t0.9\t0.63\t0.02",
]


def write(path: Path, rows: list[str], header: str = HEADER) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def rows(ws: Workspace, sql: str) -> list[tuple]:
    con = ws.connect()
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "ws")


@pytest.fixture
def good(tmp_path: Path) -> Path:
    return write(tmp_path / "Data_S1.tsv", ROWS)


def test_triples_aggregate_to_canonical_genes(ws: Workspace, good: Path) -> None:
    result = ingest(ws, IngestRequest(kuzmin=[good]))
    assert result["trigenic_raw"] == 6 and result["tmf"] == 1 and result["dmf"] == 0
    ((a, b, c, fitness, std, n, tau),) = rows(ws, "SELECT * FROM tmf")
    assert (a, b, c, n) == ("YAL002W", "YBL010C", "YCL010W", 3)
    assert fitness == pytest.approx((0.36 + 0.40 + 0.38) / 3)
    assert std == pytest.approx(0.02)
    assert tau == pytest.approx(-0.10)
    assert rows(ws, "SELECT count(*) FROM sources WHERE kind = 'kuzmin'") == [(1,)]


def test_ho_marker_makes_a_pair(ws: Workspace, good: Path) -> None:
    ingest(ws, IngestRequest(kuzmin=[good]))
    got = rows(ws, "SELECT mutant_type, query_gene1, query_gene2, array_gene, gene_a, gene_b, gene_c "
                   "FROM trigenic_raw WHERE query_strain LIKE '%YDL227C%' ORDER BY array_gene")
    assert got == [
        ("digenic", "YCL010W", "YDL227C", "YAL002W", "YAL002W", "YCL010W", None),
        ("trigenic", "YCL010W", "YDL227C", "YDR001C", "YCL010W", "YDR001C", None),
    ]
    repeated = rows(ws, "SELECT gene_a, gene_b, gene_c FROM trigenic_raw WHERE array_strain = 'YCL010W_dma3'")
    assert repeated == [(None, None, None)]


def test_gzip_and_xlsx_read_the_same(ws: Workspace, good: Path, tmp_path: Path) -> None:
    gz = tmp_path / "Data_S1.tsv.gz"
    gz.write_bytes(gzip.compress(good.read_bytes()))
    book = openpyxl.Workbook()
    for line in good.read_text(encoding="utf-8").splitlines():
        book.active.append([float(c) if c[:1].isdigit() or c[:1] == "-" else c for c in line.split("\t")])
    xlsx = tmp_path / "Data_S1.xlsx"
    book.save(xlsx)
    expected = None
    for path in (good, gz, xlsx):
        ingest(ws, IngestRequest(kuzmin=[path]))
        got = rows(ws, "SELECT * FROM tmf")
        assert got == (expected or got)
        expected = got
        assert rows(ws, "SELECT count(*) FROM trigenic_raw") == [(6,)]   # the file's rows replaced
        ws.db_path.unlink()


BAD = [
    (ROWS[1].rsplit("\t", 1)[0], "line 3: 11 columns, expected 12"),
    (ROWS[1].replace("\t0.36\t", "\tabc\t"), "line 3: column 'fitness'"),
    (ROWS[1].replace("YBL010C+YCL010W_tm12", "YBL010C+YCL010W"), "line 3: Query strain ID 'YBL010C+YCL010W'"),
    (ROWS[1].replace("YAL002W_dma2", "_dma2"), "line 3: Array strain ID '_dma2'"),
    (ROWS[1].replace("trigenic", "quadrigenic"), "line 3: Combined mutant type 'quadrigenic'"),
    (ROWS[1].replace("trigenic", "digenic"), "line 3: a digenic row names three genes"),
]


@pytest.mark.parametrize(("line", "message"), BAD)
def test_bad_row_names_file_and_line_and_changes_nothing(
        ws: Workspace, good: Path, tmp_path: Path, line: str, message: str) -> None:
    ingest(ws, IngestRequest(kuzmin=[good]))
    before = {t: rows(ws, f"SELECT * FROM {t} ORDER BY ALL") for t in ("trigenic_raw", "tmf", "sources")}
    bad = write(tmp_path / "bad.tsv", [ROWS[0], line, *ROWS[2:]])
    with pytest.raises(InputError, match=re.escape(f"bad.tsv {message}")):
        ingest(ws, IngestRequest(kuzmin=[good, bad]))
    assert {t: rows(ws, f"SELECT * FROM {t} ORDER BY ALL") for t in before} == before


def test_bad_header_and_xlsx_row(ws: Workspace, tmp_path: Path) -> None:
    bad = write(tmp_path / "hdr.tsv", ROWS, HEADER.replace("Combined mutant type", "Type"))
    with pytest.raises(InputError, match="hdr.tsv line 1: column 5 is 'Type'"):
        ingest(ws, IngestRequest(kuzmin=[bad]))
    book = openpyxl.Workbook()
    for line in [HEADER, ROWS[0], BAD[4][0]]:
        book.active.append(line.split("\t"))
    xlsx = tmp_path / "S1.xlsx"
    book.save(xlsx)
    with pytest.raises(InputError, match="S1.xlsx line 3: Combined mutant type"):
        ingest(ws, IngestRequest(kuzmin=[xlsx]))


def test_cli_ingest_kuzmin(ws: Workspace, good: Path, tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", "--workspace", str(ws.root), "--kuzmin", str(good)]) == 0
    assert '"tmf": 1' in capsys.readouterr().out
    bad = write(tmp_path / "bad.tsv", [BAD[1][0]])
    assert main(["ingest", "--workspace", str(ws.root), "--kuzmin", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "bad.tsv line 2: column 'fitness'" in err


def test_demo_ingests_its_triples(tiny_workspace: Workspace) -> None:
    (n_tmf, repeated, ordered), = rows(
        tiny_workspace, "SELECT count(*), count(*) FILTER (WHERE n > 1), "
                        "bool_and(gene_a < gene_b AND gene_b < gene_c) FROM tmf")
    assert 2_000 < n_tmf < 4_500 and repeated > 100 and ordered
    (pairs, triples), = rows(tiny_workspace, "SELECT count(*) FILTER (WHERE gene_c IS NULL), "
                                             "count(*) FILTER (WHERE gene_c IS NOT NULL) FROM trigenic_raw")
    assert pairs > 3_000 and triples > 2_000
