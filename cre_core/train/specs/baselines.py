"""The closed-form baselines: ``mean`` (the training mean) and ``multiplicative`` (the product of
the genes' measured single-mutant fitness) (:mod:`cre_core.models.baselines`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cre_core.train.specs.base import BuildInputs, ModelSpec

if TYPE_CHECKING:
    from cre_core.models import FitnessModel


def _mean(_inputs: BuildInputs) -> FitnessModel:
    from cre_core.models import MeanModel

    return MeanModel()


def _multiplicative(inputs: BuildInputs) -> FitnessModel:
    import torch

    from cre_core.models import Multiplicative

    # a query rebuilds it without the store: its buffers (the checkpoint) hold the SMF table
    smf = inputs.smf if inputs.smf is not None else torch.full((inputs.n_genes,), torch.nan)
    return Multiplicative(smf)


MEAN = ModelSpec(name="mean", help="the training mean for every strain (baseline)", build=_mean)

MULTIPLICATIVE = ModelSpec(
    name="multiplicative", help="the product of the deleted genes' measured single-mutant fitness (baseline)",
    build=_multiplicative)
