"""Markdown injection in the browser: a gene named with markdown, and a model typed into the
Embeddings form, show as text; the image they name is never requested from a local server."""

from __future__ import annotations

import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import duckdb
import pytest

from cre_core.atomic import write_json_atomic
from cre_core.embed.jobs import jobs_dir
from cre_core.workspace import Workspace
from tests.e2e.conftest import free_port, screenshot, serve, wait_for_app

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def trap():
    """A local HTTP server that records every request (the image must never arrive)."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server API
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], hits
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def injected_app(tiny_workspace, tmp_path_factory, trap):
    port, _ = trap
    payload = f"**PWN**![t](http://127.0.0.1:{port}/t.png)[clickme](http://evil.example/)"
    root = tmp_path_factory.mktemp("inject") / "ws"
    shutil.copytree(tiny_workspace.root, root, ignore=shutil.ignore_patterns("runs"))
    ws = Workspace(root)
    con = duckdb.connect(str(ws.db_path))
    (gene,) = con.execute("SELECT min(gene) FROM genes").fetchall()[0]
    con.execute("UPDATE genes SET name = ? WHERE gene = ?", [payload, gene])
    con.close()
    folder = jobs_dir(ws) / "20260101-000000-specieslm-beef"
    folder.mkdir(parents=True)
    write_json_atomic(folder / "job.json", {"job": folder.name, "pid": None, "embedder": "specieslm",
                                            "model": payload, "regions": ["upstream"]})
    write_json_atomic(folder / "progress.json", {"state": "failed", "error": f"cannot load {payload}"})
    with serve(ws, root.parent) as server:
        yield server.url, payload, gene


def assert_inert(page, payload: str, hits: list[str]) -> None:
    main = page.locator("[data-testid='stMain']")
    assert payload in main.inner_text().replace("\u2060", "")      # the text it is (word joiners aside)
    assert page.locator("img[src*='t.png']").count() == 0
    assert page.locator("a[href*='evil.example']").count() == 0
    page.wait_for_timeout(500)
    assert hits == []                                                # never fetched


def test_a_gene_name_with_markdown_is_text_on_datasets(page, injected_app, trap):
    url, payload, gene = injected_app
    page.goto(f"{url}/datasets")
    wait_for_app(page)
    page.get_by_role("tab", name="Gene detail").click()
    box = page.get_by_role("textbox", name="Gene (systematic or standard name)")
    box.fill(gene)
    box.press("Enter")
    wait_for_app(page)
    screenshot(page, "injection-datasets")
    assert_inert(page, payload, trap[1])


def test_a_typed_model_is_text_on_embeddings(page, injected_app, trap):
    url, payload, _ = injected_app
    page.goto(f"{url}/embeddings")
    wait_for_app(page)
    screenshot(page, "injection-embeddings")
    assert_inert(page, payload, trap[1])
