"""Exploring the data like TheCellMap: a gene's profile beside a run's predictions, genes with
similar profiles and their map, GO enrichment of any gene list, and interaction networks."""

from cre_core.explore.enrichment import Enrichment, enrich, go_index
from cre_core.explore.genelist import GeneList, list_from, parse_gene_list, read_gene_file
from cre_core.explore.network import (
    MAX_GENES,
    Network,
    build_network,
    sif_lines,
    write_bulk_csv,
    write_graphml,
    write_sif,
)
from cre_core.explore.profile import SIGNS, GeneProfile, ProfileFilter, gene_profile
from cre_core.explore.similarity import MIN_OVERLAP, profile_map, profiles, similar

__all__ = [
    "MAX_GENES", "MIN_OVERLAP", "SIGNS", "Enrichment", "GeneList", "GeneProfile", "Network", "ProfileFilter",
    "build_network", "enrich", "gene_profile", "go_index", "list_from", "parse_gene_list", "profile_map",
    "profiles", "read_gene_file", "sif_lines", "similar", "write_bulk_csv", "write_graphml", "write_sif",
]
