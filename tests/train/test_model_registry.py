"""Adding a model is one module and one ``register`` call: a toy model trains, saves, rebuilds
and answers queries through the public path, and every built-in model has a complete spec."""

from __future__ import annotations

import json

import pytest
import torch

from cre_core.errors import CreError
from cre_core.query import service
from cre_core.train import specs
from cre_core.train.checkpoint import load_checkpoint
from cre_core.train.config import TrainConfig, applies, options
from cre_core.train.data import load_sets
from cre_core.train.loop import train_run
from cre_core.train.rebuild import rebuild_model
from cre_core.train.runs import list_runs
from tests import toy_model


@pytest.fixture
def toy():
    specs.register(toy_model.SPEC)
    try:
        yield toy_model.SPEC
    finally:
        specs.unregister(toy_model.SPEC.name)


def test_a_registered_toy_model_trains_saves_rebuilds_and_answers_queries(ws, toy):
    assert "toy-additive" in next(o for o in options() if o.name == "model").choices
    summary = train_run(ws, TrainConfig.of(model="toy-additive", epochs=3, batch_size=64, lr=0.05))
    assert summary["status"] == "done" and summary["model"] == "toy-additive"
    assert summary["features"] is None and summary["embedder"] is None     # it reads no embeddings
    folder = ws.runs_dir / summary["run_id"]
    assert json.loads((folder / "config.json").read_text())["model"] == "toy-additive"
    # the post-fit hook ran after the epochs and its note is in the summary
    best = load_checkpoint(folder / "checkpoints" / "best.pt")
    effect = best["model"]["effect"]
    assert summary["toy"]["largest_effect"] == pytest.approx(float(effect.abs().max()))
    assert float(effect.abs().max()) > 0                                    # it learned something

    model = rebuild_model(ws, best)
    assert isinstance(model, toy_model.Additive)
    assert torch.equal(model.effect, effect)

    table = load_sets(ws)
    a, b = table.genes[3], table.genes[11]
    expected = float(best["model"]["bias"] + effect[3] + effect[11])
    answer = service.predict(ws, summary["run_id"], [a, b])
    assert answer["predicted"] == pytest.approx(expected, abs=1e-5)
    runs = list_runs(ws)
    assert runs.loc[runs["run_id"] == summary["run_id"], "model"].item() == "toy-additive"


def test_an_unregistered_model_is_refused_and_names_the_choices(toy):
    specs.unregister(toy.name)
    try:
        with pytest.raises(CreError, match="--model must be one of deepset"):
            TrainConfig.of(model="toy-additive")
        with pytest.raises(ValueError, match="already registered"):
            specs.register(specs.get("deepset"))
    finally:
        specs.register(toy)


@pytest.mark.parametrize("name", specs.names())
def test_every_builtin_spec_builds_its_model_and_claims_real_options(name):
    spec = specs.get(name)
    assert spec.name == name and spec.help
    own = [o.name for o in options() if o.path[0] == spec.section]
    assert bool(own) == (spec.section is not None)
    assert all(applies(o, name) for o in own)
    config = TrainConfig.of(model=name, hidden=8)
    inputs = specs.BuildInputs(config, 6, in_dim=4, smf=torch.full((6,), 0.9),
                               ontology=_ontology() if spec.ontology else None)
    model = spec.build(inputs)
    assert model.wt_model == spec.wt_model
    assert model.predict(torch.tensor([[0, 1, -1]])).shape == (1,)


def _ontology():
    from cre_core.data.go import build_ontology

    genes = [f"g{i}" for i in range(6)]
    return build_ontology(genes, ["R", "A"], [("A", "R")], [(g, "A") for g in genes], min_genes=2)


def test_a_models_own_options_sit_in_its_section_and_show_for_it_only():
    config = TrainConfig.of(model="dcell", dcell_alpha=0.1, rank=8, wt_warmup=3)
    assert (config.dcell.alpha, config.interaction.rank, config.wt.warmup) == (0.1, 8, 3)
    saved = config.to_dict()
    assert saved["dcell"] == {"min_genes": 6, "alpha": 0.1, "precision": "fp32"} and "dcell_alpha" not in saved
    assert TrainConfig.from_dict(saved) == config == TrainConfig.from_dict(config.flat())
    assert applies("dcell_alpha", "dcell") and not applies("dcell_alpha", "interaction")
    assert applies("rank", "interaction") and not applies("rank", "deepset")
    assert applies("encoder_lr", "deepset") and not applies("encoder_lr", "mean") and applies("lr", "mean")
    with pytest.raises(CreError, match="--dcell-alpha must be at least 0"):
        TrainConfig.of(model="dcell", dcell_alpha=-1)


def test_wt_and_ontology_models_come_from_the_specs():
    assert specs.wt_models() == ("wt-diff", "wt-anchored")
    assert specs.ontology_models() == ("dcell",)
    assert [n for n in specs.names() if specs.get(n).reads_embeddings] == [
        "deepset", "wt-diff", "wt-anchored", "interaction", "identity-seq"]


def test_train_help_groups_the_options_by_model():
    from cre_core.cli import build_parser

    parser = build_parser()
    train = parser._subparsers._group_actions[0].choices["train"]
    groups = {g.title: [a.dest for a in g._group_actions] for g in train._action_groups}
    assert groups["--model dcell"] == ["dcell_min_genes", "dcell_alpha", "dcell_precision"]
    assert groups["--model wt-diff"] == ["wt_warmup", "wt_copies"]
    assert "rank" in groups["--model interaction"] and "gene_dim" in groups["gene representation"]
    assert groups["--model mean"] == []
    assert "encoder_lr" in groups["gene representation"] and "lr" in groups["options every model reads"]
    text = train.format_help()
    assert text.index("options every model reads") < text.index("--model deepset:") < text.index("--model dcell:")
