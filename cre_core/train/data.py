"""From the store to index tensors: set tables, seeded subsets, splits, features, ontology.

Everything here is vectorised: DuckDB joins the measured genotypes to gene indices, numpy does
subsets and splits, and the result is a handful of arrays (no per-sample Python objects). The
training process opens ``cre.duckdb`` read-only, fetches what it needs and closes it at once.

One training set holds every measured genotype (``load_sets``): single mutants (``smf``),
double mutants (``dmf``) and, when the store has them, triple mutants (``tmf``), each a set of
1-3 gene indices padded with ``PAD`` to width 3, with its fitness and, where measured, its
interaction score (ε for doubles, τ for triples; NaN for singles and unmeasured sets).

Splits (``make_split``), over all sets of every size:

- ``random``: sets are shuffled with ``split_seed``; ``test_frac`` of them are test,
  ``val_frac`` validation, the rest training.
- ``gene`` (gene-disjoint): the genes that occur in the sets are shuffled with ``split_seed``;
  ``test_frac`` of the genes are test genes, ``val_frac`` validation genes, the rest training
  genes. A set is a test set when every one of its genes is a test gene (likewise validation
  and training); sets that mix groups are dropped (their count is reported). So no test gene
  occurs in any training or validation set. With the defaults (0.1 val, 0.2 test) about 49% of
  pairs train, 1% validate, 4% test; every single mutant lands in its gene's part.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from cre_core.data.go import Ontology, build_ontology
from cre_core.data.split_file import split_from_file
from cre_core.errors import CreError
from cre_core.models import FitnessModel, GeneRepresentation, SeqEncoder
from cre_core.train.config import TrainConfig
from cre_core.train.specs import BuildInputs
from cre_core.workspace import Workspace

MAX_SET = 3      # widest genotype in the store (triple mutants)


@dataclass
class SetTable:
    """Every measured genotype as arrays over a gene vocabulary.

    ``genes``/``names``: vocabulary (index → systematic / standard name): every gene of the
    genes table plus any gene that only occurs in smf/dmf/tmf. ``idx`` (n, 3) gene indices of
    each set, ascending, padded with ``PAD`` (-1); ``size`` (n,) its number of genes; rows are
    ordered by size, then indices. ``fitness`` measured fitness; ``interaction`` measured ε
    (doubles) or τ (triples), NaN otherwise; ``smf`` single-mutant fitness per gene (NaN when
    not measured).
    """

    genes: list[str]
    names: list[str]
    idx: np.ndarray
    size: np.ndarray
    fitness: np.ndarray
    interaction: np.ndarray
    smf: np.ndarray

    @property
    def n_genes(self) -> int:
        return len(self.genes)

    def __len__(self) -> int:
        return len(self.fitness)


def has_table(con, name: str) -> bool:
    """Whether the store has table ``name`` (older stores have no ``tmf``)."""
    return bool(con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]).fetchall()[0][0])


def load_vocabulary(con) -> tuple[list[str], list[str]]:
    """Sorted gene vocabulary with standard names (the name is the gene when none is known)."""
    triples = (" UNION SELECT gene_a FROM tmf UNION SELECT gene_b FROM tmf UNION SELECT gene_c FROM tmf"
               if has_table(con, "tmf") else "")
    rows = con.execute(
        f"""
        WITH g AS (SELECT gene, name FROM genes),
        extra AS (
            SELECT gene_a AS gene FROM dmf UNION SELECT gene_b FROM dmf UNION SELECT gene FROM smf{triples}
        )
        SELECT gene, coalesce(name, gene) FROM g
        UNION ALL
        SELECT DISTINCT gene, gene FROM extra WHERE gene NOT IN (SELECT gene FROM g)
        ORDER BY 1
        """
    ).fetchall()
    return [r[0] for r in rows], [r[1] for r in rows]


# One query per set size: gene columns (sorted into ascending index order afterwards), fitness,
# interaction score. Rows without a finite fitness are not training data.
_SET_QUERIES = {
    1: ("smf", ("gene",), "NULL"),
    2: ("dmf", ("gene_a", "gene_b"), "epsilon"),
    3: ("tmf", ("gene_a", "gene_b", "gene_c"), "tau"),
}


def load_sets(ws: Workspace) -> SetTable:
    """Every single, double and (when present) triple mutant with a fitness, as gene indices."""
    con = ws.connect(read_only=True)
    try:
        genes, names = load_vocabulary(con)
        vocab = pd.DataFrame({"gene": genes, "i": np.arange(len(genes), dtype=np.int64)})
        con.register("vocab", vocab)
        parts = {}
        for set_size, (table, cols, inter_col) in _SET_QUERIES.items():
            if not has_table(con, table):
                continue
            joins = " ".join(f"JOIN vocab v{k} ON t.{c} = v{k}.gene" for k, c in enumerate(cols))
            picks = ", ".join(f"v{k}.i AS g{k}" for k in range(len(cols)))
            parts[set_size] = con.execute(
                f"SELECT {picks}, t.fitness, {inter_col if inter_col == 'NULL' else 't.' + inter_col} AS inter "
                f"FROM {table} t {joins} WHERE t.fitness IS NOT NULL AND isfinite(t.fitness)"
            ).fetchnumpy()
        con.unregister("vocab")
    finally:
        con.close()
    if 2 not in parts or len(parts[2]["fitness"]) == 0:
        raise CreError(f"{ws.root} has no double-mutant fitness (dmf): ingest SGA files first")
    smf = np.full(len(genes), np.nan, dtype=np.float32)
    smf[np.asarray(parts[1]["g0"], dtype=np.int64)] = _filled(parts[1]["fitness"])
    blocks, sizes, fits, inters = [], [], [], []
    for k, rows in parts.items():
        block = np.full((len(rows["fitness"]), MAX_SET), -1, dtype=np.int64)
        block[:, :k] = np.sort(np.stack([np.asarray(rows[f"g{j}"], np.int64) for j in range(k)], 1), 1)
        blocks.append(block)
        sizes.append(np.full(len(block), k, dtype=np.int8))
        fits.append(_filled(rows["fitness"]))
        inters.append(_filled(rows["inter"]) if k > 1 else np.full(len(block), np.nan, np.float32))
    idx, size = np.concatenate(blocks), np.concatenate(sizes)
    # by size, then by the genes left to right
    order = np.lexsort(tuple(idx[:, j] for j in reversed(range(MAX_SET))) + (size,))
    return SetTable(genes=genes, names=names, idx=idx[order], size=size[order],
                    fitness=np.concatenate(fits)[order], interaction=np.concatenate(inters)[order], smf=smf)


def _filled(values) -> np.ndarray:
    """float32 array with SQL NULLs (masked entries) as NaN."""
    if isinstance(values, np.ma.MaskedArray):
        values = np.ma.filled(values.astype(np.float64), np.nan)
    return np.asarray(values, dtype=np.float32)


def subset_rows(n: int, size: int | None, seed: int) -> np.ndarray:
    """A seeded random subset of ``size`` row numbers (sorted); all rows when size is None."""
    if size is None or size >= n:
        return np.arange(n)
    rng = np.random.default_rng([seed, 1])
    return np.sort(rng.choice(n, size=size, replace=False))


@dataclass
class Split:
    """Row numbers (into the set table) of each part, and what the split did."""

    kind: str
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    info: dict = field(default_factory=dict)


def make_split(idx: np.ndarray, rows: np.ndarray, kind: str, seed: int,
               val_frac: float, test_frac: float, split_file: str | None = None,
               genes: list[str] | None = None) -> Split:
    """Split ``rows`` of the set table ``idx`` (n, K; PAD-padded) into train/val/test (module
    docstring); a ``split_file`` (with the vocabulary ``genes``) overrides ``kind``
    (data/split_file.py)."""
    rng = np.random.default_rng([seed, 2])
    if split_file is not None:
        kind = "file"
        train, val, test, info = split_from_file(split_file, idx, rows, genes or [])
    elif kind == "random":
        perm = rows[rng.permutation(len(rows))]
        n_test, n_val = round(test_frac * len(rows)), round(val_frac * len(rows))
        test, val, train = perm[:n_test], perm[n_test:n_test + n_val], perm[n_test + n_val:]
        info = {"kind": kind, "dropped": 0}
    elif kind == "gene":
        present = np.unique(idx[rows])
        present = present[present >= 0]
        perm = present[rng.permutation(len(present))]
        n_test, n_val = round(test_frac * len(present)), round(val_frac * len(present))
        part = np.full(int(idx.max()) + 2, -1, dtype=np.int8)    # 0 train, 1 val, 2 test; PAD → -1
        part[perm[n_test + n_val:]] = 0
        part[perm[:n_test]] = 2
        part[perm[n_test:n_test + n_val]] = 1
        slots = part[idx[rows]]                                   # PAD (-1) reads the last entry
        pa = slots[:, 0]
        same = ((slots == pa[:, None]) | (idx[rows] < 0)).all(1)
        train, val, test = rows[same & (pa == 0)], rows[same & (pa == 1)], rows[same & (pa == 2)]
        info = {"kind": kind, "dropped": int((~same).sum()), "train_genes": len(present) - n_test - n_val,
                "val_genes": n_val, "test_genes": n_test}
    else:
        raise CreError(f"unknown split {kind!r}; choose random or gene")
    info.update(n_train=len(train), n_val=len(val), n_test=len(test))
    if min(len(train), len(val), len(test)) == 0:
        raise CreError(
            f"the {kind} split of {len(rows):,} sets left an empty part ({info}); "
            "use more data or larger --val-frac/--test-frac"
        )
    return Split(kind, np.sort(train), np.sort(val), np.sort(test), info)


# --- features --------------------------------------------------------------------------------

def feature_source(ws: Workspace, features: str, embedder: str, model: str | None,
                   compute: bool = True):
    """(genes, X) from the embeddings layer (``compute=False``: never write a cache); tests
    replace this function."""
    try:
        from cre_core.embed.features import load_features
    except ImportError as exc:   # the embeddings layer is missing from this installation
        raise CreError(f"gene features are not available: {exc}") from exc
    return load_features(ws, features, embedder=embedder, model=model, compute=compute)


@dataclass
class Features:
    """A standardised feature table aligned to a gene vocabulary.

    ``mean``/``std`` are the column statistics used (saved with the model so the query service
    standardises exactly as training did); ``missing`` counts genes without features (rows 0).
    """

    table: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    missing: int


def gene_features(ws: Workspace, config: TrainConfig, genes: list[str],
                  stats: tuple[np.ndarray, np.ndarray] | None = None,
                  compute: bool = True) -> Features:
    """Features of ``genes`` (rows in vocabulary order), columns standardised.

    Columns are z-scored over the genes that have features (given ``stats`` are reused); a
    constant column becomes 0. Genes the embedder has no row for get a zero row (the mean).
    ``compute=False``: missing embeddings are an error, never computed and cached.
    """
    names, x = feature_source(ws, config.features, config.embedder, config.embed_model, compute)
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] != len(names):
        raise CreError(f"feature matrix has shape {x.shape} for {len(names)} genes")
    pos = {g: i for i, g in enumerate(names)}
    rows = np.array([pos.get(g, -1) for g in genes], dtype=np.int64)
    have = rows >= 0
    if not have.any():
        raise CreError("no gene of the dataset has features: compute embeddings first (embed)")
    if stats is None:
        mean = x.mean(0)
        std = x.std(0)
    else:
        mean, std = (np.asarray(s, np.float32) for s in stats)
        if mean.shape[0] != x.shape[1]:
            raise CreError(f"features are {x.shape[1]}-d now but the run was trained on {mean.shape[0]}-d")
    safe_std = np.where(std > 1e-8, std, np.inf).astype(np.float32)
    table = np.zeros((len(genes), x.shape[1]), dtype=np.float32)
    table[have] = (x[rows[have]] - mean) / safe_std
    return Features(table, mean.astype(np.float32), std.astype(np.float32), int((~have).sum()))


# --- windows (the sequence encoder's input) -----------------------------------------------------

@dataclass
class GeneWindows:
    """uint8 window codes per region aligned to a gene vocabulary (cre_core.embed.seq_encoder).

    Genes without a window (e.g. only named in the SGA files) get an all-N row, which encodes
    to the same vector as an empty window; ``missing`` counts them.
    """

    codes: dict[str, np.ndarray]
    missing: int


def gene_windows(ws: Workspace, features: str, genes: list[str]) -> GeneWindows:
    """The windows of ``features``' regions for ``genes`` (rows in vocabulary order)."""
    from cre_core.embed.base import feature_regions, read_windows
    from cre_core.embed.seq_encoder import sequence_codes

    regions = feature_regions(features)
    stored = read_windows(ws, regions)
    pos = {g: i for i, g in enumerate(genes)}
    codes, have = {}, np.zeros(len(genes), dtype=bool)
    for region in regions:
        rows = [w for w in stored[region] if w.gene in pos]
        if not rows:
            raise CreError(f"no gene of the dataset has a {region} window: run the windows command first")
        length = max(len(w.sequence) for w in rows)
        table = np.full((len(genes), length), 4, dtype=np.uint8)
        at = np.array([pos[w.gene] for w in rows], dtype=np.int64)
        table[at] = sequence_codes([w.sequence for w in rows], length)
        have[at] = True
        codes[region] = table
    return GeneWindows(codes, int((~have).sum()))


# --- ontology --------------------------------------------------------------------------------

def load_ontology(ws: Workspace, genes: list[str], min_genes: int,
                  deleted: Collection[str] | None = None) -> Ontology:
    """The DCell hierarchy from the store's GO tables (rules: cre_core.data.go), without IGI
    annotations; ``deleted``: the genes the training sets delete (None: every gene counts)."""
    con = ws.connect(read_only=True)
    try:
        terms = [r[0] for r in con.execute(
            "SELECT go_id FROM go_terms WHERE NOT coalesce(is_obsolete, false)").fetchall()]
        edges = con.execute(
            "SELECT child, parent FROM go_edges WHERE relation IN ('is_a', 'part_of')").fetchall()
        ann = con.execute("SELECT DISTINCT gene, go_id FROM go_annotations "
                          "WHERE gene IS NOT NULL AND coalesce(evidence, '') <> 'IGI'").fetchall()
    finally:
        con.close()
    if not terms or not ann:
        raise CreError("dcell needs the Gene Ontology: ingest --obo go-basic.obo --gaf sgd.gaf")
    try:
        return build_ontology(genes, terms, edges, ann, min_genes=min_genes, counted=deleted)
    except ValueError as exc:
        raise CreError(f"dcell: {exc}; lower --dcell-min-genes") from exc


def deleted_genes(table: SetTable, rows: np.ndarray) -> list[str]:
    """The genes that the sets at ``rows`` delete (DCell's training genes)."""
    idx = table.idx[rows]
    return [table.genes[g] for g in np.unique(idx[idx >= 0])]


# --- model wiring ------------------------------------------------------------------------------

def model_from_config(config: TrainConfig, n_genes: int, in_dim: int = 0,
                      ontology: Ontology | None = None, smf: np.ndarray | torch.Tensor | None = None,
                      genes: GeneRepresentation | None = None) -> FitnessModel:
    """The model a config describes, built by its spec (shared by training and the query service).

    With ``--embedder encoder`` its genes are a SeqEncoder (unless ``genes`` gives a
    representation); install the windows with ``model.set_windows(gene_windows(...).codes)``.
    """
    from cre_core.embed.base import feature_regions

    if genes is None and config.uses_windows:
        genes = SeqEncoder(n_genes, feature_regions(config.features), filters=config.encoder_filters,
                           width=config.encoder_width, sense_view=config.uses_encoder_sense_view)
    return config.spec.build(BuildInputs(
        config, n_genes, in_dim=in_dim, genes=genes, ontology=ontology,
        smf=None if smf is None else torch.as_tensor(smf, dtype=torch.float32)))


def training_rows(ws: Workspace, config: TrainConfig) -> tuple[SetTable, Split]:
    """The set table and the split a run with ``config`` trains on (same seeds, same rows)."""
    table = load_sets(ws)
    rows = subset_rows(len(table), config.subset, config.split_seed)
    split = make_split(table.idx, rows, config.split, config.split_seed, config.val_frac,
                       config.test_frac, config.split_file, table.genes)
    split.info.setdefault("n_rows", len(rows))
    return table, split
