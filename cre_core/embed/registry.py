"""Every embedder by name: what it is and where it lives, the cached and the trained alike.

Two kinds of gene representation feed the models. A *cached* embedder turns each CRE window
into a vector once (the ``embed`` command, or on demand for the cheap ones) and the vectors are
kept under ``WORKSPACE/embeddings``; models read them as a frozen table. A *trained* one is
learned inside a training run (``train --embedder encoder|id``) and lives in the run's
checkpoint; an encoder run's vectors can be exported afterwards (``export-encoder``) and are then
read like a cached table under the name ``encoder``.

Each entry names its module; building an embedder imports it then, so listing the embedders
costs no torch import.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cre_core.embed.base import REGIONS, Embedder
from cre_core.errors import CreError

CACHED = "cached"      # computed per window and kept under WORKSPACE/embeddings
TRAINED = "trained"    # learned with a model in a training run


@dataclass(frozen=True)
class EmbedderInfo:
    """One embedder: its name (the ``--embedder`` value), kind, a line of help, and the module
    and class that implement it."""

    name: str
    kind: str
    help: str
    module: str
    cls: str
    on_demand: bool = False    # cheap on a CPU: computed and cached when a reader misses it

    def load(self) -> Any:
        """The implementing class (imports its module)."""
        return getattr(importlib.import_module(self.module), self.cls)


REGISTRY: dict[str, EmbedderInfo] = {info.name: info for info in (
    EmbedderInfo("kmer", CACHED, "k-mer spectrum of each window (weight-free, any CPU; the default)",
                 "cre_core.embed.kmer", "KmerEmbedder", on_demand=True),
    EmbedderInfo("words", CACHED, "counts of the genome's enriched words in each window, sense strand",
                 "cre_core.embed.kmer", "WordsEmbedder", on_demand=True),
    EmbedderInfo("random", CACHED, "a seeded random vector per gene: the control beside every result",
                 "cre_core.embed.random", "RandomEmbedder", on_demand=True),
    EmbedderInfo("specieslm", CACHED, "SpeciesLM language-model vectors (a local model; a GPU in practice)",
                 "cre_core.embed.specieslm", "SpeciesLMEmbedder"),
    EmbedderInfo("encoder", TRAINED, "a CNN over the one-hot windows trained with the model; "
                 "its exported vectors read as a table", "cre_core.embed.seq_encoder", "SeqEncoder"),
    EmbedderInfo("id", TRAINED, "a learned vector per gene (no sequence; cannot speak for unseen genes)",
                 "cre_core.embed.genes", "LearnedGenes"),
)}

EMBEDDERS = tuple(name for name, info in REGISTRY.items() if info.kind == CACHED)   # what ``embed`` computes
ON_DEMAND = tuple(name for name, info in REGISTRY.items() if info.on_demand)


def make_embedder(name: str, model: str | None = None, regions: Sequence[str] = REGIONS,
                  species: str | None = None, device: str = "auto",
                  batch_size: int | None = None, precision: str = "auto") -> Embedder:
    """The cached embedder called ``name`` for ``regions`` (SpeciesLM takes the model folder or
    hub name, species, device, batch size and precision; the others take no settings)."""
    info = REGISTRY.get(name)
    if info is None or info.kind != CACHED:
        known = f"choose one of {', '.join(EMBEDDERS)}"
        if info is not None:
            raise CreError(f"the {name} embedder is trained with a model (train --embedder {name}), "
                           f"not computed by embed: {known}")
        raise CreError(f"unknown embedder '{name}': {known}")
    embedder: Embedder = info.load().from_options(model, regions, species, device, batch_size, precision)
    return embedder
