"""`cre profile / similar / enrich / network` end in their JSON line; bad input is exit 2 and no
file; and the same features on the real workspace (DCell's real ε, the real GO)."""

from __future__ import annotations

import json

import networkx as nx
import pandas as pd
import pytest

from cre_core.cli import main
from cre_core.explore import build_network, enrich, gene_profile, go_index, similar
from tests.explore_support import build_explore_ws, planted_modules


@pytest.fixture(scope="module")
def explore_ws(tiny_workspace, tmp_path_factory):
    return build_explore_ws(tiny_workspace, tmp_path_factory)


def run(capsys, *args: str) -> tuple[int, dict | None, str]:
    code = main(list(args))
    out = capsys.readouterr()
    last = out.out.strip().splitlines()[-1] if out.out.strip() else ""
    return code, (json.loads(last) if code == 0 else None), out.err


def test_commands_end_in_their_json_line(explore_ws, capsys, tmp_path):
    ws, run_id = explore_ws
    w = ("--workspace", str(ws.root))
    gene = planted_modules(ws)["gene"].iloc[0]
    code, out, _ = run(capsys, "profile", *w, "--gene", gene, "--run", run_id, "--sign", "negative", "--top", "0")
    assert code == 0 and out["gene"] == gene and all(m["epsilon"] < 0 for m in out["measurements"])
    assert out["n_shown"] == len(out["measurements"]) and out["run"] == run_id and "r" in out
    code, out, _ = run(capsys, "similar", *w, "--gene", gene, "--top", "4")
    assert code == 0 and [s["gene"] for s in out["similar"]] == similar(ws, gene, top=4)["gene"].tolist()
    code, out, _ = run(capsys, "similar", *w, "--gene", gene, "--top", "4", "--by", "overlap")
    expected = similar(ws, gene, top=4, by="overlap")
    assert code == 0 and out["by"] == "overlap" and [s["gene"] for s in out["similar"]] == expected["gene"].tolist()
    assert [s["overlap"] for s in out["similar"]] == pytest.approx(expected["overlap"].tolist())
    code, out, _ = run(capsys, "enrich", *w, "--similar-to", gene, "--list-size", "15", "--top", "0")
    assert code == 0 and len(out["genes"]) == 15
    assert [t["go_id"] for t in out["terms"]] == enrich(ws, out["genes"]).table["go_id"].tolist()
    graphml, sif, table = tmp_path / "n.graphml", tmp_path / "n.sif", tmp_path / "n.csv"
    code, out, _ = run(capsys, "network", *w, "--partners-of", gene, "--graphml", str(graphml), "--sif", str(sif),
                       "--csv", str(table))
    assert code == 0 and nx.read_graphml(graphml).number_of_nodes() == out["nodes"]
    assert len(pd.read_csv(table)) == out["csv_rows"] and sif.read_text().strip()


def test_bad_input_is_one_line_and_exit_2(explore_ws, capsys, tmp_path):
    ws, _ = explore_ws
    w = ("--workspace", str(ws.root))
    gene = planted_modules(ws)["gene"].iloc[0]
    listing = tmp_path / "genes.txt"
    listing.write_text(f"# my genes\n{gene}\nNOTAGENE1\n")
    out = tmp_path / "net.graphml"
    code, _, err = run(capsys, "network", *w, "--genes-file", str(listing), "--graphml", str(out))
    assert code == 2 and err.startswith(f"error: {listing} line 3: unknown gene 'NOTAGENE1'"), err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()
    code, _, err = run(capsys, "profile", *w, "--gene", gene, "--max-p", "0")
    assert code == 2 and "p-value cut-off" in err
    code, _, err = run(capsys, "enrich", *w, "--genes", gene, "--partners-of", gene)
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_real_workspace(real_workspace):
    """DCell's gene-level ε (no p-values), the 150 real SGA rows and the 2019 GO."""
    ws = real_workspace
    con = ws.connect(read_only=True)
    try:
        gene = con.execute("SELECT gene_a FROM dcell_pairs GROUP BY 1 "
                           "ORDER BY count(*) DESC, 1 LIMIT 1").fetchall()[0][0]
        n_dcell = con.execute("SELECT count(*) FROM dcell_pairs WHERE gene_a = ? OR gene_b = ?",
                              [gene, gene]).fetchall()[0][0]
        sga_gene = con.execute("SELECT query_gene FROM sga ORDER BY 1 LIMIT 1").fetchall()[0][0]
    finally:
        con.close()
    p = gene_profile(ws, gene)
    assert p.n_measurements >= n_dcell > 20 and p.measurements["screen"].str.startswith("DCell ").any()
    assert p.measurements.loc[p.measurements["screen"].str.startswith("DCell "), "pvalue"].isna().all()
    few = gene_profile(ws, sga_gene)                       # most real genes have a partner or two
    assert 1 <= few.n_measurements <= 5 and few.measurements["pvalue"].notna().all()
    top = similar(ws, gene, top=5)
    assert len(top) == 5 and (top["n_shared"] >= 10).all() and top["r"].is_monotonic_decreasing
    assert similar(ws, sga_gene).empty                      # too few partners to compare: no rows, no error
    partners = p.partners["partner"].head(40).tolist()
    result = enrich(ws, partners)
    assert result.universe == len(go_index(ws).universe()) > 5000
    assert (result.table["qvalue"] < 1e-6).any()           # DCell's subsystem is one GO term: its genes cluster
    net = build_network(ws, partners)
    assert len(net.nodes) == 40 and len(net.edges) > 0
