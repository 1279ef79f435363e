"""DCell: a network per GO term over the ontology's hierarchy (:mod:`cre_core.models.dcell`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from cre_core.train.specs.base import BuildInputs, ModelSpec

if TYPE_CHECKING:
    import numpy as np
    import torch

    from cre_core.models import FitnessModel, Ontology
    from cre_core.train.config import TrainConfig
    from cre_core.train.data import SetTable
    from cre_core.workspace import Workspace


def _build(inputs: BuildInputs) -> FitnessModel:
    from cre_core.models import DCell

    if inputs.ontology is None:
        raise ValueError("dcell needs an ontology")
    c = inputs.config
    return DCell(inputs.n_genes, inputs.ontology, alpha=c.dcell_alpha, precision=c.dcell_precision)


def _ontology(ws: Workspace, table: SetTable, train: np.ndarray, config: TrainConfig,
              device: torch.device, echo: Callable[[str], None]) -> Ontology:
    """The GO hierarchy over the genes the training sets delete; refuses (CreError) one that
    will not fit in the device's memory."""
    from cre_core import runtime
    from cre_core.models import dcell
    from cre_core.train import data as D

    ontology = D.load_ontology(ws, table.genes, config.dcell_min_genes, D.deleted_genes(table, train))
    shape = dcell.plan(ontology, config.batch_size, config.dcell_precision)
    dcell.check_fits(shape, *runtime.device_memory(device))
    echo(shape.line())
    return ontology


DCELL = ModelSpec(
    name="dcell", help="DCell: a small network per GO term, wired as the ontology (explains subsystems)",
    build=_build, options=("dcell_min_genes", "dcell_alpha", "dcell_precision"), ontology=_ontology,
    fused_on_cpu=True)
