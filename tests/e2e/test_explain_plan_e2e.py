"""The Query page's Subsystems (DCell) and Plan tabs in headless Chromium, on a tiny demo with a
short DCell run and a 3-member ensemble of DeepSets over learned gene vectors (trained by the CLI, as a user would)."""

from __future__ import annotations

import shutil

import pytest

from cre_core.workspace import Workspace
from tests.e2e.conftest import cli, errors_on, screenshot, serve, wait_for_app

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def explain_server(tiny_workspace, tmp_path_factory):
    base = tmp_path_factory.mktemp("e2e-explain")
    shutil.copytree(tiny_workspace.root, base / "ws", ignore=shutil.ignore_patterns("runs"))
    ws = Workspace(base / "ws")
    cli(ws, "train", "--model", "dcell", "--subset", "1500", "--epochs", "1", "--batch-size", "128")
    cli(ws, "train", "--model", "deepset", "--embedder", "id", "--epochs", "2", "--batch-size", "1024",
        "--hidden", "16", "--gene-dim", "16", "--ensemble", "3")
    with serve(ws, base) as server:
        yield server



def test_subsystems_and_plan_tabs(page, explain_server):
    con = explain_server.workspace.connect(read_only=True)
    try:
        gene_a, gene_b = con.execute("SELECT gene_a, gene_b FROM dmf ORDER BY gene_a LIMIT 1").fetchall()[0]
    finally:
        con.close()
    page.goto(f"{explain_server.url}/query")
    wait_for_app(page)
    page.get_by_role("tab", name="Subsystems (DCell)").click()
    box = page.get_by_role("textbox", name="Genes to delete (1–3)", exact=True)
    box.fill(f"{gene_a}, {gene_b}")
    box.press("Enter")
    wait_for_app(page)
    page.get_by_text("Terms that move", exact=True).wait_for()
    page.locator("[data-testid='stVegaLiteChart'] svg, [data-testid='stVegaLiteChart'] canvas").first.wait_for()
    assert not errors_on(page), errors_on(page)
    screenshot(page, "query-dcell-subsystems")

    page.get_by_role("tab", name="Plan").click()
    gene = page.locator("input[aria-label='Gene']:visible")
    gene.fill(gene_a)
    gene.press("Enter")
    wait_for_app(page)
    page.get_by_text("Unmeasured candidate pairs", exact=True).wait_for()
    assert page.get_by_role("button", name="Download all").is_visible()
    assert not errors_on(page), errors_on(page)
    screenshot(page, "query-plan")

    page.get_by_text("first interactions of unexplored genes first", exact=True).click()
    wait_for_app(page)
    page.get_by_text("pairs come first", exact=False).wait_for()
    assert not errors_on(page), errors_on(page)
    screenshot(page, "query-plan-first-interactions")
