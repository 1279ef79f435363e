"""The wild-type models: wt-diff (the DeepSet's prediction minus the wild type's, plus 1) and
wt-anchored (ρ reads the pooled genes beside a learned wild-type vector)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from cre_core.train.option_spec import option
from cre_core.train.specs.base import BuildInputs, ModelSpec
from cre_core.train.specs.deepset import set_args

if TYPE_CHECKING:
    from cre_core.models import FitnessModel
    from cre_core.train.config import TrainConfig


@dataclass
class WtOptions:
    """wt-diff's options (``config.wt``)."""

    warmup: int = option(0, "wt-diff: first fit only the wild type to 1.0 for N steps",
                         at_least=0, at_most=1_000_000)
    copies: int = option(1, "wt-diff: copies of the wild-type (no deletion) set added to "
                         "every batch", at_least=1, at_most=4_096)


def _wt_diff(inputs: BuildInputs) -> FitnessModel:
    from cre_core.models import WtDiff

    return WtDiff(inputs.n_genes, inputs.in_dim, wt_copies=inputs.config.wt.copies, **set_args(inputs))


def _wt_anchored(inputs: BuildInputs) -> FitnessModel:
    from cre_core.models import WtAnchored

    return WtAnchored(inputs.n_genes, inputs.in_dim, **set_args(inputs))


def _warmup(config: TrainConfig) -> int:
    return config.wt.warmup


WT_DIFF = ModelSpec(
    name="wt-diff", help="f(D) = 1 + g(D) - g(∅): the DeepSet anchored by its wild-type prediction",
    build=_wt_diff, section="wt", reads_embeddings=True, wt_model=True, warmup_steps=_warmup)

WT_ANCHORED = ModelSpec(
    name="wt-anchored", help="the DeepSet whose ρ reads the pooled genes beside a learned wild-type vector",
    build=_wt_anchored, reads_embeddings=True, wt_model=True)
