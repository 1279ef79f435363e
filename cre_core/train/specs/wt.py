"""The wild-type models: wt-diff (the DeepSet's prediction minus the wild type's, plus 1) and
wt-anchored (ρ reads the pooled genes beside a learned wild-type vector)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cre_core.train.specs.base import BuildInputs, ModelSpec
from cre_core.train.specs.deepset import set_args

if TYPE_CHECKING:
    from cre_core.models import FitnessModel
    from cre_core.train.config import TrainConfig


def _wt_diff(inputs: BuildInputs) -> FitnessModel:
    from cre_core.models import WtDiff

    return WtDiff(inputs.n_genes, inputs.in_dim, wt_copies=inputs.config.wt_copies, **set_args(inputs))


def _wt_anchored(inputs: BuildInputs) -> FitnessModel:
    from cre_core.models import WtAnchored

    return WtAnchored(inputs.n_genes, inputs.in_dim, **set_args(inputs))


def _warmup(config: TrainConfig) -> int:
    return config.wt_warmup


WT_DIFF = ModelSpec(
    name="wt-diff", help="f(D) = 1 + g(D) - g(∅): the DeepSet anchored by its wild-type prediction",
    build=_wt_diff, options=("wt_warmup", "wt_copies"), reads_embeddings=True, wt_model=True,
    warmup_steps=_warmup)

WT_ANCHORED = ModelSpec(
    name="wt-anchored", help="the DeepSet whose ρ reads the pooled genes beside a learned wild-type vector",
    build=_wt_anchored, reads_embeddings=True, wt_model=True)
