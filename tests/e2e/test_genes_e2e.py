"""The Genes page in headless Chromium: a profile, similar genes on the map, a module's
enrichment and a network, each tab with a screenshot (test-artifacts/screenshots/genes-*.png).

Its own server on a copy of the tiny demo with the profile map computed (no training needed)."""

from __future__ import annotations

import shutil

import pytest

from cre_core.explore import enrich, gene_profile, profile_map
from cre_core.workspace import Workspace
from tests.e2e.conftest import errors_on, screenshot, serve, wait_for_app

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def genes_server(tiny_workspace, tmp_path_factory):
    base = tmp_path_factory.mktemp("genes-e2e")
    shutil.copytree(tiny_workspace.root, base / "ws", ignore=shutil.ignore_patterns("runs"))
    ws = Workspace(base / "ws")
    profile_map(ws)                                   # what the page's button computes
    with serve(ws, base) as server:
        yield server



def test_genes_page_tabs(page, genes_server):
    ws = genes_server.workspace
    con = ws.connect(read_only=True)
    try:
        module = con.execute("SELECT module FROM demo_truth WHERE module >= 0 GROUP BY 1 "
                             "ORDER BY count(*) DESC LIMIT 1").fetchall()[0][0]
        genes = [g for (g,) in con.execute("SELECT gene FROM demo_truth WHERE module = ? ORDER BY gene",
                                           [module]).fetchall()]
    finally:
        con.close()
    gene = genes[0]
    p = gene_profile(ws, gene)
    page.goto(f"{genes_server.url}/genes")
    wait_for_app(page)
    box = page.get_by_role("textbox", name="Gene (systematic or standard name)")
    box.fill(gene)
    box.press("Enter")
    wait_for_app(page)
    metrics = page.locator("[data-testid='stMetric']")
    assert f"{p.n_measurements:,}" in metrics.nth(1).inner_text()
    assert not errors_on(page), errors_on(page)
    screenshot(page, "genes-profile")

    page.get_by_role("tab", name="Similar").click()
    wait_for_app(page)
    assert page.get_by_text("genes on the map; 0 selected", exact=False).is_visible()
    assert page.locator("[data-testid='stVegaLiteChart']").count() >= 1
    screenshot(page, "genes-similar")

    page.get_by_role("tab", name="Enrichment").click()
    tab = page.get_by_role("tabpanel", name="Enrichment")
    tab.get_by_text("a pasted list").click()
    wait_for_app(page)
    area = tab.get_by_role("textbox", name="Gene names (commas, spaces or lines)")
    area.fill("\n".join(genes))
    area.press("Control+Enter")
    wait_for_app(page)
    annotated = enrich(ws, genes).in_universe
    assert tab.get_by_text(f"{len(genes):,} genes, {annotated:,} annotated", exact=False).is_visible()
    assert not errors_on(page), errors_on(page)
    screenshot(page, "genes-enrichment")

    page.get_by_role("tab", name="Network").click()
    wait_for_app(page)
    net_tab = page.get_by_role("tabpanel", name="Network")
    assert net_tab.locator("[data-testid='stVegaLiteChart']").count() == 1
    assert net_tab.get_by_text("GraphML (Cytoscape)").is_visible()
    assert not errors_on(page), errors_on(page)
    screenshot(page, "genes-network")
