"""The Query page's Subsystems (DCell) and Plan tabs in headless Chromium, on a tiny demo with a
short DCell run and a 3-member gene-id ensemble (trained by the CLI, as a user would)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from cre_core.workspace import Workspace
from tests.e2e.conftest import ROOT, AppServer, cli, free_port, screenshot, stop, wait_for_app, wait_healthy

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def explain_server(tiny_workspace, tmp_path_factory):
    base = tmp_path_factory.mktemp("e2e-explain")
    shutil.copytree(tiny_workspace.root, base / "ws", ignore=shutil.ignore_patterns("runs"))
    ws = Workspace(base / "ws")
    cli(ws, "train", "--model", "dcell", "--subset", "1500", "--epochs", "1", "--batch-size", "128")
    cli(ws, "train", "--model", "gene-id", "--epochs", "2", "--batch-size", "1024", "--hidden", "16",
        "--gene-dim", "16", "--ensemble", "3")
    port = free_port()
    url = f"http://localhost:{port}"
    log = base / "streamlit.log"
    env = {**os.environ, "CRE_WORKSPACE": str(ws.root), "PYTHONUNBUFFERED": "1"}
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
             "--server.headless", "true", "--server.address", "localhost",
             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_healthy(url, process, log)
        yield AppServer(url, ws, process, log)
    finally:
        stop(process)


def errors_on(page) -> list[str]:
    boxes = page.locator("[data-testid='stException'], [data-testid='stAlertContentError']")
    return [boxes.nth(i).inner_text() for i in range(boxes.count())]


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
