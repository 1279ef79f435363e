"""The workspace store and what fills it: real-format screens, the genome's genes, the Gene
Ontology and published splits, ingested into DuckDB; gene-name lookup; the replicate ceiling.

The modules below are private; this is the surface pages, the CLI and benchmarks use. The
``ingest`` function stays in its module (``from cre_core.data.ingest import ingest``): on the
surface it would hide the module of the same name.
"""

from cre_core.data.ceilings import replicate_ceiling
from cre_core.data.dcell_pairs import read_dcell_pairs
from cre_core.data.go import Ontology, build_ontology
from cre_core.data.ingest import IngestRequest
from cre_core.data.lookup import UnknownGeneError, gene_names, resolve_genes
from cre_core.data.split_file import read_split_file, split_from_file, write_split_file
from cre_core.data.store import counts, demo_origin, get_meta, list_sources

__all__ = [
    "IngestRequest", "Ontology", "UnknownGeneError", "build_ontology", "counts", "demo_origin", "gene_names",
    "get_meta", "list_sources", "read_dcell_pairs", "read_split_file", "replicate_ceiling",
    "resolve_genes", "split_from_file", "write_split_file",
]
