"""The DeepSet (φ per gene, pooled, ρ) over a gene representation: embeddings, the sequence
encoder, or (``--embedder id``) learned per-gene vectors (:mod:`cre_core.models.deepset`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cre_core.train.specs.base import BuildInputs, ModelSpec

if TYPE_CHECKING:
    from cre_core.models import FitnessModel


def set_args(inputs: BuildInputs) -> dict[str, Any]:
    """The keyword arguments the set models (DeepSet, WtAnchored, WtDiff) share."""
    c = inputs.config
    args: dict[str, Any] = dict(hidden=c.hidden, phi_layers=c.phi_layers, rho_layers=c.rho_layers,
                                norm=c.norm, dropout=c.dropout, pooling=c.pooling)
    if inputs.genes is not None:
        args["genes"] = inputs.genes
    return args


def _deepset(inputs: BuildInputs) -> FitnessModel:
    from cre_core.models import DeepSet

    if inputs.config.embedder == "id":
        return DeepSet(inputs.n_genes, learned=True, gene_dim=inputs.config.gene_dim, **set_args(inputs))
    return DeepSet(inputs.n_genes, inputs.in_dim, **set_args(inputs))


DEEPSET = ModelSpec(
    name="deepset", help="a DeepSet: φ per deleted gene's representation, pooled, then ρ",
    build=_deepset, reads_embeddings=True, learned_genes=True)

# saved configs of a model that is now a spelling of another (``cre_core.train.config.migrate``)
RENAMED = {"gene-id": {"model": "deepset", "embedder": "id"}}
