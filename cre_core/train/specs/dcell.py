"""DCell: a network per GO term over the ontology's hierarchy (:mod:`cre_core.models.dcell`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cre_core.train.option_spec import option
from cre_core.train.specs.base import BuildInputs, ModelSpec

if TYPE_CHECKING:
    import numpy as np
    import torch

    from cre_core.data.go import Ontology
    from cre_core.models import FitnessModel
    from cre_core.train.config import TrainConfig
    from cre_core.train.data import SetTable
    from cre_core.workspace import Workspace


PRECISIONS = ("fp32", "bf16")      # cre_core.models.dcell.PRECISIONS (tests check they match)


@dataclass
class DCellOptions:
    """DCell's options (``config.dcell``)."""

    min_genes: int = option(6, "dcell: keep GO terms with at least this many genes (after "
                            "propagation)", at_least=1)
    alpha: float = option(0.3, "dcell: weight of the per-term auxiliary losses", at_least=0, step=0.05)
    precision: str = option("fp32", "dcell: fp32, or bf16 for the big terms' products "
                            "(forward and backward; weights, gradients and BatchNorm "
                            "statistics stay fp32): faster on CPUs with AMX and on GPUs, "
                            "not exact", choices=PRECISIONS)


def _build(inputs: BuildInputs) -> FitnessModel:
    from cre_core.models import DCell

    if inputs.ontology is None:
        raise ValueError("dcell needs an ontology")
    c = inputs.config
    return DCell(inputs.n_genes, inputs.ontology, alpha=c.dcell.alpha, precision=c.dcell.precision)


def _ontology(ws: Workspace, table: SetTable, train: np.ndarray, config: TrainConfig,
              device: torch.device, echo: Callable[[str], None]) -> Ontology:
    """The GO hierarchy over the genes the training sets delete; refuses (CreError) one that
    will not fit in the device's memory."""
    from cre_core import runtime
    from cre_core.models import dcell
    from cre_core.train import data as D

    ontology = D.load_ontology(ws, table.genes, config.dcell.min_genes, D.deleted_genes(table, train))
    shape = dcell.plan(ontology, config.batch_size, config.dcell.precision)
    dcell.check_fits(shape, *runtime.device_memory(device))
    echo(shape.line())
    return ontology


DCELL = ModelSpec(
    name="dcell", help="DCell: a small network per GO term, wired as the ontology (explains subsystems)",
    build=_build, section="dcell", ontology=_ontology,
    fused_on_cpu=True)
