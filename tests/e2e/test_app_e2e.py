"""The app in headless Chromium: every page renders, a training run finishes, a query answers."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import ROOT, errors_on, screenshot, wait_for_app

pytestmark = pytest.mark.e2e

# url path (st.Page's default: the file name) -> page file
PAGES = {p.stem: p for p in sorted((ROOT / "pages").glob("*.py"))}
PAGE_URL = {stem: "" if stem == "home" else stem for stem in PAGES}


def open_page(page, app_server, stem: str) -> None:
    page.goto(f"{app_server.url}/{PAGE_URL[stem]}")
    wait_for_app(page)


@pytest.mark.parametrize("stem", list(PAGES))
def test_every_page_renders_without_errors(page, app_server, stem):
    open_page(page, app_server, stem)
    assert page.locator("[data-testid='stMain']").is_visible()
    assert not errors_on(page), errors_on(page)
    screenshot(page, f"page-{stem}")


def test_home_shows_counts(page, app_server):
    open_page(page, app_server, "home")
    metrics = page.locator("[data-testid='stMetric']")
    assert metrics.count() >= 4
    assert "Genes" in metrics.first.inner_text()


def test_datasets_search_and_gene_detail(page, app_server):
    open_page(page, app_server, "datasets")
    box = page.get_by_role("textbox", name="Gene (systematic or standard name, or a prefix)")
    box.fill("YAL0")
    box.press("Enter")
    wait_for_app(page)
    assert page.get_by_text("Search matches").is_visible()
    assert page.locator("[data-testid='stVegaLiteChart']").count() == 2      # fitness and ε
    assert not errors_on(page)
    screenshot(page, "datasets-search")

    page.get_by_role("tab", name="Gene detail").click()
    detail = page.get_by_role("textbox", name="Gene (systematic or standard name)")
    detail.fill("YAL001W")
    detail.press("Enter")
    wait_for_app(page)
    assert page.get_by_text("CRE windows", exact=True).is_visible()
    assert page.get_by_text("Strongest partners", exact=True).is_visible()
    assert not errors_on(page)
    screenshot(page, "datasets-gene-detail")


def choose(page, label: str, option: str) -> None:
    """Pick ``option`` in the selectbox labelled ``label``."""
    page.get_by_role("combobox", name=label).click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_for_app(page)


def test_train_a_run_then_query_it(page, app_server):
    open_page(page, app_server, "train")
    choose(page, "embedder", "id")
    epochs = page.get_by_role("spinbutton", name="epochs", exact=True)
    epochs.fill("2")
    page.get_by_role("button", name="Start training").click()
    wait_for_app(page)
    # the live panel (st.fragment run_every) polls the run until it has finished
    page.get_by_text("Test Pearson r").wait_for(timeout=150_000)
    wait_for_app(page)
    panel_charts = page.locator("[data-testid='stVegaLiteChart']")
    assert panel_charts.count() >= 2                               # loss and correlation curves
    assert "done" in page.locator("[data-testid='stMain']").inner_text()
    assert not errors_on(page), errors_on(page)
    screenshot(page, "train-finished")

    con = app_server.workspace.connect(read_only=True)
    try:
        name_a, gene_b = con.execute(
            "SELECT ga.name, d.gene_b FROM dmf d JOIN genes ga ON ga.gene = d.gene_a "
            "WHERE ga.name <> ga.gene LIMIT 1").fetchone()
    finally:
        con.close()
    open_page(page, app_server, "query")
    box = page.get_by_role("textbox", name="Genes to delete (1–3, systematic or standard names)")
    box.fill(f"{name_a}, {gene_b}")
    box.press("Enter")
    wait_for_app(page)
    value = page.locator("[data-testid='stMetricValue']").first.inner_text()
    assert 0.0 <= float(value) <= 2.0, value
    assert not errors_on(page), errors_on(page)
    screenshot(page, "query-pair")

    # batch mode: upload a CSV of gene sets (one with a typo), get a table and a download
    page.get_by_role("tab", name="Batch").click()
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(files=[{
        "name": "sets.csv", "mimeType": "text/csv",
        "buffer": f"genes\n{name_a}\n\"{name_a},{gene_b}\"\n{name_a}x\n".encode(),
    }])
    wait_for_app(page)
    page.get_by_text(re.compile(r"2 gene set\(s\) × \d run\(s\) predicted")).wait_for()
    assert page.get_by_text("1 of 3 row(s) skipped").is_visible()
    download = page.get_by_role("button", name="Download predictions (CSV)")
    download.wait_for()                       # it streams in after the table
    assert download.is_visible()
    assert not errors_on(page), errors_on(page)
    screenshot(page, "query-batch")


def test_wt_stability_shows_the_wt_runs(page, app_server):
    open_page(page, app_server, "wt_stability")
    assert page.get_by_text("Spikes per run").is_visible()
    assert page.locator("[data-testid='stVegaLiteChart']").count() == 4
    assert not errors_on(page), errors_on(page)

