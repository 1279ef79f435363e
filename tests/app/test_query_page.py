"""The Query and Results pages with an ensemble run: intervals, training support, ceilings, labels."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from cre_core.query.format import fmt_interval, fmt_support, fmt_value, tidy_zeros
from cre_core.train import data as D
from cre_core.train.config import TrainConfig
from cre_core.train.loop import train_run
from cre_core.train.run_tables import runs_with_configs
from cre_core.workspace import Workspace
from tests.app.test_pages import app, problems
from tests.fake_runs import write_fake_run

ENSEMBLE = dict(model="deepset", embedder="id", split="gene", epochs=2, batch_size=1024, hidden=16, gene_dim=16)


@pytest.fixture(scope="module")
def ensemble_workspace(tiny_workspace, tmp_path_factory):
    """The tiny demo with a 3-member gene-split ensemble and a single model beside it."""
    root = tmp_path_factory.mktemp("qpage") / "ws"
    shutil.copytree(tiny_workspace.root, root, ignore=shutil.ignore_patterns("runs"))
    ws = Workspace(root)
    ens = train_run(ws, TrainConfig.of(**ENSEMBLE, ensemble=3), echo=lambda m: None)["run_id"]
    single = train_run(ws, TrainConfig.of(**ENSEMBLE), echo=lambda m: None)["run_id"]
    return ws, ens, single


def test_values_never_read_minus_zero():
    assert fmt_value(-0.00001) == "0.0000" and fmt_value(-0.00006) == "-0.0001"
    assert fmt_value(None) == fmt_value(float("nan")) == "–" and fmt_value(0.12345) == "0.1235"
    assert fmt_interval(-0.00002, 0.5) == "[0.0000, 0.5000]" and fmt_interval(None, 0.5) == "no interval"
    assert fmt_support(0) == "never seen" and fmt_support(312) == "seen in training: 312 strains"
    tidy = tidy_zeros(pd.Series([-0.00001, -0.2, 0.3, np.nan]))
    assert [f"{v:.4f}" for v in tidy[:3]] == ["0.0000", "-0.2000", "0.3000"] and tidy.isna().iloc[3]


def test_query_page_shows_interval_and_training_support(ensemble_workspace, monkeypatch):
    ws, ens, single = ensemble_workspace
    table, split = D.training_rows(ws, TrainConfig.of(**ENSEMBLE))
    trained = table.idx[split.train].ravel()
    seen = np.bincount(trained[trained >= 0], minlength=table.n_genes)
    test_gene = table.genes[int(table.idx[split.test][0, 0])]
    train_gene = table.genes[int(np.argmax(seen))]
    at = app("query.py", ws, monkeypatch).run()
    assert set(at.multiselect(key="q_runs").value) == {ens, single}
    labels = [at.multiselect(key="q_runs").format_func(r) for r in (ens, single)]
    assert "ensemble of 3" in labels[0] and not any("nan" in label for label in labels)
    at.text_input(key="q_genes").set_value(f"{test_gene}, {train_gene}").run()
    assert not problems(at), problems(at)
    text = " ".join(m.value for m in at.markdown)
    assert "never seen" in text and f"seen in training: {seen[table.genes.index(train_gene)]:,} strains" in text
    shown = at.dataframe[0].value.set_index("members")
    assert shown.loc[3, "predicted_lo"] < shown.loc[3, "predicted"] < shown.loc[3, "predicted_hi"]
    assert np.isnan(shown.loc[1, "predicted_lo"])
    captions = " ".join(c.value for c in at.caption)
    first = shown.iloc[0]
    if first.name == 3:
        assert f"80% interval [{fmt_value(first['predicted_lo'])}, {fmt_value(first['predicted_hi'])}]" in captions
    assert not at.warning                                        # pairs: the size trained on
    third = next(g for g in table.genes if g not in (test_gene, train_gene))
    at.text_input(key="q_genes").set_value(f"{test_gene}, {train_gene}, {third}").run()
    assert not problems(at), problems(at)
    warned = any("were not in the training data" in w.value for w in at.warning)
    assert warned == (3 not in set(table.size[split.train].tolist())), [w.value for w in at.warning]


def test_partner_scan_draws_the_interval(ensemble_workspace, monkeypatch):
    ws, ens, _ = ensemble_workspace
    at = app("query.py", ws, monkeypatch).run()
    at.selectbox(key="q_scan_run").set_value(ens)
    gene = D.load_sets(ws).genes[0]
    at.text_input(key="q_scan_gene").set_value(gene).run()
    assert not problems(at), problems(at)
    scan = at.dataframe[0].value
    assert (scan["predicted_lo"] < scan["predicted_hi"]).all() and "train_count" in scan
    spec = at.get("vega_lite_chart")[0].proto.spec
    assert "predicted_lo" in spec


def test_results_page_draws_ceilings_and_fractions(ensemble_workspace, monkeypatch, tmp_path):
    ws, ens, single = ensemble_workspace
    root = tmp_path / "ws"
    shutil.copytree(ws.root, root)
    copy = Workspace(root)
    write_fake_run(copy, "fake-ceiling", model="deepset", embedder="kmer", split="gene", subset=None)
    path = copy.runs_dir / "fake-ceiling" / "summary.json"
    summary = json.loads(path.read_text())
    summary["ceilings"] = {"replicate": {"fitness_r": 0.9, "epsilon_r": 0.6},
                           "truth": {"fitness_r": 0.5, "epsilon_r": 0.3}}
    path.write_text(json.dumps(summary))
    runs = runs_with_configs(copy).set_index("run_id")
    assert runs.loc["fake-ceiling", "ceiling_r"] == 0.5
    assert runs.loc["fake-ceiling", "r_of_ceiling"] == pytest.approx(summary["pearson"] / 0.5)
    at = app("results.py", copy, monkeypatch).run()
    at.multiselect(key="res_runs").set_value(at.multiselect(key="res_runs").options).run()
    assert not problems(at), problems(at)
    table = at.dataframe[0].value.set_index("run")
    fake = [r for r in table.index if r.startswith("fake-ceiling")][0]
    assert table.loc[fake, "r / ceiling"] == pytest.approx(summary["pearson"] / 0.5)
    ensemble = [r for r in table.index if r.startswith(ens)][0]
    assert 0.6 < table.loc[ensemble, "80% interval coverage"] < 0.95
    specs = [c.proto.spec for c in at.get("vega_lite_chart")]
    assert any('"tick"' in s and "ceiling_r" in s for s in specs)


@pytest.mark.parametrize("page", ["train.py", "results.py", "wt_stability.py"])
def test_pages_render_an_ensemble_run(ensemble_workspace, monkeypatch, page):
    ws, ens, _ = ensemble_workspace
    at = app(page, ws, monkeypatch).run()
    assert not problems(at), problems(at)
