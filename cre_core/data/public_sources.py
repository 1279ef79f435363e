"""The public datasets ``cre fetch`` knows: where each file lives and what ingest reads from it.

Every file has a relative ``path``: its place in the download cache and on a mirror (a mirror
is a cache folder served over HTTP, so ``--mirror URL`` fetches ``URL/path``). URLs name fixed
releases where the publisher keeps them (SGD's R64-4-1 archive, a dated GO release, DCell's
files at the commits that hold them), so a file that changes upstream is a real change.
"""

from __future__ import annotations

from dataclasses import dataclass

# ingest roles: the IngestRequest field a file feeds (lists for sga, kuzmin and dcell_pairs)
ROLES = ("gff", "fasta", "sga", "smf", "obo", "gaf", "kuzmin", "dcell_pairs")

THECELLMAP = "https://thecellmap.org/costanzo2016/data_files"
SGD_RELEASES = "https://downloads.yeastgenome.org/sequence/S288C_reference/genome_releases"
GO_RELEASE = "https://release.geneontology.org/2024-03-28"
DCELL = "https://raw.githubusercontent.com/idekerlab/DCell"
DCELL_TRAIN = f"{DCELL}/567054dcb81c391c94603d507a1dd87cd063f7ac/training/TrainData"
DCELL_EXAMPLE = f"{DCELL}/76df5badddbaa4cdc431dbb56a3bfa23736457fa/training/Example_TrainData"


@dataclass(frozen=True)
class Member:
    """Files inside an archive: base names matching ``pattern`` (fnmatch), read as ``role``."""

    pattern: str
    role: str


@dataclass(frozen=True)
class Remote:
    """One downloadable file: read by ingest as ``role``, or unpacked into ``members``."""

    path: str
    url: str
    role: str | None = None
    members: tuple[Member, ...] = ()


@dataclass(frozen=True)
class Dataset:
    name: str
    title: str
    files: tuple[Remote, ...]


DATASETS: dict[str, Dataset] = {d.name: d for d in (
    Dataset("costanzo2016", "Costanzo et al. 2016: Data File S1 (SGA pairs) and the single-mutant "
            "fitness table, from TheCellMap", (
                Remote("costanzo2016/data_file_s1.zip",
                       f"{THECELLMAP}/Raw%20genetic%20interaction%20datasets:%20Pair-wise%20interaction%20format.zip",
                       members=(Member("SGA_*.txt", "sga"),
                                Member("strain_ids_and_single_mutant_fitness.xlsx", "smf"))),
            )),
    Dataset("sgd-genome", "SGD's S288C reference genome release R64-4-1 (GFF3 and chromosome FASTA)", (
        Remote("sgd/S288C_reference_genome_R64-4-1_20230830.tgz",
               f"{SGD_RELEASES}/S288C_reference_genome_R64-4-1_20230830.tgz",
               members=(Member("saccharomyces_cerevisiae_R64-4-1_20230830.gff*", "gff"),
                        Member("S288C_reference_sequence_R64-4-1_20230830.fsa*", "fasta"))),
    )),
    Dataset("go", "Gene Ontology release 2024-03-28: go-basic.obo and SGD's GAF", (
        Remote("go/go-basic.obo", f"{GO_RELEASE}/ontology/go-basic.obo", role="obo"),
        Remote("go/sgd.gaf.gz", f"{GO_RELEASE}/annotations/sgd.gaf.gz", role="gaf"),
    )),
    Dataset("kuzmin2018", "Kuzmin et al. 2018 (Science 360:eaao1729) Data S1, trigenic screens "
            "(the copy torchcell hosts; the journal's server refuses scripts)", (
                Remote("kuzmin2018/aao1729_data_s1.zip",
                       "https://raw.githubusercontent.com/Mjvolk3/torchcell/main/data/host/kuzmin2018/"
                       "aao1729_data_s1.zip",
                       members=(Member("aao1729_data_s1.tsv", "kuzmin"),)),
            )),
    Dataset("dcell", "DCell's (Ma et al. 2018) training files: gene-level Costanzo 2016 ε for the "
            "nuclear chromatin (GO:0000790) and DNA repair (GO:0006281) subsystems, train and test", (
                Remote("dcell/GO_0000790_training_data_2016_0",
                       f"{DCELL_TRAIN}/GO%3A0000790_training_data_2016_0", role="dcell_pairs"),
                Remote("dcell/GO_0000790_testing_data_2016_0",
                       f"{DCELL_EXAMPLE}/GO%3A0000790_testing_data_2016_0", role="dcell_pairs"),
                Remote("dcell/GO_0006281_training_data_2016_0",
                       f"{DCELL_TRAIN}/GO%3A0006281_training_data_2016_0", role="dcell_pairs"),
                Remote("dcell/GO_0006281_testing_data_2016_0",
                       f"{DCELL_TRAIN}/GO%3A0006281_testing_data_2016_0", role="dcell_pairs"),
            )),
)}
