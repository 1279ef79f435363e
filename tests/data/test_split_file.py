"""Published splits: ``train --split-file`` and ``runs --export-split`` round-trip a split."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from cre_core import cli
from cre_core.data.split_file import read_split_file, split_from_file, split_name, strain_keys
from cre_core.errors import InputError
from cre_core.train import data as D
from cre_core.train.config import TrainConfig
from cre_core.train.loop import train_run
from cre_core.train.run_tables import runs_with_configs

GENES = ["YAL001C", "YAL002W", "YBR003W", "YCR004C"]
IDX = np.array([[0, 1], [0, 2], [1, 2], [2, 3], [0, 3]])


def write(tmp_path, text: str, name: str = "split.tsv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_keys_ignore_order_and_padding():
    keys = strain_keys(np.array([[1, 2, -1], [2, 1, -1], [1, 2, 3], [3, 2, 1]]))
    assert keys[0] == keys[1] and keys[2] == keys[3] and keys[0] != keys[2]
    assert strain_keys(np.array([[2, 1]]))[0] == keys[0]


def test_split_from_csv_with_unknowns_counted(tmp_path):
    path = write(tmp_path, "\n".join([
        "gene_a,gene_b,split",
        "YAL002W,YAL001C,train",   # reversed order still matches (0, 1)
        "yal001c,YBR003W,val",     # case-insensitive
        "YBR003W,YCR004C,test",
        "YBR003W,YCR004C,test",    # a repeat in the same part is harmless
        "YAL001C,YXX999W,train",   # a gene the store lacks
        "YAL002W,YCR004C,train",   # both genes known, the pair is not in the store
    ]) + "\n", name="split.csv")
    train, val, test, info = split_from_file(path, IDX, np.arange(len(IDX)), GENES)
    assert (list(train), list(val), list(test)) == ([0], [1], [3])
    assert info["dropped"] == 2  # rows 2 and 4 of the store are not listed
    assert (info["file_rows"], info["file_rows_not_in_store"]) == (5, 2)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    assert info["split_file"] == f"split.csv (sha256 {digest})"


def test_three_gene_rows(tmp_path):
    path = write(tmp_path, "gene_a\tgene_b\tgene_c\tsplit\nYAL001C\tYAL002W\t\ttest\n"
                 "YAL001C\tYAL002W\tYBR003W\ttrain\n")
    idx3 = np.array([[0, 1, -1], [2, 0, 1]])
    train, val, test, info = split_from_file(path, idx3, np.arange(2), GENES)
    assert (list(train), list(val), list(test)) == ([1], [], [0])
    assert info["file_rows_not_in_store"] == 0


@pytest.mark.parametrize(
    "text, line, problem",
    [
        ("gene_a\tgene_b\n", 1, "header lacks split (expected gene_a, gene_b[, gene_c], split)"),
        ("gene_a\tgene_b\tsplit\nYAL001C\tYAL002W\ttraining\n", 2,
         "split 'training', expected train, val or test"),
        ("gene_a\tgene_b\tsplit\n\nYAL001C\tYAL002W\n", 3, "2 columns, expected 3"),
        ("gene_a\tgene_b\tsplit\n\t\ttrain\n", 2, "no gene: a strain needs gene_a (single mutants leave gene_b empty)"),
        ("gene_a\tgene_b\tsplit\nYAL001C\tYAL002W\ttrain\nYAL002W\tYAL001C\ttest\n", 3,
         "YAL002W/YAL001C is already in train (an earlier line)"),
    ],
)
def test_bad_split_file_names_the_line(tmp_path, text, line, problem):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as err:
        read_split_file(path, GENES)
    assert str(err.value) == f"{path} line {line}: {problem}"


def test_split_round_trips_through_a_run(workspace_copy, tmp_path, capsys, monkeypatch):
    ws = workspace_copy
    monkeypatch.setattr("sys.argv", ["cre_core"])
    config = TrainConfig.of(model="mean", split="gene", split_seed=3, epochs=1)
    first = train_run(ws, config, echo=lambda _m: None)
    run_id = next(p.name for p in ws.runs_dir.iterdir())
    out = tmp_path / "published.tsv"
    args = ["runs", "--workspace", str(ws.root), "--export-split", run_id, "--out", str(out)]
    assert cli.main(args) == 0
    sizes = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (sizes["train"], sizes["val"], sizes["test"]) == (
        first["n_train"], first["n_val"], first["n_test"])
    assert sum(1 for _ in out.open()) == 1 + sizes["train"] + sizes["val"] + sizes["test"]

    table = D.load_sets(ws)
    rows = np.arange(len(table))
    original = D.make_split(table.idx, rows, "gene", 3, 0.1, 0.2)
    again = D.make_split(table.idx, rows, "random", 0, 0.1, 0.2, str(out), table.genes)
    for part in ("train", "val", "test"):
        assert np.array_equal(getattr(again, part), getattr(original, part)), part
    assert again.info["dropped"] == original.info["dropped"]
    assert again.info["file_rows_not_in_store"] == 0

    messages: list[str] = []
    reused = train_run(ws, TrainConfig.of(model="mean", split_file=str(out), epochs=1),
                       echo=messages.append)
    assert reused["n_test"] == first["n_test"] and reused["mse"] == pytest.approx(first["mse"])
    assert reused["split_info"]["split_file"] == split_name(out)
    assert any(m.startswith(f"split file {split_name(out)}: ") for m in messages)
    labels = set(runs_with_configs(ws)["test_set"])
    assert f"split file {split_name(out)} · all pairs" in labels
