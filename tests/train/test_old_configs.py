"""Run folders saved before the option merges still load: configs and checkpoint signatures saved
by one-epoch runs of every model on the tiny demo with the code of commit 9fa2a40
(tests/fixtures/old_configs/<run>/: config.json as saved; checkpoint.json: the gene count,
feature width, DCell ontology and the shape of every weight of checkpoints/best.pt)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from cre_core.data.go import Ontology
from cre_core.train.config import TrainConfig, migrate
from cre_core.train.data import model_from_config

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "old_configs"
RUNS = sorted(p.name for p in FIXTURES.iterdir())
# what the merges renamed: everything else a config saved must come back unchanged
RENAMED = {"model", "embedder", "encoder_init", "encoder_sense_view", "encoder_pair_view"}


def _old(run: str) -> tuple[dict, dict]:
    return (json.loads((FIXTURES / run / "config.json").read_text()),
            json.loads((FIXTURES / run / "checkpoint.json").read_text()))


def test_the_fixtures_cover_every_old_model():
    models = {_old(run)[0]["model"] for run in RUNS}
    assert models == {"deepset", "wt-diff", "wt-anchored", "dcell", "mean", "multiplicative", "gene-id",
                      "interaction", "identity", "identity-seq"}


@pytest.mark.parametrize("run", RUNS)
def test_an_old_config_loads_migrates_and_rebuilds_its_model(run):
    old, saved = _old(run)
    config = TrainConfig.from_dict(old)
    new = config.to_dict()
    assert "dcell_alpha" in old and "dcell_alpha" not in new and new["dcell"]["alpha"] == old["dcell_alpha"]
    assert TrainConfig.from_dict(new) == config                      # the new form reads back as itself
    flat = config.flat()
    assert {k: v for k, v in old.items() if k not in RENAMED} == {k: flat[k] for k in old if k not in RENAMED}
    ontology = Ontology.from_dict(saved["ontology"]) if saved["ontology"] else None
    model = model_from_config(config, saved["n_genes"], saved["in_dim"], ontology,
                              torch.full((saved["n_genes"],), 0.9))
    # the model rebuilt from the migrated config has exactly the old checkpoint's weights
    assert {k: list(v.shape) for k, v in model.state_dict().items()} == saved["state"]


def test_old_spellings_take_the_merged_ones():
    by_model = {(old := _old(run)[0])["model"] + ("-" + old["embedder"] if old["embedder"] in ("id", "encoder")
                                                  else ""): old for run in RUNS}
    gene_id = TrainConfig.from_dict(by_model["gene-id"])
    assert (gene_id.model, gene_id.embedder, gene_id.gene_dim) == ("deepset", "id", by_model["gene-id"]["gene_dim"])
    assert not gene_id.uses_table
    inter = by_model["interaction-encoder"]
    assert inter["encoder_init"] == "words" and inter["encoder_pair_view"] is True
    migrated = TrainConfig.from_dict(inter)
    assert migrated.encoder_init == "enriched" and migrated.uses_encoder_sense_view
    assert not TrainConfig.from_dict({**inter, "encoder_pair_view": False}).uses_encoder_sense_view
    assert TrainConfig.from_dict({**inter, "encoder_sense_view": False}).uses_encoder_sense_view
    assert TrainConfig.from_dict(by_model["deepset-encoder"]).uses_encoder_sense_view
    assert "encoder_pair_view" not in migrate(inter)
