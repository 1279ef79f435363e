"""A toy model added from outside the package: one module, one ``register`` call (the README's
"Adding a model")."""

from __future__ import annotations

import torch
from torch import nn

from cre_core.models.base import FitnessModel, set_mask
from cre_core.train.specs import ModelSpec


class Additive(FitnessModel):
    """f(D) = b + Σ_{g∈D} w_g: one learned effect per gene."""

    def __init__(self, n_genes: int) -> None:
        super().__init__()
        self.effect = nn.Parameter(torch.zeros(n_genes))
        self.bias = nn.Parameter(torch.zeros(()))

    def init_output(self, mean: float) -> None:
        with torch.no_grad():
            self.bias.fill_(mean)

    def predict(self, idx: torch.Tensor) -> torch.Tensor:
        mask = set_mask(idx)
        return self.bias + (self.effect[idx.clamp(min=0)] * mask).sum(1)


def _after_fit(run) -> None:
    """The post-fit hook: what it notes lands in the run's summary."""
    run.notes["toy"] = {"largest_effect": float(run.core.effect.detach().abs().max())}


SPEC = ModelSpec(name="toy-additive", help="b + Σ w_g (a test's toy)",
                 build=lambda inputs: Additive(inputs.n_genes), post_fit=_after_fit)
