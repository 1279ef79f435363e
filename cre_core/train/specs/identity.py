"""``identity`` (ε as a ridge-solved factorisation of who the genes are) and ``identity-seq``
(the same over a closed-form sequence term) (:mod:`cre_core.models.identity`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cre_core.train.specs.base import BuildInputs, ModelSpec

if TYPE_CHECKING:
    from cre_core.models import FitnessModel


def _identity(inputs: BuildInputs) -> FitnessModel:
    from cre_core.models import IdentityModel

    return IdentityModel(inputs.n_genes, inputs.smf, None)


def _identity_seq(inputs: BuildInputs) -> FitnessModel:
    from cre_core.models import FeatureTable, IdentityModel

    genes = inputs.genes
    if genes is not None and not isinstance(genes, FeatureTable):
        raise ValueError("identity-seq reads a feature table (kmer, words, random, specieslm)")
    return IdentityModel(inputs.n_genes, inputs.smf, genes if genes is not None
                         else FeatureTable(inputs.n_genes, inputs.in_dim))


IDENTITY = ModelSpec(
    name="identity", help="ε from who the genes are: propensities and partner factors solved by ridge (control)",
    build=_identity)

IDENTITY_SEQ = ModelSpec(
    name="identity-seq", help="identity over a closed-form sequence term x_aᵀ W x_b of a feature table",
    build=_identity_seq, reads_embeddings=True, table_only=True)
