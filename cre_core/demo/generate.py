"""The deterministic demo world: raw files in the real formats, with planted, learnable signal.

``generate_demo_files(raw_dir, preset, seed)`` writes a yeast-like genome, a Costanzo-style
double-mutant screen and a Kuzmin-style triple-mutant screen; the same (preset, seed) always
gives byte-identical files. The real parsers then ingest them like user data.

What is planted (see :mod:`cre_core.demo.world` for the numbers):

- **Genome.** 16 chromosomes ``chrI``..``chrXVI`` with gene counts in proportion to S288C;
  genes of 300-3,000 bp (5% with an intron: two CDS parts) separated by 200-1,500 bp gaps, SGD
  systematic names numbered outward from a centromere (a few with an ``-A`` suffix), 70% with a
  standard name, ORF classes Verified / Uncharacterized / Dubious (78/14/8%). Background
  sequence is AT-rich (64%), with soft-masked (lower-case) stretches, IUPAC codes and a run of
  N in intergenic DNA. The first and last genes of chrI sit 150 and 120 bp from the chromosome
  ends, so their upstream / downstream windows are cut off and must be padded.
- **Modules.** About 70% of genes (never Dubious ones) belong to one of M modules (12 / 25 / 60
  for tiny / small / full). Each module has its own GC-rich 10-mer upstream motif, planted 1-3
  times within 450 bp upstream of the ATG, and its own downstream 10-mer, planted 1-2 times
  within the 297 bp after the stop codon; both in the gene's orientation, so they sit inside
  the CRE windows (upstream 1,003 bp, downstream 300 bp). Background genes carry no motifs;
  the motifs are chosen to be rare in random sequence (< 1e-3 per window by chance).
- **Severity.** A global severity 10-mer is planted 0-4 times upstream of module genes.
  Deletion severity sigma = module weight x severity copies + small gene noise (Exp, mean
  0.03); deletion fitness f = exp(-sigma). Module weights: "severe" modules 0.7-1.1 per copy
  (chosen so ~16.5% of genes end up essential), "moderate" 0.08-0.25, "mild" 0.005-0.03.
  Genes with sigma > 1.2 (f < 0.30) are essential: they exist only as temperature-sensitive
  alleles (fitness exp(-sigma*h), h 0.03-0.08 at 26 deg, 0.06-0.15 at 30 deg) or DAmP alleles
  (h 0.04-0.12), so they grow at intermediate fitness (median ~0.8).
  Nonessential deletions: median fitness ~0.95 with a long left tail. Upstream windows thus
  explain SMF; downstream windows carry module identity only.
- **Interactions.** eps is a hashed, deterministic function of the unordered gene pair. Pairs
  in the same module interact with probability 0.5: negative, except in ~10% small
  "alleviating" modules (like complexes), with a magnitude that scales with the module's
  strength and both genes' module-motif copies. Sibling modules (sharing a parent GO term)
  interact with probability 0.2, cousins (same top-level group) 0.06, everything else at a
  scattered rate tuned so ~6.5% of all pairs have |eps| > 0.08 (~8% once noise is added).
  Outside a module, genes with more severity copies interact more often; about 80% of strong
  interactions are negative. Every pair also gets a tiny N(0, 0.012) term. Hypomorphic
  alleles scale eps by a per-strain factor (ts 0.5-0.8 at 26 deg, 0.7-1 at 30 deg, DAmP
  0.5-0.9); a pair's factor is the product of its two strains' factors.
- **Measurements.** Reported SMF = true + N(0, 0.015) per strain and temperature (the SMF
  CSV misses ~5% of genes, and ~12% of strains lack one temperature). DMF = f_q*f_a + eps +
  noise (sd 0.018-0.042, tied to the reported standard deviation), clipped to [0, 1.2]; the
  file's eps column is DMF - SMF_q*SMF_a from the reported columns. 5% of crosses fail
  (missing rows). Pairs recur in both query/array orientations and at both temperatures.
- **Triples.** ``kuzmin2018_trigenic.tsv`` in the Kuzmin 2018 Data S1 layout: double-mutant
  query strains ``X+Y_tmN`` of nonessential genes (60% within a module; 15% built twice) and
  their single-mutant controls ``X+YDL227C_tmN`` (HO, the neutral marker) against an array of
  up to 1,200 deletion strains (tiny ~3k, small ~30k, full ~300k triple rows, plus the digenic
  rows). The planted tau is a hashed function of the gene triple: all three genes in one module
  interact with chance 0.35 (90% negative, 10% positive in alleviating modules; magnitude 1.5 x
  module strength x copies), one shared-module pair 0.03, else 0.006; each digenically
  interacting pair of the triple raises the chance (x 0.4 + 0.6 per hit). f_ijk = f_i f_j f_k
  + eps_ij f_k + eps_ik f_j + eps_jk f_i + tau + noise; the raw and adjusted scores are
  computed as Kuzmin does, from the reported fitness values.
- **Ontology.** GO terms: root -> top-level groups -> parent terms (2-4 modules each) ->
  one term per module (25% linked to their parent by ``part_of``), plus noise terms with
  random genes, two obsolete terms and a few F/C terms. The GAF annotates module genes to
  their module's term with ~10% missing or wrong, a few to parent terms, and a few ``NOT``
  lines that readers must ignore. Each module term's ``def`` names its motifs.
- **Truth.** ``demo_truth.tsv``: gene, module (-1 = none), severity sigma.
  ``demo_gene_facts.json``: the per-gene and per-module parameters behind the interactions
  (:class:`~cre_core.demo.world.GeneFacts`), read by the gene-level ceiling.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from cre_core.data.store import FACTS_NAME
from cre_core.demo import files as demo_files
from cre_core.demo.world import DemoPreset, World, build_world, gene_facts
from cre_core.errors import CreError

PRESETS: dict[str, DemoPreset] = {
    "tiny": DemoPreset("tiny", n_genes=300, n_modules=12, sga_rows=20_000, trigenic_rows=3_000,
                       description="~300 genes, ~20k SGA rows; builds in a few seconds (tests)"),
    "small": DemoPreset("small", n_genes=1_000, n_modules=25, sga_rows=200_000,
                        trigenic_rows=30_000,
                        description="~1,000 genes, ~200k SGA rows; laptop demo"),
    "full": DemoPreset("full", n_genes=6_000, n_modules=60, sga_rows=13_000_000,
                       trigenic_rows=300_000,
                       description="~6,000 genes, ~1.3e7 SGA rows; Costanzo scale, benchmarks"),
}

GFF_NAME = "saccharomyces_cerevisiae.gff"
SMF_NAME = "strain_ids_and_single_mutant_fitness.csv"
OBO_NAME = "go-basic.obo"
GAF_NAME = "sgd.gaf"
TRUTH_NAME = "demo_truth.tsv"
KUZMIN_NAME = "kuzmin2018_trigenic.tsv"


@dataclass(frozen=True)
class DemoFiles:
    """Paths of the generated raw files."""

    gff: Path
    sga: list[Path]
    kuzmin: Path
    smf: Path
    obo: Path
    gaf: Path
    truth: Path
    facts: Path


def get_preset(preset: str) -> DemoPreset:
    """The named preset, or a CreError listing the choices."""
    if preset not in PRESETS:
        raise CreError(f"unknown demo preset '{preset}'; choose one of {', '.join(PRESETS)}")
    return PRESETS[preset]


def demo_world(preset: str = "small", seed: int = 0) -> World:
    """The in-memory world behind the files (motifs, modules, true fitness), for tests and docs."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise CreError(f"demo seed must be a non-negative integer, got {seed!r}")
    return build_world(get_preset(preset), seed)


def generate_demo_files(raw_dir: Path, preset: str = "small", seed: int = 0) -> DemoFiles:
    """Write the demo's raw files into ``raw_dir`` (created if needed) and return their paths."""
    world = demo_world(preset, seed)
    raw_dir = Path(raw_dir)
    raw_dir.mkdir(parents=True, exist_ok=True)
    files = DemoFiles(
        gff=raw_dir / GFF_NAME, sga=[raw_dir / name for name in demo_files.SGA_FILES],
        kuzmin=raw_dir / KUZMIN_NAME,
        smf=raw_dir / SMF_NAME, obo=raw_dir / OBO_NAME, gaf=raw_dir / GAF_NAME,
        truth=raw_dir / TRUTH_NAME, facts=raw_dir / FACTS_NAME,
    )
    demo_files.write_gff(world, files.gff)
    demo_files.write_smf(world, files.smf)
    onto = demo_files.Ontology(world)
    demo_files.write_obo(world, onto, files.obo)
    demo_files.write_gaf(world, onto, files.gaf)
    demo_files.write_truth(world, files.truth)
    files.facts.write_text(gene_facts(world).to_json(), encoding="utf-8")
    blocks = demo_files.sga_blocks(world)
    con = duckdb.connect()
    try:
        for path in files.sga:
            demo_files.write_sga(world, path, blocks[path.name], con)
        demo_files.write_trigenic(world, files.kuzmin, con)
    finally:
        con.close()
    return files
