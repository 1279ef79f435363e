"""UMAP of stored embeddings, the ``umap`` command, and the Embeddings page (AppTest).

umap-learn's first import and JIT compile take 10-30 s per test session; every UMAP here is
small (the tiny demo's 300 genes) and the cached one is reused where possible.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from cre_core.cli import main
from cre_core.embed.features import list_embeddings
from cre_core.embed.kmer import KmerEmbedder
from cre_core.embed.runner import embed_workspace
from cre_core.embed.umap_view import FRAME_COLUMNS, compute_umap, umap_frame
from dashboard.charts import chromosome_order, umap_chart

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "embeddings.py")


def page(ws, monkeypatch) -> AppTest:
    monkeypatch.setenv("CRE_WORKSPACE", str(ws.root))
    return AppTest.from_file(PAGE, default_timeout=60)


def test_umap_is_seeded_cached_and_joined(workspace_copy):
    ws = workspace_copy
    first = compute_umap(ws, "kmer", "both", seed=0, n_neighbors=5)
    assert not first.cached and first.path.parent == ws.embeddings_dir / "umap"
    again = compute_umap(ws, "kmer", "both", seed=0, n_neighbors=5)
    assert again.cached and again.frame.equals(first.frame)
    first.path.unlink()
    fresh = compute_umap(ws, "kmer", "both", seed=0, n_neighbors=5)      # same seed, same picture
    assert not fresh.cached
    assert np.allclose(fresh.frame[["x", "y"]], first.frame[["x", "y"]], atol=1e-4)
    other = compute_umap(ws, "kmer", "both", seed=1, n_neighbors=5)
    assert other.path != first.path

    frame = umap_frame(ws, "kmer", "both", seed=0, n_neighbors=5)
    assert list(frame.columns) == FRAME_COLUMNS and len(frame) == 300
    con = ws.connect(read_only=True)
    try:
        n_smf = con.execute("SELECT count(*) FROM smf").fetchone()[0]
        n_mod = con.execute("SELECT count(*) FROM demo_truth WHERE module >= 0").fetchone()[0]
    finally:
        con.close()
    assert frame["smf"].notna().sum() == n_smf
    assert frame["module"].notna().sum() == n_mod > 0
    assert frame["chrom"].notna().all()
    spec = umap_chart(frame, "Chromosome").to_dict()
    assert spec["encoding"]["x"]["title"] == "UMAP 1" and spec["encoding"]["y"]["title"] == "UMAP 2"
    assert {t["field"] for t in spec["encoding"]["tooltip"]} >= {"gene", "name", "smf"}


def test_chromosome_order():
    assert chromosome_order(["chrX", "chrII", "chrmt", "chrIV", "chrI", "chrXVI", "chrIX"]) == [
        "chrI", "chrII", "chrIV", "chrIX", "chrX", "chrXVI", "chrmt"]


def test_cli_umap_prints_a_json_line(workspace_copy, capsys):
    ws = workspace_copy
    assert main(["umap", "--workspace", str(ws.root), "--embedder", "kmer", "--features",
                 "upstream", "--seed", "3", "--n-neighbors", "5"]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (line["embedder"], line["features"], line["seed"], line["n_genes"]) == ("kmer", "upstream", 3, 300)
    assert line["cached"] is False and Path(line["path"]).exists()


def test_page_empty_state_says_what_to_do(workspace_copy, monkeypatch):
    at = page(workspace_copy, monkeypatch).run()
    assert not at.exception and not at.error
    info = " ".join(i.value for i in at.info)
    assert "Nothing is embedded" in info and "--embedder kmer" in info


def test_page_runs_a_kmer_embedding_with_progress(workspace_copy, monkeypatch):
    at = page(workspace_copy, monkeypatch).run()
    assert at.selectbox(key="emb_new_embedder").value == "kmer"
    at.button[0].click().run()                                # the form's Compute button
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "upstream: 300 computed" in at.success[0].value
    table = at.dataframe[0].value
    assert table["embedder"].tolist() == ["kmer", "kmer"]
    assert table["n_genes"].tolist() == [300, 300]


def test_page_shows_table_and_cached_umap(workspace_copy, monkeypatch):
    ws = workspace_copy
    embed_workspace(ws, KmerEmbedder())
    compute_umap(ws, "kmer", "both", seed=0)                  # the page's defaults
    at = page(ws, monkeypatch).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    table = at.dataframe[0].value
    expected = list_embeddings(ws)
    assert table["region"].tolist() == ["upstream", "downstream"]
    assert table["n_genes"].tolist() == expected["n_genes"].tolist() == [300, 300]
    assert table["model"].iloc[0].startswith("kmer k=1..4 + ")
    charts = at.get("vega_lite_chart")
    assert len(charts) == 1
    assert "300 genes · kmer · both · seed 0" in " ".join(c.value for c in at.caption)
    separation = at.dataframe[1].value.set_index("features")
    assert separation.loc["both", "knn_accuracy"] > 0.8 > 0.2 > separation.loc["both", "shuffled"]
    at.selectbox(key="emb_colour").set_value("Demo module").run()
    assert not at.exception and len(at.get("vega_lite_chart")) == 1


def test_page_offers_to_compute_a_missing_umap(workspace_copy, monkeypatch):
    ws = workspace_copy
    embed_workspace(ws, KmerEmbedder(), ["upstream"])
    at = page(ws, monkeypatch).run()
    assert at.selectbox(key="emb_features").options == ["upstream"]
    assert "No UMAP of this embedding yet." in " ".join(i.value for i in at.info)
    assert at.button(key="emb_umap_go")
    assert not at.get("vega_lite_chart")
