"""The DeepSet (φ per gene, pooled, ρ) over a gene representation, and gene-id, the same network
over learned per-gene vectors (:mod:`cre_core.models.deepset`)."""

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

    return DeepSet(inputs.n_genes, inputs.in_dim, **set_args(inputs))


def _gene_id(inputs: BuildInputs) -> FitnessModel:
    from cre_core.models import DeepSet

    args = set_args(inputs)
    args.pop("genes", None)
    return DeepSet(inputs.n_genes, learned=True, gene_dim=inputs.config.gene_dim, **args)


DEEPSET = ModelSpec(
    name="deepset", help="a DeepSet: φ per deleted gene's CRE embedding, pooled, then ρ",
    build=_deepset, options=("encoder_sense_view",), reads_embeddings=True)

GENE_ID = ModelSpec(
    name="gene-id", help="the DeepSet over a learned vector per gene (no sequence: the identity control)",
    build=_gene_id, options=("gene_dim",))
