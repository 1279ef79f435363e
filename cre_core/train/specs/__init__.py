"""The model registry: one ``ModelSpec`` per model (``base``), each in its own module here.

Training, ``rebuild_model``, queries, run tables and the Train form ask a model's spec what it
reads and does instead of comparing its name. To add a model: write its torch module under
``cre_core/models`` and a spec module here, and list the spec in ``BUILTIN`` (or call
``register(spec)`` from your own code).
"""

from __future__ import annotations

from cre_core.errors import CreError
from cre_core.train.specs.base import BuildInputs, ModelSpec
from cre_core.train.specs.baselines import MEAN, MULTIPLICATIVE
from cre_core.train.specs.dcell import DCELL
from cre_core.train.specs.deepset import DEEPSET, RENAMED
from cre_core.train.specs.identity import IDENTITY, IDENTITY_SEQ
from cre_core.train.specs.interaction import INTERACTION
from cre_core.train.specs.wt import WT_ANCHORED, WT_DIFF

BUILTIN = (DEEPSET, WT_DIFF, WT_ANCHORED, DCELL, MEAN, MULTIPLICATIVE, INTERACTION, IDENTITY, IDENTITY_SEQ)
SPECS: dict[str, ModelSpec] = {spec.name: spec for spec in BUILTIN}


def register(spec: ModelSpec) -> None:
    """Add a model (its name must be new)."""
    if spec.name in SPECS:
        raise ValueError(f"a model named {spec.name!r} is already registered")
    SPECS[spec.name] = spec


def unregister(name: str) -> None:
    """Remove a registered model (tests that register a toy one)."""
    del SPECS[name]


def names() -> tuple[str, ...]:
    """Every registered model's name, in registration order."""
    return tuple(SPECS)


def find(name: object) -> ModelSpec | None:
    """The spec of ``name``, or None (a run folder of a model this installation lacks)."""
    return SPECS.get(name) if isinstance(name, str) else None


def get(name: str) -> ModelSpec:
    """The spec of ``name``; CreError naming the choices for an unknown one."""
    spec = find(name)
    if spec is None:
        raise CreError(f"--model must be one of {', '.join(SPECS)}; got {name!r}")
    return spec


def wt_models() -> tuple[str, ...]:
    """The models that learn the wild type's fitness (the wt_mean tables and charts)."""
    return tuple(spec.name for spec in SPECS.values() if spec.wt_model)


def ontology_models() -> tuple[str, ...]:
    """The models built over the GO hierarchy (their term states explain a genotype)."""
    return tuple(spec.name for spec in SPECS.values() if spec.ontology is not None)


__all__ = ["BuildInputs", "ModelSpec", "SPECS", "BUILTIN", "RENAMED", "register", "unregister", "names", "find", "get",
           "wt_models", "ontology_models"]
