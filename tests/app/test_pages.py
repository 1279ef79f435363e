"""AppTest checks of the Streamlit app: every page renders, and each page shows the right numbers.

Two workspaces: the tiny demo as built (no runs: every page's empty state), and a copy with one
real trained run (deepset --embedder id, one epoch, trained by the CLI) plus hand-written wt runs with known
wt_mean spikes (tests/fake_runs.py).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from cre_core.atomic import read_json
from cre_core.data.store import counts
from cre_core.processes import alive
from cre_core.query import service
from cre_core.train.runs import list_runs
from cre_core.workspace import Workspace
from tests.fake_runs import write_fake_run

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted(p.name for p in (ROOT / "pages").glob("*.py"))
TIMEOUT = 60


def app(script: str, workspace: Workspace, monkeypatch) -> AppTest:
    """An AppTest of ``script`` (app.py or a page file) on ``workspace``."""
    monkeypatch.setenv("CRE_WORKSPACE", str(workspace.root))
    path = ROOT / script if script == "app.py" else ROOT / "pages" / script
    return AppTest.from_file(str(path), default_timeout=TIMEOUT)


def problems(at: AppTest) -> list[str]:
    """Exceptions and error boxes on the page: none may be there."""
    return [e.value for e in at.exception] + [e.value for e in at.error]


def train_cli(ws: Workspace, *args: str) -> dict:
    """Train one run in a child process, as a user would; returns its summary line."""
    out = subprocess.run(
        [sys.executable, "-m", "cre_core", "train", "--workspace", str(ws.root), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def runs_workspace(tiny_workspace, tmp_path_factory) -> Workspace:
    """The tiny demo plus a real deepset --embedder id run and three hand-written wt runs."""
    root = tmp_path_factory.mktemp("pages") / "ws"
    shutil.copytree(tiny_workspace.root, root, ignore=shutil.ignore_patterns("runs"))
    ws = Workspace(root)
    train_cli(ws, "--model", "deepset", "--embedder", "id", "--epochs", "1", "--seed", "0")
    rng = np.random.default_rng(0)
    write_fake_run(ws, "fake-bn", norm="batch",
                   wt_mean=[1.0, 1.0, 1.4, 1.5, 1.0, 0.7, 1.0, 1.01] + list(1 + rng.normal(0, 0.01, 40)))
    write_fake_run(ws, "fake-ln", norm="layer", wt_mean=[1.0] * 48, seed=1)
    write_fake_run(ws, "fake-anchored", model="wt-anchored", wt_mean=[1.0] * 48, seed=2)
    return ws


@pytest.mark.parametrize("page", ["app.py", *PAGES])
@pytest.mark.parametrize("which", ["empty", "runs"])
def test_page_renders_without_errors(page, which, tiny_workspace, runs_workspace, monkeypatch):
    ws = tiny_workspace if which == "empty" else runs_workspace
    at = app(page, ws, monkeypatch).run()
    assert not problems(at), problems(at)


@pytest.mark.parametrize("page", ["app.py", *PAGES])
def test_page_explains_a_missing_workspace(page, tmp_path, monkeypatch):
    """No store: the page says how to build one (a warning), and never raises."""
    at = app(page, Workspace(tmp_path / "nowhere"), monkeypatch).run()
    assert not at.exception
    assert any("No workspace store" in w.value for w in at.warning)


@pytest.mark.parametrize("page", ["train.py", "wt_stability.py", "results.py", "query.py"])
def test_empty_states_point_to_train(page, tiny_workspace, monkeypatch):
    at = app(page, tiny_workspace, monkeypatch).run()
    assert not problems(at)
    assert any("Train" in i.value or "Start training" in i.value for i in at.info), [i.value for i in at.info]


def test_home_counts_equal_the_store(tiny_workspace, monkeypatch):
    con = tiny_workspace.connect(read_only=True)
    try:
        expected = counts(con)
    finally:
        con.close()
    at = app("app.py", tiny_workspace, monkeypatch).run()
    shown = {m.label: m.value for m in at.metric}
    assert shown["Genes"] == f"{expected['genes']:,}"
    assert shown["Single mutants (SMF)"] == f"{expected['smf']:,}"
    assert shown["Gene pairs (DMF)"] == f"{expected['dmf']:,}"
    assert shown["Raw SGA rows"] == f"{expected['sga']:,}"
    assert shown["GO terms"] == f"{expected['go_terms']:,}"
    assert shown["Training runs"] == "0"
    assert str(tiny_workspace.root) in " ".join(m.value for m in at.markdown)
    assert "Demo workspace" in " ".join(i.value for i in at.info)


def test_home_counts_runs(runs_workspace, monkeypatch):
    at = app("home.py", runs_workspace, monkeypatch).run()
    shown = {m.label: m.value for m in at.metric}
    assert shown["Training runs"] == "4" and shown["Finished runs"] == "4"


def test_sidebar_workspace_chooser_switches_workspace(tiny_workspace, tmp_path, monkeypatch):
    at = app("app.py", tiny_workspace, monkeypatch).run()
    assert at.sidebar.text_input[0].value == str(tiny_workspace.root)
    at.sidebar.text_input[0].set_value(str(tmp_path / "elsewhere")).run()
    assert not at.exception and not at.metric
    assert any("No workspace store" in w.value for w in at.warning)


def test_datasets_search_finds_a_gene(tiny_workspace, monkeypatch):
    con = tiny_workspace.connect(read_only=True)
    try:
        gene, name = con.execute(
            "SELECT gene, name FROM genes WHERE name <> gene ORDER BY gene LIMIT 1").fetchone()
        n_pairs = con.execute(
            "SELECT count(*) FROM dmf WHERE gene_a = ? OR gene_b = ?", [gene, gene]).fetchone()[0]
    finally:
        con.close()
    at = app("datasets.py", tiny_workspace, monkeypatch).run()
    assert at.selectbox(key="ds_table").value == "dmf"
    at.text_input(key="ds_search").set_value(name.lower()).run()
    assert not problems(at), problems(at)
    assert any(f"**{n_pairs:,}** rows match" in m.value for m in at.markdown)
    rows = at.dataframe[0].value
    assert len(rows) == min(n_pairs, 50)
    assert ((rows["gene_a"] == gene) | (rows["gene_b"] == gene)).all()
    assert len(at.get("vega_lite_chart")) == 2                    # fitness and ε histograms

    at.text_input(key="ds_detail_gene").set_value(gene).run()
    assert not problems(at), problems(at)
    assert any(name in s.value for s in at.subheader)


def test_datasets_filters_and_paging(tiny_workspace, monkeypatch):
    con = tiny_workspace.connect(read_only=True)
    try:
        n = con.execute("SELECT count(*) FROM sga WHERE query_kind = 'deletion' AND array_kind = 'deletion' "
                        "AND temperature = 26").fetchone()[0]
    finally:
        con.close()
    at = app("datasets.py", tiny_workspace, monkeypatch).run()
    at.selectbox(key="ds_table").set_value("sga").run()
    at.multiselect(key="ds_kinds").set_value(["deletion"]).run()
    at.multiselect(key="ds_temps").set_value([26]).run()
    assert not problems(at), problems(at)
    assert any(f"**{n:,}** rows match" in m.value for m in at.markdown)
    rows = at.dataframe[0].value
    assert set(rows["query_kind"]) == {"deletion"} and set(rows["temperature"]) == {26}


def test_datasets_pages_through_rows(tiny_workspace, monkeypatch):
    con = tiny_workspace.connect(read_only=True)
    try:
        third = con.execute("SELECT gene_a, gene_b FROM dmf LIMIT 50 OFFSET 100").df()
        total = con.execute("SELECT count(*) FROM dmf").fetchone()[0]
    finally:
        con.close()
    at = app("datasets.py", tiny_workspace, monkeypatch).run()
    at.pagination[0].set_value(3).run()
    assert not problems(at), problems(at)
    assert any(f"page 3 of {-(-total // 50):,}" in m.value for m in at.markdown)
    shown = at.dataframe[0].value
    assert list(shown["gene_a"]) == list(third["gene_a"]) and list(shown["gene_b"]) == list(third["gene_b"])


def test_datasets_sql_box(tiny_workspace, monkeypatch):
    at = app("datasets.py", tiny_workspace, monkeypatch).run()
    at.text_area(key="ds_sql").set_value("SELECT count(*) AS n FROM genes").run()
    at.button(key="ds_sql_run").click().run()
    assert not problems(at)
    assert int(at.dataframe[-1].value["n"][0]) == 300
    at.text_area(key="ds_sql").set_value("DELETE FROM genes").run()
    at.button(key="ds_sql_run").click().run()
    assert any("not allowed" in e.value for e in at.error)


def test_wt_stability_counts_spikes(runs_workspace, monkeypatch):
    at = app("wt_stability.py", runs_workspace, monkeypatch).run()
    assert not problems(at), problems(at)
    table = at.dataframe[0].value.set_index("run")
    bn = [r for r in table.index if r.startswith("fake-bn")][0]
    assert table.loc[bn, "spikes"] == 2 and table.loc[bn, "spike_steps"] == 3   # 1.4, 1.5 | 0.7
    assert table.loc[[r for r in table.index if r.startswith("fake-ln")][0], "spikes"] == 0
    assert len(at.get("vega_lite_chart")) == 4
    at.number_input(key="wt_threshold").set_value(0.45).run()
    assert at.dataframe[0].value.set_index("run").loc[bn, "spikes"] == 1       # only 1.5 is left


def test_results_compares_runs_on_one_test_set(runs_workspace, monkeypatch):
    runs = list_runs(runs_workspace).set_index("run_id")
    at = app("results.py", runs_workspace, monkeypatch).run()
    assert not problems(at), problems(at)
    table = at.dataframe[0].value
    assert len(table) == 4
    real = [r for r in runs.index if "deepset-id-" in r][0]
    row = table[table["run"].str.startswith(real)].iloc[0]
    assert row["Pearson r"] == pytest.approx(runs.loc[real, "test_pearson"])
    assert row["R² (variance explained)"] == pytest.approx(runs.loc[real, "test_r2"])
    assert row["n"] == runs.loc[real, "n_test"]
    assert len(at.get("vega_lite_chart")) >= 5                     # bars ×2, box, scatter, curves
    assert len(at.get("download_button")) == 4


def test_query_shows_the_runs_prediction(runs_workspace, monkeypatch):
    real = [r for r in list_runs(runs_workspace)["run_id"] if "deepset-id-" in r][0]
    con = runs_workspace.connect(read_only=True)
    try:
        (a, name_a), (b, _) = con.execute(
            "SELECT gene, name FROM genes WHERE gene IN (SELECT gene_a FROM dmf LIMIT 1) "
            "OR gene IN (SELECT gene_b FROM dmf LIMIT 1) ORDER BY gene").fetchall()
    finally:
        con.close()
    expected = service.predict(runs_workspace, real, [name_a, b])
    at = app("query.py", runs_workspace, monkeypatch).run()
    assert at.multiselect(key="q_runs").value == [real]            # fake runs have no model
    at.text_input(key="q_genes").set_value(f"{name_a.lower()}, {b}").run()
    assert not problems(at), problems(at)
    table = at.dataframe[0].value
    assert table["predicted"].iloc[0] == pytest.approx(expected["predicted"], abs=1e-12)
    assert table["measured_fitness"].iloc[0] == pytest.approx(expected["measured_fitness"])
    assert at.metric[0].value == f"{expected['predicted']:.4f}"

    at.text_input(key="q_genes").set_value(f"{a}, notagene").run()
    assert not problems(at)
    assert any("notagene" in w.value for w in at.warning)


def test_query_partner_scan(runs_workspace, monkeypatch):
    real = [r for r in list_runs(runs_workspace)["run_id"] if "deepset-id-" in r][0]
    con = runs_workspace.connect(read_only=True)
    try:
        gene = con.execute("SELECT gene_a FROM dmf LIMIT 1").fetchone()[0]
    finally:
        con.close()
    expected = service.scan(runs_workspace, real, gene, top_k=20, order="epsilon")
    at = app("query.py", runs_workspace, monkeypatch).run()
    at.text_input(key="q_scan_gene").set_value(gene).run()
    at.radio(key="q_scan_order").set_value("epsilon").run()
    assert not problems(at), problems(at)
    shown = at.dataframe[0].value
    assert list(shown["partner"]) == list(expected["partner"])
    assert len(at.get("vega_lite_chart")) == 1


def test_train_page_launches_a_run_that_finishes(workspace_copy, monkeypatch):
    at = app("train.py", workspace_copy, monkeypatch).run()
    assert any("No runs yet" in i.value for i in at.info)
    at.selectbox(key="cfg_embedder").set_value("id").run()
    at.number_input(key="cfg_epochs").set_value(1)
    at.button[0].click().run()                                     # Start training (the form)
    assert not problems(at), problems(at)
    run_id = at.session_state["train_run"]
    deadline = time.monotonic() + 120
    while list_runs(workspace_copy).set_index("run_id").loc[run_id, "status"] in ("queued", "running"):
        assert time.monotonic() < deadline, "the launched run did not finish in 120 s"
        time.sleep(1)
    at.run()
    assert not problems(at), problems(at)
    assert any(":green-badge[done]" in m.value for m in at.markdown)
    assert len(at.metric) == 5 and len(at.get("vega_lite_chart")) == 2
    summary = json.loads((workspace_copy.runs_dir / run_id / "summary.json").read_text())
    assert at.metric[0].value == f"{summary['pearson']:.4f}"


def wait_status(ws: Workspace, run_id: str, wanted: set[str], timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while True:
        status = list_runs(ws).set_index("run_id").loc[run_id, "status"]
        if status in wanted:
            return status
        assert time.monotonic() < deadline, f"run {run_id} still {status} after {timeout} s"
        time.sleep(0.5)


def test_train_page_stops_and_resumes_a_run(workspace_copy, monkeypatch):
    at = app("train.py", workspace_copy, monkeypatch).run()
    at.selectbox(key="cfg_embedder").set_value("id").run()
    at.number_input(key="cfg_epochs").set_value(500)
    at.button[0].click().run()
    run_id = at.session_state["train_run"]
    try:
        wait_status(workspace_copy, run_id, {"running"})
        status_file = workspace_copy.runs_dir / run_id / "status.json"
        first_pid = read_json(status_file)["pid"]
        at.run()
        at.button(key=f"stop_{run_id}").click().run()
        assert wait_status(workspace_copy, run_id, {"interrupted", "done"}) == "interrupted"
        at.run()
        assert any(":orange-badge[interrupted]" in m.value for m in at.markdown)
        at.button(key=f"resume_{run_id}").click().run()
        assert not problems(at), problems(at)
        wait_status(workspace_copy, run_id, {"running"})          # the relaunched process took over
        status = read_json(status_file)
        assert status["pid"] != first_pid and alive(status)
        log = (workspace_copy.runs_dir / run_id / "train.log").read_text()
        assert "--resume" in log.split("\n$ ")[-1].splitlines()[0]  # its command line
    finally:
        from cre_core.train import jobs

        jobs.stop(workspace_copy, run_id)
        wait_status(workspace_copy, run_id, {"interrupted", "done", "failed"})


def test_train_form_shows_each_models_options(tiny_workspace, monkeypatch):
    from cre_core.train import specs

    at = app("train.py", tiny_workspace, monkeypatch).run()
    for model in specs.names():
        at.selectbox(key="cfg_model").set_value(model).run()
        assert not problems(at), (model, problems(at))
        keys = {w.key for w in [*at.number_input, *at.selectbox, *at.checkbox, *at.text_input]}
        assert ("cfg_embedder" in keys) == specs.get(model).reads_embeddings, model
        assert ("cfg_smf_aware" in keys) == ("cfg_rank" in keys) == (model == "interaction"), model
        assert ("cfg_pair_from" in keys) == ("cfg_pair_ridge" in keys) == (model == "interaction"), model
        assert ("cfg_wt_warmup" in keys) == (model == "wt-diff"), model
        assert ("cfg_dcell_alpha" in keys) == ("cfg_dcell_precision" in keys) == (model == "dcell"), model
