"""The Results and Query pages on a real run (../shared/realdata), in headless Chromium."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import errors_on, screenshot, wait_for_app

pytestmark = pytest.mark.e2e


def test_results_page_shows_the_real_runs(page, real_app_server):
    page.goto(f"{real_app_server.url}/results")
    wait_for_app(page, timeout=120_000)
    main = page.locator("[data-testid='stMain']")
    assert not errors_on(page), errors_on(page)
    page.get_by_text("Test metrics", exact=True).wait_for()
    text = main.inner_text()
    assert "deepset-both-" in text and "deepset-id-" in text
    assert page.locator("[data-testid='stVegaLiteChart']").count() >= 3   # R², r, ε r bars at least
    screenshot(page, "real-results")


def test_query_page_predicts_a_real_pair_by_standard_names(page, real_app_server):
    page.goto(f"{real_app_server.url}/query")
    wait_for_app(page, timeout=120_000)
    box = page.get_by_role("textbox", name="Genes to delete (1–3, systematic or standard names)")
    box.fill("rad51, RAD52")
    box.press("Enter")
    wait_for_app(page, timeout=120_000)
    assert not errors_on(page), errors_on(page)
    text = page.locator("[data-testid='stMain']").inner_text()
    assert "RAD51" in text and "YER095W" in text and "RAD52" in text and "YML032C" in text
    value = page.locator("[data-testid='stMetricValue']").first.inner_text()
    assert 0.0 <= float(value) <= 2.0, value
    screenshot(page, "real-query")
