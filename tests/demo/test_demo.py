"""The demo world generator: formats, determinism and the planted signal (tiny preset)."""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from cre_core.demo.generate import PRESETS, demo_world, generate_demo_files
from cre_core.demo.world import ESSENTIAL_SIGMA
from cre_core.errors import CreError

SGA_HEADER = (
    "Query Strain ID\tQuery allele name\tArray Strain ID\tArray allele name\tArraytype/Temp\t"
    "Genetic interaction score (ε)\tP-value\tQuery single mutant fitness (SMF)\tArray SMF\t"
    "Double mutant fitness\tDouble mutant fitness standard deviation"
)
SMF_HEADER = (
    "Strain ID,Allele/Gene name,Single mutant fitness (26°),Single mutant fitness (26°) stddev,"
    "Single mutant fitness (30°),Single mutant fitness (30°) stddev"
)
COMP = str.maketrans("ACGTN", "TGCAN")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    raw = tmp_path_factory.mktemp("demo") / "raw"
    return generate_demo_files(raw, "tiny", seed=0)


@pytest.fixture(scope="module")
def world():
    return demo_world("tiny", seed=0)


@pytest.fixture(scope="module")
def genome(demo):
    return read_gff(demo.gff)


@pytest.fixture(scope="module")
def sga(demo):
    rows = []
    for path in demo.sga:
        with open(path, encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh, delimiter="\t")
            next(reader)
            rows += [r + [path.name] for r in reader]
    return rows


@pytest.fixture(scope="module")
def kuzmin(demo):
    with open(demo.kuzmin, encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh, delimiter="\t"))


@pytest.fixture(scope="module")
def truth(demo):
    with open(demo.truth, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return {r["gene"]: (int(r["module"]), float(r["severity"])) for r in rows}


# --- a minimal, independent GFF3 + FASTA reader and window extractor -------------------------

def read_gff(path: Path) -> dict:
    genes: dict[str, dict] = {}
    cds: dict[str, list[tuple[int, int]]] = defaultdict(list)
    seqs: dict[str, list[str]] = {}
    in_fasta = False
    current = None
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.rstrip("\n")
            if in_fasta:
                if line.startswith(">"):
                    current = line[1:].split()[0]
                    seqs[current] = []
                else:
                    seqs[current].append(line)
                continue
            if line == "##FASTA":
                in_fasta = True
                continue
            if line.startswith("#"):
                continue
            cols = line.split("\t")
            assert len(cols) == 9, line
            attrs = dict(kv.split("=", 1) for kv in cols[8].split(";"))
            start, end = int(cols[3]), int(cols[4])
            assert start <= end
            if cols[2] == "gene":
                genes[attrs["ID"]] = {"chrom": cols[0], "strand": cols[6], "start": start,
                                      "end": end, "attrs": attrs}
            elif cols[2] == "CDS":
                cds[attrs["Parent"].removesuffix("_mRNA")].append((start, end))
    chroms = {name: "".join(parts) for name, parts in seqs.items()}
    for name, gene in genes.items():
        gene["cds"] = sorted(cds[name])
    return {"genes": genes, "chroms": chroms}


def revcomp(seq: str) -> str:
    return seq.upper().translate(COMP)[::-1]


def window(genome: dict, gene: str, region: str) -> tuple[str, bool]:
    """docs/design.md section 2, windows: upstream 1000 bp + ATG, downstream stop + 297 bp; cut = hit an end."""
    g = genome["genes"][gene]
    chrom = genome["chroms"][g["chrom"]]
    lo, hi = g["cds"][0][0], g["cds"][-1][1]
    if g["strand"] == "+":
        a, b = (lo - 1000, lo + 2) if region == "up" else (hi - 2, hi + 297)
    else:
        a, b = (hi - 2, hi + 1000) if region == "up" else (lo - 297, lo + 2)
    cut = a < 1 or b > len(chrom)
    seq = chrom[max(a, 1) - 1:min(b, len(chrom))].upper()
    return (seq if g["strand"] == "+" else revcomp(seq)), cut


def coding(genome: dict, gene: str) -> str:
    g = genome["genes"][gene]
    chrom = genome["chroms"][g["chrom"]]
    seq = "".join(chrom[s - 1:e] for s, e in g["cds"]).upper()
    return seq if g["strand"] == "+" else revcomp(seq)


def gene_of(strain: str) -> str:
    return strain.split("_", 1)[0]


# --- API ---------------------------------------------------------------------------------------

def test_presets_and_unknown_preset(tmp_path):
    assert set(PRESETS) == {"tiny", "small", "full"}
    assert PRESETS["full"].sga_rows == 13_000_000
    with pytest.raises(CreError, match="unknown demo preset"):
        generate_demo_files(tmp_path, "huge")
    with pytest.raises(CreError):
        generate_demo_files(tmp_path, "tiny", seed=-1)


def test_deterministic_per_seed(demo, tmp_path):
    again = generate_demo_files(tmp_path / "same", "tiny", seed=0)
    other = generate_demo_files(tmp_path / "other", "tiny", seed=1)
    def files(d):
        return [d.gff, *d.sga, d.kuzmin, d.smf, d.obo, d.gaf, d.truth, d.facts]

    first, second, third = files(demo), files(again), files(other)
    for a, b, c in zip(first, second, third):
        assert a.name == b.name == c.name
        assert a.read_bytes() == b.read_bytes(), a.name
        assert a.read_bytes() != c.read_bytes(), a.name


# --- formats -----------------------------------------------------------------------------------

def test_headers_exact(demo):
    for path in demo.sga:
        assert path.read_text(encoding="utf-8").split("\n", 1)[0] == SGA_HEADER
    assert [p.name for p in demo.sga] == ["SGA_ExE.txt", "SGA_NxN.txt", "SGA_ExN_NxE.txt",
                                          "SGA_DAmP.txt"]
    assert demo.smf.read_text(encoding="utf-8").split("\n", 1)[0] == SMF_HEADER
    assert demo.gff.read_text().split("\n", 1)[0] == "##gff-version 3"
    assert demo.obo.read_text().split("\n", 1)[0] == "format-version: 1.2"
    assert demo.gaf.read_text().split("\n", 1)[0] == "!gaf-version: 2.2"
    assert demo.truth.read_text().split("\n", 1)[0] == "gene\tmodule\tseverity"


def test_gff_genes_names_and_codons(demo, genome):
    genes = genome["genes"]
    assert 280 <= len(genes) <= 320
    assert set(genome["chroms"]) == {f"chr{r}" for r in (
        "I II III IV V VI VII VIII IX X XI XII XIII XIV XV XVI".split())}
    standard = [g["attrs"]["gene"] for g in genes.values() if "gene" in g["attrs"]]
    assert len(standard) == len(set(standard)) and 0.6 < len(standard) / len(genes) < 0.8
    assert all(re.fullmatch(r"[A-Z]{3}\d+", s) for s in standard)
    classes = [g["attrs"]["orf_classification"] for g in genes.values()]
    assert set(classes) == {"Verified", "Uncharacterized", "Dubious"}
    chrom_letter = {f"chr{r}": "ABCDEFGHIJKLMNOP"[i] for i, r in enumerate(
        "I II III IV V VI VII VIII IX X XI XII XIII XIV XV XVI".split())}
    for name, g in genes.items():
        m = re.fullmatch(r"Y([A-P])([LR])(\d{3})([WC])(-A)?", name)
        assert m, name
        assert m.group(1) == chrom_letter[g["chrom"]]
        assert m.group(4) == ("W" if g["strand"] == "+" else "C")
        seq = coding(genome, name)
        assert len(seq) % 3 == 0 and seq.startswith("ATG"), name
        assert seq[-3:] in ("TAA", "TAG", "TGA"), name
        assert g["cds"][0][0] == g["start"] and g["cds"][-1][1] == g["end"]
    assert sum(len(g["cds"]) == 2 for g in genes.values()) >= 3     # some introns
    text = demo.gff.read_text()
    fasta = text.split("##FASTA\n", 1)[1]
    assert all(len(line) <= 80 for line in fasta.splitlines())
    assert re.search(r"[acgt]{20}", fasta) and re.search(r"[RYKMSWN]", fasta.replace(">chr", ""))


def test_edge_gene_window_is_cut(genome):
    cut_up = [n for n in genome["genes"] if window(genome, n, "up")[1]]
    cut_down = [n for n in genome["genes"] if window(genome, n, "down")[1]]
    assert cut_up and cut_down


def test_other_formats(demo, world):
    obo = demo.obo.read_text()
    assert "id: GO:0008150\nname: biological_process\nnamespace: biological_process" in obo
    assert obo.count("is_obsolete: true") == 2 and "relationship: part_of GO:" in obo
    for motif in world.up_motifs:
        assert motif in obo
    lines = [line.split("\t") for line in demo.gaf.read_text().splitlines()
             if not line.startswith("!")]
    assert all(len(cols) == 17 for cols in lines)
    assert {cols[3] for cols in lines} >= {"involved_in", "NOT|involved_in"}
    assert all(re.fullmatch(r"S\d{9}", cols[1]) and cols[12] == "taxon:559292" for cols in lines)
    smf = demo.smf.read_text(encoding="utf-8").splitlines()[1:]
    assert all(len(line.split(",")) == 6 for line in smf)
    assert any(",," in line for line in smf)                      # some values not measured


# --- SGA design ---------------------------------------------------------------------------------

def test_strains_name_genes_and_essentials_are_ts_or_damp(sga, genome, truth):
    genes = genome["genes"]
    assert 15_000 <= len(sga) <= 25_000
    kinds = set()
    for row in sga:
        assert len(row) == 12
        for strain in (row[0], row[2]):
            gene, suffix = strain.split("_", 1)
            kind = re.fullmatch(r"(sn|dma|tsq|tsa|damp)\d+", suffix).group(1)
            kinds.add(kind)
            assert gene in genes, strain
            essential = truth[gene][1] > ESSENTIAL_SIGMA
            assert essential == (kind in ("tsq", "tsa", "damp")), strain
        assert row[4] in ("DMA26", "DMA30", "TSA26", "TSA30")
        assert row[4].startswith("TSA") == row[2].split("_")[1].startswith("tsa")
    assert kinds == {"sn", "dma", "tsq", "tsa", "damp"}


def test_pairs_repeat_in_both_orientations_and_temperatures(sga):
    seen: dict[tuple[str, str], set] = defaultdict(set)
    for row in sga:
        q, a = gene_of(row[0]), gene_of(row[2])
        seen[tuple(sorted((q, a)))].add((q, row[4][-2:]))
    repeated = [v for v in seen.values() if len(v) > 1]
    assert len(repeated) / len(seen) > 0.15
    assert sum(len({q for q, _ in v}) == 2 for v in seen.values()) > 100   # both orientations
    assert sum(len({t for _, t in v}) == 2 for v in seen.values()) > 100   # both temperatures


def test_epsilon_uses_reported_smf(sga):
    for row in sga[::50]:
        eps, smf_q, smf_a, dmf = float(row[5]), float(row[7]), float(row[8]), float(row[9])
        assert abs(eps - (dmf - smf_q * smf_a)) < 1e-3
        assert 0.0 <= dmf <= 1.2 and 0.0 <= float(row[6]) <= 1.0


def test_smf_distribution(demo):
    values = []
    with open(demo.smf, encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if "_dma" in row["Strain ID"] and row["Single mutant fitness (26°)"]:
                values.append(float(row["Single mutant fitness (26°)"]))
    values = np.array(values)
    assert 0.9 <= np.median(values) <= 1.0
    assert np.quantile(values, 0.05) < 0.75 and values.min() < 0.5      # long left tail


def test_epsilon_sparse_negative_and_modular(sga, truth, world):
    eps = np.array([float(r[5]) for r in sga])
    strong = np.abs(eps) > 0.08
    assert 0.03 < strong.mean() < 0.15
    assert (eps[strong] < 0).mean() > 0.65
    parent = {g: (world.module_parent[m] if m >= 0 else -1) for g, (m, _) in truth.items()}
    within, unrelated = [], []
    for row, e in zip(sga, eps):
        q, a = gene_of(row[0]), gene_of(row[2])
        mq, ma = truth[q][0], truth[a][0]
        if mq >= 0 and ma >= 0:
            if mq == ma:
                within.append(e)
            elif parent[q] != parent[a]:
                unrelated.append(e)
    assert len(within) > 200 and len(unrelated) > 1000
    assert np.mean(within) < np.mean(unrelated) - 0.02
    assert np.mean(np.abs(within) > 0.08) > 3 * np.mean(np.abs(np.array(unrelated)) > 0.08)


# --- planted sequence signal --------------------------------------------------------------------

def test_module_motifs_sit_in_windows(genome, truth, world):
    up_any = set(world.up_motifs)
    hits_up, hits_down, background_hits, severity_exact, n_module, n_background = 0, 0, 0, 0, 0, 0
    for g, name in enumerate(world.names):
        up, _ = window(genome, name, "up")
        down, _ = window(genome, name, "down")
        assert up.endswith("ATG") or len(up) < 1003
        m = truth[name][0]
        assert m == world.module[g]
        if m >= 0:
            n_module += 1
            hits_up += up.count(world.up_motifs[m]) >= world.up_copies[g]
            hits_down += down.count(world.down_motifs[m]) >= world.down_copies[g]
        else:
            n_background += 1
            background_hits += any(motif in up for motif in up_any)
        severity_exact += up.count(world.severity_motif) == world.sev_copies[g]
    assert hits_up == n_module and hits_down == n_module
    assert background_hits / n_background < 0.1
    assert severity_exact / world.n > 0.9


def test_severity_drives_fitness(world, truth):
    sigma = np.array([truth[n][1] for n in world.names])
    assert np.allclose(sigma, world.severity, atol=1e-4)
    essential = sigma > ESSENTIAL_SIGMA
    assert 0.12 < essential.mean() < 0.21
    in_module = world.module >= 0
    copies = world.sev_copies
    # within severe modules more severity-motif copies mean sicker deletions
    severe = np.array([world.module_kind[m] == "severe" if m >= 0 else False for m in world.module])
    assert np.corrcoef(copies[severe], sigma[severe])[0, 1] > 0.8
    assert not essential[~in_module].any()


# --- Kuzmin trigenic screen -----------------------------------------------------------------------

KUZMIN_HEADER = [
    "Query strain ID", "Query allele name", "Array strain ID", "Array allele name",
    "Combined mutant type", "Raw genetic interaction score (epsilon)",
    "Adjusted genetic interaction score (epsilon or tau)", "P-value",
    "Query single/double mutant fitness", "Array single mutant fitness",
    "Double/triple mutant fitness", "Double/triple mutant fitness standard deviation",
]


def query_genes(strain: str) -> list[str]:
    return strain.split("_", 1)[0].split("+")


def test_kuzmin_layout_and_size(kuzmin, genome, world):
    assert kuzmin[0] == KUZMIN_HEADER
    rows = kuzmin[1:]
    assert all(len(r) == 12 for r in rows)
    kinds = [r[4] for r in rows]
    assert set(kinds) == {"digenic", "trigenic"}
    assert 2_000 <= kinds.count("trigenic") <= 4_500
    for row in rows:
        genes = query_genes(row[0])
        assert re.fullmatch(r"[A-Z0-9-]+\+[A-Z0-9-]+_tm\d+", row[0]), row[0]
        assert (genes[1] == "YDL227C") == (row[4] == "digenic"), row[0]   # HO marker
        assert row[1].count("Δ") == 2 and row[1].endswith("Δ")
        assert all(g in genome["genes"] for g in genes if g != "YDL227C")
        assert gene_of(row[2]) not in genes and "_dma" in row[2]
    # some double mutants were built twice: the same genes under two strain IDs
    strains = defaultdict(set)
    for row in rows:
        if row[4] == "trigenic":
            strains[frozenset(query_genes(row[0]))].add(row[0])
    assert any(len(ids) == 2 for ids in strains.values())


def test_tau_removes_the_three_digenic_scores(kuzmin):
    """Adjusted tau = raw - eps_ij f_k - eps_ik f_j - eps_jk f_i, from the file's own values."""
    rows = kuzmin[1:]
    single = {query_genes(r[0])[0]: float(r[8]) for r in rows if r[4] == "digenic"}
    eps = {(query_genes(r[0])[0], gene_of(r[2])): float(r[6]) for r in rows if r[4] == "digenic"}
    checked = 0
    for r in rows[::7]:
        if r[4] != "trigenic":
            continue
        i, j = query_genes(r[0])
        k = gene_of(r[2])
        if (i, k) not in eps or (j, k) not in eps:
            continue                                           # a failed digenic cross
        raw, tau, f_ij, f_k, f_ijk = (float(r[c]) for c in (5, 6, 8, 9, 10))
        f_i, f_j = single[i], single[j]
        assert raw == pytest.approx(f_ijk - f_i * f_j * f_k, abs=2e-3)
        expected = raw - (f_ij - f_i * f_j) * f_k - eps[i, k] * f_j - eps[j, k] * f_i
        assert tau == pytest.approx(expected, abs=2e-3)
        checked += 1
    assert checked > 200


def test_tau_planted_within_modules_and_negative(kuzmin, truth):
    within, other = [], []
    for r in kuzmin[1:]:
        if r[4] != "trigenic":
            continue
        modules = {truth[g][0] for g in query_genes(r[0]) + [gene_of(r[2])]}
        (within if len(modules) == 1 and -1 not in modules else other).append(float(r[6]))
    within, other = np.array(within), np.array(other)
    assert len(within) > 50 and len(other) > 1000
    assert within.mean() < other.mean() - 0.02
    assert np.mean(within < -0.08) > 2 * np.mean(other < -0.08)
    assert np.mean(within < -0.08) > np.mean(within > 0.08)
