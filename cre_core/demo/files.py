"""Write a demo :class:`~cre_core.demo.world.World` in the real file formats.

GFF3 with the genome after ``##FASTA`` (SGD style), the four Costanzo 2016 SGA files, the
single-mutant fitness CSV, ``go-basic.obo`` (OBO 1.2), ``sgd.gaf`` (GAF 2.2) and the truth
table. SGA rows are built as numpy columns and streamed to DuckDB's CSV writer in Arrow
batches, so the full preset (1.3e7 rows) never goes through a Python loop over rows.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import duckdb
import numpy as np
import pyarrow as pa

from cre_core.data.kuzmin import COLUMNS as KUZMIN_COLUMNS
from cre_core.data.kuzmin import HO_MARKER
from cre_core.demo.world import (
    CHROMOSOMES,
    World,
    normals,
    pair_epsilon,
    rng_stream,
    salt_for,
    triple_tau,
    uniforms,
)

SGA_HEADER = (
    "Query Strain ID", "Query allele name", "Array Strain ID", "Array allele name",
    "Arraytype/Temp", "Genetic interaction score (ε)", "P-value",
    "Query single mutant fitness (SMF)", "Array SMF", "Double mutant fitness",
    "Double mutant fitness standard deviation",
)
SMF_HEADER = (
    "Strain ID,Allele/Gene name,Single mutant fitness (26°),Single mutant fitness (26°) stddev,"
    "Single mutant fitness (30°),Single mutant fitness (30°) stddev"
)
KUZMIN_HEADER = tuple(header for _, header, _ in KUZMIN_COLUMNS)
SGA_FILES = ("SGA_ExE.txt", "SGA_NxN.txt", "SGA_ExN_NxE.txt", "SGA_DAmP.txt")
ARRAY_TEMPS = ("DMA26", "DMA30", "TSA26", "TSA30")
DROPOUT = 0.05            # failed measurements
CHUNK_ROWS = 1_000_000
ROOT_BP, ROOT_MF, ROOT_CC = "GO:0008150", "GO:0003674", "GO:0005575"


def sgd_id(gene_index: int) -> str:
    return f"S{gene_index + 1:09d}"


# --- GFF3 + FASTA -----------------------------------------------------------------------------

def write_gff(world: World, path: Path) -> None:
    """SGD-style GFF3: chromosome, centromere, gene, mRNA, CDS (+ intron) features, then FASTA."""
    lines = [
        "##gff-version 3",
        "#date Mon Jan  1 00:00:00 2024",
        "#!data-source CRE Fitness Lab demo generator "
        f"(preset {world.preset.name}, seed {world.seed})",
        "#!assembly demo-R64-like",
        "#",
    ]
    for c, (cname, _, _) in enumerate(CHROMOSOMES):
        length = len(world.sequences[cname])
        lines.append(f"{cname}\tSGD\tchromosome\t1\t{length}\t.\t.\t.\tID={cname};Name={cname}")
        features: list[tuple[int, int, str]] = []
        cs, ce = world.centromeres[cname]
        cen = f"CEN{c + 1}"
        features.append((cs, 0, f"{cname}\tSGD\tcentromere\t{cs}\t{ce}\t.\t+\t.\tID={cen};"
                                f"Name={cen};gene={cen};Note=Chromosome%20{c + 1}%20centromere"))
        for g in np.flatnonzero(world.chrom == c):
            features.append((int(world.start[g]), 1, _gene_lines(world, int(g))))
        lines.extend(text for _, _, text in sorted(features))
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write("\n".join(lines))
        fh.write("\n##FASTA\n")
        for cname, _, _ in CHROMOSOMES:
            fh.write(f">{cname}\n")
            fh.write(_fasta_body(world.sequences[cname], world.lowercase[cname]))


def _gene_lines(world: World, g: int) -> str:
    name, std, cls = world.names[g], world.std_names[g], world.orf_class[g]
    cname = CHROMOSOMES[int(world.chrom[g])][0]
    s, e = int(world.start[g]), int(world.end[g])
    strand = "+" if world.strand[g] > 0 else "-"
    note = {"Verified": "Demo protein; deletion phenotype planted by the generator",
            "Uncharacterized": "Protein of unknown function, demo gene",
            "Dubious": "Dubious open reading frame, unlikely to encode a functional protein"}[cls]
    attrs = f"ID={name};Name={name}" + (f";gene={std}" if std else "")
    attrs += f";orf_classification={cls};dbxref=SGD:{sgd_id(g)};Note={quote(note, safe='')}"
    mrna = f"ID={name}_mRNA;Name={name}_mRNA;Parent={name}"
    out = [f"{cname}\tSGD\tgene\t{s}\t{e}\t.\t{strand}\t.\t{attrs}",
           f"{cname}\tSGD\tmRNA\t{s}\t{e}\t.\t{strand}\t.\t{mrna}"]
    parts = world.cds[g]
    five_prime = parts[0] if strand == "+" else parts[-1]
    first_len = five_prime[1] - five_prime[0] + 1
    for ps, pe in parts:
        phase = 0 if (ps, pe) == five_prime else (3 - first_len % 3) % 3
        out.append(f"{cname}\tSGD\tCDS\t{ps}\t{pe}\t.\t{strand}\t{phase}\t"
                   f"ID={name}_CDS;Name={name}_CDS;Parent={name}_mRNA;orf_classification={cls}")
    if len(parts) == 2:
        out.append(f"{cname}\tSGD\tintron\t{parts[0][1] + 1}\t{parts[1][0] - 1}\t.\t{strand}\t.\t"
                   f"ID={name}_intron;Name={name}_intron;Parent={name}_mRNA")
    return "\n".join(out)


def _fasta_body(seq: np.ndarray, low: np.ndarray, width: int = 80) -> str:
    letters = seq.copy()
    letters[low] += 32                          # soft-masked: lower case
    n = len(letters)
    rows = -(-n // width)
    padded = np.full(rows * width, ord("\n"), dtype=np.uint8)
    padded[:n] = letters
    grid = np.concatenate([padded.reshape(rows, width),
                           np.full((rows, 1), ord("\n"), dtype=np.uint8)], axis=1).ravel()
    last = n - (rows - 1) * width               # characters on the last line
    return grid[: (rows - 1) * (width + 1) + last].tobytes().decode("ascii") + "\n"


# --- single-mutant fitness --------------------------------------------------------------------

def write_smf(world: World, path: Path) -> None:
    """One row per strain; ~5% of genes missing, some values not measured (empty)."""
    st = world.strains
    rng = rng_stream(world.seed, 21)
    missing_gene = rng.random(world.n) < 0.05
    u = rng.random(len(st.gene))
    empty26, empty30 = u < 0.06, (u >= 0.06) & (u < 0.12)
    lines = [SMF_HEADER]
    for i in range(len(st.gene)):
        if missing_gene[st.gene[i]]:
            continue
        v26 = "" if empty26[i] else f"{_num(st.smf26[i])},{_num(st.std26[i])}"
        v30 = "" if empty30[i] else f"{_num(st.smf30[i])},{_num(st.std30[i])}"
        lines.append(f"{st.strain_id[i]},{st.allele[i]},{v26 or ','},{v30 or ','}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _num(x: float) -> str:
    return repr(float(x))


# --- SGA files --------------------------------------------------------------------------------

def sga_blocks(world: World) -> dict[str, list[tuple[list[tuple[int, int]], np.ndarray]]]:
    """For each SGA file: (screens, array strains) blocks; a screen is (query strain, temp)."""
    st = world.strains
    kinds = np.array(st.kind)
    dma, tsa, damp = (np.flatnonzero(kinds == k) for k in ("dma", "tsa", "damp"))
    sn, tsq = st.screens["sn"], st.screens["tsq"]
    both = sorted(sn + tsq)
    return {
        "SGA_ExE.txt": [(tsq, tsa)],
        "SGA_NxN.txt": [(sn, dma)],
        "SGA_ExN_NxE.txt": [(tsq, dma), (sn, tsa)],
        "SGA_DAmP.txt": [(both, damp)],
    }


def write_sga(world: World, path: Path, blocks: list[tuple[list[tuple[int, int]], np.ndarray]],
              con: duckdb.DuckDBPyConnection) -> int:
    """Stream one SGA file through DuckDB's CSV writer; returns the number of rows.

    Every cross of a screen's query strain with each array strain is one row, except the
    query gene itself and ~5% failed crosses. Row randomness is hashed from (query strain,
    array strain, temperature), so it does not depend on chunking.
    """
    columns = _SgaColumns(world)
    counted = [0]

    def batches():
        for screens, arrays in blocks:
            if not screens or len(arrays) == 0:
                continue
            per_chunk = max(1, CHUNK_ROWS // len(arrays))
            for c0 in range(0, len(screens), per_chunk):
                batch = columns.batch(screens[c0:c0 + per_chunk], arrays)
                if batch.num_rows:
                    counted[0] += batch.num_rows
                    yield batch

    reader = pa.RecordBatchReader.from_batches(columns.schema, batches())
    _copy_tsv(con, reader, columns.schema.names, SGA_HEADER, path)
    return counted[0]


def _copy_tsv(con: duckdb.DuckDBPyConnection, rows: pa.RecordBatchReader | pa.Table,
              columns: list[str], header: tuple[str, ...], path: Path) -> None:
    """Write Arrow ``rows`` as a tab-separated file through DuckDB's CSV writer, in order;
    columns named ``eps``/``tau``/``pval`` are printed with 4 significant digits."""
    formats = {col: f"printf('%.4g', {col})" for col in ("eps", "raw", "tau", "pval")}
    select = ", ".join(f'{formats.get(col, col)} AS "{name}"' for col, name in zip(columns, header))
    target = str(path).replace("'", "''")
    con.register("rows_out", rows)
    try:
        con.execute(f"COPY (SELECT {select} FROM rows_out) TO '{target}' "
                    "(DELIMITER '\t', HEADER true)")
    finally:
        con.unregister("rows_out")


class _SgaColumns:
    """Builds Arrow batches of SGA rows; strain ids and alleles are dictionary-encoded."""

    def __init__(self, world: World) -> None:
        st = world.strains
        self.world, self.st = world, st
        self.ids, self.alleles = pa.array(st.strain_id), pa.array(st.allele)
        self.temps = pa.array(ARRAY_TEMPS)
        self.array_type = np.array([2 if k == "tsa" else 0 for k in st.kind], dtype=np.int32)
        self.salt = salt_for(world.seed, 31)
        d32 = pa.dictionary(pa.int32(), pa.string())
        f64 = pa.float64()
        self.schema = pa.schema([
            ("q_id", d32), ("q_allele", d32), ("a_id", d32), ("a_allele", d32), ("temp", d32),
            ("eps", f64), ("pval", f64), ("q_smf", f64), ("a_smf", f64), ("dmf", f64),
            ("dmf_sd", f64)])

    def batch(self, screens: list[tuple[int, int]], arrays: np.ndarray) -> pa.RecordBatch:
        st = self.st
        q = np.repeat(np.array([s for s, _ in screens]), len(arrays))
        hot = np.repeat(np.array([t == 30 for _, t in screens]), len(arrays))
        a = np.tile(arrays, len(screens))
        key = (q.astype(np.uint64) * np.uint64(len(st.gene)) + a.astype(np.uint64)) \
            * np.uint64(2) + hot.astype(np.uint64)
        u_drop, u1, u2, u_sd = uniforms(key, self.salt, 4)
        keep = (st.gene[q] != st.gene[a]) & (u_drop >= DROPOUT)
        q, a, hot, u1, u2, u_sd = (x[keep] for x in (q, a, hot, u1, u2, u_sd))

        scale = np.where(hot, st.eps_scale30[q] * st.eps_scale30[a],
                         st.eps_scale26[q] * st.eps_scale26[a])
        expected = np.where(hot, st.f30[q] * st.f30[a], st.f26[q] * st.f26[a])
        sd = np.round(0.01 + 0.04 * u_sd ** 2, 4) + 0.0
        noise = normals(u1, u2) * (0.6 * sd + 0.012)
        eps_true = pair_epsilon(self.world, st.gene[q], st.gene[a]) * scale
        dmf = np.round(np.clip(expected + eps_true + noise, 0.0, 1.2), 4) + 0.0
        smf_q = np.where(hot, st.smf30[q], st.smf26[q])
        smf_a = np.where(hot, st.smf30[a], st.smf26[a])
        eps = np.round(dmf - smf_q * smf_a, 6) + 0.0      # as Costanzo: from the reported SMF
        pval = erfc(np.abs(eps) / (0.5 * sd + 0.01) / np.sqrt(2.0))
        temp = (self.array_type[a] + hot).astype(np.int32)

        def coded(index: np.ndarray, values: pa.Array) -> pa.DictionaryArray:
            return pa.DictionaryArray.from_arrays(pa.array(index.astype(np.int32)), values)

        return pa.record_batch(
            [coded(q, self.ids), coded(q, self.alleles), coded(a, self.ids),
             coded(a, self.alleles), coded(temp, self.temps)]
            + [pa.array(x) for x in (eps, pval, smf_q, smf_a, dmf, sd)],
            schema=self.schema)


# --- Kuzmin trigenic screen -------------------------------------------------------------------

def write_trigenic(world: World, path: Path, con: duckdb.DuckDBPyConnection) -> int:
    """Kuzmin 2018 Data S1 layout: each single-mutant query (gene + HO marker) and each
    double-mutant query against the array; returns the number of rows.

    Digenic rows measure f_ik = f_i f_k + eps_ik; trigenic rows f_ijk = f_i f_j f_k + eps_ij f_k
    + eps_ik f_j + eps_jk f_i + tau_ijk, both plus noise like SGA rows. Their scores follow
    Kuzmin from the reported fitness values: the raw score is the deviation from the product of
    the single mutants' fitness; the adjusted tau also removes the three digenic scores (eps_ij
    from the query's double-mutant fitness, eps_ik and eps_jk from the digenic rows of the same
    array strain). Row randomness is hashed, as in the SGA files.
    """
    tg, st = world.trigenic, world.strains
    n_single = len(tg.singles)
    base = np.array([(s or g).lower() + "Δ" for g, s in zip(world.names, world.std_names)])
    names = np.array(world.names)
    f_rep = _reported_single(world)

    # digenic: single-mutant query strains (gene g + HO) x array strains
    sq, sa = np.repeat(np.arange(n_single), len(tg.arrays)), np.tile(tg.arrays, n_single)
    dig = _measure(world, tg.singles[sq], st.gene[sa], sa, None, tg.numbers[sq], f_rep)
    # trigenic: double-mutant query strains (i, j) x array strains
    q_index = np.arange(len(tg.pairs))
    tq, ta = np.repeat(q_index, len(tg.arrays)), np.tile(tg.arrays, len(tg.pairs))
    numbers = tg.numbers[n_single + tq]
    i, j = tg.pairs[tq, 0], tg.pairs[tq, 1]
    tri = _measure(world, i, st.gene[ta], ta, j, numbers, f_rep)

    swap = numbers % 2 == 1                    # the order in a strain ID carries no meaning
    first, second = np.where(swap, j, i), np.where(swap, i, j)
    ho = np.full(len(sq), HO_MARKER)
    q_id = np.concatenate([
        np.char.add(np.char.add(np.char.add(names[tg.singles[sq]], "+"), ho),
                    np.char.add("_tm", tg.numbers[sq].astype(str))),
        np.char.add(np.char.add(np.char.add(names[first], "+"), names[second]),
                    np.char.add("_tm", numbers.astype(str)))])
    q_allele = np.concatenate([np.char.add(base[tg.singles[sq]], "+hoΔ"),
                               np.char.add(np.char.add(base[first], "+"), base[second])])
    arrays = np.concatenate([sa, ta])
    keep = np.concatenate([dig["keep"], tri["keep"]])
    kind = np.concatenate([np.zeros(len(sq), np.int32), np.ones(len(tq), np.int32)])
    table = pa.table({
        "q_id": pa.array(q_id[keep]), "q_allele": pa.array(q_allele[keep]),
        "a_id": pa.array(np.array(st.strain_id)[arrays[keep]]),
        "a_allele": pa.array(np.array(st.allele)[arrays[keep]]),
        "kind": pa.DictionaryArray.from_arrays(pa.array(kind[keep]),
                                               pa.array(["digenic", "trigenic"])),
        **{col: pa.array(np.concatenate([dig[col], tri[col]])[keep])
           for col in ("raw", "tau", "pval", "q_fit", "a_smf", "fit", "sd")}})
    _copy_tsv(con, table, table.column_names, KUZMIN_HEADER, path)
    return table.num_rows


def _reported_single(world: World) -> np.ndarray:
    """Each gene's reported fitness as a single-mutant query (true deletion fitness + noise)."""
    u1, u2 = uniforms(np.arange(world.n), salt_for(world.seed, 61), 2)
    return np.round(np.clip(world.f_del + 0.015 * normals(u1, u2), 0.0, 1.2), 4) + 0.0


def _measure(world: World, gi: np.ndarray, gk: np.ndarray, arrays: np.ndarray,
             gj: np.ndarray | None, numbers: np.ndarray, f_rep: np.ndarray) -> dict:
    """Measured fitness and scores of (query genes, array strain) rows; ``gj`` None: digenic."""
    st = world.strains
    f = world.f_del
    smf_k = st.smf26[arrays]
    digenic = gj is None
    key = (gi if digenic else numbers).astype(np.uint64) * np.uint64(len(st.gene)) \
        + arrays.astype(np.uint64)
    u_drop, u1, u2, u_sd = uniforms(key, salt_for(world.seed, 62 if digenic else 64), 4)
    sd = np.round(0.01 + 0.04 * u_sd ** 2, 4) + 0.0
    noise = normals(u1, u2) * (0.6 * sd + 0.012)
    keep = (gk != gi) & (u_drop >= DROPOUT)
    eps_ik = pair_epsilon(world, gi, gk)
    if gj is None:
        true = f[gi] * f[gk] + eps_ik
        q_fit, expected = f_rep[gi], f_rep[gi] * smf_k
    else:
        keep &= gk != gj
        eps_ij, eps_jk = pair_epsilon(world, gi, gj), pair_epsilon(world, gj, gk)
        true = (f[gi] * f[gj] * f[gk] + eps_ij * f[gk] + eps_ik * f[gj] + eps_jk * f[gi]
                + triple_tau(world, gi, gj, gk))
        v1, v2 = uniforms(numbers.astype(np.uint64), salt_for(world.seed, 63), 2)
        q_fit = np.round(np.clip(f[gi] * f[gj] + eps_ij + 0.015 * normals(v1, v2), 0, 1.2), 4)
        expected = f_rep[gi] * f_rep[gj] * smf_k
    fit = np.round(np.clip(true + noise, 0.0, 1.2), 4) + 0.0
    raw = np.round(fit - expected, 6) + 0.0
    if gj is None:
        tau = raw
    else:
        e_ij = q_fit - f_rep[gi] * f_rep[gj]
        e_ik = _measure(world, gi, gk, arrays, None, numbers, f_rep)["raw"]
        e_jk = _measure(world, gj, gk, arrays, None, numbers, f_rep)["raw"]
        tau = np.round(raw - e_ij * smf_k - e_ik * f_rep[gj] - e_jk * f_rep[gi], 6) + 0.0
    pval = erfc(np.abs(tau) / (0.5 * sd + 0.01) / np.sqrt(2.0))
    return {"keep": keep, "raw": raw, "tau": tau, "pval": pval, "q_fit": q_fit + 0.0,
            "a_smf": smf_k, "fit": fit, "sd": sd}


def erfc(x: np.ndarray) -> np.ndarray:
    """Complementary error function for x >= 0 (Numerical Recipes erfcc, rel. error < 1.2e-7)."""
    t = 1.0 / (1.0 + 0.5 * x)
    poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (
            -0.82215223 + t * 0.17087277))))))))
    return t * np.exp(-x * x + poly)


# --- Gene Ontology: OBO + GAF -----------------------------------------------------------------

_OBJECTS = (
    "sterol", "tRNA", "rRNA", "mitochondrial protein", "vacuolar membrane", "spindle pole body",
    "cell wall", "peroxisome", "ribosomal subunit", "chromatin", "nuclear pore", "lipid droplet",
    "autophagosome", "kinetochore", "septin ring", "actin cable", "Golgi vesicle", "ER membrane",
    "mRNA", "snoRNA", "telomere", "spore wall", "iron-sulfur cluster", "phospholipid",
    "ergosterol", "proteasome", "histone", "glycogen", "trehalose", "amino acid",
)
_PROCESSES = (
    "assembly", "biosynthetic process", "catabolic process", "organization", "maturation",
    "transport", "localization", "modification", "export", "import", "processing",
    "maintenance", "disassembly", "remodeling", "homeostasis",
)
_GROUPS = (
    "cellular component organization", "metabolic process", "cell cycle process",
    "RNA metabolic process", "establishment of localization", "response to stress",
    "protein metabolic process", "DNA metabolic process", "cellular homeostasis",
    "developmental process", "signal transduction", "chromosome organization",
)
_MF = ("catalytic activity", "binding", "transporter activity", "structural molecule activity")
_CC = ("cytoplasm", "nucleus", "mitochondrion", "membrane")


class Ontology:
    """GO ids and names for the demo's modules, parents, groups and noise terms."""

    def __init__(self, world: World) -> None:
        rng = rng_stream(world.seed, 41)
        n_mod = len(world.up_motifs)
        n_par = int(world.module_parent.max()) + 1
        n_grp = int(world.parent_group.max()) + 1
        self.n_noise = max(4, n_mod // 2)
        n_terms = n_mod + n_par + n_grp + self.n_noise + 2 + len(_MF) + len(_CC)
        pool = rng.choice(np.arange(1, 2_100_000), size=n_terms + 10, replace=False)
        fixed = {8150, 3674, 5575}
        numbers = iter([int(x) for x in pool if int(x) not in fixed])
        gid = lambda: f"GO:{next(numbers):07d}"  # noqa: E731
        names = [f"{o} {p}" for o in _OBJECTS for p in _PROCESSES]
        names = [names[i] for i in rng.permutation(len(names))]
        names_it = iter(names)
        self.module = [gid() for _ in range(n_mod)]
        self.parent = [gid() for _ in range(n_par)]
        self.group = [gid() for _ in range(n_grp)]
        self.noise = [gid() for _ in range(self.n_noise)]
        self.obsolete = [gid(), gid()]
        self.mf = [gid() for _ in _MF]
        self.cc = [gid() for _ in _CC]
        self.name: dict[str, str] = {ROOT_BP: "biological_process", ROOT_MF: "molecular_function",
                                     ROOT_CC: "cellular_component"}
        for t in self.module + self.parent + self.noise + self.obsolete:
            self.name[t] = next(names_it)
        for i, t in enumerate(self.group):
            self.name[t] = _GROUPS[i % len(_GROUPS)] + ("" if i < len(_GROUPS) else f" {i}")
        for t, nm in zip(self.mf + self.cc, _MF + _CC):
            self.name[t] = nm
        for t in self.obsolete:
            self.name[t] = "obsolete " + self.name[t]
        self.part_of = rng.random(n_mod) < 0.25        # module linked to its parent by part_of
        self.noise_parents = [
            sorted({self.group[int(rng.integers(n_grp))]}
                   | ({self.parent[int(rng.integers(n_par))]} if rng.random() < 0.3 else set()))
            for _ in range(self.n_noise)]


def write_obo(world: World, onto: Ontology, path: Path) -> None:
    """go-basic.obo (OBO 1.2): roots, groups -> parents -> module terms; noise, obsolete terms."""
    stanzas: dict[str, list[str]] = {}

    def term(go: str, namespace: str, definition: str, is_a=(), part_of=(), extra=()):
        lines = ["[Term]", f"id: {go}", f"name: {onto.name[go]}", f"namespace: {namespace}",
                 f'def: "{definition}" [GOC:demo]']
        lines += list(extra)
        lines += [f"is_a: {p} ! {onto.name[p]}" for p in is_a]
        lines += [f"relationship: part_of {p} ! {onto.name[p]}" for p in part_of]
        stanzas[go] = lines

    bp = "biological_process"
    term(ROOT_BP, bp, "A biological process represents a specific objective that the organism is "
         "genetically programmed to achieve.", extra=['synonym: "biological process" EXACT []'])
    term(ROOT_MF, "molecular_function", "A molecular process that can be carried out by the "
         "action of a single macromolecular machine.")
    term(ROOT_CC, "cellular_component", "A location, relative to cellular compartments and "
         "structures, occupied by a macromolecular machine.")
    for i, go in enumerate(onto.group):
        term(go, bp, f"Demo top-level group {i}.", is_a=[ROOT_BP])
    for p, go in enumerate(onto.parent):
        members = ", ".join(str(m) for m in np.flatnonzero(world.module_parent == p))
        term(go, bp, f"Demo parent term of modules {members}; sibling modules interact.",
             is_a=[onto.group[int(world.parent_group[p])]])
    for m, go in enumerate(onto.module):
        parent = onto.parent[int(world.module_parent[m])]
        grp = onto.group[int(world.parent_group[int(world.module_parent[m])])]
        definition = (f"Demo module {m}: genes whose upstream window carries {world.up_motifs[m]} "
                      f"and whose downstream window carries {world.down_motifs[m]}.")
        if onto.part_of[m]:
            term(go, bp, definition, is_a=[grp], part_of=[parent])
        else:
            term(go, bp, definition, is_a=[parent])
    for i, go in enumerate(onto.noise):
        term(go, bp, "Demo noise term: random genes, no planted signal.",
             is_a=onto.noise_parents[i], extra=[f'synonym: "demo noise {i}" RELATED []'])
    for go, replacement in zip(onto.obsolete, onto.module):
        term(go, bp, "OBSOLETE. Demo obsolete term.",
             extra=["is_obsolete: true", f"replaced_by: {replacement}"])
    for go in onto.mf:
        term(go, "molecular_function", "Demo molecular function.", is_a=[ROOT_MF])
    for go in onto.cc:
        term(go, "cellular_component", "Demo cellular component.", is_a=[ROOT_CC])

    header = ["format-version: 1.2", "data-version: releases/2024-01-01",
              "subsetdef: goslim_yeast \"Yeast GO slim\"", "default-namespace: gene_ontology",
              "ontology: go", f"remark: CRE Fitness Lab demo ontology (preset {world.preset.name}, "
              f"seed {world.seed})"]
    blocks = ["\n".join(header)] + ["\n".join(stanzas[go]) for go in sorted(stanzas)]
    blocks.append("[Typedef]\nid: part_of\nname: part of\nnamespace: external\n"
                  "xref: BFO:0000050\nis_transitive: true")
    path.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")


_EVIDENCE = ("IMP", "IGI", "IDA", "IPI", "ISS", "IEA")
_EVIDENCE_P = (0.35, 0.2, 0.2, 0.1, 0.05, 0.1)


def write_gaf(world: World, onto: Ontology, path: Path) -> None:
    """sgd.gaf (GAF 2.2): module genes to their module term (~10% noise), plus noise, NOT, F, C."""
    rng = rng_stream(world.seed, 51)
    n_mod = len(onto.module)
    not_genes = set(rng.choice(world.n, size=max(3, world.n // 100), replace=False).tolist())
    lines = ["!gaf-version: 2.2", "!generated-by: CRE Fitness Lab demo generator",
             "!date-generated: 2024-01-01", f"!Demo preset {world.preset.name}, seed {world.seed}"]
    for g in range(world.n):
        name, std = world.names[g], world.std_names[g]
        symbol = std or name
        synonyms = f"{name}|{std}" if std else name
        full = ("Dubious open reading frame" if world.orf_class[g] == "Dubious"
                else f"Demo protein {symbol}")
        annotations: list[tuple[str, str, str]] = []       # (qualifier, GO id, aspect)
        m = int(world.module[g])
        if m >= 0:
            r = rng.random()
            if r < 0.03:                                    # mis-annotated to another module
                wrong = (m + 1 + int(rng.integers(n_mod - 1))) % n_mod
                annotations.append(("involved_in", onto.module[wrong], "P"))
            elif r < 0.10:                                  # annotation missing
                pass
            else:
                annotations.append(("involved_in", onto.module[m], "P"))
                if rng.random() < 0.2:                      # a second line, other evidence
                    annotations.append(("involved_in", onto.module[m], "P"))
            if rng.random() < 0.1:
                annotations.append(("involved_in", onto.parent[int(world.module_parent[m])], "P"))
        if rng.random() < (0.3 if m < 0 else 0.1):
            noise = onto.noise[int(rng.integers(len(onto.noise)))]
            annotations.append(("acts_upstream_of_or_within", noise, "P"))
        if g in not_genes:                                  # NOT: must be ignored by readers
            other = int(rng.integers(n_mod))
            if other == m:
                other = (other + 1) % n_mod
            annotations.append(("NOT|involved_in", onto.module[other], "P"))
        if rng.random() < 0.5:
            annotations.append(("enables", onto.mf[int(rng.integers(len(onto.mf)))], "F"))
        if rng.random() < 0.6:
            annotations.append(("located_in", onto.cc[int(rng.integers(len(onto.cc)))], "C"))
        for qualifier, go, aspect in annotations:
            evidence = str(rng.choice(_EVIDENCE, p=_EVIDENCE_P))
            ref = ("GO_REF:0000002" if evidence == "IEA"
                   else f"SGD_REF:S000{int(rng.integers(100000, 999999))}"
                        f"|PMID:{int(rng.integers(1000000, 38000000))}")
            with_from = (f"SGD:{sgd_id(int(rng.integers(world.n)))}"
                         if evidence in ("IGI", "IPI") else "")
            y, mo, d = (int(rng.integers(lo, hi)) for lo, hi in ((5, 24), (1, 13), (1, 29)))
            lines.append("\t".join([
                "SGD", sgd_id(g), symbol, qualifier, go, ref, evidence, with_from, aspect, full,
                synonyms, "gene", "taxon:559292", f"20{y:02d}{mo:02d}{d:02d}", "SGD", "", ""]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# --- truth ------------------------------------------------------------------------------------

def write_truth(world: World, path: Path) -> None:
    """gene, planted module (-1 = none) and planted severity (deletion fitness = exp(-severity))."""
    lines = ["gene\tmodule\tseverity"]
    lines += [f"{name}\t{int(m)}\t{_num(round(float(sigma), 4))}"
              for name, m, sigma in zip(world.names, world.module, world.severity)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
