"""What a model is, in one object: ``ModelSpec`` (its name, help, options, construction and
training hooks) and ``BuildInputs`` (what a model is built from).

Specs import no torch at module level (the CLI builds its parser from them and starts without
torch); their hooks import what they need when called.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import torch

    from cre_core.data.go import Ontology
    from cre_core.models import FitnessModel, GeneRepresentation
    from cre_core.train.config import TrainConfig
    from cre_core.train.data import SetTable
    from cre_core.workspace import Workspace


@dataclass(frozen=True)
class BuildInputs:
    """The values a model is built from: the run's options and what the data gives (no paths).

    ``in_dim``: width of the feature table (0: none); ``genes``: a gene representation that
    replaces the feature table (the sequence encoder); ``ontology``: what the spec's
    ``ontology`` hook loaded; ``smf``: measured single-mutant fitness per gene (NaN: none).
    """

    config: TrainConfig
    n_genes: int
    in_dim: int = 0
    genes: GeneRepresentation | None = None
    ontology: Ontology | None = None
    smf: torch.Tensor | None = None


def _never(_config: TrainConfig) -> bool:
    return False


def _no_warmup(_config: TrainConfig) -> int:
    return 0


def _sense_view(config: TrainConfig) -> bool:
    return config.encoder_sense_view


@dataclass(frozen=True)
class ModelSpec:
    """One model, as training, rebuilding, queries, run tables and the Train form see it.

    A checkpoint holds the weights, the config, the gene vocabulary, the feature width and
    standardisation (models that read a table) and the ontology (models with an ``ontology``
    hook): ``rebuild_model`` needs nothing else. A model fitted in closed form says so itself
    (``FitnessModel.trainable`` False and its ``fit``): the loop then takes no gradient steps.
    """

    name: str
    help: str                                    # one line, for --help and the form
    build: Callable[[BuildInputs], FitnessModel]
    section: str | None = None                   # the TrainConfig section of its own options (config.<section>)
    reads_embeddings: bool = False               # reads a gene representation chosen by --embedder
    learned_genes: bool = False                  # also takes --embedder id (learned per-gene vectors)
    table_only: bool = False                     # solved in closed form over a feature table: never the encoder
    wt_model: bool = False                       # learns the wild type's fitness (wt_mean tables, step logs)
    fused_on_cpu: bool = False                   # fused AdamW on the CPU too (measured faster there)
    # loads what the model is built over (DCell's GO hierarchy) from the workspace, the set table,
    # the training rows, the config, the device and the log line sink; saved in every checkpoint
    ontology: Callable[[Workspace, SetTable, np.ndarray, TrainConfig, torch.device,
                        Callable[[str], None]], Ontology] | None = None
    # its ε/τ vectors are one linear map of the gene representation (what --embedder auto
    # weighs and the pair ridge solves)
    pair_map: Callable[[TrainConfig], bool] = _never
    # the sequence encoder adds its sense-strand view
    sense_view: Callable[[TrainConfig], bool] = _sense_view
    # steps fitting only the wild type before the first epoch
    warmup_steps: Callable[[TrainConfig], int] = _no_warmup
    # after the epochs, on the main process, with the run (``cre_core.train.loop._Run``)
    post_fit: Callable[[Any], None] | None = None
    # a saved config.json (today's defaults filled in) with the model's old option spellings renamed
    migrate: Callable[[dict[str, Any]], dict[str, Any]] | None = None
