"""GenBank reading on a small hand-made file: records, nested locations, spliced codons, errors.

The expected windows are walked here base by base over 1-based transcript positions,
independently of the slicing in cre_core.genome.windows.
"""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pytest

from cre_core import cli
from cre_core.errors import InputError
from cre_core.genome import cre_windows
from cre_core.genome.genbank import parse_location, read_genbank

COMPLEMENT = {"A": "T", "C": "G", "G": "C", "T": "A", "N": "N"}
# gene -> (record, strand, CDS parts in transcript order, gene name or None)
GENES = {
    # first CDS part is one base, then an intron: the ATG is joined across it
    "YAL010W": ("chrI", "+", [(1101, 1101), (1201, 1600)], "SPL1"),
    # minus strand, first part two bases, the stop codon split by the last intron too
    "YAL020C": ("chrI", "-", [(2401, 2402), (2001, 2300), (1901, 1901)], None),
    "YBL030W": ("chrII", "+", [(501, 800)], "ONE1"),  # a CDS without a gene feature
}


def transcript(strand: str, parts: list[tuple[int, int]]) -> list[int]:
    """1-based positions of the spliced CDS, 5'->3'."""
    positions: list[int] = []
    for start, stop in parts:
        span = range(start, stop + 1)
        positions.extend(span if strand == "+" else reversed(span))
    return positions


def make_sequences() -> dict[str, list[str]]:
    rng = random.Random(7)
    seqs = {"chrI": [rng.choice("ACGT") for _ in range(3000)],
            "chrII": [rng.choice("ACGT") for _ in range(1200)]}
    for chrom, strand, parts, _ in GENES.values():
        cds = transcript(strand, parts)
        for pos, base in zip(cds[:3] + cds[-3:], "ATGTAG"):
            seqs[chrom][pos - 1] = base if strand == "+" else COMPLEMENT[base]
    return seqs


SEQUENCES = make_sequences()


def origin(seq: list[str]) -> str:
    text = "".join(seq).lower()
    lines = []
    for i in range(0, len(text), 60):
        blocks = " ".join(text[j : j + 10] for j in range(i, min(i + 60, len(text)), 10))
        lines.append(f"{i + 1:>9} {blocks}")
    return "ORIGIN\n" + "\n".join(lines) + "\n//\n"


GENBANK = f"""LOCUS       BK006935                3000 bp    DNA     linear   PLN 18-JAN-2017
DEFINITION  TPA: Saccharomyces cerevisiae S288c chromosome I.
FEATURES             Location/Qualifiers
     source          1..3000
                     /organism="Saccharomyces cerevisiae S288c"
                     /chromosome="I"
     gene            1101..1600
                     /gene="SPL1"
                     /locus_tag="YAL010W"
     mRNA            join(1101..1101,1201..1600)
                     /gene="SPL1"
                     /locus_tag="YAL010W"
     CDS             join(1101..1101,
                     1201..1600)
                     /gene="SPL1"
                     /locus_tag="YAL010W"
                     /note="a note that runs over lines; with a /slash
                     /and ""quotes"" inside"
                     /translation="MKV"
     tRNA            complement(2601..2672)
                     /locus_tag="YNCA0001W"
     gene            complement(2601..2672)
                     /locus_tag="YNCA0001W"
     gene            complement(1901..2402)
                     /locus_tag="YAL020C"
     CDS             complement(order(1901..1901,2001..2300,2401..2402))
                     /locus_tag="YAL020C"
{origin(SEQUENCES["chrI"])}LOCUS       chrII                   1200 bp    DNA     linear
DEFINITION  something without a chromosome word.
FEATURES             Location/Qualifiers
     CDS             <501..>800
                     /gene="ONE1"
                     /locus_tag="YBL030W"
{origin(SEQUENCES["chrII"])}"""


def expected(chrom: str, strand: str, parts: list[tuple[int, int]], region: str) -> str:
    seq = SEQUENCES[chrom]
    step = 1 if strand == "+" else -1
    cds = transcript(strand, parts)

    def base(pos: int) -> str:
        b = seq[pos - 1] if 1 <= pos <= len(seq) else "N"
        return b if strand == "+" else COMPLEMENT[b]

    if region == "upstream":
        flank = [cds[0] - step * k for k in range(1000, 0, -1)]
        return "".join(base(p) for p in flank) + "".join(base(p) for p in cds[:3])
    flank = [cds[-1] + step * k for k in range(1, 298)]
    return "".join(base(p) for p in cds[-3:]) + "".join(base(p) for p in flank)


@pytest.fixture
def gb(tmp_path) -> Path:
    path = tmp_path / "mini.gb"
    path.write_text(GENBANK)
    return path


def test_genes_and_parts(gb):
    genome = read_genbank([gb])
    rows = genome.genes.set_index("gene")
    assert list(rows.index) == ["YAL010W", "YAL020C", "YBL030W"]
    assert genome.no_cds == ["YNCA0001W"]
    assert sorted(genome.sequences) == ["chrI", "chrII"]
    assert genome.sequences["chrI"] == "".join(SEQUENCES["chrI"]).lower()
    for gene, (chrom, strand, parts, name) in GENES.items():
        row = rows.loc[gene]
        assert (row.chrom, row.strand, row["name"]) == (chrom, strand, name or gene)
        assert genome.cds_parts[gene] == sorted(parts)
        assert (row.cds_start, row.cds_stop) == (min(parts)[0], max(parts)[1])
    assert (rows.loc["YAL020C", "start"], rows.loc["YAL020C", "stop"]) == (1901, 2402)


def test_spliced_windows_base_by_base(gb):
    windows = cre_windows(read_genbank([gb])).set_index(["gene", "region"])
    for gene, (chrom, strand, parts, _) in GENES.items():
        for region in ("upstream", "downstream"):
            sequence = windows.loc[(gene, region), "sequence"]
            assert sequence == expected(chrom, strand, parts, region), (gene, region)
        assert windows.loc[(gene, "upstream"), "sequence"][1000:] == "ATG"
        assert windows.loc[(gene, "downstream"), "sequence"][:3] == "TAG"


@pytest.mark.parametrize(
    "text, strand, parts",
    [
        ("5..10", "+", [(5, 10)]),
        ("7", "+", [(7, 7)]),
        ("complement(join(1..5,9..20))", "-", [(9, 20), (1, 5)]),
        ("join(complement(9..20),complement(1..5))", "-", [(9, 20), (1, 5)]),
        ("order(1..2, 4..>6)", "+", [(1, 2), (4, 6)]),
        ("complement(<3..8)", "-", [(3, 8)]),
    ],
)
def test_locations(text, strand, parts):
    assert parse_location(Path("x.gb"), 1, text) == (strand, parts)


@pytest.mark.parametrize(
    "text, problem",
    [
        ("join(1..5,9..20", "expected ')' at character 16"),
        ("J01234.1:1..10", "refers to another record"),
        ("join(1..5,complement(9..20))", "parts on both strands"),
        ("9..3", "range 9..3 is empty"),
        ("1..5x", "unexpected 'x'"),
    ],
)
def test_bad_locations(text, problem):
    with pytest.raises(InputError) as err:
        parse_location(Path("x.gb"), 12, text)
    assert str(err.value).startswith(f"x.gb line 12: location {text!r}: {problem}")


def line_number(text: str, fragment: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if fragment in line)


@pytest.mark.parametrize(
    "old, new, fragment, problem",
    [
        ("join(1101..1101,\n", "join(1101..1101,,\n", "     CDS             join(",
         "location 'join(1101..1101,,1201..1600)': cannot read it at character 17"),
        ("     gene            complement(1901..2402)\n                     /locus_tag=\"YAL020C\"",
         "     gene            complement(1901..2402)\n                     /locus_tag=\"YAL010W\"",
         "complement(1901..2402)", "gene YAL010W already defined at line 7"),
        ("LOCUS       chrII                   1200 bp",
         "LOCUS       chrII                   1300 bp",
         "LOCUS       chrII", "chrII: ORIGIN has 1,200 bases, LOCUS says 1,300"),
        ("DEFINITION  something without a chromosome word.", "DEFINITION  chromosome I again",
         "LOCUS       chrII", "chromosome chrI (record chrII) appears twice"),
    ],
)
def test_errors_name_file_and_line(tmp_path, old, new, fragment, problem):
    text = GENBANK.replace(old, new, 1)
    assert text != GENBANK
    bad = tmp_path / "bad.gb"
    bad.write_text(text)
    number = line_number(text, fragment)
    if "ORIGIN has" in problem:  # reported at the record's closing '//'
        number = [i for i, line in enumerate(text.splitlines(), 1) if line == "//"][1]
    with pytest.raises(InputError) as err:
        read_genbank([bad])
    assert str(err.value) == f"{bad} line {number:,}: {problem}"


def test_bad_base_in_origin(tmp_path):
    bad = tmp_path / "bad.gb"
    lines = GENBANK.splitlines()
    number = lines.index("ORIGIN") + 3
    lines[number - 1] = lines[number - 1][:15] + "*" + lines[number - 1][16:]
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as err:
        read_genbank([bad])
    assert str(err.value) == f"{bad} line {number}: character '*' in ORIGIN is not a base letter"


def test_records_split_over_files_and_unclosed_record(tmp_path):
    first, second = GENBANK.split("LOCUS       chrII", 1)
    one, two = tmp_path / "one.gb", tmp_path / "two.gb"
    one.write_text(first)
    two.write_text("LOCUS       chrII" + second)
    assert list(read_genbank([one, two]).genes["gene"]) == list(GENES)
    two.write_text(("LOCUS       chrII" + second).replace("//\n", ""))
    with pytest.raises(InputError, match="record chrII has no closing '//' line"):
        read_genbank([one, two])


@pytest.fixture
def run_cli(monkeypatch):
    monkeypatch.setattr("sys.argv", ["cre_core"])
    return cli.main


def test_ingest_genbank(tmp_path, gb, run_cli, capsys):
    ws = tmp_path / "ws"
    assert run_cli(["ingest", "--workspace", str(ws), "--genbank", str(gb)]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (result["genes"], result["windows"]) == (3, 6)
    out = tmp_path / "w.fa"
    assert run_cli(["windows", "--genbank", str(gb), "--out", str(out)]) == 0
    assert capsys.readouterr().out.startswith("3 genes, 6 windows")
    records = out.read_text().split("\n")
    assert records[0] == ">YAL010W upstream"
    assert records[1] == expected(*GENES["YAL010W"][:3], "upstream")


def test_ingest_bad_genbank_changes_nothing(tmp_path, gb, run_cli, capsys):
    ws = tmp_path / "ws"
    assert run_cli(["ingest", "--workspace", str(ws), "--genbank", str(gb)]) == 0
    db = ws / "cre.duckdb"
    before = db.read_bytes()
    bad = tmp_path / "bad.gb"
    bad.write_text(GENBANK.replace(" 1201..1600)\n", " 1201..1600\n", 1))
    capsys.readouterr()
    assert run_cli(["ingest", "--workspace", str(ws), "--genbank", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith(f"{bad} line 13: location 'join(1101..1101,1201..1600': "
                        "expected ')' at character 27")
    assert db.read_bytes() == before


def test_genbank_and_gff_together_refused(tmp_path, gb, run_cli, capsys):
    out = tmp_path / "w.fa"
    assert run_cli(["windows", "--genbank", str(gb), "--gff", str(gb), "--out", str(out)]) == 2
    assert "either --genbank or --gff" in capsys.readouterr().err
    assert not out.exists()


def test_gzip_and_windows_line_ends(tmp_path, gb):
    expected = read_genbank([gb])
    packed = tmp_path / "mini_crlf.gb.gz"
    packed.write_bytes(gzip.compress(GENBANK.replace("\n", "\r\n").encode()))
    genome = read_genbank([packed])
    assert genome.genes.equals(expected.genes) and genome.sequences == expected.sequences
    assert genome.cds_parts == expected.cds_parts
