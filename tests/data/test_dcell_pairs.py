"""DCell's pair files (``2 ORF1 ORF2 ε``): reading, ingest (DMF = ε + SMF·SMF), dcell-split."""

from __future__ import annotations

import json

import pytest

from cre_core import cli
from cre_core.data.dcell_pairs import read_dcell_pairs
from cre_core.data.split_file import read_split_file
from cre_core.errors import InputError


def write(tmp_path, text: str, name: str = "pairs.txt"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_reads_pairs_with_any_whitespace(tmp_path):
    path = write(tmp_path, "2 YAL001C YBR002W -0.12\n\n2\tyal003w  YCR004C\t0.3e-1\r\n")
    pairs = read_dcell_pairs(path)
    assert pairs.to_dict("list") == {
        "gene_a": ["YAL001C", "YAL003W"], "gene_b": ["YBR002W", "YCR004C"],
        "epsilon": [-0.12, 0.03],
    }


@pytest.mark.parametrize(
    "bad, problem",
    [
        ("2 YAL001C YBR002W", "3 fields, expected 4 (2 ORF1 ORF2 value)"),
        ("2 YAL001C YBR002W 0.1 extra", "5 fields, expected 4 (2 ORF1 ORF2 value)"),
        ("3 YAL001C YBR002W 0.1", "first field '3': DCell pair files start each line with 2 "
         "(the number of genes)"),
        ("2 YAL001C YBR002W n/a", "value 'n/a' is not a number"),
        ("2 YAL001C yal001c 0.1", "gene YAL001C is paired with itself"),
    ],
)
def test_a_bad_line_is_named(tmp_path, bad, problem):
    path = write(tmp_path, f"2 YAL001C YBR002W 0.1\n\n2 YAL002W YBR003W 0.2\n{bad}\n"
                 "2 YAL004W YBR005W 0.3\n")
    with pytest.raises(InputError) as err:
        read_dcell_pairs(path)
    assert str(err.value) == f"{path} line 4: {problem}"


def test_empty_file(tmp_path):
    with pytest.raises(InputError, match="no pairs"):
        read_dcell_pairs(write(tmp_path, "\n\n"))


def query(ws, sql: str):
    con = ws.connect(read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_ingest_derives_dmf_from_smf(workspace_copy, tmp_path, capsys):
    ws = workspace_copy
    smf = dict(query(ws, "SELECT gene, fitness FROM smf ORDER BY gene"))
    known = sorted(smf)
    in_dmf = {(a, b) for a, b in query(ws, "SELECT gene_a, gene_b FROM dmf")}
    a, b = next((x, y) for x in known for y in known if x < y and (x, y) not in in_dmf)
    measured = next(iter(sorted(in_dmf)))
    before = dict(query(ws, f"SELECT 'x', fitness FROM dmf WHERE gene_a = '{measured[0]}' "
                        f"AND gene_b = '{measured[1]}'"))["x"]
    n_dmf = query(ws, "SELECT count(*) FROM dmf")[0][0]
    path = write(tmp_path, f"2 {b} {a} 0.05\n2 {b} {a} 0.07\n2 {a} YZZ999W -0.2\n"
                 f"2 {measured[1]} {measured[0]} 0.9\n")
    assert cli.main(["ingest", "--workspace", str(ws.root), "--dcell-pairs", str(path)]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["dmf"] == n_dmf + 2
    rows = {(r[0], r[1]): r[2:] for r in query(ws, "SELECT gene_a, gene_b, fitness, epsilon, n "
                                               "FROM dmf")}
    fitness, epsilon, n = rows[a, b]
    assert epsilon == pytest.approx(0.06) and n == 2
    assert fitness == pytest.approx(0.06 + smf[a] * smf[b])
    lo, hi = sorted([a, "YZZ999W"])
    assert rows[lo, hi][0] is None and rows[lo, hi][1] == pytest.approx(-0.2)
    assert rows[measured][0] == pytest.approx(before)  # SGA's measurement wins
    assert query(ws, "SELECT count(*) FROM dcell_pairs")[0][0] == 4

    # ingesting SGA again rebuilds dmf and keeps the DCell pairs
    sga = sorted((ws.raw_dir).glob("SGA_*.txt"))
    assert sga
    args = ["ingest", "--workspace", str(ws.root)]
    for f in sga:
        args += ["--sga", str(f)]
    assert cli.main(args) == 0
    assert query(ws, "SELECT count(*) FROM dmf")[0][0] == n_dmf + 2


def test_bad_pairs_file_changes_nothing(workspace_copy, tmp_path, capsys):
    ws = workspace_copy
    db = ws.db_path.read_bytes()
    path = write(tmp_path, "2 YAL001C YBR002W 0.1\n2 YAL001C YBR002W x\n")
    assert cli.main(["ingest", "--workspace", str(ws.root), "--dcell-pairs", str(path)]) == 2
    assert capsys.readouterr().err == f"error: {path} line 2: value 'x' is not a number\n"
    assert ws.db_path.read_bytes() == db


def test_dcell_split(tmp_path, capsys):
    train = write(tmp_path, "2 YAL001C YBR002W 0.1\n2 YAL002W YBR003W 0.2\n", "train.txt")
    test = write(tmp_path, "2 YCR004C YAL001C -0.1\n", "test.txt")
    out = tmp_path / "split.tsv"
    args = ["dcell-split", "--train", str(train), "--test", str(test), "--out", str(out)]
    assert cli.main(args) == 0
    assert json.loads(capsys.readouterr().out) == {
        "split_file": str(out), "train": 2, "val": 0, "test": 1}
    assert out.read_text().splitlines() == [
        "gene_a\tgene_b\tsplit", "YAL001C\tYBR002W\ttrain", "YAL002W\tYBR003W\ttrain",
        "YAL001C\tYCR004C\ttest",
    ]
    genes = ["YAL001C", "YAL002W", "YBR002W", "YBR003W", "YCR004C"]
    keys, parts, unknown = read_split_file(out, genes)
    assert sorted(parts.tolist()) == [0, 0, 2] and unknown == 0

    leak = write(tmp_path, "2 YBR002W YAL001C 0.3\n", "leak.txt")
    assert cli.main([*args[:-2], str(leak), "--out", str(out)]) == 2
    assert "pair YAL001C/YBR002W is in both test and train" in capsys.readouterr().err
