"""The Genes page (AppTest): every tab shows the values cre_core.explore computes."""

from __future__ import annotations

import numpy as np
import pytest

from cre_core.explore import build_network, enrich, gene_profile, profile_map, similar
from tests.app.test_pages import app, problems
from tests.explore_support import build_explore_ws, module_terms, planted_modules


@pytest.fixture(scope="module")
def explore_ws(tiny_workspace, tmp_path_factory):
    return build_explore_ws(tiny_workspace, tmp_path_factory)


def frame_with(at, *columns):
    """The (first) dataframe on the page holding these columns."""
    for df in at.dataframe:
        if set(columns) <= set(df.value.columns):
            return df.value
    raise AssertionError(f"no dataframe with {columns}")


@pytest.fixture
def page(explore_ws, monkeypatch):
    ws, run_id = explore_ws
    gene = planted_modules(ws)["gene"].iloc[0]
    at = app("genes.py", ws, monkeypatch).run()
    assert not problems(at), problems(at)
    at.text_input(key="g_gene").set_value(gene)
    at.selectbox(key="g_run").set_value(run_id)
    at.run()
    assert not problems(at), problems(at)
    return at, ws, run_id, gene


def test_profile_tab(page):
    at, ws, run_id, gene = page
    p = gene_profile(ws, gene, run_id=run_id)
    shown = frame_with(at, "partner", "allele", "screen")
    assert len(shown) == p.n_measurements and shown["partner"].tolist() == p.measurements["partner"].tolist()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Measurements"] == f"{p.n_measurements:,}" and metrics["Partners"] == f"{len(p.partners):,}"
    assert metrics["Pearson r over measured partners"] == f"{p.comparison.r:.3f}"
    at.selectbox(key="g_sign").set_value("negative").run()
    assert (frame_with(at, "partner", "allele", "screen")["epsilon"] < 0).all()


def test_similar_tab_and_map(page):
    at, ws, run_id, gene = page
    at.selectbox(key="g_run").set_value(None).run()
    assert frame_with(at, "gene", "r", "n_shared")["gene"].tolist() == similar(ws, gene)["gene"].tolist()
    at.radio(key="g_sim_by").set_value("overlap").run()
    shown = frame_with(at, "gene", "overlap", "n_shared")
    expected = similar(ws, gene, by="overlap")["gene"].tolist()
    assert shown["gene"].tolist() == expected != similar(ws, gene)["gene"].tolist()
    assert (np.diff(shown["overlap"]) <= 0).all()
    assert at.button(key="g_map_go")                           # no map yet: a button, not a 30 s wait
    frame = profile_map(ws)                                    # what the button computes (and caches)
    at.run()
    assert not problems(at), problems(at)
    assert any(t.value.startswith(f"{len(frame):,} genes on the map; 0 selected") for t in at.text)


def test_enrichment_tab_on_a_pasted_module(page):
    at, ws, _, _ = page
    modules = planted_modules(ws)
    biggest = modules["module"].value_counts().index[0]
    genes = modules.loc[modules["module"] == biggest, "gene"].tolist()
    at.radio(key="g_en_source").set_value("pasted").run()
    at.text_area(key="g_en_pasted").set_value("\n".join(genes) + "\nNOTAGENE1").run()
    assert not problems(at), problems(at)
    table = frame_with(at, "go_id", "qvalue", "fold")
    expected = enrich(ws, genes).table
    terms, parents = module_terms("tiny", 0)
    assert table["go_id"].iloc[0] in (terms[biggest], parents[biggest])
    assert np.allclose(table["qvalue"], expected.loc[expected["qvalue"] <= 0.05, "qvalue"])
    assert any("NOTAGENE1" in t.value for t in at.text) and at.warning


def test_network_tab_with_predicted_edges(page):
    at, ws, run_id, gene = page
    at.radio(key="g_net_source").set_value("similar").run()
    at.slider(key="g_net_size").set_value(30)
    at.toggle(key="g_net_pred").set_value(True).run()
    assert not problems(at), problems(at)
    genes = [gene, *similar(ws, gene, top=30)["gene"]]
    net = build_network(ws, genes, run_id=run_id)
    counts = net.edges["kind"].value_counts()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Genes"] == "31" and metrics["Measured edges"] == f"{counts.get('measured', 0):,}"
    assert metrics["Predicted edges"] == f"{counts.get('predicted', 0):,}"
    assert len(frame_with(at, "gene_a", "gene_b", "kind")) == len(net.edges)
    assert {b.key for b in at.get("download_button")} >= {"g_graphml", "g_sif", "g_bulk"}
