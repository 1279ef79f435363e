"""GO enrichment of a gene list: hypergeometric p-values and Benjamini–Hochberg q-values.

Annotations are propagated to every ancestor through ``is_a`` and ``part_of`` (the edges the
store keeps from the OBO; obsolete terms are dropped), as GO's true-path rule requires: a gene
annotated to a module term also belongs to its parent term. The universe is every gene with at
least one annotation in the tested namespaces (or a background list the caller gives: a gene's
possible partners, the genes of a screen); list genes outside it are reported, not tested.
Terms tested are those with ``min_size``..``max_size`` universe genes (the namespace roots never); each gets
p = P(X ≥ k), X ~ Hypergeometric(N universe genes, K in the term, n list genes), and q is
Benjamini–Hochberg over all tested terms (``scipy.stats.false_discovery_control``), so a term
with no list gene still counts in the correction.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import false_discovery_control, hypergeom

from cre_core.errors import CreError
from cre_core.workspace import Workspace

NAMESPACES = ("biological_process", "molecular_function", "cellular_component")
COLUMNS = ["go_id", "term", "namespace", "count", "term_size", "expected", "fold", "pvalue", "qvalue", "genes"]
_LOCK = threading.Lock()
_CACHE: dict[tuple, GoIndex] = {}


@dataclass
class GoIndex:
    """Propagated annotations of one store: genes per term, terms' names and namespaces, and each
    gene's direct (unpropagated) terms."""

    term_genes: dict[str, frozenset[str]]
    names: dict[str, str]
    namespace: dict[str, str]
    direct: dict[str, list[str]]
    roots: frozenset[str]           # terms without a parent (the namespaces): never tested

    def universe(self, namespaces: tuple[str, ...] = NAMESPACES) -> set[str]:
        out: set[str] = set()
        for term, genes in self.term_genes.items():
            if self.namespace.get(term) in namespaces:
                out |= genes
        return out


def _ancestors(parents: dict[str, list[str]]):
    """A memoised ``term -> frozenset(term and all its ancestors)``: an iterative post-order walk
    (GO is deep; the ingest refuses cycles, and a cycle here would only cut a set short)."""
    memo: dict[str, frozenset[str]] = {}

    def up(term: str) -> frozenset[str]:
        stack = [(term, False)]
        while stack:
            t, ready = stack.pop()
            if t in memo:
                continue
            if ready:
                acc = {t}
                for p in parents.get(t, ()):
                    acc |= memo.get(p, frozenset((p,)))
                memo[t] = frozenset(acc)
            else:
                stack.append((t, True))
                stack.extend((p, False) for p in parents.get(t, ()) if p not in memo)
        return memo[term]

    return up


def go_index(ws: Workspace) -> GoIndex:
    """The store's GO, propagated (cached per store file: reloaded when the store changes)."""
    st = ws.db_path.stat()
    key = (str(ws.db_path.resolve()), st.st_mtime_ns, st.st_size)
    with _LOCK:
        if key not in _CACHE:
            _CACHE.clear()
            _CACHE[key] = _load(ws)
        return _CACHE[key]


def _load(ws: Workspace) -> GoIndex:
    con = ws.connect(read_only=True)
    try:
        terms = con.execute("SELECT go_id, name, namespace FROM go_terms "
                            "WHERE NOT coalesce(is_obsolete, false)").fetchall()
        edges = con.execute("SELECT child, parent FROM go_edges").fetchall()
        annotations = con.execute("SELECT DISTINCT gene, go_id FROM go_annotations WHERE gene IS NOT NULL").fetchall()
    finally:
        con.close()
    names = {t: n for t, n, _ in terms}
    namespace = {t: ns for t, _, ns in terms}
    parents: dict[str, list[str]] = {}
    for child, parent in edges:
        if child in names and parent in names and child != parent:
            parents.setdefault(child, []).append(parent)
    up = _ancestors(parents)
    term_genes: dict[str, set[str]] = {}
    direct: dict[str, list[str]] = {}
    for gene, term in annotations:
        if term not in names:
            continue
        direct.setdefault(gene, []).append(term)
        for t in up(term):
            term_genes.setdefault(t, set()).add(gene)
    return GoIndex({t: frozenset(g) for t, g in term_genes.items()}, names, namespace,
                   {g: sorted(ts) for g, ts in direct.items()}, frozenset(t for t in names if t not in parents))


@dataclass
class Enrichment:
    table: pd.DataFrame       # COLUMNS, by p-value
    tested: int               # terms tested (the BH family)
    universe: int             # N
    in_universe: int          # n: list genes with an annotation (or in the background)
    outside: list[str]        # list genes outside the universe (not tested)


def enrich(ws: Workspace, genes: list[str], background: list[str] | None = None,
           namespaces: tuple[str, ...] = NAMESPACES, min_size: int = 3, max_size: int = 2000,
           index: GoIndex | None = None) -> Enrichment:
    """GO enrichment of ``genes`` (systematic names); the table holds terms with at least one list gene."""
    bad = [n for n in namespaces if n not in NAMESPACES]
    if bad or not namespaces:
        raise CreError(f"namespaces are {', '.join(NAMESPACES)}; got {', '.join(bad) or 'none'}")
    if min_size < 1 or max_size < min_size:
        raise CreError("term sizes need 1 <= min_size <= max_size")
    go = index or go_index(ws)
    universe = go.universe(namespaces)
    if background is not None:
        universe &= set(background)
    if not universe:
        raise CreError("no gene of the background has a GO annotation in "
                       f"{', '.join(namespaces)}: nothing to test against")
    listed = list(dict.fromkeys(genes))
    hits = set(listed) & universe
    outside = [g for g in listed if g not in universe]
    big_n, n = len(universe), len(hits)
    rows = []
    for term, members in go.term_genes.items():
        if go.namespace.get(term) not in namespaces or term in go.roots:
            continue
        in_universe = members & universe if background is not None else members
        size = len(in_universe)
        if not min_size <= size <= max_size or size >= big_n:
            continue
        shared = hits & in_universe
        rows.append((term, go.names[term], go.namespace[term], len(shared), size, sorted(shared)))
    frame = pd.DataFrame(rows, columns=["go_id", "term", "namespace", "count", "term_size", "genes"])
    if frame.empty:
        return Enrichment(pd.DataFrame(columns=COLUMNS), 0, big_n, n, outside)
    k, size = frame["count"].to_numpy(), frame["term_size"].to_numpy()
    frame["expected"] = size * n / big_n
    frame["fold"] = np.where(frame["expected"] > 0, k / np.maximum(frame["expected"], 1e-300), np.nan)
    frame["pvalue"] = hypergeom.sf(k - 1, big_n, size, n) if n else 1.0
    frame["pvalue"] = frame["pvalue"].clip(0.0, 1.0)
    frame["qvalue"] = false_discovery_control(frame["pvalue"].to_numpy(), method="bh")
    tested = len(frame)
    frame = frame[frame["count"] > 0].sort_values(["pvalue", "go_id"], kind="stable")
    frame["genes"] = frame["genes"].map(",".join)
    return Enrichment(frame[COLUMNS].reset_index(drop=True), tested, big_n, n, outside)
