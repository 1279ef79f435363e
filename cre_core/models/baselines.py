"""Baselines fitted without gradient steps: ``mean`` and ``multiplicative``.

(The learned per-gene vector baseline, ``--embedder id``, is a :class:`~cre_core.models.deepset.DeepSet`
with ``learned=True``.)
"""

from __future__ import annotations

import torch

from cre_core.models.base import FitnessModel, set_mask


class MeanModel(FitnessModel):
    """Predicts the training mean for every strain."""

    trainable = False
    mean: torch.Tensor                       # buffers, declared for the type checker

    def __init__(self, mean: float = 1.0) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(float(mean)))

    def init_output(self, mean: float) -> None:
        self.mean.fill_(mean)

    def predict(self, idx: torch.Tensor) -> torch.Tensor:
        return self.mean.expand(idx.shape[0]).clone()


class Multiplicative(FitnessModel):
    """f(D) = Π_{g∈D} f_g from measured single-mutant fitness.

    A gene without a measured SMF uses ``fallback``: the mean of the measured SMFs (the
    caller's choice, stored in the checkpoint), so such pairs fall back to f_other · mean.
    """

    trainable = False
    reads_measured_smf = True
    smf: torch.Tensor
    fallback: torch.Tensor

    def __init__(self, smf: torch.Tensor, fallback: float | None = None) -> None:
        super().__init__()
        smf = smf.float().clone()
        measured = ~torch.isnan(smf)
        if fallback is None:
            fallback = float(smf[measured].mean()) if measured.any() else 1.0
        smf[~measured] = fallback
        self.register_buffer("smf", smf)
        self.register_buffer("fallback", torch.tensor(float(fallback)))

    def predict(self, idx: torch.Tensor) -> torch.Tensor:
        values = self.smf[idx.clamp(min=0)]
        values = torch.where(set_mask(idx), values, torch.ones_like(values))
        return values.prod(1)
