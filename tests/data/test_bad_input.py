"""The bad-input corpus (issue 13): every bad file or path is one line naming the file, the line
and the problem, exit status 2, and a store exactly as it was (rows and content of every table).

Bad files are generated here from the tiny demo's real files, so each case is one visible edit.
"""

from __future__ import annotations

import errno
import gzip
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from cre_core.cli import main
from cre_core.data import ingest as ingest_module
from cre_core.errors import CreError
from cre_core.workspace import Workspace, resolve_workspace
from tests.store_state import store_state

GOOD_ROW = "YAL005W_dma1\twhi21\tYDL006W_dma2\tx\tDMA30\t0.1\t0.1\t0.9\t0.9\t0.8\t0.02"
SMF_NAME = "strain_ids_and_single_mutant_fitness.csv"


def first_line(path: Path) -> str:
    return path.read_text(encoding="utf-8").splitlines()[0]


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_refused(capsys, ws: Workspace, args: list, message: str) -> str:
    """Run ``ingest args``; it must fail with one line matching ``message`` and change nothing."""
    before = store_state(ws)
    files_before = sorted(p.name for p in ws.root.iterdir())
    code, out, err = run_cli(capsys, "ingest", "--workspace", ws.root, *args)
    assert code == 2, err
    assert out == ""
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("error: ")
    assert re.search(message, err), err
    assert store_state(ws) == before
    assert sorted(p.name for p in ws.root.iterdir()) == files_before
    return err


# --- bad files: one line, exit 2, store unchanged ------------------------------------------------

def _sga(ws: Workspace, tmp: Path, body: str | bytes, name: str = "SGA_bad.txt") -> Path:
    header = first_line(ws.raw_dir / "SGA_ExE.txt") + "\n"
    data = header.encode() + body if isinstance(body, bytes) else header + body
    return write(tmp / name, data)


def _smf(ws: Workspace, tmp: Path, rows: list[str], name: str = "smf_bad.csv") -> Path:
    lines = (ws.raw_dir / SMF_NAME).read_text(encoding="utf-8").splitlines()
    return write(tmp / name, "\n".join([lines[0], *rows]) + "\n")


def _obo(tmp: Path, stanzas: list[tuple[str, list[str]]]) -> Path:
    text = "format-version: 1.2\n\n" + "".join(
        f"[Term]\nid: {go}\nname: term {go}\nnamespace: biological_process\n"
        + "".join(f"is_a: {p} ! parent\n" for p in parents) + "\n"
        for go, parents in stanzas
    )
    return write(tmp / "cycle.obo", text)


def case_empty_gaf(ws, tmp):
    return ["--gaf", write(tmp / "empty.gaf", "")], r"empty\.gaf: no annotation lines"


def case_header_only_gaf(ws, tmp):
    return ["--gaf", write(tmp / "h.gaf", "!gaf-version: 2.2\n!generated-by: SGD\n")], r"h\.gaf: no annotation lines"


def case_header_only_smf(ws, tmp):
    return ["--smf", _smf(ws, tmp, [])], r"smf_bad\.csv: header only, no data rows"


def case_header_only_sga(ws, tmp):
    return ["--sga", _sga(ws, tmp, "")], r"SGA_bad\.txt: header only, no data rows"


def case_gff_without_genes(ws, tmp):
    path = write(tmp / "nogenes.gff", "##gff-version 3\n##FASTA\n>chrI\nACGT\n")
    return ["--gff", path], r"nogenes\.gff: no genes: the GFF has no gene with a CDS"


def case_header_only_gff(ws, tmp):
    return ["--gff", write(tmp / "h.gff", "##gff-version 3\n")], r"h\.gff: no genome sequence"


def case_empty_obo(ws, tmp):
    return ["--obo", write(tmp / "empty.obo", "format-version: 1.2\n")], r"empty\.obo: no \[Term\] stanzas"


def case_binary_after_header(ws, tmp):
    return ["--sga", _sga(ws, tmp, bytes(range(256)) * 4)], r"SGA_bad\.txt line 2: binary data"


def case_truncated_gzip(ws, tmp):
    whole = gzip.compress((ws.raw_dir / "SGA_NxN.txt").read_bytes())
    path = write(tmp / "SGA_NxN.txt.gz", whole[: len(whole) // 3])
    return ["--sga", path], r"SGA_NxN\.txt\.gz line [\d,]+: the gzip data is truncated or corrupt"


def case_directory_as_file(ws, tmp):
    (tmp / "folder").mkdir()
    return ["--smf", tmp / "folder"], r"folder: is a folder, expected a file"


def case_obo_cycle(ws, tmp):
    path = _obo(tmp, [("GO:0000001", ["GO:0000003"]), ("GO:0000002", ["GO:0000001"]),
                      ("GO:0000003", ["GO:0000002"])])
    return ["--obo", path], r"cycle\.obo line \d+: the is_a/part_of edges form a cycle: GO:000000\d → .*GO:"


def case_empty_gene_part_sga(ws, tmp):
    return ["--sga", _sga(ws, tmp, GOOD_ROW + "\n" + GOOD_ROW.replace("YAL005W_dma1", "_dma1") + "\n")], \
        r"SGA_bad\.txt line 3: Query Strain ID '_dma1' is not GENE_allele"


def case_empty_gene_part_smf(ws, tmp):
    return ["--smf", _smf(ws, tmp, ["_dma1,whi21,0.9,0.01,0.9,0.01"])], \
        r"smf_bad\.csv line 2: Strain ID '_dma1' is not GENE_allele"


def case_implausible_sga(value):
    def case(ws, tmp):
        row = GOOD_ROW.rsplit("\t", 2)[0] + f"\t{value}\t0.02"
        return ["--sga", _sga(ws, tmp, f"{GOOD_ROW}\n{row}\n")], \
            rf"SGA_bad\.txt line 3: column 'dmf': {value} is not a plausible value"
    return case


def case_implausible_smf(ws, tmp):
    return ["--smf", _smf(ws, tmp, ["YAL005W_dma1,whi21,0.9,0.01,0.9,0.01", "YAL004C_dma2,rki4,-1e308,0.01,,"])], \
        r"smf_bad\.csv line 3: column 'Single mutant fitness \(26°\)': -1e308 is not a plausible value"


def case_ten_mb_line(ws, tmp):
    long_row = GOOD_ROW.replace("\tx\t", "\t" + "y" * 10_000_000 + "\t")
    return ["--sga", _sga(ws, tmp, f"{GOOD_ROW}\n{GOOD_ROW}\n{long_row}\n")], \
        r"SGA_bad\.txt line 4: Maximum line size of [\d,]+ bytes exceeded"


def case_fasta_alone(ws, tmp):
    return ["--fasta", write(tmp / "g.fa", ">chrI\nACGT\n")], r"--fasta needs --gff"


def case_same_sga_name_twice(ws, tmp):
    a = shutil.copy(ws.raw_dir / "SGA_ExE.txt", write(tmp / "a" / "x", "").parent / "SGA_ExE.txt")
    b = shutil.copy(ws.raw_dir / "SGA_DAmP.txt", write(tmp / "b" / "x", "").parent / "SGA_ExE.txt")
    return ["--sga", a, "--sga", b], r"two SGA files are named SGA_ExE\.txt \(.*/a and .*/b\)"


CASES = {
    "D2 empty GAF": case_empty_gaf,
    "D2 header-only GAF": case_header_only_gaf,
    "D3 header-only SMF": case_header_only_smf,
    "D3 header-only SGA": case_header_only_sga,
    "empty OBO": case_empty_obo,
    "D14 GFF without genes": case_gff_without_genes,
    "D14 header-only GFF": case_header_only_gff,
    "D7 binary after a valid header": case_binary_after_header,
    "D7 truncated gzip": case_truncated_gzip,
    "D7 a folder passed as a file": case_directory_as_file,
    "D8 OBO cycle": case_obo_cycle,
    "D9 empty gene part (SGA)": case_empty_gene_part_sga,
    "D9 empty gene part (SMF)": case_empty_gene_part_smf,
    "D10 inf (SGA)": case_implausible_sga("inf"),
    "D10 -inf (SGA)": case_implausible_sga("-inf"),
    "D10 -1e308 (SGA)": case_implausible_sga("-1e308"),
    "D10 1e5 (SGA)": case_implausible_sga("1e5"),
    "D10 -nan (SGA)": case_implausible_sga("-nan"),
    "D10 NAN (SGA)": case_implausible_sga("NAN"),
    "D10 -1e308 (SMF)": case_implausible_smf,
    "10 MB line names no column 'None'": case_ten_mb_line,
    "--fasta alone": case_fasta_alone,
    "D4 two SGA files with one name": case_same_sga_name_twice,
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_bad_input_is_one_line_exit_2_store_unchanged(case, workspace_copy, tmp_path, capsys):
    args, message = CASES[case](workspace_copy, tmp_path)
    assert_refused(capsys, workspace_copy, args, message)


def test_disk_full_during_ingest_changes_nothing(workspace_copy, tmp_path, capsys, monkeypatch):
    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ingest_module, "rebuild_smf", full)   # fails after rows were written
    smf = workspace_copy.raw_dir / SMF_NAME
    assert_refused(capsys, workspace_copy, ["--sga", workspace_copy.raw_dir / "SGA_ExE.txt", "--smf", smf],
                   r"cannot write .*cre\.duckdb \(\[Errno 28\] No space left on device\); nothing was changed")


def test_a_refused_first_ingest_leaves_no_store(tmp_path, capsys):
    ws = Workspace(tmp_path / "new")
    code, _, err = run_cli(capsys, "ingest", "--workspace", ws.root, "--gaf", write(tmp_path / "e.gaf", ""))
    assert code == 2 and "no annotation lines" in err
    assert not ws.db_path.exists()


# --- what ingest accepts, it says: replaced sources, absorbed rows --------------------------------

def sources(ws: Workspace) -> list[tuple[str, str, int]]:
    con = ws.connect()
    try:
        return con.execute("SELECT kind, path, rows FROM sources ORDER BY kind, path").fetchall()
    finally:
        con.close()


def test_cr_only_smf_reads_like_the_lf_file(workspace_copy, tmp_path, capsys):
    smf = workspace_copy.raw_dir / SMF_NAME
    before = store_state(workspace_copy)
    cr_only = write(tmp_path / SMF_NAME, smf.read_bytes().replace(b"\n", b"\r"))
    code, _, err = run_cli(capsys, "ingest", "--workspace", workspace_copy.root, "--smf", cr_only)
    assert code == 0, err
    after = store_state(workspace_copy)
    for table in ("smf", "smf_raw"):
        assert after[table] == before[table]   # same rows, same values (the source name is the file name)


def test_second_smf_says_what_it_replaced(workspace_copy, tmp_path, capsys):
    ((_, old, old_rows),) = [s for s in sources(workspace_copy) if s[0] == "smf"]
    new = _smf(workspace_copy, tmp_path, ["YAL005W_dma1,whi21,0.9,0.01,0.95,0.01"], name="smf2.csv")
    code, _, err = run_cli(capsys, "ingest", "--workspace", workspace_copy.root, "--smf", new)
    assert code == 0, err
    assert f"warning: smf {new.resolve()} replaced smf {old} ({old_rows:,} rows)" in err
    assert [s for s in sources(workspace_copy) if s[0] == "smf"] == [("smf", str(new.resolve()), 2)]


@pytest.mark.parametrize("kind, flag, name", [
    ("gaf", "--gaf", "sgd.gaf"), ("obo", "--obo", "go-basic.obo"), ("genome", "--gff", "saccharomyces_cerevisiae.gff"),
])
def test_second_source_file_replaces_the_first_in_sources(kind, flag, name, workspace_copy, tmp_path, capsys):
    ((_, old, old_rows),) = [s for s in sources(workspace_copy) if s[0] == kind]
    new = shutil.copy(workspace_copy.raw_dir / name, tmp_path / name)
    code, _, err = run_cli(capsys, "ingest", "--workspace", workspace_copy.root, flag, new)
    assert code == 0, err
    assert f"warning: {kind} {Path(new).resolve()} replaced {kind} {old} ({old_rows:,} rows)" in err
    assert [s[:2] for s in sources(workspace_copy) if s[0] == kind] == [(kind, str(Path(new).resolve()))]


def test_sga_of_the_same_name_from_another_folder_says_what_it_replaced(workspace_copy, tmp_path, capsys):
    (old,) = [p for k, p, _ in sources(workspace_copy) if k == "sga" and p.endswith("/SGA_ExE.txt")]
    new = _sga(workspace_copy, tmp_path, GOOD_ROW + "\n", name="SGA_ExE.txt")
    code, _, err = run_cli(capsys, "ingest", "--workspace", workspace_copy.root, "--sga", new)
    assert code == 0, err
    assert f"sga {new.resolve()} replaced sga {old}" in err
    paths = [p for k, p, _ in sources(workspace_copy) if k == "sga"]
    assert old not in paths and str(new.resolve()) in paths and len(paths) == 4


def test_duplicate_rows_and_unknown_genes_are_counted(workspace_copy, tmp_path, capsys):
    body = f"{GOOD_ROW}\n{GOOD_ROW}\n{GOOD_ROW.replace('YAL005W_dma1', 'YZZ999W_dma7')}\n"
    code, _, err = run_cli(capsys, "ingest", "--workspace", workspace_copy.root,
                           "--sga", _sga(workspace_copy, tmp_path, body))
    assert code == 0, err
    assert "warning: 1 SGA rows repeat a measurement already loaded" in err
    assert "warning: 1 gene IDs in the fitness data are not in the genome (e.g. YZZ999W)" in err


# --- workspace paths and stores the app cannot use -----------------------------------------------

def test_info_refuses_a_folder_name_over_255_bytes(tmp_path, capsys):
    code, _, err = run_cli(capsys, "info", "--workspace", tmp_path / ("a" * 300))
    assert code == 2
    assert err == "error: the workspace path has a folder name of 300 bytes ('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa…'); " \
                  "file systems allow at most 255\n"


def test_a_file_or_impossible_folder_as_workspace(tiny_workspace, tmp_path, capsys):
    gaf = tiny_workspace.raw_dir / "sgd.gaf"
    a_file = write(tmp_path / "a_file", "")
    code, _, err = run_cli(capsys, "ingest", "--workspace", a_file, "--gaf", gaf)
    assert (code, err) == (2, f"error: the workspace folder {a_file} is a file, not a folder\n")
    code, _, err = run_cli(capsys, "ingest", "--workspace", "/proc/no/such", "--gaf", gaf)
    assert code == 2 and err.startswith("error: the workspace folder /proc/no/such cannot be created (")


def test_nul_byte_in_workspace_path():
    with pytest.raises(CreError, match="contains a NUL byte"):
        resolve_workspace("/tmp/a\x00b")


@pytest.mark.parametrize("bad", ["nul", "long"])
def test_pages_explain_an_impossible_workspace_path(bad, tiny_workspace, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("CRE_WORKSPACE", str(tiny_workspace.root))
    at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "app.py"), default_timeout=30)
    at.session_state["workspace"] = "/tmp/a\x00b" if bad == "nul" else "/tmp/" + "b" * 300
    at.run(timeout=30)
    assert not at.exception
    messages = [e.value for e in at.error]
    expected = "contains a NUL byte" if bad == "nul" else "folder name of 300 bytes"
    assert len(messages) == 1 and expected in messages[0] and "Unexpected error" not in messages[0]


def test_truncated_store_says_corrupt(workspace_copy, capsys):
    with open(workspace_copy.db_path, "r+b") as fh:
        fh.truncate(100_000)
    code, _, err = run_cli(capsys, "info", "--workspace", workspace_copy.root)
    assert code == 2 and "is corrupt or truncated" in err and "retrying will not help" in err


def test_locked_store_names_the_process(workspace_copy):
    holder = duckdb.connect(str(workspace_copy.db_path))    # this process writes the store
    try:
        out = subprocess.run([sys.executable, "-m", "cre_core", "info", "--workspace", str(workspace_copy.root)],
                             capture_output=True, text=True, timeout=60, cwd=Path(__file__).resolve().parents[2])
    finally:
        holder.close()
    assert out.returncode == 2
    assert f"is in use by another process (PID {os.getpid()}" in out.stderr
    assert "kill" in out.stderr and out.stderr.count("\n") == 1


# --- batch query CSV (D1, D13) --------------------------------------------------------------------

def test_batch_row_longer_than_the_header_keeps_its_genes_and_is_refused(tiny_workspace):
    from cre_core.query.gene_sets import check_sets, parse_csv

    con = tiny_workspace.connect()
    try:
        genes = [g for (g,) in con.execute("SELECT gene FROM genes ORDER BY gene LIMIT 4").fetchall()]
        text = "gene1,gene2,gene3\n" + ",".join(genes) + f"\n{genes[0]},{genes[1]}\n\"{genes[2]},{genes[3]}\n{genes[3]}\n"
        batch = parse_csv(text.encode())
        good, problems = check_sets(con, batch.sets, rows=batch.lines)
    finally:
        con.close()
    assert good == [genes[:2], [genes[3]]]           # the rest is predicted, nothing shifted
    assert problems.to_dict("records") == [{"row": 2, "genes": ", ".join(genes), "problem": "4 genes; at most 3 per set"}]
    assert batch.problems == [{"row": 4, "genes": f'"{genes[2]},{genes[3]}',
                               "problem": 'unbalanced quote ("): close it or remove it'}]


@pytest.mark.parametrize("encoding, note", [
    ("utf-16", None), ("utf-8-sig", None), ("utf-16-le", "read as UTF-16-LE (no byte-order mark)"),
    ("latin-1", "not UTF-8: read as Windows-1252"), ("utf-8", None),
])
def test_batch_csv_encodings(encoding, note):
    from cre_core.query.batch_csv import read_batch

    batch = read_batch("genes,comment\nTFC3,café\nYBR001C;YAL002W,é\n".encode(encoding), max_sets=10)
    assert batch.sets == [["TFC3"], ["YBR001C", "YAL002W"]]
    assert batch.note == note


def test_batch_csv_extra_values_beside_other_columns_are_a_row_problem():
    from cre_core.query.batch_csv import read_batch

    batch = read_batch(b"genes,score\nTFC3,1\nYBR001C,2,3\n", max_sets=10)
    assert batch.sets == [["TFC3"]]
    assert batch.problems == [{"row": 3, "genes": "YBR001C,2,3", "problem": "3 values, but the header has 2 columns"}]


# --- SQL box caps (D6) ----------------------------------------------------------------------------

def test_sql_box_refuses_a_result_over_the_byte_cap(tiny_workspace):
    from cre_core.query.sql_box import SqlBoxError, run_readonly_sql

    with pytest.raises(SqlBoxError, match=r"the result passed 1 MB after \d+ rows"):
        run_readonly_sql(str(tiny_workspace.db_path), "SELECT repeat('x', 100000) FROM range(300)", max_result_mb=1)
    small = run_readonly_sql(str(tiny_workspace.db_path), "SELECT repeat('x', 1000) AS s FROM range(300)",
                             max_result_mb=1)
    assert len(small.frame) == 300 and small.frame["s"].str.len().sum() == 300_000


def test_sql_box_memory_limit_is_set_and_locked(tiny_workspace):
    from cre_core.query.sql_box import SqlBoxError, run_readonly_sql

    db = str(tiny_workspace.db_path)
    setting = run_readonly_sql(db, "SELECT current_setting('memory_limit') AS m", memory_limit_mb=300).frame["m"][0]
    assert setting.endswith("MiB") and 280 < float(setting.split()[0]) <= 300
    for sql in ("SET memory_limit = '100GB'", "PRAGMA memory_limit = '100GB'", "RESET memory_limit"):
        with pytest.raises(SqlBoxError, match="not allowed"):
            run_readonly_sql(db, sql)
    with pytest.raises(SqlBoxError, match="memory limit"):
        run_readonly_sql(db, "SELECT list(range) AS l FROM range(200000000)", memory_limit_mb=64)


def test_pages_say_a_truncated_store_is_corrupt(workspace_copy, monkeypatch):
    from streamlit.testing.v1 import AppTest

    with open(workspace_copy.db_path, "r+b") as fh:
        fh.truncate(100_000)
    monkeypatch.setenv("CRE_WORKSPACE", str(workspace_copy.root))
    at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "app.py"), default_timeout=30)
    at.run(timeout=30)
    assert not at.exception
    messages = [e.value for e in at.error]
    assert messages and all("is corrupt or truncated" in m and "Try again" not in m for m in messages)
