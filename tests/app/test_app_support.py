"""The app's non-UI helpers: gene-set parsing, run views, charts (titles and tooltips), overview."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from cre_core.errors import CreError
from cre_core.overview import overview
from cre_core.query.gene_sets import check_sets, parse_csv, parse_names
from cre_core.train.config import TrainConfig, options
from cre_core.train.run_tables import box_stats, comparison_table, runs_with_configs, thin_steps
from cre_core.workspace import Workspace
from dashboard import charts
from dashboard.train_form import field_applies
from tests.fake_runs import write_fake_run

# --- gene sets ---------------------------------------------------------------------------------


def test_parse_names():
    assert parse_names(" tfc3, YBR001C;x+y  z ") == ["tfc3", "YBR001C", "x", "y", "z"]
    assert parse_names("") == []


@pytest.mark.parametrize("text", [
    "genes\nTFC3,YBR001C\nYAL002W\n",
    "genes\n\"TFC3, YBR001C\"\nYAL002W\n",
    "gene1,gene2\nTFC3,YBR001C\nYAL002W,\n",
    "Gene_A;Gene_B\r\nTFC3;YBR001C\r\nYAL002W;\r\n",
    "\ufeffgene1\tgene2\nTFC3\tYBR001C\nYAL002W\t\n",
    "TFC3 YBR001C\nYAL002W\n\n",
])
def test_parse_csv_layouts(text):
    assert parse_csv(text.encode()).sets == [["TFC3", "YBR001C"], ["YAL002W"]]


def test_parse_csv_refuses_empty_and_huge():
    with pytest.raises(CreError, match="empty"):
        parse_csv(b"")
    with pytest.raises(CreError, match="at most"):
        parse_csv("genes\n" + "A\n" * 11, max_sets=10)


def test_check_sets_reports_problems_with_suggestions(tiny_workspace):
    con = tiny_workspace.connect(read_only=True)
    try:
        gene, name = con.execute("SELECT gene, name FROM genes WHERE name <> gene LIMIT 1").fetchone()
        good, problems = check_sets(con, [[gene], [name.lower(), "nope"], [gene, name], ["a", "b", "c", "d"]])
    finally:
        con.close()
    assert good == [[gene]]
    assert list(problems["row"]) == [2, 3, 4]
    assert problems["problem"][0].startswith("unknown gene 'nope'")
    assert "twice" in problems["problem"][1] and "at most 3" in problems["problem"][2]


# --- run views -----------------------------------------------------------------------------------


def test_form_covers_every_train_option():
    names = {s.name for s in options()}
    sections = {"wt", "dcell", "interaction"}                      # each model's own options
    assert {f.name for f in dataclasses.fields(TrainConfig)} - {"extra"} - sections <= names
    assert sum(len(dataclasses.fields(getattr(TrainConfig.of(model="mean"), s))) for s in sections) \
        == len(names - {f.name for f in dataclasses.fields(TrainConfig)})
    by_name = {s.name: s for s in options()}
    assert by_name["model"].required and "wt-diff" in by_name["model"].choices
    assert by_name["clip"].optional and by_name["subset"].optional and not by_name["epochs"].optional
    assert by_name["amp"].kind is bool and by_name["lr"].kind is float and by_name["epochs"].kind is int
    assert by_name["dropout"].minimum == 0 and by_name["patience"].minimum == 1
    # every default passes its own option's checks
    for s in options():
        if not s.required:
            assert s.problem(s.default) is None, s
    assert not field_applies("embedder", "mean") and field_applies("embedder", "deepset")
    assert field_applies("gene_dim", "deepset") and not field_applies("gene_dim", "dcell")
    assert field_applies("wt_warmup", "wt-diff") and not field_applies("wt_warmup", "deepset")
    assert field_applies("encoder_sense_view", "interaction") and not field_applies("encoder_sense_view", "dcell")


@pytest.fixture
def runs_ws(workspace_copy) -> Workspace:
    write_fake_run(workspace_copy, "r1", norm="batch", wt_mean=[1.0, 1.5, 1.0])
    write_fake_run(workspace_copy, "r2", model="deepset", seed=1, split="gene")
    write_fake_run(workspace_copy, "r3", model="wt-anchored", status="running", wt_mean=[1.0])
    return workspace_copy


def test_runs_with_configs_labels_and_test_sets(runs_ws):
    runs = runs_with_configs(runs_ws).set_index("run_id")
    assert runs.loc["r1", "label"] == "r1 · wt-diff · both/kmer · batchnorm"
    assert runs.loc["r1", "test_set"] != runs.loc["r2", "test_set"]          # random vs gene split
    table = comparison_table(runs.reset_index())
    assert {"Pearson r", "R² (variance explained)", "n"} <= set(table.columns)
    info = overview(runs_ws)
    assert info.n_runs == 3 and info.runs["done"] == 2
    assert info.runs["interrupted"] == 1          # "running" with no live process behind it


def test_thin_steps_keeps_spikes():
    steps = pd.DataFrame({"run": "a", "step": np.arange(10_000), "wt_mean": 1.0})
    keep = pd.DataFrame({"run": ["a"], "step": [4321]})
    thin = thin_steps(steps, max_points=100, keep=keep)
    assert len(thin) <= 101 and 4321 in set(thin["step"]) and thin["step"].is_monotonic_increasing


def test_box_stats_per_run_and_bin():
    rng = np.random.default_rng(0)
    true = rng.uniform(0, 1.1, 500)
    stats = box_stats({"a": pd.DataFrame({"true": true, "predicted": true}),
                       "b": pd.DataFrame({"true": true, "predicted": true * 0 + 0.5})})
    assert set(stats["run"]) == {"a", "b"} and stats.groupby("run")["n"].sum().eq(500).all()
    assert (stats[stats["run"] == "b"]["median"] == 0.5).all()


# --- charts: every chart has axis titles and tooltips ------------------------------------------------


def _layers(spec: dict):
    if "layer" in spec:
        for layer in spec["layer"]:
            yield from _layers(layer)
    else:
        yield spec


def _check(chart) -> None:
    spec = chart.to_dict()
    layers = list(_layers(spec))
    assert any("tooltip" in layer.get("encoding", {}) for layer in layers), "no tooltip"
    titled = {ch for layer in layers for ch in ("x", "y")
              if "title" in layer.get("encoding", {}).get(ch, {})}
    assert titled == {"x", "y"}, f"axis titles missing: {titled}"


def test_every_chart_has_axis_titles_and_tooltips():
    rng = np.random.default_rng(0)
    steps = pd.DataFrame({"run": "a", "step": np.arange(50), "wt_mean": 1 + rng.normal(0, 0.2, 50),
                          "loss": rng.random(50), "wt_loss": rng.random(50), "grad_norm": rng.random(50)})
    epochs = pd.DataFrame({"epoch": [1, 2], "train_loss": [0.1, 0.05], "val_loss": [0.1, 0.06],
                           "val_pearson": [0.5, 0.6], "val_spearman": [0.5, 0.6], "val_r2": [0.2, 0.3]})
    preds = pd.DataFrame({"true": rng.random(300), "predicted": rng.random(300)})
    big = pd.DataFrame({"true": rng.random(20_000), "predicted": rng.random(20_000)})
    from cre_core.train.stability import spike_steps

    made = [
        charts.histogram_chart(pd.DataFrame({"start": [0.0, 0.5], "end": [0.5, 1.0], "count": [3, 4]}), "fitness"),
        *charts.epoch_curves(epochs, "a"),
        charts.step_chart(steps, "grad_norm", "gradient norm", log=True),
        charts.wt_mean_chart(steps, spike_steps(steps, 0.1), 0.1),
        charts.box_chart(box_stats({"a": preds})),
        charts.pred_vs_true_chart(preds, "a"),
        charts.pred_vs_true_chart(big, "a"),                      # density for large n
        charts.metric_bars(pd.DataFrame({"run": ["a", "b"], "r2": [0.1, 0.2]}), "r2", "R²"),
        charts.partner_chart(pd.DataFrame({"partner": ["P1", "P2"], "name": ["N1", "P2"],
                                           "predicted": [0.2, 0.4], "epsilon_pred": [-0.1, 0.0]}),
                             "predicted", "predicted fitness"),
    ]
    for chart in made:
        _check(chart)


def test_density_grid_counts_every_point():
    rng = np.random.default_rng(1)
    t, p = rng.random(1000), rng.random(1000)
    assert charts.density_grid(t, p, bins=20)["count"].sum() == 1000


def test_wt_variants_are_valid_configs_on_one_split():
    from cre_core.train.run_tables import WT_VARIANTS, wt_variant_configs

    configs = wt_variant_configs(3, subset=1000)
    assert list(configs) == list(WT_VARIANTS)
    assert {c.model for c in configs.values()} == {"wt-diff", "wt-anchored"}
    assert {(c.split, c.split_seed, c.subset, c.epochs) for c in configs.values()} == {("random", 0, 1000, 3)}
    assert {c.norm for c in configs.values()} >= {"batch", "layer"}
    assert any(c.clip for c in configs.values()) and any(c.wt.warmup for c in configs.values())
