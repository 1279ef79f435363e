"""The demo world's biology: genome layout, planted motifs, modules, fitness and interactions.

No file I/O here: :mod:`cre_core.demo.files` writes this world in the real formats and
:mod:`cre_core.demo.generate` documents what is planted. Everything is a deterministic function of
``(preset, seed)``: each concern draws from its own seeded stream, and per-pair / per-row
quantities come from a counter-based hash, so they do not depend on the order or chunking in
which rows are generated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from cre_core.data.kuzmin import HO_MARKER
from cre_core.genome.dna import COMPLEMENT, reverse_complement

# (name, real S288C length in bp, centromere position in bp): gene counts and centromere
# placement follow these proportions.
CHROMOSOMES = (
    ("chrI", 230_218, 151_500), ("chrII", 813_184, 238_200), ("chrIII", 316_620, 114_400),
    ("chrIV", 1_531_933, 449_700), ("chrV", 576_874, 151_900), ("chrVI", 270_161, 148_500),
    ("chrVII", 1_090_940, 496_900), ("chrVIII", 562_643, 105_600), ("chrIX", 439_888, 355_600),
    ("chrX", 745_751, 436_300), ("chrXI", 666_816, 440_100), ("chrXII", 1_078_177, 150_800),
    ("chrXIII", 924_431, 268_000), ("chrXIV", 784_333, 628_800), ("chrXV", 1_091_291, 326_600),
    ("chrXVI", 948_066, 556_000),
)

MOTIF_LEN = 10
SLOT = MOTIF_LEN + 2            # a planted motif plus a 2 bp spacer
CEN_ROOM = 400                  # extra gap holding a 118 bp centromere
UP_REACH = 450                  # upstream motifs sit within this many bp of the ATG
DOWN_REACH = 296                # downstream motifs end within the 297 bp after the stop codon

ESSENTIAL_SIGMA = 1.2           # deletion severity above which a gene is essential (f < 0.30)
ESSENTIAL_TARGET = 0.165        # fraction of genes made essential via severe modules
MODULE_FRACTION = 0.76          # of non-dubious genes (about 70% of all genes)

# Pair relations for interactions: same module, sibling modules (same parent GO term),
# cousins (same top-level group), two unrelated modules, a background gene involved.
SAME, SIBLING, COUSIN, UNRELATED, BACKGROUND = range(5)
P_INTERACT = np.array([0.50, 0.20, 0.06, 0.04, 0.035])   # chance a pair interacts
P_NEGATIVE = np.array([1.00, 0.92, 0.85, 0.85, 0.85])    # of those, chance it is negative
MAGNITUDE = np.array([0.0, 0.20, 0.15, 0.13, 0.12])       # SAME uses the module's strength
DENSE_SD = 0.012                                          # tiny interaction every pair has
STRONG_EPS, STRONG_TARGET = 0.08, 0.065   # about 6.5% of pairs get |eps| > 0.08 (deletions)

# Trigenic interactions tau, by how many of a triple's three pairs share a module (0, 1 or 3):
# mostly within modules and mostly negative (Kuzmin et al. 2018), and more likely the more of
# the triple's three pairs interact digenically.
TAU_P = np.array([0.006, 0.03, 0.0, 0.35])
TAU_NEGATIVE = np.array([0.75, 0.8, 0.0, 0.9])       # alleviating modules: 1 - 0.9
TAU_MAGNITUDE = np.array([0.08, 0.10, 0.0, 0.0])     # all-same-module triples: TAU_MODULE
TAU_MODULE = 1.5                                     # x module strength x mean copies / 2
TAU_DENSE_SD = 0.01
TAU_ARRAYS = 1_200          # Kuzmin's array: about 1,200 deletion strains
TAU_DUPLICATED = 0.15       # double-mutant queries built (and screened) twice


@dataclass(frozen=True)
class DemoPreset:
    """Size of a demo world; ``sga_rows`` / ``trigenic_rows`` are the target numbers of SGA
    (double-mutant) and Kuzmin-style triple-mutant measurements."""

    name: str
    n_genes: int
    n_modules: int
    sga_rows: int
    trigenic_rows: int
    description: str


@dataclass
class World:
    """Genes (arrays in genome order), modules, motifs, genome sequence and SGA design."""

    preset: DemoPreset
    seed: int
    # genes
    names: list[str]
    std_names: list[str | None]
    orf_class: list[str]
    chrom: np.ndarray            # index into CHROMOSOMES
    start: np.ndarray            # gene span, 1-based inclusive (= CDS span)
    end: np.ndarray
    strand: np.ndarray           # +1 / -1
    cds: list[list[tuple[int, int]]]
    module: np.ndarray           # -1 = background
    up_copies: np.ndarray        # module motif copies upstream (0 for background)
    down_copies: np.ndarray      # module motif copies downstream
    sev_copies: np.ndarray       # severity motif copies upstream
    severity: np.ndarray         # sigma: deletion fitness = exp(-sigma)
    f_del: np.ndarray
    essential: np.ndarray
    # modules and ontology skeleton
    module_parent: np.ndarray    # level-2 term index of each module
    parent_group: np.ndarray     # level-1 group index of each parent term
    module_weight: np.ndarray    # severity per motif copy
    module_kind: list[str]       # severe / moderate / mild
    module_sign: np.ndarray      # -1 (aggravating) or +1 (alleviating) within-module interactions
    module_strength: np.ndarray
    up_motifs: list[str]
    down_motifs: list[str]
    severity_motif: str
    # genome
    sequences: dict[str, np.ndarray]     # upper-case ASCII codes per chromosome
    lowercase: dict[str, np.ndarray]     # soft-masked positions (bool)
    centromeres: dict[str, tuple[int, int]]
    # strains: one entry per strain (deletions, ts alleles, DAmP)
    strains: Strains
    trigenic: Trigenic
    bg_rate: float = 1.0         # multiplier on scattered (unrelated/background) interactions

    @property
    def n(self) -> int:
        return len(self.names)


@dataclass
class Strains:
    """Every strain of the SGA design; ``kind`` is sn / dma / tsq / tsa / damp."""

    gene: np.ndarray
    kind: list[str]
    strain_id: list[str]
    allele: list[str]
    eps_scale26: np.ndarray      # interaction scale (1 for deletions, <1 for hypomorphs)
    eps_scale30: np.ndarray
    f26: np.ndarray              # true single-mutant fitness
    f30: np.ndarray
    smf26: np.ndarray            # measured (reported) single-mutant fitness
    smf30: np.ndarray
    std26: np.ndarray
    std30: np.ndarray
    screens: dict[str, list[tuple[int, int]]]   # query kind -> (strain index, temperature)


@dataclass
class Trigenic:
    """A Kuzmin-style screen: double-mutant query strains (gene pairs) and single-mutant query
    strains (a gene plus the HO marker, one per query gene) against a deletion array."""

    pairs: np.ndarray           # (q, 2) gene indices of the double-mutant query strains
    singles: np.ndarray         # gene index of each single-mutant query strain
    arrays: np.ndarray          # array strain indices (dma strains)
    numbers: np.ndarray         # tm strain numbers: the singles', then the pairs'


@dataclass
class GeneFacts:
    """Everything the world knows per gene (and per module) but nothing per pair or per
    measurement: the inputs of the demo's gene-level ceiling (:mod:`cre_core.data.ceilings`).

    ``smf`` is a gene's noise-free single-mutant fitness averaged over its strains and both
    temperatures; ``eps_scale`` the mean interaction scale of those strains (1 for deletions).
    Arrays are indexed like ``names``; module arrays by module.
    """

    names: list[str]
    module: np.ndarray
    up_copies: np.ndarray
    sev_copies: np.ndarray
    smf: np.ndarray
    eps_scale: np.ndarray
    module_parent: np.ndarray
    parent_group: np.ndarray
    module_sign: np.ndarray
    module_strength: np.ndarray
    bg_rate: float

    _ARRAYS = ("module", "up_copies", "sev_copies", "smf", "eps_scale", "module_parent",
               "parent_group", "module_sign", "module_strength")

    def to_json(self) -> str:
        """Deterministic text (same world, same bytes)."""
        body = {"names": self.names, "bg_rate": self.bg_rate}
        body.update({k: getattr(self, k).tolist() for k in self._ARRAYS})
        return json.dumps(body, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> GeneFacts:
        body = json.loads(text)
        return cls(names=body["names"], bg_rate=float(body["bg_rate"]),
                   **{k: np.asarray(body[k]) for k in cls._ARRAYS})


def gene_facts(world: World) -> GeneFacts:
    """The per-gene facts of ``world`` (see :class:`GeneFacts`)."""
    st = world.strains
    count = np.bincount(st.gene, minlength=world.n)
    smf = np.bincount(st.gene, (st.f26 + st.f30) / 2, minlength=world.n) / np.maximum(count, 1)
    scale = np.bincount(st.gene, (st.eps_scale26 + st.eps_scale30) / 2,
                        minlength=world.n) / np.maximum(count, 1)
    return GeneFacts(
        names=list(world.names), module=world.module, up_copies=world.up_copies,
        sev_copies=world.sev_copies, smf=np.where(count > 0, smf, np.nan),
        eps_scale=np.where(count > 0, scale, np.nan), module_parent=world.module_parent,
        parent_group=world.parent_group, module_sign=world.module_sign,
        module_strength=world.module_strength, bg_rate=world.bg_rate)


def rng_stream(seed: int, stream: int) -> np.random.Generator:
    """An independent generator per concern, so changing one part never reshuffles another."""
    return np.random.default_rng([seed, stream])


# --- hashing: per-pair and per-row randomness independent of generation order -----------------

def mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser on a uint64 array (wrap-around arithmetic)."""
    x = np.asarray(x, dtype=np.uint64)
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def uniforms(key: np.ndarray, salt: int, k: int) -> list[np.ndarray]:
    """``k`` independent uniforms in (0, 1) per key."""
    h = mix64(np.asarray(key, dtype=np.uint64) ^ np.uint64(salt & 0xFFFFFFFFFFFFFFFF))
    out = []
    for _ in range(k):
        h = mix64(h)
        out.append(((h >> np.uint64(11)).astype(np.float64) + 0.5) * (1.0 / 9007199254740992.0))
    return out


def normals(u1: np.ndarray, u2: np.ndarray) -> np.ndarray:
    """Standard normals from two uniform arrays (Box-Muller)."""
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def salt_for(seed: int, tag: int) -> int:
    """A 64-bit salt for :func:`uniforms`, distinct per seed and per use."""
    return int(mix64(np.array([seed * 1_000_003 + tag], dtype=np.uint64))[0])


# --- motifs -----------------------------------------------------------------------------------

def _hamming(a: str, b: str) -> int:
    return sum(x != y for x, y in zip(a, b))


def choose_motifs(rng: np.random.Generator, count: int) -> list[str]:
    """GC-rich 10-mers: rare in the AT-rich background, far from each other on both strands."""
    chosen: list[str] = []
    probs = np.array([0.2, 0.3, 0.3, 0.2])
    while len(chosen) < count:
        motif = "".join("ACGT"[i] for i in rng.choice(4, size=MOTIF_LEN, p=probs))
        gc = motif.count("G") + motif.count("C")
        if not 5 <= gc <= 7 or any(b * 4 in motif for b in "ACGT") or "ATG" in motif:
            continue
        rc = reverse_complement(motif)
        if _hamming(motif, rc) < 5:
            continue
        if all(_hamming(motif, o) >= 4 and _hamming(rc, o) >= 4 for o in chosen):
            chosen.append(motif)
    return chosen


# --- gene table -------------------------------------------------------------------------------

def planted_motifs(preset: DemoPreset, seed: int) -> dict[str, str]:
    """The motifs ``build_world(preset, seed)`` plants, by name (``module 3 upstream``,
    ``module 3 downstream``, ``severity``), without building the world: they are the first
    draws of its motif stream (stream 4; tests check both agree)."""
    n_mod = preset.n_modules
    motifs = choose_motifs(rng_stream(seed, 4), 2 * n_mod + 1)
    named = {f"module {m} upstream": motifs[m] for m in range(n_mod)}
    named.update({f"module {m} downstream": motifs[n_mod + m] for m in range(n_mod)})
    named["severity"] = motifs[-1]
    return named


def _split_counts(total: int, weights: np.ndarray, minimum: int) -> np.ndarray:
    """Largest-remainder split of ``total`` in proportion to ``weights`` (each >= minimum)."""
    raw = weights / weights.sum() * (total - minimum * len(weights))
    counts = np.floor(raw).astype(int)
    short = total - minimum * len(weights) - counts.sum()
    for i in np.argsort(-(raw - counts), kind="stable")[:short]:
        counts[i] += 1
    return counts + minimum


def _standard_names(rng: np.random.Generator, count: int) -> list[str]:
    letters = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXZ"))
    seen: set[str] = set()
    names: list[str] = []
    while len(names) < count:
        name = "".join(rng.choice(letters, 3)) + str(int(rng.integers(1, 25)))
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


def _assign_modules(rng: np.random.Generator, n: int, n_modules: int,
                    dubious: np.ndarray) -> np.ndarray:
    module = np.full(n, -1, dtype=np.int64)
    candidates = np.flatnonzero(~dubious)
    in_module = candidates[rng.random(len(candidates)) < MODULE_FRACTION]
    weights = rng.gamma(4.0, 1.0, n_modules)
    module[in_module] = rng.choice(n_modules, size=len(in_module), p=weights / weights.sum())
    spare = list(candidates[module[candidates] < 0])
    for m in range(n_modules):          # every module needs a few genes
        while (module == m).sum() < 4 and spare:
            module[spare.pop(int(rng.integers(len(spare))))] = m
    return module


def _module_tree(rng: np.random.Generator, n_modules: int) -> tuple[np.ndarray, np.ndarray]:
    """Modules -> parent terms (2-4 modules each) -> top-level groups (2-3 parents each)."""
    sizes: list[int] = []
    while sum(sizes) < n_modules:
        sizes.append(min(int(rng.integers(2, 5)), n_modules - sum(sizes)))
    if sizes[-1] < 2 and len(sizes) > 1:
        last = sizes.pop()
        sizes[-1] += last
    module_parent = np.repeat(np.arange(len(sizes)), sizes)[rng.permutation(n_modules)]
    n_parents = len(sizes)
    n_groups = max(2, int(round(n_parents / 2.5)))
    parent_group = np.sort(np.arange(n_parents) % n_groups)[rng.permutation(n_parents)]
    return module_parent, parent_group


def _fitness(rng: np.random.Generator, module: np.ndarray, n_modules: int):
    """Motif copies, module weights, severities and essentiality."""
    n = len(module)
    in_mod = module >= 0
    up = np.where(in_mod, rng.choice([1, 2, 3], size=n, p=[0.4, 0.35, 0.25]), 0)
    down = np.where(in_mod, rng.choice([1, 2], size=n, p=[0.6, 0.4]), 0)
    sev = np.where(in_mod, rng.choice(5, size=n, p=[0.2, 0.25, 0.25, 0.18, 0.12]), 0)

    kind = ["mild"] * n_modules
    weight = np.zeros(n_modules)
    essential_so_far = 0
    target = ESSENTIAL_TARGET * n
    order = rng.permutation(n_modules)
    adds = {int(m): int(((module == m) & (sev >= 2)).sum()) for m in order}
    for m in order:          # severe modules until ~16.5% of genes are essential, not overshooting
        if essential_so_far + adds[m] <= 1.08 * target:
            kind[m] = "severe"
            essential_so_far += adds[m]
    for m in order:          # still short (only big modules left): take one if it gets closer
        closer = abs(essential_so_far + adds[m] - target) < abs(essential_so_far - target)
        if kind[m] != "severe" and closer:
            kind[m] = "severe"
            essential_so_far += adds[m]
    for m in range(n_modules):
        if kind[m] == "severe":
            weight[m] = rng.uniform(0.7, 1.1)
        elif rng.random() < 0.35:
            kind[m], weight[m] = "moderate", rng.uniform(0.08, 0.25)
        else:
            weight[m] = rng.uniform(0.005, 0.03)
    noise = rng.exponential(0.03, n)
    sigma = np.where(in_mod, weight[np.maximum(module, 0)] * sev, 0.0) + noise
    # ~10% of modules, among the smaller half, are alleviating (like protein complexes)
    sizes = np.bincount(module[module >= 0], minlength=n_modules)
    small = np.flatnonzero(sizes <= np.median(sizes))
    sign = -np.ones(n_modules, dtype=np.int64)
    sign[rng.choice(small, size=max(1, int(round(0.1 * n_modules))), replace=False)] = 1
    strength = rng.uniform(0.15, 0.35, n_modules)
    return up, down, sev, kind, weight, sigma, sign, strength


# --- genome -----------------------------------------------------------------------------------

_BASES = np.frombuffer(b"ACGT", dtype=np.uint8)
_BG_P = np.array([0.32, 0.18, 0.18, 0.32])
_STOPS = ("TAA", "TAG", "TGA")
_CODONS = [a + b + c for a in "ACGT" for b in "ACGT" for c in "ACGT"]
_SENSE = np.array([np.frombuffer(c.encode(), dtype=np.uint8) for c in _CODONS if c not in _STOPS])
_SENSE_P = np.array([np.prod([0.3 if ch in "AT" else 0.2 for ch in c]) for c in _CODONS
                     if c not in _STOPS])
_SENSE_P /= _SENSE_P.sum()
_COMP_TABLE = np.frombuffer(COMPLEMENT, dtype=np.uint8)


def _background(rng: np.random.Generator, length: int) -> np.ndarray:
    return _BASES[rng.choice(4, size=length, p=_BG_P)]


def _rc(arr: np.ndarray) -> np.ndarray:
    return _COMP_TABLE[arr[::-1]]


def _coding(rng: np.random.Generator, length: int) -> np.ndarray:
    body = _SENSE[rng.choice(len(_SENSE), size=length // 3 - 2, p=_SENSE_P)].ravel()
    stop = np.frombuffer(_STOPS[int(rng.integers(3))].encode(), dtype=np.uint8)
    return np.concatenate([np.frombuffer(b"ATG", dtype=np.uint8), body, stop])


def _intron(rng: np.random.Generator, length: int) -> np.ndarray:
    head, branch, tail = b"GTATGT", b"TACTAAC", b"AG"
    middle = length - len(head) - len(branch) - len(tail) - 12
    return np.concatenate([np.frombuffer(head, np.uint8), _background(rng, middle),
                           np.frombuffer(branch, np.uint8), _background(rng, 12),
                           np.frombuffer(tail, np.uint8)])


def _slots(rng: np.random.Generator, k: int, lo: int, hi: int) -> list[int]:
    """``k`` non-overlapping motif starts (slot-spaced) uniformly within [lo, hi)."""
    free = (hi - lo) - k * SLOT
    if k == 0:
        return []
    if free < 0:
        raise ValueError("planting zone too small")  # guarded by the gap sizes
    offsets = np.sort(rng.integers(0, free + 1, size=k))
    return [lo + int(o) + i * SLOT for i, o in enumerate(offsets)]


def _need(items: int, tail: int) -> int:
    return items * SLOT + tail if items else 0


@dataclass
class _Layout:
    chrom: np.ndarray
    start: np.ndarray
    end: np.ndarray
    cds: list[list[tuple[int, int]]]
    sequences: dict[str, np.ndarray]
    lowercase: dict[str, np.ndarray]
    centromeres: dict[str, tuple[int, int]]
    arms: list[tuple[int, int]]          # (chromosome index, centromere split index) per chrom


def _build_genome(rng: np.random.Generator, n: int, strand: np.ndarray, counts: np.ndarray,
                  up_items: list[list[str]], down_items: list[list[str]]) -> _Layout:
    """Lay genes out along the chromosomes, synthesise the sequence and plant the motifs.

    Each intergenic gap is split in half: the half next to a gene is where that gene's
    upstream (5' side) or downstream (3' side) motifs go, so planted motifs never overlap a
    CDS or each other. Gaps are widened where a gene needs more room than drawn.
    """
    cds_len = 3 * np.round(np.clip(rng.lognormal(np.log(1200), 0.55, n), 300, 3000) / 3)
    cds_len = cds_len.astype(int)
    has_intron = rng.random(n) < 0.05
    intron_len = np.where(has_intron, rng.integers(60, 400, n), 0)
    exon1 = rng.integers(6, 60, n)
    span = cds_len + intron_len

    up_need = np.array([_need(len(x), 25) for x in up_items])
    down_need = np.array([_need(len(x), 8) for x in down_items])
    left_need = np.where(strand > 0, up_need, down_need)     # zone on the low-coordinate side
    right_need = np.where(strand > 0, down_need, up_need)

    chrom = np.repeat(np.arange(len(CHROMOSOMES)), counts)
    start = np.zeros(n, dtype=np.int64)
    end = np.zeros(n, dtype=np.int64)
    cds: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    sequences, lowercase, centromeres, arms = {}, {}, {}, []
    first = 0
    for c, (cname, real_len, real_cen) in enumerate(CHROMOSOMES):
        idx = np.arange(first, first + counts[c])
        first += counts[c]
        split = int(np.clip(round(real_cen / real_len * len(idx)), 1, len(idx) - 1))
        arms.append((c, split))
        # gaps[k] precedes gene k; gaps[0] and gaps[-1] are the telomeric flanks. chrI's flanks
        # are short so that its first upstream and last downstream windows are cut off.
        gaps = np.clip(rng.lognormal(np.log(450), 0.6, len(idx) + 1), 200, 1500).astype(int)
        gaps[0] = 150 if c == 0 else int(rng.integers(150, 2500))
        gaps[-1] = 120 if c == 0 else int(rng.integers(150, 2500))
        for k in range(len(idx) + 1):
            ln = right_need[idx[k - 1]] if k > 0 else 0
            rn = left_need[idx[k]] if k < len(idx) else 0
            inner = 0 < k < len(idx)
            gaps[k] = max(gaps[k], 2 * max(ln, rn) + 10 if inner else max(ln, rn) + 10)
        free = gaps.copy()                                   # gap minus the centromere's room
        gaps[split] += CEN_ROOM
        pos = 1
        for k, g in enumerate(idx):
            pos += gaps[k]
            start[g], end[g] = pos, pos + span[g] - 1
            pos = end[g] + 1
        length = pos - 1 + gaps[-1]
        seq = _background(rng, length)
        protect = np.zeros(length, dtype=bool)
        last = len(idx) - 1
        for k, g in enumerate(idx):
            s, e = int(start[g]), int(end[g])
            coding = _coding(rng, int(cds_len[g]))
            if has_intron[g]:
                e1, il = int(exon1[g]), int(intron_len[g])
                gene_seq = np.concatenate([coding[:e1], _intron(rng, il), coding[e1:]])
                cds[g] = ([(s, s + e1 - 1), (s + e1 + il, e)] if strand[g] > 0
                          else [(s, e - e1 - il), (e - e1 + 1, e)])
            else:
                gene_seq = coding
                cds[g] = [(s, e)]
            seq[s - 1:e] = gene_seq if strand[g] > 0 else _rc(gene_seq)
            # this gene's half of each neighbouring gap (all of a telomeric flank)
            left = free[k] if k == 0 else free[k] // 2
            right = free[k + 1] if k == last else free[k + 1] - free[k + 1] // 2
            up_room = min(UP_REACH, left if strand[g] > 0 else right)
            down_room = min(DOWN_REACH, right if strand[g] > 0 else left)
            for motif, d in zip(up_items[g], _slots(rng, len(up_items[g]), 15, up_room - 5)):
                _plant(seq, protect, motif, strand[g], s, e, -(d + MOTIF_LEN))
            for motif, d in zip(down_items[g], _slots(rng, len(down_items[g]), 3, down_room - 3)):
                _plant(seq, protect, motif, strand[g], s, e, d, downstream=True)
        # the centromere sits in the middle of the extra room, between the two genes' halves
        cen = int(end[idx[split - 1]]) + (free[split] - free[split] // 2) + 141
        centromeres[cname] = (cen, cen + 117)
        protect[cen - 1:cen + 117] = True
        sequences[cname] = seq
        lowercase[cname] = _decorate(rng, seq, protect, start[idx], end[idx])
    return _Layout(chrom, start, end, cds, sequences, lowercase, centromeres, arms)


def _plant(seq: np.ndarray, protect: np.ndarray, motif: str, strand: int, s: int, e: int,
           offset: int, downstream: bool = False) -> None:
    """Write ``motif`` (gene orientation) ``offset`` bp from the ATG (upstream, offset < 0,
    counting the motif's first base) or from the base after the stop codon (downstream)."""
    m = np.frombuffer(motif.encode(), dtype=np.uint8)
    if strand > 0:
        first = (e + 1 + offset) if downstream else (s + offset)       # 1-based
        seq[first - 1:first - 1 + MOTIF_LEN] = m
    else:
        # gene orientation runs downwards: a motif at gene-orientation position p..p+9 lies
        # on the genome at [q-9, q] reverse complemented
        top = (s - 1 - offset) if downstream else (e - offset)
        first = top - MOTIF_LEN + 1
        seq[first - 1:top] = _rc(m)
    protect[first - 1:first - 1 + MOTIF_LEN] = True


def _decorate(rng: np.random.Generator, seq: np.ndarray, protect: np.ndarray,
              starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Soft-mask intergenic stretches and sprinkle IUPAC codes (never over motifs).

    Returns the lower-case mask; ``seq`` keeps upper-case letters.
    """
    length = len(seq)
    genic = np.zeros(length, dtype=bool)
    for s, e in zip(starts, ends):
        genic[s - 1:e] = True
    inter = np.flatnonzero(~genic)
    low = np.zeros(length, dtype=bool)
    for p in rng.choice(inter, size=max(2, len(starts) // 8), replace=False):
        stop = p + int(rng.integers(20, 200))
        low[p:stop] = ~genic[p:stop]
    low[: min(100, starts[0] - 1)] = True          # telomeric ends are masked
    free = inter[~protect[inter]]
    k = max(2, length // 25_000)
    codes = np.frombuffer(b"RYKMSWN", np.uint8)
    seq[rng.choice(free, size=k, replace=False)] = codes[rng.integers(0, len(codes), size=k)]
    p = int(rng.choice(free))                     # and a short run of N
    run = slice(p, p + 8)
    if not (genic[run].any() or protect[run].any()):
        seq[run] = ord("N")
    return low


# --- names ------------------------------------------------------------------------------------

def _systematic_names(rng: np.random.Generator, strand: np.ndarray,
                      layout: _Layout) -> list[str]:
    """Y + chromosome letter + arm + number outward from the centromere + W/C (some -A)."""
    names = [""] * len(strand)
    for c, split in layout.arms:
        idx = list(np.flatnonzero(layout.chrom == c))
        letter = "ABCDEFGHIJKLMNOP"[c]
        for arm, genes in (("L", idx[:split][::-1]), ("R", idx[split:])):
            num = 0
            prev_suffix_ok = False
            for g in genes:
                w = "W" if strand[g] > 0 else "C"
                if prev_suffix_ok and rng.random() < 0.005:
                    names[g] = f"Y{letter}{arm}{num:03d}{w}-A"   # squeezed-in gene: -A suffix
                    prev_suffix_ok = False
                    continue
                num += 2 if rng.random() < 0.03 and num < 900 else 1
                names[g] = f"Y{letter}{arm}{num:03d}{w}"
                prev_suffix_ok = True
    return names


# --- strains and SGA design -------------------------------------------------------------------

def _strains(rng: np.random.Generator, names: list[str], std: list[str | None],
             sigma: np.ndarray, essential: np.ndarray, sga_rows: int) -> Strains:
    """Deletions (sn query, dma array) of nonessential genes; ts (tsq/tsa) and DAmP alleles of
    essential genes; then which query strains are screened at which temperatures."""
    n = len(names)
    base = [(s or g).lower() for g, s in zip(names, std)]
    temp_shift = rng.uniform(-0.05, 0.15, n)           # deletions: a little sicker at 30 deg
    rows: dict[str, list] = {k: [] for k in
                             ("gene", "kind", "id", "allele", "s26", "s30", "f26", "f30")}

    def add(g, kind, sid, allele, s26, s30, f26, f30):
        for key, val in zip(rows, (g, kind, sid, allele, s26, s30, f26, f30)):
            rows[key].append(val)

    sn_numbers = rng.choice(np.arange(1, 6 * n + 1), size=n, replace=False)
    ts_numbers = iter(rng.choice(np.arange(100, 100 + 8 * n), size=2 * n, replace=False))
    allele_numbers = iter(rng.integers(1, 200, size=2 * n))
    has_ts = rng.random(n) < 0.85
    two_ts = rng.random(n) < 0.15
    has_damp = rng.random(n) < 0.35
    damp_no = 0
    dma_no = 0
    for g in range(n):
        if not essential[g]:
            f26 = float(np.exp(-sigma[g]))
            f30 = float(np.exp(-sigma[g] * (1 + temp_shift[g])))
            dma_no += 1
            add(g, "sn", f"{names[g]}_sn{sn_numbers[g]}", base[g], 1.0, 1.0, f26, f30)
            add(g, "dma", f"{names[g]}_dma{dma_no}", base[g], 1.0, 1.0, f26, f30)
            continue
        used: set[int] = set()
        for _ in range((1 + int(two_ts[g])) if has_ts[g] else 0):
            # semi-permissive temperatures: a partial loss, stronger at 30 deg
            h26, h30 = rng.uniform(0.03, 0.08), rng.uniform(0.06, 0.15)
            s26, s30 = rng.uniform(0.5, 0.8), rng.uniform(0.7, 1.0)
            number = int(next(ts_numbers))
            allele_no = int(next(allele_numbers))
            while allele_no in used:
                allele_no += 1
            used.add(allele_no)
            allele = f"{base[g]}-{allele_no}"
            f26, f30 = float(np.exp(-sigma[g] * h26)), float(np.exp(-sigma[g] * h30))
            add(g, "tsq", f"{names[g]}_tsq{number}", allele, s26, s30, f26, f30)
            add(g, "tsa", f"{names[g]}_tsa{number}", allele, s26, s30, f26, f30)
        if has_damp[g]:
            damp_no += 1
            h, scale = rng.uniform(0.04, 0.12), rng.uniform(0.5, 0.9)
            f = float(np.exp(-sigma[g] * h))
            add(g, "damp", f"{names[g]}_damp{damp_no}", f"{base[g]}-damp", scale, scale, f,
                float(np.exp(-sigma[g] * h * 1.1)))
    gene = np.array(rows["gene"])
    kind = rows["kind"]
    true26, true30 = np.array(rows["f26"]), np.array(rows["f30"])
    m = len(gene)
    std26 = np.round(0.005 + rng.gamma(2.0, 0.012, m), 4)
    std30 = np.round(0.005 + rng.gamma(2.0, 0.012, m), 4)
    smf26 = np.round(np.clip(true26 + rng.normal(0, 0.015, m), 0.0, 1.2), 4) + 0.0
    smf30 = np.round(np.clip(true30 + rng.normal(0, 0.015, m), 0.0, 1.2), 4) + 0.0

    # queries: ts alleles and a subset of deletions; screens at 26, 30 or both
    kinds = np.array(kind)
    n_arrays = int(np.isin(kinds, ["dma", "tsa", "damp"]).sum())
    screens_per_query = 1.4
    n_queries = max(4, int(round(sga_rows / (n_arrays * 0.95 * screens_per_query))))
    tsq = np.flatnonzero(kinds == "tsq")
    sn = np.flatnonzero(kinds == "sn")
    n_ts = min(int(0.8 * len(tsq)), int(round(0.3 * n_queries)))
    n_sn = min(len(sn), n_queries - n_ts)
    chosen = np.sort(np.concatenate([rng.choice(tsq, n_ts, replace=False),
                                     rng.choice(sn, n_sn, replace=False)]))
    screens: dict[str, list[tuple[int, int]]] = {"sn": [], "tsq": []}
    for q in chosen:
        r = rng.random()
        temps = (26, 30) if r < 0.4 else ((26,) if r < 0.7 else (30,))
        for t in temps:
            screens[kinds[q]].append((int(q), t))
    return Strains(gene, kind, rows["id"], rows["allele"], np.array(rows["s26"]),
                   np.array(rows["s30"]), true26, true30, smf26, smf30, std26, std30, screens)


def _trigenic(rng: np.random.Generator, names: list[str], module: np.ndarray,
              strains: Strains, target_rows: int) -> Trigenic:
    """Kuzmin's design: double mutants of nonessential genes, 60% within a module (as Kuzmin
    chose related genes), some built twice, screened with their single mutants against an
    array of up to TAU_ARRAYS deletion strains. No strain involves HO_MARKER."""
    dma = np.flatnonzero(np.array(strains.kind) == "dma")
    dma = dma[np.array([names[g] != HO_MARKER for g in strains.gene[dma]], dtype=bool)]
    arrays = np.sort(rng.choice(dma, min(TAU_ARRAYS, len(dma)), replace=False))
    genes = strains.gene[dma]
    n_pairs = max(2, round(target_rows / (0.95 * len(arrays)) / (1 + TAU_DUPLICATED)))
    by_module = [genes[module[genes] == m] for m in range(int(module.max()) + 1)]
    by_module = [members for members in by_module if len(members) >= 2]
    chosen: set[tuple[int, int]] = set()
    for _ in range(50 * n_pairs):
        if len(chosen) >= n_pairs:
            break
        if rng.random() < 0.6:
            members = by_module[int(rng.integers(len(by_module)))]
            a, b = rng.choice(members, 2, replace=False)
        else:
            a, b = rng.choice(genes, 2, replace=False)
        chosen.add((int(min(a, b)), int(max(a, b))))
    unique = np.array(sorted(chosen), dtype=np.int64)
    twice = unique[rng.random(len(unique)) < TAU_DUPLICATED]
    pairs = np.concatenate([unique, twice])
    pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]
    singles = np.unique(pairs)
    total = len(singles) + len(pairs)
    numbers = rng.choice(np.arange(1, 20 * total + 1), total, replace=False)
    return Trigenic(pairs, singles, arrays, numbers)


# --- interactions -----------------------------------------------------------------------------

def pair_epsilon(world: World, gi: np.ndarray, gj: np.ndarray) -> np.ndarray:
    """The planted interaction of gene pairs (deletion scale), symmetric in (gi, gj)."""
    lo, hi = np.minimum(gi, gj), np.maximum(gi, gj)
    return _pair_from_draws(world, lo, hi, _pair_draws(world, lo, hi))[0]


def _pair_from_draws(facts: World | GeneFacts, lo: np.ndarray, hi: np.ndarray,
                     draws: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """eps and whether the pair interacts, from five uniforms per pair (hashed or sampled)."""
    u_hit, u_sign, u_mag, u_n1, u_n2 = draws
    p_hit, p_negative, strength = _pair_terms(facts, lo, hi)
    mag = strength * (0.4 + 1.2 * u_mag)
    hit = u_hit < p_hit
    eps = np.where(hit, np.where(u_sign < p_negative, -mag, mag), 0.0)
    return eps + DENSE_SD * normals(u_n1, u_n2), hit


def _pair_draws(world: World, lo: np.ndarray, hi: np.ndarray) -> list[np.ndarray]:
    key = lo.astype(np.uint64) * np.uint64(world.n) + hi.astype(np.uint64)
    return uniforms(key, salt_for(world.seed, 7), 5)


def pair_hits(world: World, gi: np.ndarray, gj: np.ndarray) -> np.ndarray:
    """Whether each gene pair got a planted (non-dense) interaction."""
    lo, hi = np.minimum(gi, gj), np.maximum(gi, gj)
    return _pair_draws(world, lo, hi)[0] < _pair_terms(world, lo, hi)[0]


def sample_triple(facts: World | GeneFacts, g: np.ndarray,
                  rng: np.random.Generator) -> tuple[list[np.ndarray], np.ndarray]:
    """One draw of a world like this one for (n, 3) sorted gene triples: the three pairs' eps
    (pairs 01, 02, 12) and tau, with fresh per-pair and per-triple draws. Averaging many draws
    gives expectations of nonlinear quantities (clipped fitness) from per-gene facts."""
    eps: list[np.ndarray] = []
    hits = np.zeros(len(g))
    for a, b in _TRIPLE_PAIRS:
        e, hit = _pair_from_draws(facts, g[:, a], g[:, b], list(rng.random((5, len(g)))))
        eps.append(e)
        hits = hits + hit
    return eps, _tau_from_draws(facts, g, hits, list(rng.random((5, len(g)))))


def expected_pair_epsilon(facts: World | GeneFacts, gi: np.ndarray, gj: np.ndarray) -> np.ndarray:
    """E[eps] of gene pairs given only per-gene facts: the hashed per-pair draws (whether the
    pair interacts, its sign and magnitude, the dense term) averaged out analytically."""
    lo, hi = np.minimum(gi, gj), np.maximum(gi, gj)
    p_hit, p_negative, strength = _pair_terms(facts, lo, hi)
    return p_hit * (1.0 - 2.0 * p_negative) * strength     # E[0.4 + 1.2 u] = 1


def _pair_terms(facts: World | GeneFacts, lo: np.ndarray, hi: np.ndarray):
    """Chance a pair interacts, chance a hit is negative, and its mean magnitude."""
    rel = relation(facts, lo, hi)
    # genes with more severity copies interact more (hubs are sick genes)
    prop = 0.6 + 0.2 * facts.sev_copies
    p_hit = P_INTERACT[rel] * np.where(rel == SAME, 1.0, prop[lo] * prop[hi])
    p_hit = p_hit * np.where(rel >= UNRELATED, facts.bg_rate, 1.0)
    m = np.maximum(facts.module[lo], 0)
    p_negative = np.where(rel == SAME, (facts.module_sign[m] < 0).astype(float), P_NEGATIVE[rel])
    copies = (facts.up_copies[lo] + facts.up_copies[hi]) / 4
    strength = np.where(rel == SAME, facts.module_strength[m] * copies, MAGNITUDE[rel])
    return p_hit, p_negative, strength


_TRIPLE_PAIRS = ((0, 1), (0, 2), (1, 2))


def triple_tau(world: World, gi: np.ndarray, gj: np.ndarray, gk: np.ndarray) -> np.ndarray:
    """The planted trigenic interaction of gene triples, symmetric in its genes.

    A triple interacts with a chance set by how many of its pairs share a module, raised by
    each of its pairs that interacts digenically (0.4 + 0.6 x hits); then like pairs: a sign,
    a magnitude around the mean strength, and a tiny dense term every triple has.
    """
    g = np.sort(np.stack([gi, gj, gk], axis=1), axis=1)
    n = np.uint64(world.n)
    key = (g[:, 0].astype(np.uint64) * n + g[:, 1].astype(np.uint64)) * n + g[:, 2].astype(np.uint64)
    hits = sum((pair_hits(world, g[:, a], g[:, b]).astype(float) for a, b in _TRIPLE_PAIRS),
               np.zeros(len(g)))
    return _tau_from_draws(world, g, hits, uniforms(key, salt_for(world.seed, 11), 5))


def _tau_from_draws(facts: World | GeneFacts, g: np.ndarray, hits: np.ndarray,
                    draws: list[np.ndarray]) -> np.ndarray:
    u_hit, u_sign, u_mag, u_n1, u_n2 = draws
    p_base, p_negative, strength = _triple_terms(facts, g)
    mag = strength * (0.4 + 1.2 * u_mag)
    tau = np.where(u_hit < p_base * (0.4 + 0.6 * hits),
                   np.where(u_sign < p_negative, -mag, mag), 0.0)
    return tau + TAU_DENSE_SD * normals(u_n1, u_n2)


def _triple_terms(facts: World | GeneFacts, g: np.ndarray):
    """Base chance, chance negative and mean magnitude of tau for (n, 3) gene triples."""
    m = facts.module[g]
    same = sum(((m[:, a] == m[:, b]) & (m[:, a] >= 0)).astype(int) for a, b in _TRIPLE_PAIRS)
    mod = np.maximum(m[:, 0], 0)
    aggravating = facts.module_sign[mod] < 0
    p_negative = np.where(same == 3, np.where(aggravating, TAU_NEGATIVE[3], 1 - TAU_NEGATIVE[3]),
                          TAU_NEGATIVE[same])
    copies = facts.up_copies[g].sum(axis=1) / 6
    strength = np.where(same == 3, TAU_MODULE * facts.module_strength[mod] * copies,
                        TAU_MAGNITUDE[same])
    return TAU_P[same], p_negative, strength


def relation(world: World | GeneFacts, gi: np.ndarray, gj: np.ndarray) -> np.ndarray:
    """SAME / SIBLING / COUSIN / UNRELATED / BACKGROUND per gene pair (for tests and docs)."""
    ma, mb = world.module[gi], world.module[gj]
    both = (ma >= 0) & (mb >= 0)
    pa = world.module_parent[np.maximum(ma, 0)]
    pb = world.module_parent[np.maximum(mb, 0)]
    rel = np.full(len(gi), BACKGROUND, dtype=np.int64)
    rel[both] = UNRELATED
    rel[both & (world.parent_group[pa] == world.parent_group[pb])] = COUSIN
    rel[both & (pa == pb)] = SIBLING
    rel[both & (ma == mb)] = SAME
    return rel


# --- the world --------------------------------------------------------------------------------

def build_world(preset: DemoPreset, seed: int) -> World:
    """Everything the file writers need, deterministic per (preset, seed)."""
    n, n_mod = preset.n_genes, preset.n_modules
    streams = (rng_stream(seed, s) for s in range(1, 8))
    r_genes, r_mod, r_fit, r_motif, r_genome, r_names, r_strain = streams

    counts = _split_counts(n, np.array([c[1] for c in CHROMOSOMES], dtype=float), 3)
    strand = np.where(r_genes.random(n) < 0.5, 1, -1)
    orf_class = [str(c) for c in r_genes.choice(["Verified", "Uncharacterized", "Dubious"],
                                                size=n, p=[0.78, 0.14, 0.08])]
    strand[0] = 1                                   # chrI's first and last genes hit the ends
    strand[counts[0] - 1] = 1
    dubious = np.array([c == "Dubious" for c in orf_class])

    module = _assign_modules(r_mod, n, n_mod, dubious)
    module_parent, parent_group = _module_tree(r_mod, n_mod)
    up, down, sev, kind, weight, sigma, sign, strength = _fitness(r_fit, module, n_mod)
    f_del = np.exp(-sigma)
    essential = sigma > ESSENTIAL_SIGMA

    motifs = choose_motifs(r_motif, 2 * n_mod + 1)
    up_motifs, down_motifs, sev_motif = motifs[:n_mod], motifs[n_mod:2 * n_mod], motifs[-1]
    up_items, down_items = [], []
    for g in range(n):           # background genes: no copies, so no motifs
        items = [up_motifs[module[g]]] * int(up[g]) + [sev_motif] * int(sev[g])
        up_items.append([items[i] for i in r_motif.permutation(len(items))])
        down_items.append([down_motifs[module[g]]] * int(down[g]))
    layout = _build_genome(r_genome, n, strand, counts, up_items, down_items)

    names = _systematic_names(r_names, strand, layout)
    std_all = _standard_names(r_names, n)
    has_std = r_names.random(n) < 0.7
    std_names = [s if h else None for s, h in zip(std_all, has_std)]

    strains = _strains(r_strain, names, std_names, sigma, essential, preset.sga_rows)
    trigenic = _trigenic(rng_stream(seed, 9), names, module, strains, preset.trigenic_rows)
    world = World(
        preset=preset, seed=seed, names=names, std_names=std_names, orf_class=orf_class,
        chrom=layout.chrom, start=layout.start, end=layout.end, strand=strand, cds=layout.cds,
        module=module, up_copies=up, down_copies=down, sev_copies=sev, severity=sigma,
        f_del=f_del, essential=essential, module_parent=module_parent,
        parent_group=parent_group, module_weight=weight, module_kind=kind, module_sign=sign,
        module_strength=strength, up_motifs=up_motifs, down_motifs=down_motifs,
        severity_motif=sev_motif, sequences=layout.sequences, lowercase=layout.lowercase,
        centromeres=layout.centromeres, strains=strains, trigenic=trigenic,
    )
    _calibrate(world, rng_stream(seed, 8))
    return world


def _calibrate(world: World, rng: np.random.Generator) -> None:
    """Scale the scattered interactions so about STRONG_TARGET of pairs have |eps| > 0.08.

    Structured interactions (same/sibling/cousin modules) keep their rates; their share of
    all pairs shrinks with more modules, so the background rate makes up the difference.
    """
    gi = rng.integers(0, world.n, 100_000)
    gj = rng.integers(0, world.n, 100_000)
    keep = gi != gj
    gi, gj = gi[keep], gj[keep]
    world.bg_rate = 0.0
    structured = float((np.abs(pair_epsilon(world, gi, gj)) > STRONG_EPS).mean())
    world.bg_rate = 1.0
    scattered = float((np.abs(pair_epsilon(world, gi, gj)) > STRONG_EPS).mean()) - structured
    world.bg_rate = float(np.clip((STRONG_TARGET - structured) / max(scattered, 1e-9), 0.25, 3.0))
