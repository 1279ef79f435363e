"""A gene list's interaction network: measured (and, optionally, a run's predicted) ε among the
genes, laid out by networkx, exported for Cytoscape (GraphML, SIF), and a bulk CSV of measured
and predicted ε for a gene list of any size.

Nodes carry the gene's name, SMF, demo module (null on real stores) and commonest direct GO term
(:func:`cre_core.explore.similarity.go_labels`); edges carry ε, its sign and |ε| and whether it
was measured or predicted. An edge is kept when |ε| reaches ``min_abs`` (0.08 by default,
Costanzo's intermediate cut-off). Drawing is capped at ``MAX_GENES`` genes; the CSV is not
(it streams one gene at a time).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd

from cre_core.atomic import atomic_path
from cre_core.errors import CreError
from cre_core.query.browse import SIGNIFICANT_EPSILON
from cre_core.workspace import Workspace

MAX_GENES = 500
NODE_COLUMNS = ["gene", "name", "smf", "module", "go_term", "degree", "x", "y"]
EDGE_COLUMNS = ["gene_a", "gene_b", "epsilon", "sign", "abs_epsilon", "kind"]


@dataclass
class Network:
    nodes: pd.DataFrame        # NODE_COLUMNS (x, y from ``layout``)
    edges: pd.DataFrame        # EDGE_COLUMNS; kind "measured" or "predicted"
    run_id: str | None
    not_in_run: list[str]      # list genes the run cannot predict (no predicted edges)

    def graph(self) -> nx.Graph:
        """The network as a networkx graph (both kinds of edges of a pair: the measured one wins)."""
        g = nx.Graph()
        for row in self.nodes.itertuples(index=False):
            g.add_node(row.gene, **_attributes(row._asdict(), exclude=("gene",)))
        for row in self.edges.sort_values("kind", ascending=False).itertuples(index=False):
            g.add_edge(row.gene_a, row.gene_b, **_attributes(row._asdict(), exclude=("gene_a", "gene_b")))
        return g


def _attributes(values: dict, exclude: tuple[str, ...]) -> dict:
    """GraphML-safe attributes: no missing values (GraphML has no null), plain Python types."""
    out = {}
    for key, value in values.items():
        if key in exclude or value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
            continue
        out[key] = value.item() if hasattr(value, "item") else value
    return out


def _measured_edges(ws: Workspace, genes: list[str], min_abs: float) -> pd.DataFrame:
    con = ws.connect(read_only=True)
    try:
        con.register("net_genes", pd.DataFrame({"gene": genes}))
        frame = con.execute(
            "SELECT gene_a, gene_b, epsilon FROM dmf WHERE gene_a IN (SELECT gene FROM net_genes) "
            "AND gene_b IN (SELECT gene FROM net_genes) AND abs(epsilon) >= ? ORDER BY gene_a, gene_b",
            [float(min_abs)]).df()
        con.unregister("net_genes")
    finally:
        con.close()
    return frame.assign(kind="measured")


def _predicted_edges(ws: Workspace, run_id: str, genes: list[str], min_abs: float) -> tuple[pd.DataFrame, list[str]]:
    from cre_core.query.service import load_model

    loaded = load_model(ws, run_id)
    known = [g for g in genes if g in loaded.index]
    idx = np.array([loaded.index[g] for g in known], dtype=np.int64)
    a, b = np.triu_indices(len(idx), k=1)
    if not len(a):
        empty = pd.DataFrame(columns=["gene_a", "gene_b", "epsilon", "kind"])
        return empty, [g for g in genes if g not in loaded.index]
    pairs = np.stack([idx[a], idx[b]], 1)
    fitness = loaded.member_sets(pairs.tolist()).mean(0)
    eps = fitness - loaded.smf[pairs[:, 0]] * loaded.smf[pairs[:, 1]]
    keep = np.isfinite(eps) & (np.abs(eps) >= min_abs)
    ga, gb = np.array(known, dtype=object)[a[keep]], np.array(known, dtype=object)[b[keep]]
    first = ga < gb
    frame = pd.DataFrame({"gene_a": np.where(first, ga, gb), "gene_b": np.where(first, gb, ga), "epsilon": eps[keep],
                          "kind": "predicted"})
    return frame, [g for g in genes if g not in loaded.index]


def node_table(ws: Workspace, genes: list[str]) -> pd.DataFrame:
    """gene, name, smf, module, go_term of ``genes`` (in their order)."""
    from cre_core.embed.umap_view import with_gene_fields
    from cre_core.explore.similarity import go_labels

    frame = with_gene_fields(ws, pd.DataFrame({"gene": genes, "x": 0.0, "y": 0.0}))
    frame["go_term"] = go_labels(ws, genes)
    return frame[["gene", "name", "smf", "module", "go_term"]]


def build_network(ws: Workspace, genes: list[str], run_id: str | None = None,
                  min_abs: float = SIGNIFICANT_EPSILON, seed: int = 0) -> Network:
    """The network of ``genes`` (systematic names, at most MAX_GENES) with a spring layout."""
    genes = list(dict.fromkeys(genes))
    if not genes:
        raise CreError("a network needs at least one gene")
    if len(genes) > MAX_GENES:
        raise CreError(f"{len(genes):,} genes: a network is drawn for at most {MAX_GENES}; "
                       "export the bulk CSV for more")
    if min_abs < 0:
        raise CreError("the |ε| cut-off must be at least 0")
    edges = _measured_edges(ws, genes, min_abs)
    not_in_run: list[str] = []
    if run_id:
        predicted, not_in_run = _predicted_edges(ws, run_id, genes, min_abs)
        edges = pd.concat([edges, predicted], ignore_index=True)
    edges["sign"] = np.where(edges["epsilon"] < 0, "negative", "positive")
    edges["abs_epsilon"] = edges["epsilon"].abs()
    nodes = node_table(ws, genes)
    degree = pd.concat([edges["gene_a"], edges["gene_b"]]).value_counts()
    nodes["degree"] = nodes["gene"].map(degree).fillna(0).astype(int)
    network = Network(nodes, edges[EDGE_COLUMNS].reset_index(drop=True), run_id, not_in_run)
    return layout(network, seed)


def layout(network: Network, seed: int = 0) -> Network:
    """Positions written into the node table's x and y: the linked genes by networkx's seeded
    ``spring_layout`` (Fruchterman–Reingold; stronger |ε| pulls harder), the genes without an
    edge in rows below them (a force layout would only scatter them around the rim)."""
    g = nx.Graph()
    g.add_weighted_edges_from(network.edges[["gene_a", "gene_b", "abs_epsilon"]].itertuples(index=False, name=None))
    pos: dict[str, tuple[float, float]] = {}
    if len(g):
        pos = {n: (float(x), float(y)) for n, (x, y) in nx.spring_layout(g, seed=seed, weight="weight").items()}
    alone = [n for n in network.nodes["gene"] if n not in pos]
    per_row = max(1, int(np.ceil(np.sqrt(len(alone) * 4))))
    for i, n in enumerate(alone):
        pos[n] = (-1.0 + 2.0 * (i % per_row) / max(per_row - 1, 1), -1.2 - 0.1 * (i // per_row))
    network.nodes["x"] = network.nodes["gene"].map(lambda n: pos[n][0])
    network.nodes["y"] = network.nodes["gene"].map(lambda n: pos[n][1])
    return network


def write_graphml(network: Network, path: str | Path) -> Path:
    """Cytoscape-ready GraphML (node ids are systematic names; ``name`` is the label)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        nx.write_graphml(network.graph(), tmp)
    return path


def sif_lines(network: Network) -> list[str]:
    """SIF: ``GENE_A<tab>TYPE<tab>GENE_B`` per edge (TYPE: negative/positive, with a
    ``_predicted`` suffix for predicted edges), and each isolated gene on its own line."""
    lines = [f"{a}\t{sign}{'' if kind == 'measured' else '_predicted'}\t{b}"
             for a, b, sign, kind in network.edges[["gene_a", "gene_b", "sign", "kind"]].itertuples(index=False)]
    linked = set(network.edges["gene_a"]) | set(network.edges["gene_b"])
    return lines + [g for g in network.nodes["gene"] if g not in linked]


def write_sif(network: Network, path: str | Path) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(sif_lines(network)) + "\n", encoding="utf-8")
    return path


CSV_COLUMNS = ["gene_a", "name_a", "gene_b", "name_b", "epsilon", "n", "fitness", "epsilon_pred", "predicted"]


def write_bulk_csv(ws: Workspace, genes: list[str], path: str | Path, run_id: str | None = None,
                   within: bool = False) -> int:
    """Every measured pair touching ``genes`` (both genes in the list with ``within``), with the
    run's ε̂ and predicted fitness beside it; one gene at a time, any list size. Returns rows."""
    genes = list(dict.fromkeys(genes))
    listed = set(genes)
    loaded = None
    if run_id:
        from cre_core.query.service import load_model

        loaded = load_model(ws, run_id)
    con = ws.connect(read_only=True)
    rows = 0
    path = Path(path)
    try:
        names = dict(con.execute("SELECT gene, coalesce(name, gene) FROM genes").fetchall())
        with atomic_path(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as handle:
            out = csv.writer(handle)
            out.writerow(CSV_COLUMNS)
            done: set[str] = set()
            for gene in genes:
                frame = con.execute(
                    "SELECT gene_a, gene_b, epsilon, n, fitness FROM dmf WHERE gene_a = ? UNION ALL "
                    "SELECT gene_a, gene_b, epsilon, n, fitness FROM dmf WHERE gene_b = ? ORDER BY 1, 2",
                    [gene, gene]).df()
                other = np.where(frame["gene_a"] == gene, frame["gene_b"], frame["gene_a"])
                keep = ~pd.Series(other).isin(done).to_numpy()        # a pair of two list genes once
                if within:
                    keep &= pd.Series(other).isin(listed).to_numpy()
                frame = frame[keep]
                done.add(gene)
                pred = np.full(len(frame), np.nan)
                fit = np.full(len(frame), np.nan)
                if loaded is not None and len(frame):
                    ok = frame["gene_a"].isin(loaded.index).to_numpy() & frame["gene_b"].isin(loaded.index).to_numpy()
                    if ok.any():
                        sets = [[loaded.index[a], loaded.index[b]] for a, b in
                                zip(frame["gene_a"][ok], frame["gene_b"][ok])]
                        f = loaded.member_sets(sets).mean(0)
                        s = np.array(sets)
                        fit[ok] = f
                        pred[ok] = f - loaded.smf[s[:, 0]] * loaded.smf[s[:, 1]]
                for (a, b, e, n, f), p, fh in zip(frame.itertuples(index=False, name=None), pred, fit):
                    out.writerow([a, names.get(a, a), b, names.get(b, b), _num(e), n, _num(f), _num(p), _num(fh)])
                rows += len(frame)
    finally:
        con.close()
    return rows


def _num(value) -> str:
    return "" if value is None or (isinstance(value, float) and not np.isfinite(value)) else f"{float(value):.6g}"
