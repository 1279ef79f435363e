"""Genome parsing and CRE windows on tiny hand-made SGD-format fixtures (tests/files/genome).

Expected windows are computed here base by base from 1-based positions, independently of the
slicing in cre_core.genome.windows; the fixtures' planted codons, soft-masked stretches, IUPAC
codes and chromosome-end genes are listed in tests/files/genome/make_fixtures.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from cre_core import cli
from cre_core.errors import InputError
from cre_core.genome import (
    DOWNSTREAM_LEN,
    UPSTREAM_LEN,
    cre_windows,
    read_genome,
    write_windows_fasta,
)
from cre_core.genome.gff import parse_attributes
from cre_core.genome.names import fasta_header_chrom

FILES = Path(__file__).resolve().parents[1] / "files" / "genome"
GFF = FILES / "mini.gff"

# gene -> (chrom, strand, cds_start, cds_stop, upstream pad, downstream pad), worked out by hand
GENES = {
    "YAL068C": ("chrI", "-", 101, 400, 0, 197),  # at the chrI start: 103 of 300 downstream bases
    "YAL040W": ("chrI", "+", 1501, 1800, 0, 0),  # CDS directly under the gene, no mRNA
    "YAL001C": ("chrI", "-", 2401, 2900, 0, 0),  # two CDS parts around an intron, via mRNA
    "YBL100W": ("chrII", "+", 151, 450, 850, 0),  # at the chrII start: 153 upstream bases
    "YBR300C": ("chrII", "-", 2101, 2400, 400, 0),  # at the chrII end: 603 upstream bases
    "YBR310W": ("chrII", "+", 2551, 2850, 0, 147),  # at the chrII end: 153 downstream bases
    "Q0010": ("chrmt", "+", 1101, 1400, 0, 0),
}
START_CODON = "ATG"
STOP_CODONS = {"YAL068C": "TAA", "YAL040W": "TAG", "YAL001C": "TGA", "YBL100W": "TGA",
               "YBR300C": "TAA", "YBR310W": "TAA", "Q0010": "TAA"}
COMPLEMENT = {"A": "T", "C": "G", "G": "C", "T": "A", "N": "N"}


def fixture_chromosomes() -> dict[str, str]:
    """The sequences after ##FASTA in mini.gff, read without cre_core."""
    fasta = GFF.read_text().split("##FASTA\n", 1)[1]
    records = [r.split("\n", 1) for r in fasta.split(">")[1:]]
    return {name.strip(): body.replace("\n", "") for name, body in records}


def expected_window(chrom: str, strand: str, cds_start: int, cds_stop: int, region: str) -> str:
    """Walk 1-based positions 5'->3' in the gene's orientation; N off the chromosome."""
    seq = fixture_chromosomes()[chrom].upper()

    def base(pos: int) -> str:
        b = seq[pos - 1] if 1 <= pos <= len(seq) else "N"
        return b if b in "ACGT" else "N"

    if strand == "+":
        if region == "upstream":  # 1000 before the CDS start, then the start codon
            positions = range(cds_start - 1000, cds_start + 3)
        else:  # the stop codon, then 297 after the CDS end
            positions = range(cds_stop - 2, cds_stop + 298)
        return "".join(base(p) for p in positions)
    if region == "upstream":  # the - strand reads from high to low positions
        positions = range(cds_stop + 1000, cds_stop - 3, -1)
    else:
        positions = range(cds_start + 2, cds_start - 298, -1)
    return "".join(COMPLEMENT[base(p)] for p in positions)


@pytest.fixture(scope="module")
def genome():
    return read_genome(GFF)


@pytest.fixture(scope="module")
def windows(genome):
    return cre_windows(genome)


def window(windows, gene: str, region: str):
    row = windows[(windows["gene"] == gene) & (windows["region"] == region)]
    assert len(row) == 1
    return row.iloc[0]


# ---- genes -----------------------------------------------------------------------------------


def test_genes_table(genome):
    genes = genome.genes.set_index("gene")
    assert list(genome.genes.columns) == [
        "gene", "name", "chrom", "start", "stop", "strand", "orf_class", "cds_start", "cds_stop",
    ]
    assert list(genes.index) == list(GENES)  # file order; tRNA and transposon genes left out
    for gene, (chrom, strand, cds_start, cds_stop, _, _) in GENES.items():
        row = genes.loc[gene]
        assert (row.chrom, row.strand, row.cds_start, row.cds_stop) == (
            chrom, strand, cds_start, cds_stop,
        )
    for column in ("start", "stop", "cds_start", "cds_stop"):
        assert genome.genes[column].dtype == "int64"
    assert genes.loc["YAL001C", "name"] == "TFC3"  # from gene=
    assert genes.loc["YBL100W", "name"] == "YBL100W"  # no gene=: the systematic name
    assert genes.loc["YAL001C", "orf_class"] == "Verified"
    assert genes.loc["YBL100W", "orf_class"] == "Uncharacterized"
    assert pd.isna(genes.loc["YBR300C", "orf_class"])  # no orf_classification attribute
    assert (genes.loc["YAL001C", "start"], genes.loc["YAL001C", "stop"]) == (2401, 2900)


def test_gene_without_cds_is_counted_not_kept(genome):
    assert genome.no_cds == ["YAL030W"]
    assert "YAL030W" not in set(genome.genes["gene"])


def test_sequences_as_in_file(genome):
    assert genome.sequences == fixture_chromosomes()
    assert {k: len(v) for k, v in genome.sequences.items()} == {
        "chrI": 4000, "chrII": 3000, "chrmt": 2000,
    }
    assert genome.sequences["chrI"][1100:1110] == "acgtacgtac"  # soft-masking kept


def test_attributes_are_unescaped():
    attributes = parse_attributes("ID=A%3B1;Note=a%3Bb%2Cc %3D d;Parent=X_mRNA,Y_mRNA;;flag")
    assert attributes == {"ID": ["A;1"], "Note": ["a;b,c = d"], "Parent": ["X_mRNA", "Y_mRNA"]}


@pytest.mark.parametrize(
    ("header", "chrom"),
    [
        ("chrI", "chrI"),
        ("chrXVI extra words", "chrXVI"),
        ("ref|NC_001133| [org=Saccharomyces cerevisiae] [strain=S288C] [moltype=genomic] "
         "[chromosome=I]", "chrI"),
        ("ref|NC_001148| [org=Saccharomyces cerevisiae] [chromosome=XVI]", "chrXVI"),
        ("ref|NC_001224| [org=Saccharomyces cerevisiae] [strain=S288C] [moltype=genomic] "
         "[location=mitochondrion] [top=circular]", "chrmt"),
        ("NC_001134.8 Saccharomyces cerevisiae S288C chromosome II, complete sequence", "chrII"),
        ("NC_001224.1 Saccharomyces cerevisiae S288C mitochondrion, complete genome", "chrmt"),
        ("XII dna:chromosome chromosome:R64-1-1:XII:1:1078177:1 REF", "chrXII"),
        ("Mito", "chrmt"),
        ("contig_7 something", "contig_7"),
    ],
)
def test_fasta_header_names(header, chrom):
    assert fasta_header_chrom(header) == chrom


# ---- windows ---------------------------------------------------------------------------------


def test_every_window_matches_positions(windows):
    assert list(windows.columns) == ["gene", "region", "sequence", "padded", "pad_len"]
    assert len(windows) == 2 * len(GENES)
    for gene, (chrom, strand, cds_start, cds_stop, up_pad, down_pad) in GENES.items():
        for region, length, pad in (
            ("upstream", UPSTREAM_LEN, up_pad), ("downstream", DOWNSTREAM_LEN, down_pad),
        ):
            row = window(windows, gene, region)
            assert row.sequence == expected_window(chrom, strand, cds_start, cds_stop, region), (
                gene, region,
            )
            assert len(row.sequence) == length
            assert (bool(row.padded), int(row.pad_len)) == (pad > 0, pad), (gene, region)


def test_codons_keep_their_positions(windows):
    assert (UPSTREAM_LEN, DOWNSTREAM_LEN) == (1003, 300)
    for gene in GENES:
        assert window(windows, gene, "upstream").sequence[1000:1003] == START_CODON, gene
        assert window(windows, gene, "downstream").sequence[0:3] == STOP_CODONS[gene], gene


def test_padding_sits_away_from_the_gene(windows):
    # upstream windows pad at their 5' start, downstream windows at their 3' end
    up = window(windows, "YBL100W", "upstream").sequence  # + strand, chromosome start
    assert up[:850] == "N" * 850 and "N" not in up[850:]
    assert up[850:] == fixture_chromosomes()["chrII"][:153]
    up = window(windows, "YBR300C", "upstream").sequence  # - strand, chromosome end
    assert up[:400] == "N" * 400 and up[400] != "N"
    down = window(windows, "YAL068C", "downstream").sequence  # - strand, chromosome start
    assert down[103:] == "N" * 197 and "N" not in down[:103]
    down = window(windows, "YBR310W", "downstream").sequence  # + strand, chromosome end
    assert down[153:] == "N" * 147 and down[152] != "N"


def test_soft_masking_and_iupac(windows):
    up = window(windows, "YAL040W", "upstream").sequence  # forward position p at index p - 501
    assert up[600:660] == "ACGTACGTAC" * 6  # lower-case 1101..1160 upper-cased
    assert up[700:711] == "N" * 11  # RYKMSWBDHVN at 1201..1211
    assert set(up) <= set("ACGTN")
    down = window(windows, "YBR310W", "downstream").sequence  # position p at index p - 2848
    assert down[102:105] == "NNN"  # 'nry' at 2950..2952
    up = window(windows, "YBR300C", "upstream").sequence  # - strand: p at index 400 + 3000 - p
    assert up[448:451] == "NNN"
    assert all(set(s) <= set("ACGTN") for s in windows["sequence"])


def test_minus_strand_is_reverse_complement(windows):
    # YAL001C upstream covers forward 2898..3900; 3001..3040 is soft-masked 'ggccttaagg' * 4
    up = window(windows, "YAL001C", "upstream").sequence
    forward = fixture_chromosomes()["chrI"][2897:3900].upper()
    assert up == forward[::-1].translate(str.maketrans("ACGT", "TGCA"))
    assert "CCTTAAGGCC" in up  # the reverse complement of ggccttaagg


@pytest.mark.parametrize("name", ["mini.gff.gz", "mini_crlf_bom.gff"])
def test_compressed_and_windows_line_ends(name, genome, windows):
    other = read_genome(FILES / name)
    assert other.sequences == genome.sequences
    assert other.genes.equals(genome.genes)
    assert cre_windows(other).equals(windows)


def test_gff_with_separate_ncbi_fasta(genome, windows):
    other = read_genome(FILES / "mini_features.gff", FILES / "mini_ncbi.fsa")
    assert set(other.sequences) == {"chrI", "chrII", "chrmt"}
    assert other.sequences == genome.sequences
    assert cre_windows(other).equals(windows)


def test_separate_fasta_wins_over_embedded(tmp_path, windows):
    other_fasta = tmp_path / "other.fsa"
    text = (FILES / "mini_ncbi.fsa").read_text()
    other_fasta.write_text(text.replace("CTTTGCCAGG", "AAAAAAAAAA", 1))  # chrI's first bases
    other = read_genome(GFF, other_fasta)
    assert other.sequences["chrI"].startswith("AAAAAAAAAA")


# ---- FASTA output ----------------------------------------------------------------------------


def test_write_windows_fasta(tmp_path, windows):
    out = tmp_path / "sub" / "windows.fasta"
    assert write_windows_fasta(windows, out) == 14
    lines = out.read_text().splitlines()
    assert len(lines) == 28
    assert lines[0] == ">YAL068C upstream"
    assert ">YAL001C upstream" in lines and ">YAL001C downstream" in lines
    i = lines.index(">YAL001C upstream")
    assert lines[i + 1] == window(windows, "YAL001C", "upstream").sequence
    assert [p.name for p in out.parent.iterdir()] == ["windows.fasta"]  # no temporary left


# ---- malformed input -------------------------------------------------------------------------


def edited(tmp_path, edits: dict[int, str], source: Path = GFF) -> Path:
    """A copy of ``source`` with its 1-based lines replaced as ``edits`` says."""
    lines = source.read_text().splitlines()
    for number, text in edits.items():
        lines[number - 1] = text
    path = tmp_path / f"bad_{source.name}"
    path.write_text("\n".join(lines) + "\n")
    return path


def line_of(fragment: str, source: Path = GFF) -> tuple[int, str]:
    """(1-based number, text) of the one line of ``source`` that contains ``fragment``."""
    found = [(i, t) for i, t in enumerate(source.read_text().splitlines(), 1) if fragment in t]
    assert len(found) == 1, fragment
    return found[0]


def error_of(gff: Path, fasta: Path | None = None) -> str:
    """The message of the InputError that reading ``gff`` (and ``fasta``) raises."""
    with pytest.raises(InputError) as info:
        read_genome(gff, fasta)
    return str(info.value)


GENE_LINE, GENE_TEXT = line_of("\tgene\t1501\t1800\t.\t+\t.\tID=YAL040W;")
CDS_LINE, CDS_TEXT = line_of("\tCDS\t1501\t1800\t.\t+\t0\tParent=YAL040W;")


def test_fixture_line_numbers():
    assert (GENE_LINE, CDS_LINE) == (13, 14)  # the numbers the messages below must carry


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda cols: cols[:8], "8 columns, expected 9"),
        (lambda cols: cols + ["extra"], "10 columns, expected 9"),
        (lambda cols: cols[:3] + ["15o1"] + cols[4:], "start '15o1' is not an integer"),
        (lambda cols: cols[:4] + ["1800.5"] + cols[5:], "end '1800.5' is not an integer"),
        (lambda cols: cols[:3] + ["1900"] + cols[4:], "start 1,900 is after end 1,800"),
        (
            lambda cols: cols[:3] + ["0"] + cols[4:],
            "start 0 is below 1 (GFF coordinates start at 1)",
        ),
        (lambda cols: cols[:6] + ["x"] + cols[7:], "strand 'x', expected +, -, . or ?"),
        (lambda cols: cols[:6] + ["."] + cols[7:], "gene YAL040W has strand '.', not + or -"),
        (lambda cols: cols[:8] + ["Name=YAL040W"], "gene without an ID attribute"),
    ],
)
def test_malformed_gene_line(tmp_path, edit, problem):
    bad = edited(tmp_path, {GENE_LINE: "\t".join(edit(GENE_TEXT.split("\t")))})
    assert error_of(bad) == f"{bad} line 13: {problem}"


def test_error_carries_path_and_line(tmp_path):
    bad = edited(tmp_path, {GENE_LINE: "\t".join(GENE_TEXT.split("\t")[:8])})
    with pytest.raises(InputError) as info:
        read_genome(bad)
    assert (info.value.path, info.value.line) == (str(bad), 13)


def test_cds_with_unknown_parent(tmp_path):
    bad = edited(tmp_path, {CDS_LINE: CDS_TEXT.replace("Parent=YAL040W", "Parent=YAL999W")})
    assert error_of(bad) == (
        f"{bad} line 14: CDS has Parent 'YAL999W', but no feature in the file has that ID"
    )


def test_mrna_with_unknown_parent(tmp_path):
    number, text = line_of("ID=YAL001C_mRNA;")
    bad = edited(tmp_path, {number: text.replace("Parent=YAL001C", "Parent=YAL001X")})
    assert error_of(bad).startswith(f"{bad} line 19: YAL001C_mRNA has Parent 'YAL001X'")


def test_cds_and_gene_on_different_chromosomes(tmp_path):
    bad = edited(tmp_path, {CDS_LINE: CDS_TEXT.replace("chrI\t", "chrII\t", 1)})
    assert error_of(bad) == f"{bad} line 14: CDS on chrII, but its gene YAL040W is on chrI"


def test_gene_on_chromosome_missing_from_fasta(tmp_path):
    moved = {n: t.replace("chrI\t", "chrIV\t", 1) for n, t in ((13, GENE_TEXT), (14, CDS_TEXT))}
    message = error_of(edited(tmp_path, moved))
    assert message.startswith(f"{tmp_path / 'bad_mini.gff'} line 13: gene YAL040W is on chrIV, ")
    assert "lacks (it has chrI, chrII, chrmt); --skip-missing-chromosomes" in message


def test_cds_past_chromosome_end(tmp_path):
    number, text = line_of("Parent=YBR310W_mRNA;")  # CDS 2551..2850 on chrII (3,000 bp)
    bad = edited(tmp_path, {number: text.replace("\t2850\t", "\t3050\t")})
    gene_line, _ = line_of("ID=YBR310W;")
    assert error_of(bad) == (
        f"{bad} line {gene_line}: gene YBR310W: CDS ends at 3,050, past the end of chrII (3,000 bp)"
    )


def test_duplicate_gene(tmp_path):
    number, _ = line_of("\ttRNA_gene\t")
    bad = edited(tmp_path, {number: GENE_TEXT})
    assert error_of(bad) == f"{bad} line {number}: gene YAL040W already defined at line 13"


def test_sequence_line_with_non_letters(tmp_path):
    number, text = line_of("CTGCTTGCACTTAATCGACATTAG")  # the second sequence line of chrI
    assert number == 45 and line_of("##FASTA")[0] == 42
    bad = edited(tmp_path, {number: text[:9] + "1" + text[10:]})
    assert error_of(bad) == f"{bad} line 45: character '1' (column 10) is not a base letter"


def test_non_letters_in_separate_fasta(tmp_path):
    bad = edited(tmp_path, {3: "ACGT-ACGT"}, source=FILES / "mini_ncbi.fsa")
    assert error_of(FILES / "mini_features.gff", bad) == (
        f"{bad} line 3: character '-' (column 5) is not a base letter"
    )


def test_no_fasta_at_all():
    assert error_of(FILES / "mini_features.gff") == (
        f"{FILES / 'mini_features.gff'}: no genome sequence: no ##FASTA section, "
        "and no separate FASTA was given"
    )


def test_fasta_without_records(tmp_path):
    empty = tmp_path / "empty.fsa"
    empty.write_text("\n")
    assert error_of(FILES / "mini_features.gff", empty) == (
        f"{empty}: no FASTA records (no line starting with '>')"
    )


def test_missing_file(tmp_path):
    assert error_of(tmp_path / "nope.gff") == f"{tmp_path / 'nope.gff'}: file not found"


# ---- CLI -------------------------------------------------------------------------------------


@pytest.fixture
def genome_cli(monkeypatch):
    """cli.main with only the genome commands registered, so this file tests them alone."""
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("cre_core.genome.commands",))
    return cli.main


def test_cli_windows(tmp_path, capsys, genome_cli):
    out = tmp_path / "windows.fasta"
    assert genome_cli(["windows", "--gff", str(GFF), "--out", str(out)]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed == [
        f"7 genes, 14 windows (4 padded at a chromosome end) -> {out}; "
        "gene features without CDS skipped: 1"
    ]
    assert out.read_text().splitlines()[0] == ">YAL068C upstream"
    assert out.read_text().count(">") == 14


def test_cli_windows_separate_fasta(tmp_path, windows, genome_cli):
    out = tmp_path / "w.fa"
    code = genome_cli([
        "windows", "--gff", str(FILES / "mini_features.gff"),
        "--fasta", str(FILES / "mini_ncbi.fsa"), "--out", str(out),
    ])
    assert code == 0
    write_windows_fasta(windows, tmp_path / "expected.fa")
    assert out.read_text() == (tmp_path / "expected.fa").read_text()


def test_cli_bad_input(tmp_path, capsys, genome_cli):
    bad = edited(tmp_path, {GENE_LINE: "\t".join(GENE_TEXT.split("\t")[:8])})
    out = tmp_path / "w.fa"
    assert genome_cli(["windows", "--gff", str(bad), "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"error: {bad} line 13: 8 columns, expected 9\n"
    assert not out.exists()
    no_fasta = FILES / "mini_features.gff"
    assert genome_cli(["windows", "--gff", str(no_fasta), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "no genome sequence" in err


def test_skip_missing_chromosomes(tmp_path, capsys, genome_cli, windows):
    moved = {n: t.replace("chrI\t", "chrIV\t", 1) for n, t in ((13, GENE_TEXT), (14, CDS_TEXT))}
    gff = edited(tmp_path, moved)
    genome = read_genome(gff, skip_missing_chromosomes=True)
    assert genome.missing_chromosomes == {"chrIV": 1}
    assert "YAL040W" not in set(genome.genes["gene"]) and len(genome.genes) == len(GENES) - 1
    kept = cre_windows(genome)
    assert kept.equals(windows[windows["gene"] != "YAL040W"].reset_index(drop=True))
    out = tmp_path / "w.fa"
    args = ["windows", "--gff", str(gff), "--out", str(out)]
    assert genome_cli(args) == 2 and not out.exists()
    assert "--skip-missing-chromosomes leaves such genes out" in capsys.readouterr().err
    assert genome_cli([*args, "--skip-missing-chromosomes"]) == 0
    assert capsys.readouterr().out.strip().endswith(
        "gene features without CDS skipped: 1; "
        "genes on chromosomes without sequence skipped: 1 (chrIV)"
    )


def test_ingest_reports_skipped_genes(tmp_path, capsys, monkeypatch):
    moved = {n: t.replace("chrI\t", "chrIV\t", 1) for n, t in ((13, GENE_TEXT), (14, CDS_TEXT))}
    gff = edited(tmp_path, moved)
    ws = str(tmp_path / "ws")
    assert cli.main(["ingest", "--workspace", ws, "--gff", str(gff)]) == 2
    assert not (tmp_path / "ws" / "cre.duckdb").exists()
    capsys.readouterr()
    args = ["ingest", "--workspace", ws, "--gff", str(gff), "--skip-missing-chromosomes"]
    assert cli.main(args) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (result["genes"], result["genes_skipped_missing_chromosome"]) == (len(GENES) - 1, 1)
